// The job runner of one server instance: takes queued jobs from the store when its pool has a
// worker to spare, converts them in that pool, keeps their claims alive, writes their progress and
// outcome, calls their webhooks, and sweeps expired jobs. Every instance runs one; they share work
// only through the store, so any of them may stop at any moment without losing a job:
// - a planned exit (drain) gives its running jobs back at once, and the next instance starts them
//   over (no instance waits for a long job to finish before restarting);
// - after a crash or kill -9 the claim's holder is gone, and another instance takes the job over.
import { DocmarkError, isDocmarkError } from '../errors.js';
import { parseOptions } from '../engine/options.js';
import type { ConvertResult } from '../engine/types.js';
import type { Admission, Converter } from '../server/converter.js';
import type { Lifecycle } from '../server/lifecycle.js';
import { statusDocument } from './status.js';
import type { Claim, JobError, JobOutcome, JobRecord, JobStore } from './types.js';
import { checkWebhookUrl, deliver, nextAttemptAt } from './webhook.js';

export interface RunnerOptions {
  store: JobStore;
  converter: Converter;
  lifecycle: Lifecycle;
  /** Workers in this instance's pool (when the converter's stats do not say). */
  workers: number;
  maxPages: number;
  maxInflateBytes: number;
  ttlMs: number;
  webhookAllow: readonly string[];
  webhookSecret?: string;
  log?: (line: Record<string, unknown>) => void;
  /** Whether to take one more job now; by default, when the pool has an idle worker nobody waits for. */
  hasRoom?: () => boolean;
  /** A job's conversion ended with an outcome this instance recorded (for /metrics). */
  onConverted?: (job: JobRecord, outcome: JobOutcome, seconds: number) => void;
  /** How often to look for queued jobs (a job submitted here is looked for at once). */
  pollMs?: number;
}

/** Holders renew their claims this often; the store presumes a claim lost after its lease (30 s). */
const RENEW_MS = 5_000;
/** Progress is written at most this often per job (the last page always). */
const PROGRESS_WRITE_MS = 500;
const DEFAULT_POLL_MS = 1_000;
/** Webhooks due are looked for this often. */
const WEBHOOK_POLL_MS = 2_000;
/** Sweeps of expired jobs: a quarter of the time to live, within these bounds. */
const SWEEP_MIN_MS = 1_000;
const SWEEP_MAX_MS = 60_000;
/**
 * A job whose instance died while converting it this many times fails (`worker_crashed`): a PDF
 * that brings its instance down must not go round the instances for ever. Planned restarts do
 * not count (they give the job back).
 */
export const MAX_LOST_ATTEMPTS = 3;
/** Errors that say this instance could not convert now, not that the PDF cannot be: the job goes back. */
const NOT_THE_JOBS_FAULT = new Set(['draining', 'restarting', 'queue_full', 'cancelled']);

type StopReason = 'drain' | 'cancel' | 'lost';

interface Running {
  claim: Claim;
  controller: AbortController;
  stop?: StopReason;
  /** Its outcome is being written: nothing to give back. */
  finished?: boolean;
  progress?: { done: number; total: number; writtenAt: number; written: boolean };
  writing: Promise<void>;
  done: Promise<void>;
}

export class JobRunner {
  private readonly running = new Map<string, Running>();
  private readonly timers: NodeJS.Timeout[] = [];
  private draining = false;
  private claiming = false;
  private claimAgain = false;
  private housekeeping = false;
  private lastRenew = 0;
  private lastSweep = 0;
  private lastWebhooks = 0;

  constructor(private readonly options: RunnerOptions) {}

