// The embedded job store: one folder per job under DOCMARK_DATA_DIR, shared by every PM2 instance
// of the host. Processes coordinate through the file system only, never through one process's
// memory, so a status request can reach any instance and a job outlives the instance that took it.
//
// A job's state is derived from files that are each written once, or replaced whole by rename, so
// no writer can undo another's update:
//   job.json       what was asked (immutable)          input.pdf     the upload
//   claim          the running holder's lease           attempts      times a worker started it
//   progress.json  pages done / total (holder only)     result.json   the conversion result
//   outcome.json   succeeded or failed (created once)   canceled      cancel marker (created once)
//   webhook.json   delivery state                       expired       tombstone marker
//   webhook-attempt-<n>   lease of one delivery attempt (taken again when it lapses)
// `queue/<created>-<id>` lists unfinished jobs, so claiming scans only those.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DocmarkError } from '../errors.js';
import type { ConvertResult } from '../engine/types.js';
import type { Claim, JobDescription, JobError, JobOutcome, JobRecord, JobState, JobStore, StoreStats, WebhookState } from './types.js';
import { FINISHED, queuedRecord } from './types.js';

export interface FileStoreOptions {
  dir: string;
  /** Finished jobs keep their result this long, then only a tombstone (410) for as long again. */
  ttlMs: number;
  /** Uploads and results together may not grow past this. */
  maxBytes: number;
  /** A claim not renewed for this long is presumed lost (its holder hung, or died on another host). */
  leaseMs?: number;
  /** The clock of webhook attempt leases (tests move it). */
  now?: () => number;
}

/** Renewed every few seconds by the holder; long enough that a busy event loop never loses a claim. */
const DEFAULT_LEASE_MS = 30_000;
/**
 * A webhook attempt whose taker died before recording it is taken again after this (the Redis store's
 * figure): far longer than one delivery (10 s at most), so a live taker is never doubled.
 */
const WEBHOOK_ATTEMPT_LEASE_MS = 120_000;
/** Takers of one attempt that all died before recording it: then the delivery is given up, so attempts stay bounded. */
const MAX_ATTEMPT_TAKES = 3;
/** Job ids are 128 random bits, base64url: nothing a client sends reaches the file system otherwise. */
const ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

interface Holder {
  token: string;
  pid: number;
  host: string;
  boot: string;
  /** When the claim was taken. */
  at: number;
}

/** A holder as read back, with the time of its last renewal (the claim file's mtime). */
interface SeenHolder extends Holder {
  renewed: number;
}

/** Who holds a webhook attempt, until when, and how many takers it had (this one included). */
interface AttemptLease {
  pid: number;
  host: string;
  take: number;
  until: number;
}

interface Outcome {
  status: 'succeeded' | 'failed';
  finished_at: string;
  error: JobError | null;
}

export function isJobId(id: string): boolean {
  return ID_PATTERN.test(id);
}

export class FileJobStore implements JobStore {
  private readonly jobs: string;
  private readonly queue: string;
  private readonly incoming: string;
  private readonly leaseMs: number;
  private readonly now: () => number;
  private readonly me: Omit<Holder, 'token' | 'at'>;
  /** job.json never changes: read each once. */
  private readonly specs = new Map<string, JobRecord>();
  private bytes = 0;

  constructor(private readonly options: FileStoreOptions) {
    this.jobs = path.join(options.dir, 'jobs');
    this.queue = path.join(options.dir, 'queue');
    this.incoming = path.join(options.dir, 'incoming');
    for (const d of [this.jobs, this.queue, this.incoming]) fs.mkdirSync(d, { recursive: true });
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.now = options.now ?? Date.now;
    this.me = { pid: process.pid, host: os.hostname(), boot: bootId() };
    this.bytes = this.measure();
  }

