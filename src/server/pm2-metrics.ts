import type { Lifecycle } from './lifecycle.js';
import type { Metrics } from './metrics.js';

// The few figures `pm2 monit` shows per instance: conversions, in flight, RSS and the
// mean conversion time. Loaded only under PM2: @pm2/io's index initialises itself on
// import (HTTP patching, exception handlers), so we build our own lean instance from
// its PMX class, with exception handling left to PM2 and Node.

const MB = 1024 * 1024;

export function underPm2(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.pm_id !== undefined && typeof process.send === 'function';
}

export interface Pm2Metrics {
  stop(): void;
}

interface IoGauge {
  set(value: number): void;
}
interface Io {
  init(config: unknown): Io;
  metric(options: { name: string; id?: string; unit?: string; value?: () => number }): IoGauge;
  destroy(): void;
}

export async function startPm2Metrics(lifecycle: Lifecycle, metrics: Metrics, intervalMs = 5000): Promise<Pm2Metrics | undefined> {
  if (!underPm2()) return undefined;
  const mod = (await import('@pm2/io/build/main/pmx.js')) as unknown as { default: { default?: new () => Io } & (new () => Io) };
  const PMX = mod.default.default ?? mod.default;
  const io = new PMX().init({
    catchExceptions: false,
    profiling: false,
    tracing: false,
    metrics: { v8: false, network: false, eventLoop: false, runtime: false, http: false },
  });

  io.metric({ name: 'Conversions', id: 'docmark/conversions', value: () => lifecycle.conversions });
  io.metric({ name: 'In flight', id: 'docmark/in_flight', value: () => lifecycle.inFlight });
  io.metric({ name: 'RSS', id: 'docmark/rss', unit: 'MB', value: () => Math.round(process.memoryUsage.rss() / MB) });
  const duration = io.metric({ name: 'Conversion time', id: 'docmark/duration', unit: 'ms' });

  // Mean over the last interval, from the Prometheus histogram the routes already feed.
  let last = { sum: 0, count: 0 };
  const timer = setInterval(async () => {
    const values = (await metrics.duration.get()).values;
    const total = (suffix: string): number =>
      values.filter((v) => v.metricName === `docmark_conversion_duration_seconds_${suffix}`).reduce((a, v) => a + v.value, 0);
    const now = { sum: total('sum'), count: total('count') };
    if (now.count > last.count) duration.set(Math.round(((now.sum - last.sum) / (now.count - last.count)) * 1000));
    last = now;
  }, intervalMs);
  timer.unref();

  return {
    stop() {
      clearInterval(timer);
      io.destroy();
    },
  };
}