  start(): this {
    const every = (ms: number, fn: () => void): void => {
      const timer = setInterval(fn, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.options.pollMs ?? DEFAULT_POLL_MS, () => {
      this.poke();
      void this.watchClaims();
    });
    every(WEBHOOK_POLL_MS, () => void this.housekeep());
    this.poke();
    return this;
  }

  /** Jobs this instance is converting now. */
  get runningHere(): number {
    return this.running.size;
  }

  /** Look for a job now (one was just submitted here, or a worker came free). */
  poke(): void {
    if (this.claiming) {
      this.claimAgain = true;
      return;
    }
    this.claiming = true;
    void this.claimWhileRoom()
      .catch((err) => this.log('warn', 'claiming jobs failed', err))
      .finally(() => {
        this.claiming = false;
        if (this.claimAgain && !this.draining) {
          this.claimAgain = false;
          this.poke();
        }
      });
  }

  /** A client cancelled job `id` through this instance: stop its worker now, not at the next check. */
  cancelled(id: string): void {
    const run = this.running.get(id);
    if (run) this.stop(run, 'cancel');
  }

  /** Planned exit: take no more jobs and give the running ones back to the queue at once. */
  async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    const runs = [...this.running.values()].filter((r) => !r.finished);
    await Promise.all(
      runs.map(async (run) => {
        run.stop ??= 'drain';
        await this.options.store.release(run.claim).catch((err) => this.log('warn', 'giving a job back failed', err));
        run.controller.abort();
      }),
    );
    if (runs.length) this.options.log?.({ level: 'info', msg: 'jobs given back to the queue', jobs: runs.map((r) => r.claim.job.id) });
    await Promise.all(runs.map((r) => r.done));
  }

  async close(): Promise<void> {
    await this.drain();
    for (const timer of this.timers.splice(0)) clearInterval(timer);
  }

  private hasRoom(): boolean {
    if (this.options.hasRoom) return this.options.hasRoom();
    const stats = this.options.converter.stats();
    const workers = typeof stats.workers === 'number' ? stats.workers : this.options.workers;
    const uploading = typeof stats.uploading === 'number' ? stats.uploading : 0;
    // An idle worker that no /convert request is waiting or uploading for: jobs never queue
    // ahead of a client that holds its connection open.
    return stats.busy + stats.queued + uploading < workers && this.running.size < workers;
  }

  private async claimWhileRoom(): Promise<void> {
    const { store, converter, lifecycle } = this.options;
    while (!this.draining && this.hasRoom()) {
      if (!lifecycle.acquire()) return;
      let admission: Admission;
      try {
        admission = converter.admit();
      } catch {
        lifecycle.release(false, false);
        return;
      }
      let claim: Claim | undefined;
      try {
        claim = await store.claimNext();
      } finally {
        if (!claim) {
          admission.release();
          lifecycle.release(false, false);
        }
      }
      if (!claim) return;
      if (this.draining) {
        admission.release();
        lifecycle.release(false, false);
        await store.release(claim);
        return;
      }
      this.begin(claim, admission);
    }
  }

  private begin(claim: Claim, admission: Admission): void {
    const run: Running = { claim, controller: new AbortController(), writing: Promise.resolve(), done: Promise.resolve() };
    this.running.set(claim.job.id, run);
    run.done = this.convert(run, admission)
      .catch((err) => this.log('error', 'running a job failed', err, claim.job.id))
      .finally(() => {
        this.running.delete(claim.job.id);
        this.poke();
      });
  }

  private async convert(run: Running, admission: Admission): Promise<void> {
    const { store, lifecycle } = this.options;
    const job = run.claim.job;
    const started = performance.now();
    let outcome: JobOutcome | undefined;
    const lost = job.attempts - 1 - job.released;
    try {
      if (lost >= MAX_LOST_ATTEMPTS) {
        outcome = {
          error: {
            code: 'worker_crashed',
            message: `The server instance converting this job stopped unexpectedly ${lost} times; the PDF could not be converted.`,
          },
        };
      } else {
        const bytes = await store.readUpload(run.claim);
        const options = { ...parseOptions(job.options, { maxPages: this.options.maxPages }), maxInflateBytes: this.options.maxInflateBytes };
        const result: ConvertResult = await admission.convert(bytes, options, run.controller.signal, (done, total) =>
          this.progress(run, done, total),
        );
        outcome = { result };
      }
    } catch (err) {
      if (!run.stop) outcome = { error: toJobError(err) };
    } finally {
      admission.release();
    }
    let recorded = false;
    try {
      if (run.stop || !outcome) return;
      run.finished = true;
      if ('error' in outcome && NOT_THE_JOBS_FAULT.has(outcome.error.code)) {
        await store.release(run.claim);
        return;
      }
      await run.writing;
      if ('result' in outcome) {
        const pages = outcome.result.metadata.pages;
        await store.progress(run.claim, pages, pages);
      }
      recorded = await store.finish(run.claim, outcome);
      if (recorded) this.options.onConverted?.(job, outcome, (performance.now() - started) / 1000);
    } finally {
      lifecycle.release(recorded, recorded && 'result' in outcome!);
    }
    if (recorded && job.webhook_url) void this.housekeep(true);
  }