  async create(description: JobDescription, upload: AsyncIterable<Uint8Array>, maxBytes: number): Promise<JobRecord> {
    const id = randomBytes(16).toString('base64url');
    // Built in a private folder and renamed into place: a job appears whole or not at all.
    const staging = path.join(this.incoming, `${id}.${process.pid}`);
    await fsp.mkdir(staging);
    try {
      const size = await this.writeUpload(path.join(staging, 'input.pdf'), upload, maxBytes);
      const job = typeof description === 'function' ? await description() : description;
      const created = new Date();
      const record = queuedRecord(id, job, size, created);
      await fsp.writeFile(path.join(staging, 'job.json'), JSON.stringify(record));
      await fsp.rename(staging, this.dirOf(id));
      await fsp.writeFile(path.join(this.queue, queueEntry(created.getTime(), id)), '');
      this.bytes += size;
      return record;
    } catch (err) {
      await fsp.rm(staging, { recursive: true, force: true });
      throw err;
    }
  }

  private async writeUpload(file: string, upload: AsyncIterable<Uint8Array>, maxBytes: number): Promise<number> {
    const out = await fsp.open(file, 'wx');
    let size = 0;
    try {
      for await (const chunk of upload) {
        size += chunk.byteLength;
        if (size > maxBytes)
          throw new DocmarkError('payload_too_large', `The upload is larger than the limit of ${Math.round(maxBytes / 1024 / 1024)} MB.`);
        if (this.bytes + size > this.options.maxBytes) throw storeFull(this.options.maxBytes);
        await out.write(chunk);
      }
      await out.sync();
    } finally {
      await out.close();
    }
    return size;
  }

  async get(id: string): Promise<JobRecord | undefined> {
    if (!isJobId(id)) return undefined;
    const spec = await this.spec(id);
    if (!spec) return undefined;
    return this.state(spec);
  }

  async queuePosition(id: string): Promise<number | null> {
    if ((await this.get(id))?.status !== 'queued') return null;
    const entries = await this.queueEntries();
    let position = 0;
    for (const entry of entries) {
      if (entry.id === id) return position;
      const job = await this.get(entry.id);
      if (job?.status === 'queued') position++;
    }
    return null;
  }

  async readUpload(claim: Claim): Promise<Uint8Array> {
    return fsp.readFile(path.join(this.dirOf(claim.job.id), 'input.pdf'));
  }

  async claimNext(): Promise<Claim | undefined> {
    for (const entry of await this.queueEntries()) {
      const claim = await this.tryClaim(entry.id);
      if (claim) return claim;
    }
    return undefined;
  }

  private async tryClaim(id: string): Promise<Claim | undefined> {
    const spec = await this.spec(id);
    if (!spec) return undefined;
    const dir = this.dirOf(id);
    if (await this.finishedState(dir)) return undefined;
    const holder: Holder = { ...this.me, token: randomBytes(12).toString('base64url'), at: Date.now() };
    const current = await this.holder(dir);
    if (current) {
      if (!this.isLost(current)) return undefined;
      // Of several instances that judge the same claim lost, the one that creates this marker takes over.
      if (!(await linkNew(path.join(dir, `takeover-${current.token}`), JSON.stringify(holder)))) return undefined;
      await writeWhole(path.join(dir, 'claim'), JSON.stringify(holder));
    } else if (!(await linkNew(path.join(dir, 'claim'), JSON.stringify(holder)))) {
      return undefined;
    }
    // A cancel may have landed between the check above and the claim.
    if (await this.finishedState(dir)) {
      await this.dropClaim(dir, holder.token);
      return undefined;
    }
    const attempts = (await readNumber(path.join(dir, 'attempts'))) + 1;
    await writeWhole(path.join(dir, 'attempts'), String(attempts));
    const job = await this.state(spec);
    return { job, token: holder.token };
  }

  async holds(claim: Claim): Promise<boolean> {
    const dir = this.dirOf(claim.job.id);
    if (await this.finishedState(dir)) return false;
    return (await this.holder(dir))?.token === claim.token;
  }

  async renew(claims: Iterable<Claim>): Promise<void> {
    const now = new Date();
    for (const claim of claims) {
      const file = path.join(this.dirOf(claim.job.id), 'claim');
      if ((await this.holder(this.dirOf(claim.job.id)))?.token !== claim.token) continue;
      await fsp.utimes(file, now, now).catch(() => undefined);
    }
  }

