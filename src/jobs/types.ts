// Asynchronous jobs: what a job is, and the store every instance (and, with a shared store,
// every host) reads and writes. The routes and the runner know only the JobStore interface, so a
// store on other machinery plugs in without touching them.
import type { ErrorCode } from '../errors.js';
import type { ConvertResult } from '../engine/types.js';

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';

export const FINISHED: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'canceled']);

export interface JobError {
  code: ErrorCode;
  message: string;
}

/** What a client asked for: the raw option values (validated before the job is created). */
export type JobOptions = Record<string, string>;

/** The job as stored. `GET /jobs/:id` shows the public part (see publicStatus in routes). */
export interface JobRecord {
  id: string;
  status: JobState;
  options: JobOptions;
  filename: string | null;
  /** Bytes of the uploaded PDF. */
  size: number;
  pages_done: number;
  pages_total: number | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  error: JobError | null;
  /** Times a worker started it (more than one when an instance died or left while running it). */
  attempts: number;
  /** Times an instance gave it back on purpose (a planned restart): attempts − released were lost. */
  released: number;
  webhook_url: string | null;
  webhook: WebhookState | null;
  /** Set once the result and upload were removed at the end of the job's time to live. */
  expired?: boolean;
}

export interface WebhookState {
  attempts: number;
  delivered_at: string | null;
  /** When the next attempt is due; null when delivered or given up. */
  next_at: string | null;
  last_error: string | null;
}

export interface NewJob {
  options: JobOptions;
  filename: string | null;
  webhookUrl: string | null;
}

/** The record of a job just stored, before any instance has taken it. */
export function queuedRecord(id: string, job: NewJob, size: number, created: Date): JobRecord {
  return {
    id,
    status: 'queued',
    options: job.options,
    filename: job.filename,
    size,
    pages_done: 0,
    pages_total: null,
    created_at: created.toISOString(),
    started_at: null,
    finished_at: null,
    error: null,
    attempts: 0,
    released: 0,
    webhook_url: job.webhookUrl,
    webhook: null,
  };
}

/** A job this instance took: only the holder of a live claim may update or finish it. */
export interface Claim {
  job: JobRecord;
  token: string;
}

export type JobOutcome = { result: ConvertResult } | { error: JobError };

export interface StoreStats {
  queued: number;
  running: number;
  finished: Record<'succeeded' | 'failed' | 'canceled', number>;
  /** Seconds the oldest queued job has waited; 0 when none waits. */
  oldest_queued_s: number;
  bytes: number;
}

/**
 * What the job is, known up front or only once the upload is stored (form fields may follow the
 * file in a multipart body); a describer that throws leaves no job behind.
 */
export type JobDescription = NewJob | (() => Promise<NewJob>);

export interface JobStore {
  /** Store the upload and the job atomically: a job exists whole or not at all. */
  create(job: JobDescription, upload: AsyncIterable<Uint8Array>, maxBytes: number): Promise<JobRecord>;
  get(id: string): Promise<JobRecord | undefined>;
  /** Position among queued jobs (0 = next), or null when not queued. */
  queuePosition(id: string): Promise<number | null>;
  readUpload(claim: Claim): Promise<Uint8Array>;
  /** Take the oldest claimable job: queued, or running under a claim whose holder is gone. */
  claimNext(): Promise<Claim | undefined>;
  /** Whether this claim still holds its job (false once canceled, expired or taken over). */
  holds(claim: Claim): Promise<boolean>;
  /** Keep claims alive; called periodically by their holder. */
  renew(claims: Iterable<Claim>): Promise<void>;
  progress(claim: Claim, pagesDone: number, pagesTotal: number): Promise<void>;
  /** Record the outcome once; false when the claim no longer holds the job (its result is dropped). */
  finish(claim: Claim, outcome: JobOutcome): Promise<boolean>;
  /** Give a running job back to the queue (this instance is leaving). */
  release(claim: Claim): Promise<void>;
  /** Cancel a queued or running job and delete its data; undefined when there is no such job. */
  cancel(id: string): Promise<JobRecord | undefined>;
  readResult(id: string): Promise<ConvertResult | undefined>;
  /** Take attempt number `attempt` of a job's webhook delivery; false when another instance took it. */
  takeWebhookAttempt(id: string, attempt: number): Promise<boolean>;
  updateWebhook(id: string, state: WebhookState): Promise<void>;
  /** Finished jobs whose webhook is due. */
  webhooksDue(now: number): Promise<JobRecord[]>;
  /** Expire finished jobs older than the time to live; forget tombstones after another. */
  sweep(now: number): Promise<void>;
  stats(): Promise<StoreStats>;
  close(): Promise<void>;
}