  private progress(run: Running, done: number, total: number): void {
    const now = performance.now();
    const p = (run.progress ??= { done, total, writtenAt: 0, written: false });
    p.done = done;
    p.total = total;
    p.written = false;
    if (now - p.writtenAt < PROGRESS_WRITE_MS && done !== total) return;
    p.writtenAt = now;
    p.written = true;
    run.writing = run.writing.then(() => this.options.store.progress(run.claim, done, total)).catch(() => undefined);
  }

  private stop(run: Running, reason: StopReason): void {
    if (run.stop) return;
    run.stop = reason;
    run.controller.abort();
  }

  /** Stop jobs whose claim went (canceled through another instance, or taken over), and renew the rest. */
  private async watchClaims(): Promise<void> {
    const { store } = this.options;
    for (const run of this.running.values()) {
      if (run.stop) continue;
      if (!(await store.holds(run.claim).catch(() => true))) {
        const state = (await store.get(run.claim.job.id).catch(() => undefined))?.status;
        this.stop(run, state === 'canceled' ? 'cancel' : 'lost');
        if (state !== 'canceled') this.options.log?.({ level: 'warn', msg: 'a running job was taken over; stopping it here', job: run.claim.job.id });
      }
      // Pending progress that the throttle held back.
      if (run.progress && !run.progress.written) this.progress(run, run.progress.done, run.progress.total);
    }
    if (Date.now() - this.lastRenew >= RENEW_MS) {
      this.lastRenew = Date.now();
      await store
        .renew([...this.running.values()].filter((r) => !r.stop).map((r) => r.claim))
        .catch((err) => this.log('warn', 'renewing claims failed', err));
    }
  }

  /** Webhooks due, then expired jobs. One round at a time; `now` skips the wait for the next round. */
  private async housekeep(now = false): Promise<void> {
    if (this.housekeeping) return;
    this.housekeeping = true;
    try {
      const t = Date.now();
      if (now || t - this.lastWebhooks >= WEBHOOK_POLL_MS) {
        this.lastWebhooks = t;
        await this.deliverWebhooks();
      }
      const sweepMs = Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, this.options.ttlMs / 4));
      if (t - this.lastSweep >= sweepMs) {
        this.lastSweep = t;
        await this.options.store.sweep(Date.now());
      }
    } catch (err) {
      this.log('warn', 'job housekeeping failed', err);
    } finally {
      this.housekeeping = false;
    }
  }

  private async deliverWebhooks(): Promise<void> {
    const { store, ttlMs, webhookSecret, webhookAllow } = this.options;
    for (const job of await store.webhooksDue(Date.now())) {
      const attempt = (job.webhook?.attempts ?? 0) + 1;
      if (!(await store.takeWebhookAttempt(job.id, attempt))) continue;
      const body = JSON.stringify(statusDocument(job, null, ttlMs));
      let ok = false;
      let detail: string;
      try {
        // The allow list may have changed since the job was submitted: it is checked again.
        const url = checkWebhookUrl(job.webhook_url!, webhookAllow);
        ({ ok, detail } = await deliver(url, body, webhookSecret));
      } catch (err) {
        detail = (err as Error).message;
        await store.updateWebhook(job.id, { attempts: attempt, delivered_at: null, next_at: null, last_error: detail });
        continue;
      }
      const now = Date.now();
      const next = ok ? null : nextAttemptAt(attempt, now);
      await store.updateWebhook(job.id, {
        attempts: attempt,
        delivered_at: ok ? new Date(now).toISOString() : null,
        next_at: next === null ? null : new Date(next).toISOString(),
        last_error: ok ? null : detail,
      });
      if (!ok) this.options.log?.({ level: 'warn', msg: 'webhook delivery failed', job: job.id, attempt, detail, gave_up: next === null });
    }
  }

  private log(level: string, msg: string, err: unknown, job?: string): void {
    this.options.log?.({ level, msg, ...(job ? { job } : {}), error: String((err as Error)?.stack ?? err) });
  }
}

function toJobError(err: unknown): JobError {
  if (isDocmarkError(err)) return { code: err.code, message: err.message };
  return new DocmarkError('internal_error', 'The server failed to convert this PDF.').toJSON();
}
