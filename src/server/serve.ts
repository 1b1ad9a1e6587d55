import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import client from 'prom-client';
import { loadConfig, type Config } from '../config.js';
import { cores } from '../settings.js';
import { capacityOf } from './capacity.js';
import { createApp } from './app.js';
import { answerClientError } from './client-error.js';
import type { Converter } from './converter.js';
import { HostGuard } from './host-guard.js';
import { HostSampler } from './host-stats.js';
import { Jobs } from '../jobs/service.js';
import { Lifecycle, type ExitReason } from './lifecycle.js';
import { DocmarkError } from '../errors.js';
import { MemoryLimit, RESTARTING_RETRY_AFTER_S } from './memory-limit.js';
import { Metrics } from './metrics.js';
import { instanceConfig, superviseUnderPm2 } from './pm2-supervision.js';
import { WorkerPool } from './pool/index.js';
import { MemoryStrikes } from './strikes/guard.js';
import { StrikeLedger } from './strikes/ledger.js';

// Start the HTTP server and tie it to the process: tell PM2 when ready, drain on
// SIGINT/SIGTERM or PM2's 'shutdown' message, and leave by itself after the
// conversion limit. Used by `docmark serve` and by the tests.

export interface RunningServer {
  url: string;
  port: number;
  server: http.Server;
  lifecycle: Lifecycle;
  metrics: Metrics;
  /** The record of documents converting when instances passed their memory limit (absent: DOCMARK_MEMORY_STRIKES=0). */
  strikes?: MemoryStrikes;
  /** Drain and close (does not exit the process). */
  close(): Promise<void>;
}

export interface StartOptions {
  config?: Config;
  converter?: Converter;
  /** Exit the process after a drain (true for `docmark serve`, false in tests). */
  exitOnDrain?: boolean;
  /** The conversion worker's entry module (tests start one with misbehaviour hooks). */
  workerUrl?: URL;
  log?: (line: Record<string, unknown>) => void;
  /** false: no job routes nor runner (a server that only converts). */
  jobs?: false;
  /** The process's RSS for the memory limit (tests substitute it). */
  readRss?: () => number;
}

/** How long a draining server still takes requests from connections accepted just before. */
const DRAIN_LINGER_MS = 1000;

export function jsonLog(line: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), pid: process.pid, ...line }) + '\n');
}