  async progress(claim: Claim, pagesDone: number, pagesTotal: number): Promise<void> {
    if (!(await this.holds(claim))) return;
    await writeWhole(path.join(this.dirOf(claim.job.id), 'progress.json'), JSON.stringify({ pages_done: pagesDone, pages_total: pagesTotal }));
  }

  async finish(claim: Claim, outcome: JobOutcome): Promise<boolean> {
    const dir = this.dirOf(claim.job.id);
    if (!(await this.holds(claim))) return false;
    if ('result' in outcome) {
      const text = JSON.stringify(outcome.result);
      await writeWhole(path.join(dir, 'result.json'), text);
      this.bytes += Buffer.byteLength(text);
    }
    const record: Outcome = {
      status: 'result' in outcome ? 'succeeded' : 'failed',
      finished_at: new Date().toISOString(),
      error: 'error' in outcome ? outcome.error : null,
    };
    // Written once: of a late holder and its successor, only the first outcome counts.
    if (!(await linkNew(path.join(dir, 'outcome.json'), JSON.stringify(record)))) return false;
    await this.retire(claim.job.id, dir);
    return true;
  }

  async release(claim: Claim): Promise<void> {
    const dir = this.dirOf(claim.job.id);
    // A job that finished meanwhile keeps its holder (its started_at) and is not counted as given back.
    if ((await this.holder(dir))?.token !== claim.token || (await this.finishedState(dir))) return;
    // Counted before the claim goes: whoever takes the job next sees the count.
    await writeWhole(path.join(dir, 'released'), String((await readNumber(path.join(dir, 'released'))) + 1));
    await this.dropClaim(dir, claim.token);
  }

  async cancel(id: string): Promise<JobRecord | undefined> {
    const job = await this.get(id);
    if (!job) return undefined;
    if (FINISHED.has(job.status) || job.expired) return job;
    const dir = this.dirOf(id);
    await linkNew(path.join(dir, 'canceled'), JSON.stringify({ finished_at: new Date().toISOString() }));
    await this.retire(id, dir);
    await this.removeData(dir);
    return this.get(id);
  }

  async readResult(id: string): Promise<ConvertResult | undefined> {
    if (!isJobId(id)) return undefined;
    try {
      return JSON.parse(await fsp.readFile(path.join(this.dirOf(id), 'result.json'), 'utf8')) as ConvertResult;
    } catch {
      return undefined;
    }
  }

  /**
   * The attempt is a lease: created once, and taken again only once it lapses (its taker died before
   * recording the attempt), by whichever instance creates that take's marker first.
   */
  async takeWebhookAttempt(id: string, attempt: number): Promise<boolean> {
    if (!isJobId(id) || !Number.isInteger(attempt) || attempt < 1) return false;
    const dir = this.dirOf(id);
    const file = path.join(dir, `webhook-attempt-${attempt}`);
    const now = this.now();
    const lease = (take: number): string => JSON.stringify({ pid: this.me.pid, host: this.me.host, take, until: now + WEBHOOK_ATTEMPT_LEASE_MS });
    try {
      if (await linkNew(file, lease(1))) return true;
      const held = await readJson<Partial<AttemptLease>>(file);
      if (typeof held?.until === 'number' && held.until > now) return false;
      // A marker without a lease (an older docmark's) counts as a first take that lapsed.
      const take = (Number.isInteger(held?.take) ? (held!.take as number) : 1) + 1;
      if (!(await linkNew(path.join(dir, `webhook-attempt-${attempt}.take-${take}`), ''))) return false;
      if (take > MAX_ATTEMPT_TAKES) {
        const last_error = `every instance that took attempt ${attempt} stopped before recording it (${MAX_ATTEMPT_TAKES} times)`;
        await this.updateWebhook(id, { attempts: attempt, delivered_at: null, next_at: null, last_error });
        return false;
      }
      await writeWhole(file, lease(take));
      return true;
    } catch {
      return false; // the job's folder is gone (expired, forgotten)
    }
  }

  async updateWebhook(id: string, state: WebhookState): Promise<void> {
    if (!isJobId(id)) return;
    await writeWhole(path.join(this.dirOf(id), 'webhook.json'), JSON.stringify(state));
  }

