import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig, type Config } from '../config.js';
import { createApp } from './app.js';
import { InProcessConverter, type Converter } from './converter.js';
import { HostSampler } from './host-stats.js';
import { Lifecycle, type ExitReason } from './lifecycle.js';
import { Metrics } from './metrics.js';

/**
 * Start the HTTP server and tie it to the process: tell PM2 when ready, drain on
 * SIGINT/SIGTERM or PM2's 'shutdown' message, and leave by itself after the
 * conversion limit. Used by `docmark serve` and by the tests.
 */
export interface RunningServer {
  url: string;
  port: number;
  server: http.Server;
  lifecycle: Lifecycle;
  /** Drain and close (does not exit the process). */
  close(): Promise<void>;
}

export interface StartOptions {
  config?: Config;
  converter?: Converter;
  /** Exit the process after a drain (true for `docmark serve`, false in tests). */
  exitOnDrain?: boolean;
  log?: (line: Record<string, unknown>) => void;
}

export function jsonLog(line: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), pid: process.pid, ...line }) + '\n');
}

export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const config = opts.config ?? loadConfig();
  const log = opts.log ?? jsonLog;
  const converter = opts.converter ?? (await defaultConverter(config));
  const lifecycle = new Lifecycle({ maxConversions: config.maxConversions, drainTimeoutMs: config.drainTimeoutMs });
  const host = new HostSampler(config.hostSampleMs).start();
  const metrics = new Metrics({ inFlight: () => lifecycle.inFlight, queued: () => converter.stats().queued });
  const app = createApp({ config, converter, lifecycle, host, metrics, log });

  const server = http.createServer(app.callback());
  // Slow or stuck clients must not hold sockets for ever; conversions may be long.
  server.requestTimeout = config.timeoutMs + 60_000;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      lifecycle.beginDrain(lifecycle.drainReason ?? 'signal');
      // Stop accepting; in cluster mode PM2's master sends new connections to the siblings.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const idle = await lifecycle.waitIdle();
      if (!idle) log({ level: 'warn', msg: 'drain timeout: leaving with conversions in flight', in_flight: lifecycle.inFlight });
      server.closeAllConnections();
      await closed;
      host.stop();
      await converter.close();
    })();
    return closing;
  };

  // Keep-alive sockets that arrive while draining get `Connection: close` (set by the route).
  lifecycle.on('drain', (reason: ExitReason) => {
    log({ level: 'info', msg: 'draining', reason, conversions: lifecycle.conversions, in_flight: lifecycle.inFlight });
    if (!opts.exitOnDrain) return;
    void close().then(() => leave(reason, lifecycle, log));
  });

  return { url, port, server, lifecycle, close };
}

/** Tell PM2 why we leave (the restart logger reads it), then exit 0 so PM2 restarts us. */
function leave(reason: ExitReason, lifecycle: Lifecycle, log: (line: Record<string, unknown>) => void): void {
  const data = {
    reason,
    conversions: lifecycle.conversions,
    uptime_s: Math.round(lifecycle.uptimeSeconds()),
    rss_mb: Math.round(process.memoryUsage().rss / 1024 / 1024),
  };
  log({ level: 'info', msg: 'exiting', ...data });
  const exit = (): void => process.exit(0);
  if (process.send && process.connected) {
    process.send({ type: 'process:msg', data: { event: 'docmark:exit', ...data } }, undefined, {}, () => exit());
    setTimeout(exit, 1000).unref();
  } else {
    exit();
  }
}

async function defaultConverter(_config: Config): Promise<Converter> {
  return new InProcessConverter();
}

/** `docmark serve`: run until told to stop. */
export async function serveForever(): Promise<void> {
  const running = await startServer({ exitOnDrain: true });
  jsonLog({ level: 'info', msg: 'listening', url: running.url, port: running.port });
  process.send?.('ready');
  const stop = (reason: ExitReason) => (): void => running.lifecycle.beginDrain(reason);
  process.on('SIGINT', stop('signal'));
  process.on('SIGTERM', stop('signal'));
  process.on('message', (msg) => {
    if (msg === 'shutdown') running.lifecycle.beginDrain('shutdown_message');
  });
  // PM2's default pmx swallows unhandled rejections; log them and keep a clear record.
  process.on('unhandledRejection', (reason) => {
    jsonLog({ level: 'error', msg: 'unhandled rejection', error: String((reason as Error)?.stack ?? reason) });
  });
}
