import type { Config } from '../config.js';
import type { ExitReason } from './lifecycle.js';
import { startPm2Metrics, underPm2 } from './pm2-metrics.js';
import { RecycleBaton, ServingMarkers, appInstance, batonDir, schedule, staggeredLimit } from './recycle.js';
import type { RunningServer } from './serve.js';

// What `docmark serve` adds when PM2 runs it: per-instance conversion limits, planned
// exits (count, schedule) one instance at a time, readiness details for the restart
// logger, and `pm2 monit` metrics. Outside PM2 nothing here changes behaviour.

type Log = (line: Record<string, unknown>) => void;

/** The configuration one instance runs with: its own, staggered, conversion limit. */
export function instanceConfig(config: Config, env: NodeJS.ProcessEnv = process.env): Config {
  return { ...config, maxConversions: staggeredLimit(config.maxConversions, appInstance(env)) };
}

export async function superviseUnderPm2(running: RunningServer, config: Config, log: Log): Promise<void> {
  const { lifecycle } = running;
  const instance = appInstance();
  const shared = instance !== undefined && config.pm2.instances > 1;
  const key = `${config.pm2.name}-${running.port}`;
  const baton = shared ? new RecycleBaton({ key, instance, staleMs: config.drainTimeoutMs + 60_000, dir: batonDir() }) : undefined;
  const markers = shared ? new ServingMarkers({ key, instance, dir: batonDir() }) : undefined;
  // Our listen has completed, so PM2's cluster master already hands us connections: we are
  // serving, and if we replace a planned exit, the next instance may go now.
  markers?.serving();
  baton?.handBack();
  lifecycle.on('drain', () => markers?.leaving());

  // Our turn: a sibling is serving (we are not the last open instance) and we hold the baton.
  const mayLeave = (): boolean => !markers || (markers.siblingServing() && baton!.tryTake());
  let waiting: NodeJS.Timeout | undefined;
  let waitingFor: ExitReason | undefined;
  const leaveWhenOurTurn = (reason: ExitReason): void => {
    if (lifecycle.draining) return;
    // Past the memory limit while a planned exit waits: it is that exit, for that reason.
    if (waiting) {
      if (reason === 'memory_limit') waitingFor = reason;
      return;
    }
    waitingFor = reason;
    if (mayLeave()) {
      lifecycle.beginDrain(reason);
      return;
    }
    log({ level: 'info', msg: 'planned exit waits until a sibling instance is serving', reason });
    // Keep serving meanwhile; the sibling's replacement hands the baton back when ready.
    waiting = setInterval(() => {
      if (lifecycle.draining) return clearInterval(waiting);
      if (mayLeave()) {
        clearInterval(waiting);
        lifecycle.beginDrain(waitingFor ?? reason);
      }
    }, 250);
  };
  lifecycle.on('limit', leaveWhenOurTurn);

  if (config.pm2.cronRestart && config.pm2.cronMode === 'app' && underPm2()) {
    schedule(config.pm2.cronRestart, () => leaveWhenOurTurn('cron'));
  }

  if (config.testCrashHook) {
    // Tests only: a real uncaught exception, on demand.
    process.on('SIGUSR2', () => {
      setImmediate(() => {
        throw new Error('test crash hook (SIGUSR2)');
      });
    });
    // Tests only: memory growth, on demand (the soak's memory cause).
    // The memory-limit exit it causes strikes no document: the conversions did not cause it.
    process.on('SIGWINCH', () => {
      running.strikes?.excuseFromStrikes('test ballast (SIGWINCH)');
      holdBallast(config.memoryLimitBytes, log);
    });
  }

  process.send?.({ type: 'process:msg', data: { event: 'docmark:ready', pid: process.pid, instance: instance ?? null } });
  await startPm2Metrics(lifecycle, running.metrics).catch((err: unknown) => {
    log({ level: 'warn', msg: 'pm2 metrics unavailable', error: String(err) });
  });
}

/** What the ballast hook holds: enough to pass the memory limit by this much, or this much when there is none. */
const BALLAST_MARGIN_BYTES = 64 * 1024 * 1024;
const ballast: Buffer[] = [];

/** Holds resident memory (filled, so its pages are really in RAM) until the process leaves. */
function holdBallast(limitBytes: number, log: Log): void {
  const rss = process.memoryUsage.rss();
  const bytes = Math.max(BALLAST_MARGIN_BYTES, limitBytes - rss + BALLAST_MARGIN_BYTES);
  ballast.push(Buffer.alloc(bytes, 0x5a));
  log({
    level: 'warn',
    msg: 'test ballast held',
    ballast_mb: Math.round(bytes / 1024 / 1024),
    rss_mb: Math.round(process.memoryUsage.rss() / 1024 / 1024),
  });
}