  async webhooksDue(now: number): Promise<JobRecord[]> {
    const due: JobRecord[] = [];
    for (const id of await this.allIds()) {
      const spec = await this.spec(id);
      if (!spec?.webhook_url) continue;
      const job = await this.state(spec);
      if (!FINISHED.has(job.status) || job.expired) continue;
      const w = job.webhook;
      if (!w) due.push(job);
      else if (w.next_at && Date.parse(w.next_at) <= now) due.push(job);
    }
    return due;
  }

  async sweep(now: number): Promise<void> {
    for (const id of await this.allIds()) {
      const spec = await this.spec(id);
      if (!spec) continue;
      const job = await this.state(spec);
      if (!job.finished_at) continue;
      const age = now - Date.parse(job.finished_at);
      const dir = this.dirOf(id);
      if (age > 2 * this.options.ttlMs) {
        await fsp.rm(dir, { recursive: true, force: true });
        this.specs.delete(id);
      } else if (age > this.options.ttlMs && !job.expired) {
        await linkNew(path.join(dir, 'expired'), '');
        await this.removeData(dir);
      }
    }
    // Other instances write too: recount now and then.
    this.bytes = this.measure();
  }

  async stats(): Promise<StoreStats> {
    const stats: StoreStats = { queued: 0, running: 0, finished: { succeeded: 0, failed: 0, canceled: 0 }, oldest_queued_s: 0, bytes: this.bytes };
    const now = Date.now();
    for (const id of await this.allIds()) {
      const spec = await this.spec(id);
      if (!spec) continue;
      const job = await this.state(spec);
      if (job.status === 'queued') {
        stats.queued++;
        stats.oldest_queued_s = Math.max(stats.oldest_queued_s, Math.round((now - Date.parse(job.created_at)) / 1000));
      } else if (job.status === 'running') stats.running++;
      else stats.finished[job.status]++;
    }
    return stats;
  }

  async close(): Promise<void> {
    this.specs.clear();
  }

  // --- derived state ---

  private async state(spec: JobRecord): Promise<JobRecord> {
    const dir = this.dirOf(spec.id);
    const [finished, holder, progress, attempts, released, webhook, expired] = await Promise.all([
      this.finishedState(dir),
      this.holder(dir),
      readJson<{ pages_done: number; pages_total: number }>(path.join(dir, 'progress.json')),
      readNumber(path.join(dir, 'attempts')),
      readNumber(path.join(dir, 'released')),
      readJson<WebhookState>(path.join(dir, 'webhook.json')),
      exists(path.join(dir, 'expired')),
    ]);
    let status: JobState = 'queued';
    if (finished) status = finished.status;
    else if (holder && !this.isLost(holder)) status = 'running';
    return {
      ...spec,
      status,
      pages_done: progress?.pages_done ?? 0,
      pages_total: progress?.pages_total ?? null,
      started_at: holder ? new Date(holder.at).toISOString() : null,
      finished_at: finished?.finished_at ?? null,
      error: finished?.error ?? null,
      attempts,
      released,
      webhook: webhook ?? null,
      ...(expired ? { expired: true } : {}),
    };
  }

  /** succeeded/failed from the outcome, or canceled; the earlier of the two if a race left both. */
  private async finishedState(dir: string): Promise<Outcome | { status: 'canceled'; finished_at: string; error: null } | undefined> {
    const [outcome, canceled] = await Promise.all([
      readJson<Outcome>(path.join(dir, 'outcome.json')),
      readJson<{ finished_at: string }>(path.join(dir, 'canceled')),
    ]);
    if (canceled && (!outcome || canceled.finished_at < outcome.finished_at)) {
      return { status: 'canceled', finished_at: canceled.finished_at, error: null };
    }
    return outcome;
  }

  private async holder(dir: string): Promise<SeenHolder | undefined> {
    const file = path.join(dir, 'claim');
    const [holder, stat] = await Promise.all([readJson<Holder>(file), fsp.stat(file).catch(() => undefined)]);
    if (!holder || !stat) return undefined;
    return { ...holder, renewed: stat.mtimeMs };
  }