export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const config = opts.config ?? loadConfig();
  const log = opts.log ?? jsonLog;
  const pool = opts.converter ?? defaultConverter(config, log, opts.workerUrl);
  const strikes = config.memoryStrikes > 0 ? memoryStrikes(pool, config, log) : undefined;
  const converter = strikes ?? pool;
  const lifecycle = new Lifecycle({
    maxConversions: config.maxConversions,
    drainTimeoutMs: config.drainTimeoutMs,
    lingerMs: opts.exitOnDrain ? DRAIN_LINGER_MS : 0,
  });
  const host = new HostSampler(config.hostSampleMs).start();
  const metrics = new Metrics({ inFlight: () => lifecycle.inFlight, queued: () => converter.stats().queued, converter: () => converter.stats() });
  const guard = new HostGuard({
    minFreeBytes: config.minFreeBytes,
    criticalFreeBytes: config.criticalFreeBytes,
    endLargest: (error) => converter.endLargest?.(error),
    log,
  }).start();
  guard.register(metrics.registry, client);
  const memoryLimit = new MemoryLimit({
    limitBytes: config.memoryLimitBytes,
    readRss: opts.readRss,
    onOver: (rss) => leaveOverMemory({ rss, config, converter, strikes, lifecycle, memoryLimit, log }),
    log,
  }).start();
  memoryLimit.register(metrics.registry, client);
  strikes?.register(metrics.registry, client);
  const jobs = opts.jobs === false ? undefined : openJobs({ config, converter, lifecycle, metrics, log });
  const app = createApp({ config, converter, lifecycle, host, guard, memoryLimit, strikes, metrics, jobs, log });

  const server = http.createServer(app.callback());
  server.on('clientError', answerClientError);
  // Slow or stuck clients must not hold sockets for ever; conversions may be long.
  server.requestTimeout = config.timeoutMs + 60_000;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 5_000;
  // While draining, every answer closes its connection so the client reconnects elsewhere.
  // Responses are counted: Koa writes one only after the route has left the lifecycle.
  let responding = 0;
  let quiet: (() => void) | undefined;
  server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    if (lifecycle.draining) res.shouldKeepAlive = false;
    responding++;
    res.once('close', () => {
      if (--responding === 0) quiet?.();
    });
  });
  // `Expect: 100-continue` (curl sends it for large bodies): the request goes through auth,
  // option checks and admission first; the convert route invites the body only when it will read it.
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
    server.emit('request', req, res);
  });
  const responsesSent = (timeoutMs: number): Promise<void> =>
    responding === 0
      ? Promise.resolve()
      : new Promise((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          quiet = () => {
            clearTimeout(timer);
            resolve();
          };
        });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (err) => {
    // Port taken, say: end the worker threads and the sampler, or they keep the process alive.
    host.stop();
    guard.stop();
    memoryLimit.stop();
    await jobs?.close();
    await converter.close();
    throw err;
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      lifecycle.beginDrain(lifecycle.drainReason ?? 'signal');
      // Stop accepting; in cluster mode PM2's master sends new connections to the siblings.
      // net's close, not http's: that one also ends idle connections, including those the
      // master handed us a moment ago whose request has not arrived yet (a client error).
      const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, lifecycle.options.lingerMs ?? 0));
      server.closeIdleConnections();
      const idle = await lifecycle.waitIdle();
      if (!idle) log({ level: 'warn', msg: 'drain timeout: leaving with conversions in flight', in_flight: lifecycle.inFlight });
      else await responsesSent(10_000);
      server.closeAllConnections();
      await closed;
      host.stop();
      guard.stop();
      memoryLimit.stop();
      await jobs?.close();
      await converter.close();
    })();
    return closing;
  };

  // Keep-alive sockets that arrive while draining get `Connection: close` (set by the route).
  lifecycle.on('drain', (reason: ExitReason) => {
    log({ level: 'info', msg: 'draining', reason, conversions: lifecycle.conversions, in_flight: lifecycle.inFlight });
    if (!opts.exitOnDrain) return;
    void close().then(() => leave(reason, lifecycle, log, config.pm2.minUptimeMs));
  });

  return { url, port, server, lifecycle, metrics, strikes, close };
}

/**
 * Past the memory limit: the documents converting are struck first (strikes/guard.ts: the record
 * is on disk before anything else can end the process), new work is refused at once (whatever the
 * exit below waits for), queued conversions are answered 503 `restarting` so their clients retry
 * elsewhere, running ones get DOCMARK_MEMORY_GRACE_S to finish and are then ended (503
 * `restarting`). The exit itself takes turns with the siblings under PM2 like a conversion-limit
 * exit, but never waits past the grace.
 */
function leaveOverMemory({
  rss,
  config,
  converter,
  strikes,
  lifecycle,
  memoryLimit,
  log,
}: {
  rss: number;
  config: Config;
  converter: Converter;
  strikes: MemoryStrikes | undefined;
  lifecycle: Lifecycle;
  memoryLimit: MemoryLimit;
  log: (line: Record<string, unknown>) => void;
}): void {
  const struck = strikes?.strikeRunning() ?? 0;
  lifecycle.stopAdmitting('memory_limit');
  const error = (): DocmarkError =>
    new DocmarkError('restarting', `The conversion was stopped: ${memoryLimit.reason()}. Retry: another instance answers.`, {
      retryAfter: RESTARTING_RETRY_AFTER_S,
    });
  const shed = converter.shed?.(error()) ?? 0;
  log({
    level: 'warn',
    msg: 'memory limit passed: refusing new work, running conversions get a grace',
    rss_mb: Math.round(rss / 1024 / 1024),
    limit_mb: Math.round(config.memoryLimitBytes / 1024 / 1024),
    grace_s: config.memoryGraceMs / 1000,
    in_flight: lifecycle.inFlight,
    queued_refused: shed,
    documents_struck: struck,
  });
  const grace = setTimeout(() => {
    const ended = converter.endRunning?.(error()) ?? 0;
    if (ended) log({ level: 'warn', msg: 'memory limit: grace over, running conversions ended', ended });
    lifecycle.beginDrain('memory_limit');
  }, config.memoryGraceMs);
  grace.unref();
  if (lifecycle.listenerCount('limit') > 0) lifecycle.emit('limit', 'memory_limit');
  else lifecycle.beginDrain('memory_limit');
}