  /** A claim is lost when its holder's process is gone (same machine, same boot) or it stopped renewing. */
  private isLost(holder: SeenHolder): boolean {
    if (Date.now() - holder.renewed > this.leaseMs) return true;
    if (holder.host !== this.me.host) return false;
    if (holder.boot !== this.me.boot) return true;
    return !processAlive(holder.pid);
  }

  private async dropClaim(dir: string, token: string): Promise<void> {
    const holder = await this.holder(dir);
    if (holder?.token === token) await fsp.rm(path.join(dir, 'claim'), { force: true });
  }

  /** The job left the queue for good. */
  private async retire(id: string, dir: string): Promise<void> {
    const spec = await this.spec(id);
    if (spec) await fsp.rm(path.join(this.queue, queueEntry(Date.parse(spec.created_at), id)), { force: true });
    for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
      if (name.startsWith('takeover-')) await fsp.rm(path.join(dir, name), { force: true });
    }
  }

  private async removeData(dir: string): Promise<void> {
    for (const name of ['input.pdf', 'result.json', 'progress.json']) {
      const file = path.join(dir, name);
      const size = (await fsp.stat(file).catch(() => undefined))?.size ?? 0;
      await fsp.rm(file, { force: true });
      this.bytes = Math.max(0, this.bytes - size);
    }
  }

  private async spec(id: string): Promise<JobRecord | undefined> {
    const cached = this.specs.get(id);
    if (cached) return cached;
    const spec = await readJson<JobRecord>(path.join(this.dirOf(id), 'job.json'));
    if (spec) this.specs.set(id, spec);
    return spec;
  }

  private async queueEntries(): Promise<Array<{ at: number; id: string }>> {
    const names = await fsp.readdir(this.queue).catch(() => [] as string[]);
    return names
      .map(parseQueueEntry)
      .filter((e): e is { at: number; id: string } => e !== undefined)
      .sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1));
  }

  private async allIds(): Promise<string[]> {
    return (await fsp.readdir(this.jobs).catch(() => [] as string[])).filter(isJobId);
  }

  private dirOf(id: string): string {
    return path.join(this.jobs, id);
  }

  private measure(): number {
    let total = 0;
    for (const id of fs.readdirSync(this.jobs)) {
      for (const name of ['input.pdf', 'result.json']) {
        try {
          total += fs.statSync(path.join(this.jobs, id, name)).size;
        } catch {
          // not there (finished, canceled or expired)
        }
      }
    }
    return total;
  }
}

export function storeFull(maxBytes: number): DocmarkError {
  return new DocmarkError(
    'store_full',
    `The job store is full (DOCMARK_DATA_MAX_GB: ${(maxBytes / 1024 ** 3).toFixed(1)} GB); retry once finished jobs expire.`,
    {
      retryAfter: 60,
    },
  );
}

const queueEntry = (at: number, id: string): string => `${String(at).padStart(15, '0')}-${id}`;

function parseQueueEntry(name: string): { at: number; id: string } | undefined {
  const m = /^(\d{15})-([A-Za-z0-9_-]{22})$/.exec(name);
  return m ? { at: Number(m[1]), id: m[2] } : undefined;
}

/** Create `file` with `content` only if it does not exist yet (false if it does): written aside, then linked. */
async function linkNew(file: string, content: string): Promise<boolean> {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await fsp.writeFile(aside, content);
  try {
    await fsp.link(aside, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await fsp.rm(aside, { force: true });
  }
}

/** Replace `file` whole: a reader sees the old content or the new, never half of one. */
async function writeWhole(file: string, content: string): Promise<void> {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await fsp.writeFile(aside, content);
  await fsp.rename(aside, file);
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function readNumber(file: string): Promise<number> {
  try {
    const n = Number(await fsp.readFile(file, 'utf8'));
    return Number.isInteger(n) && n >= 0 ? n : 0;
  } catch {
    return 0;
  }
}

async function exists(file: string): Promise<boolean> {
  return fsp.access(file).then(
    () => true,
    () => false,
  );
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Changes at every boot: a claim from before a reboot is void even if its pid is reused. */
function bootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return String(Math.round(Date.now() / 1000 - os.uptime()));
  }
}