/** Tell PM2 why we leave (the restart logger reads it), then exit 0 so PM2 restarts us. */
async function leave(reason: ExitReason, lifecycle: Lifecycle, log: (line: Record<string, unknown>) => void, minUptimeMs: number): Promise<void> {
  // PM2 counts an exit before its min_uptime as unstable (and may stop restarting us):
  // a planned exit waits. (PM2's own stops reset that count.)
  const tooYoungMs = minUptimeMs - process.uptime() * 1000;
  if ((reason === 'conversion_limit' || reason === 'cron' || reason === 'memory_limit') && tooYoungMs > 0)
    await new Promise((resolve) => setTimeout(resolve, tooYoungMs));
  const data = {
    reason,
    pid: process.pid,
    instance: process.env.NODE_APP_INSTANCE ?? null,
    conversions: lifecycle.conversions,
    uptime_s: Math.round(process.uptime()),
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

/** The memory-strike record lives beside the job store: a folder every instance of the host shares, which outlives them. */
export const STRIKES_FILE = 'memory-strikes.jsonl';

function memoryStrikes(pool: Converter, config: Config, log: (line: Record<string, unknown>) => void): MemoryStrikes {
  return new MemoryStrikes(pool, {
    ledger: new StrikeLedger({ file: path.join(config.jobs.dataDir, STRIKES_FILE) }),
    threshold: config.memoryStrikes,
    maxMemory: config.pm2.maxMemory,
    log,
  });
}

function defaultConverter(config: Config, log: (line: Record<string, unknown>) => void, workerUrl?: URL): Converter {
  return new WorkerPool({
    size: config.workers,
    maxQueue: config.maxQueue,
    timeoutMs: config.timeoutMs,
    ocrPageMs: config.ocrPageMs,
    heapMb: config.workerHeapMb,
    maxTasks: config.workerMaxTasks,
    ocrThreads: config.ocrThreads,
    splitPages: config.splitPages,
    workerUrl,
    log,
  });
}

/** The job store and runner; a store that cannot be opened (an unwritable folder) costs the /jobs routes, not the server. */
function openJobs(deps: ConstructorParameters<typeof Jobs>[0]): Jobs | undefined {
  try {
    return new Jobs(deps).start();
  } catch (err) {
    deps.log?.({ level: 'error', msg: 'the job store could not be opened; /jobs is off', dir: deps.config.jobs.dataDir, error: String(err) });
    return undefined;
  }
}

/** `docmark serve`: run until told to stop. */
export async function serveForever({ workerUrl }: Pick<StartOptions, 'workerUrl'> = {}): Promise<void> {
  const config = instanceConfig(loadConfig());
  const running = await startServer({ exitOnDrain: true, config, workerUrl });
  jsonLog({
    level: 'info',
    msg: 'listening',
    url: running.url,
    port: running.port,
    max_conversions: config.maxConversions,
    capacity: capacityOf(config),
  });
  const { instances, workers, ocr_threads } = capacityOf(config);
  if (instances * workers * ocr_threads > cores()) {
    jsonLog({
      level: 'warn',
      msg: 'instances × workers × OCR threads exceeds the CPU cores: scans will compete for them',
      instances,
      workers,
      ocr_threads,
      cores: cores(),
    });
  }
  // Handlers first: once we say 'ready', PM2 may stop us at any moment (e.g. a memory reload).
  const stop = (reason: ExitReason) => (): void => running.lifecycle.beginDrain(reason);
  process.on('SIGINT', stop('signal'));
  process.on('SIGTERM', stop('signal'));
  process.on('message', (msg) => {
    if (msg === 'shutdown') running.lifecycle.beginDrain('shutdown_message');
  });
  process.send?.('ready');
  await superviseUnderPm2(running, config, jsonLog);
  // PM2's default pmx swallows unhandled rejections; log them and keep a clear record.
  process.on('unhandledRejection', (reason) => {
    jsonLog({ level: 'error', msg: 'unhandled rejection', error: String((reason as Error)?.stack ?? reason) });
  });
}
