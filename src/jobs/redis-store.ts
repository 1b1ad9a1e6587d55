// The shared job store: jobs in Redis, queued and leased through BullMQ, so that every instance of
// every host takes work from one queue and answers for any job. BullMQ owns the queue (order, the
// lease of a running job, stalled-job detection: a job whose host stopped renewing its lock goes
// back to the wait list); docmark's own keys beside it hold what a job is and what became of it,
// each change made by one Lua script so that no two hosts can both record an outcome.
//
// Keys (P = docmark:store):
//   P:job:<id>     the job as submitted (JSON, never changes)
//   P:state:<id>   hash: attempts, released, started_at, pages_done, pages_total, upload, upload_bytes,
//                  result, result_bytes, outcome (JSON, written once), canceled (JSON, written once),
//                  webhook (JSON), expired
//   P:claim:<id>   the running holder's token, expiring after the lease unless renewed
//   P:upload:<id>, P:result:<id>   the bytes, when small enough to live in Redis
//   P:jobs (created), P:finished (finished), P:webhooks (next delivery): sorted sets of ids
//   P:bytes        uploads and results stored;  P:outcomes  outcomes recorded, by status
//   P:hook:<id>:<n>        lease of webhook attempt n;  P:hook:<id>:<n>:takes  how often it was taken
// Larger uploads and results are files under the data folder, a volume every host mounts.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { DocmarkError } from '../errors.js';
import type { ConvertResult } from '../engine/types.js';
import { isJobId, storeFull } from './file-store.js';
import type { Claim, JobDescription, JobError, JobRecord, JobOutcome, JobState, JobStore, StoreStats, WebhookState } from './types.js';
import { FINISHED, queuedRecord } from './types.js';

export interface RedisStoreOptions {
  url: string;
  /** Shared folder for uploads and results over `inlineBytes` (every host mounts the same volume). */
  dir: string;
  ttlMs: number;
  maxBytes: number;
  /** Uploads and results up to this size live in Redis. */
  inlineBytes: number;
  /** A running job whose holder stops renewing goes back to the queue after this long. */
  leaseMs: number;
  /** Workers of this instance (BullMQ's concurrency; the runner takes jobs only when one is idle). */
  concurrency: number;
  /** How long a webhook attempt is held by the instance that took it (tests shorten it). */
  webhookLeaseMs?: number;
  log?: (line: Record<string, unknown>) => void;
}

const PREFIX = 'docmark:store';
/** BullMQ's keys: docmark:jobs:*. */
const QUEUE = 'jobs';
const BULL_PREFIX = 'docmark';
/**
 * BullMQ fails a job stalled more often than this; docmark counts lost attempts itself
 * (MAX_LOST_ATTEMPTS in the runner), so BullMQ must never give up on a job first.
 */
const MAX_STALLED = 1_000_000;
/** A webhook attempt taken by an instance that died before recording it can be taken again after this. */
const WEBHOOK_ATTEMPT_MS = 120_000;
/** Takers of one attempt that all died before recording it: then the delivery is given up, so attempts stay bounded. */
const MAX_ATTEMPT_TAKES = 3;
/** A job stored but not queued (its instance died in between) is queued again once this old. */
const ORPHAN_AFTER_MS = 60_000;
/** Queue entries of finished jobs dropped in one claimNext before it gives up for this round. */
const MAX_DISCARDS = 16;

const key = {
  spec: (id: string) => `${PREFIX}:job:${id}`,
  state: (id: string) => `${PREFIX}:state:${id}`,
  claim: (id: string) => `${PREFIX}:claim:${id}`,
  upload: (id: string) => `${PREFIX}:upload:${id}`,
  result: (id: string) => `${PREFIX}:result:${id}`,
  hook: (id: string, attempt: number) => `${PREFIX}:hook:${id}:${attempt}`,
  hookTakes: (id: string, attempt: number) => `${PREFIX}:hook:${id}:${attempt}:takes`,
  jobs: `${PREFIX}:jobs`,
  finished: `${PREFIX}:finished`,
  webhooks: `${PREFIX}:webhooks`,
  bytes: `${PREFIX}:bytes`,
  outcomes: `${PREFIX}:outcomes`,
};

const FINISHED_LUA = `
local function finished(state)
  return redis.call('HEXISTS', state, 'outcome') == 1 or redis.call('HEXISTS', state, 'canceled') == 1
end
`;

/** KEYS state, claim; ARGV token, leaseMs, now (ISO). The job's attempt number; 0 finished, -1 forgotten. */
const CLAIM = `${FINISHED_LUA}
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if finished(KEYS[1]) then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('HSET', KEYS[1], 'started_at', ARGV[3], 'pages_done', 0)
redis.call('HDEL', KEYS[1], 'pages_total')
return redis.call('HINCRBY', KEYS[1], 'attempts', 1)`;

/** KEYS claim; ARGV token, leaseMs. */
const RENEW = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/** KEYS state, claim; ARGV token, pages done, pages total. */
const PROGRESS = `${FINISHED_LUA}
if redis.call('GET', KEYS[2]) ~= ARGV[1] or finished(KEYS[1]) then return 0 end
redis.call('HSET', KEYS[1], 'pages_done', ARGV[2], 'pages_total', ARGV[3])
return 1`;

/**
 * The outcome, once: refused when it is already there, the job was canceled, or another holder
 * took the job over. A holder whose lease ran out while nobody took the job may still finish it.
 * KEYS state, claim, result, upload, finished, webhooks, bytes, outcomes
 * ARGV token, outcome JSON, status, result location ('' | 'inline' | file), result bytes,
 *      inline result, finished ms, has webhook, id
 * Returns 0, or {1, where the upload was} so that the caller deletes an upload file.
 */
const FINISH = `${FINISHED_LUA}
local holder = redis.call('GET', KEYS[2])
if (holder and holder ~= ARGV[1]) or finished(KEYS[1]) or redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[4] == 'inline' then redis.call('SET', KEYS[3], ARGV[6]) end
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'result', ARGV[4], 'result_bytes', ARGV[5])
  redis.call('INCRBY', KEYS[7], ARGV[5])
end
local upload = redis.call('HGET', KEYS[1], 'upload') or ''
redis.call('DECRBY', KEYS[7], tonumber(redis.call('HGET', KEYS[1], 'upload_bytes') or '0'))
redis.call('HSET', KEYS[1], 'outcome', ARGV[2], 'upload_bytes', 0)
redis.call('DEL', KEYS[2], KEYS[4])
redis.call('ZADD', KEYS[5], ARGV[7], ARGV[9])
if ARGV[8] == '1' then redis.call('ZADD', KEYS[6], 0, ARGV[9]) end
redis.call('HINCRBY', KEYS[8], ARGV[3], 1)
return {1, upload}`;

/** KEYS state, claim; ARGV token. Counted before the claim goes: whoever takes the job next sees the count. */
const RELEASE = `${FINISHED_LUA}
if redis.call('GET', KEYS[2]) ~= ARGV[1] or finished(KEYS[1]) then return 0 end
redis.call('HINCRBY', KEYS[1], 'released', 1)
redis.call('HDEL', KEYS[1], 'started_at')
redis.call('DEL', KEYS[2])
return 1`;

/**
 * KEYS state, claim, upload, finished, webhooks, bytes, outcomes; ARGV canceled JSON, now ms, has webhook, id.
 * Returns -1 no such job, 0 already finished, or {1, where the upload was}.
 */
const CANCEL = `${FINISHED_LUA}
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if finished(KEYS[1]) then return 0 end
local upload = redis.call('HGET', KEYS[1], 'upload') or ''
redis.call('DECRBY', KEYS[6], tonumber(redis.call('HGET', KEYS[1], 'upload_bytes') or '0'))
redis.call('HSET', KEYS[1], 'canceled', ARGV[1], 'upload_bytes', 0)
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[4])
if ARGV[3] == '1' then redis.call('ZADD', KEYS[5], 0, ARGV[4]) end
redis.call('HINCRBY', KEYS[7], 'canceled', 1)
return {1, upload}`;

/** KEYS state, upload, result, bytes, webhooks; ARGV id. Returns 0 (already expired) or {1, upload, result}. */
const EXPIRE = `
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HSETNX', KEYS[1], 'expired', 1) == 0 then return 0 end
local held = tonumber(redis.call('HGET', KEYS[1], 'upload_bytes') or '0') + tonumber(redis.call('HGET', KEYS[1], 'result_bytes') or '0')
redis.call('DECRBY', KEYS[4], held)
redis.call('HSET', KEYS[1], 'upload_bytes', 0, 'result_bytes', 0)
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[5], ARGV[1])
return {1, redis.call('HGET', KEYS[1], 'upload') or '', redis.call('HGET', KEYS[1], 'result') or ''}`;

/**
 * KEYS hook lease, its count of takes; ARGV pid, lease ms, most takes, count's life ms. 1: taken;
 * 0: held by another; -1: taken once too often (the caller gives the delivery up).
 */
const TAKE_WEBHOOK_ATTEMPT = `
if not redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 0 end
local takes = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
if takes > tonumber(ARGV[3]) then return -1 end
return 1`;

interface Outcome {
  status: 'succeeded' | 'failed';
  finished_at: string;
  error: JobError | null;
}

type StateHash = Record<string, string>;

export class RedisJobStore implements JobStore {
  /** docmark's own commands and the Queue: fail fast when Redis is away (a request gets 500, not a hang). */
  private readonly redis: Redis;
  /** BullMQ's worker needs a connection that waits for Redis instead of failing. */
  private readonly workerConnection: Redis;
  private readonly queue: Queue;
  private readonly worker: Worker;
  private readonly uploads: string;
  private readonly results: string;
  private readonly incoming: string;
  /** BullMQ jobs this instance holds, by claim token (their lock is that token). */
  private readonly held = new Map<string, Job>();
  private readonly stalledChecks: Promise<void>;

  constructor(private readonly options: RedisStoreOptions) {
    this.uploads = path.join(options.dir, 'uploads');
    this.results = path.join(options.dir, 'results');
    this.incoming = path.join(options.dir, 'incoming');
    for (const d of [this.uploads, this.results, this.incoming]) fs.mkdirSync(d, { recursive: true });
    const onError = throttledLog(options.log);
    this.redis = new Redis(options.url, { maxRetriesPerRequest: 2, connectionName: 'docmark-store' });
    this.workerConnection = new Redis(options.url, { maxRetriesPerRequest: null, connectionName: 'docmark-worker' });
    this.redis.on('error', onError);
    this.workerConnection.on('error', onError);
    this.queue = new Queue(QUEUE, { connection: this.redis, prefix: BULL_PREFIX });
    this.worker = new Worker(QUEUE, null, {
      connection: this.workerConnection,
      prefix: BULL_PREFIX,
      autorun: false,
      concurrency: Math.max(1, options.concurrency),
      lockDuration: options.leaseMs,
      stalledInterval: Math.max(1_000, Math.round(options.leaseMs / 2)),
      maxStalledCount: MAX_STALLED,
    });
    this.queue.on('error', onError);
    this.worker.on('error', onError);
    // Runs on every instance (BullMQ lets one per interval do the work): a host that vanished
    // stops renewing its jobs' locks, and the first instance to look puts them back in the queue.
    this.stalledChecks = this.worker.startStalledCheckTimer().catch(onError);
  }

  async create(description: JobDescription, upload: AsyncIterable<Uint8Array>, maxBytes: number): Promise<JobRecord> {
    const id = randomBytes(16).toString('base64url');
    const staging = path.join(this.incoming, `${id}.${process.pid}.tmp`);
    const file = path.join(this.uploads, `${id}.pdf`);
    let stored = false;
    try {
      const { size, inline } = await this.receive(upload, staging, maxBytes);
      const job = typeof description === 'function' ? await description() : description;
      const created = new Date();
      const record = queuedRecord(id, job, size, created);
      if (!inline) await fsp.rename(staging, file);
      const tx = this.redis
        .multi()
        .set(key.spec(id), JSON.stringify(record))
        .hset(key.state(id), { upload: inline ? 'inline' : 'file', upload_bytes: size, attempts: 0, released: 0 });
      if (inline) tx.set(key.upload(id), inline);
      await tx.zadd(key.jobs, created.getTime(), id).incrby(key.bytes, size).exec();
      stored = true;
      await this.enqueue(id);
      return record;
    } catch (err) {
      await fsp.rm(staging, { force: true });
      await fsp.rm(file, { force: true });
      if (stored) await this.forget(id).catch(() => undefined);
      throw err;
    }
  }

  /** The upload, in memory while it is small, in a staging file once it passes the inline size. */
  private async receive(upload: AsyncIterable<Uint8Array>, staging: string, maxBytes: number): Promise<{ size: number; inline?: Buffer }> {
    const used = Number(await this.redis.get(key.bytes)) || 0;
    let chunks: Uint8Array[] = [];
    let size = 0;
    let out: fsp.FileHandle | undefined;
    try {
      for await (const chunk of upload) {
        size += chunk.byteLength;
        if (size > maxBytes) {
          throw new DocmarkError('payload_too_large', `The upload is larger than the limit of ${Math.round(maxBytes / 1024 / 1024)} MB.`);
        }
        if (used + size > this.options.maxBytes) throw storeFull(this.options.maxBytes);
        if (!out && size > this.options.inlineBytes) {
          out = await fsp.open(staging, 'wx');
          for (const c of chunks) await out.write(c);
          chunks = [];
        }
        if (out) await out.write(chunk);
        else chunks.push(chunk);
      }
      if (out) await out.sync();
    } finally {
      await out?.close();
    }
    return out ? { size } : { size, inline: Buffer.concat(chunks) };
  }

  private async enqueue(id: string): Promise<void> {
    await this.queue.add('convert', { id }, { jobId: id, removeOnComplete: true, removeOnFail: true });
  }

  async get(id: string): Promise<JobRecord | undefined> {
    if (!isJobId(id)) return undefined;
    const res = await this.redis.multi().get(key.spec(id)).hgetall(key.state(id)).exists(key.claim(id)).exec();
    const [spec, state, claimed] = (res ?? []).map(([err, value]) => {
      if (err) throw err;
      return value;
    }) as [string | null, StateHash, number];
    if (!spec) return undefined;
    return record(JSON.parse(spec) as JobRecord, state, claimed === 1);
  }

  async queuePosition(id: string): Promise<number | null> {
    if ((await this.get(id))?.status !== 'queued') return null;
    // BullMQ adds at the left of its wait list and takes from the right.
    const [length, index] = await Promise.all([this.redis.llen(this.queue.keys.wait), this.redis.lpos(this.queue.keys.wait, id)]);
    // Not in the list: a job whose host vanished, waiting for the stalled check to queue it again.
    return index === null ? length : length - 1 - index;
  }

  async readUpload(claim: Claim): Promise<Uint8Array> {
    const id = claim.job.id;
    const where = await this.redis.hget(key.state(id), 'upload');
    if (where === 'inline') {
      const bytes = await this.redis.getBuffer(key.upload(id));
      if (bytes) return bytes;
      throw new DocmarkError('internal_error', 'The upload of this job is gone (the job was canceled or expired).');
    }
    return fsp.readFile(path.join(this.uploads, `${id}.pdf`));
  }

  async claimNext(): Promise<Claim | undefined> {
    for (let discarded = 0; discarded < MAX_DISCARDS; discarded++) {
      const token = randomBytes(12).toString('base64url');
      const job = await this.worker.getNextJob(token, { block: false });
      if (!job?.id) return undefined;
      const attempt = Number(
        await this.redis.eval(CLAIM, 2, key.state(job.id), key.claim(job.id), token, this.options.leaseMs, new Date().toISOString()),
      );
      if (attempt <= 0) {
        // Finished, canceled or forgotten while it waited: its queue entry goes.
        await job.moveToCompleted(null, token, false).catch(() => undefined);
        continue;
      }
      this.held.set(token, job);
      const record = await this.get(job.id);
      if (record) return { job: record, token };
      this.held.delete(token);
    }
    return undefined;
  }

  async holds(claim: Claim): Promise<boolean> {
    const id = claim.job.id;
    const [holder, [outcome, canceled]] = await Promise.all([this.redis.get(key.claim(id)), this.redis.hmget(key.state(id), 'outcome', 'canceled')]);
    if (holder === claim.token && !outcome && !canceled) return true;
    // Canceled or finished elsewhere: this instance lets the queue entry go rather than leave it to the stalled check.
    if (outcome || canceled) await this.letGo(claim.token);
    return false;
  }

  async renew(claims: Iterable<Claim>): Promise<void> {
    for (const claim of claims) {
      const renewed = await this.redis.eval(RENEW, 1, key.claim(claim.job.id), claim.token, this.options.leaseMs);
      if (renewed === 1) await this.held.get(claim.token)?.extendLock(claim.token, this.options.leaseMs);
    }
  }

  async progress(claim: Claim, pagesDone: number, pagesTotal: number): Promise<void> {
    const id = claim.job.id;
    await this.redis.eval(PROGRESS, 2, key.state(id), key.claim(id), claim.token, pagesDone, pagesTotal);
  }

  async finish(claim: Claim, outcome: JobOutcome): Promise<boolean> {
    const id = claim.job.id;
    const status = 'result' in outcome ? 'succeeded' : 'failed';
    let where = '';
    let text = '';
    let resultFile: string | undefined;
    if ('result' in outcome) {
      text = JSON.stringify(outcome.result);
      if (Buffer.byteLength(text) <= this.options.inlineBytes) where = 'inline';
      else {
        // Named by the claim: a late holder's file never replaces the one that counts.
        where = `${id}.${claim.token}.json`;
        resultFile = path.join(this.results, where);
        await writeWhole(resultFile, text);
      }
    }
    const record: Outcome = { status, finished_at: new Date().toISOString(), error: 'error' in outcome ? outcome.error : null };
    const done = (await this.redis.eval(
      FINISH,
      8,
      key.state(id),
      key.claim(id),
      key.result(id),
      key.upload(id),
      key.finished,
      key.webhooks,
      key.bytes,
      key.outcomes,
      claim.token,
      JSON.stringify(record),
      status,
      where,
      Buffer.byteLength(text),
      where === 'inline' ? text : '',
      Date.parse(record.finished_at),
      claim.job.webhook_url ? '1' : '0',
      id,
    )) as 0 | [1, string];
    if (done === 0) {
      if (resultFile) await fsp.rm(resultFile, { force: true });
      if ((await this.get(id).catch(() => undefined))?.status !== 'running') await this.letGo(claim.token);
      else this.held.delete(claim.token);
      return false;
    }
    if (done[1] === 'file') await fsp.rm(path.join(this.uploads, `${id}.pdf`), { force: true });
    await this.letGo(claim.token);
    return true;
  }

  async release(claim: Claim): Promise<void> {
    const id = claim.job.id;
    const given = await this.redis.eval(RELEASE, 2, key.state(id), key.claim(id), claim.token);
    const job = this.held.get(claim.token);
    this.held.delete(claim.token);
    if (given === 1) {
      // Back at the head of the wait list: the next free worker anywhere takes it.
      await job?.moveToWait(claim.token).catch(() => undefined);
    } else if (job && FINISHED.has((await this.get(id))?.status ?? 'queued')) {
      await job.moveToCompleted(null, claim.token, false).catch(() => undefined);
    }
  }

  async cancel(id: string): Promise<JobRecord | undefined> {
    const job = await this.get(id);
    if (!job) return undefined;
    if (FINISHED.has(job.status) || job.expired) return job;
    const canceled = (await this.redis.eval(
      CANCEL,
      7,
      key.state(id),
      key.claim(id),
      key.upload(id),
      key.finished,
      key.webhooks,
      key.bytes,
      key.outcomes,
      JSON.stringify({ finished_at: new Date().toISOString() }),
      Date.now(),
      job.webhook_url ? '1' : '0',
      id,
    )) as number | [1, string];
    if (Array.isArray(canceled)) {
      if (canceled[1] === 'file') await fsp.rm(path.join(this.uploads, `${id}.pdf`), { force: true });
      // A waiting entry goes now; a running one is let go by its holder when it sees the cancel.
      await this.queue.remove(id).catch(() => undefined);
    }
    return this.get(id);
  }

  async readResult(id: string): Promise<ConvertResult | undefined> {
    if (!isJobId(id)) return undefined;
    const where = await this.redis.hget(key.state(id), 'result');
    if (!where) return undefined;
    try {
      const text = where === 'inline' ? await this.redis.get(key.result(id)) : await fsp.readFile(this.resultPath(where), 'utf8');
      return text ? (JSON.parse(text) as ConvertResult) : undefined;
    } catch {
      return undefined;
    }
  }

  async takeWebhookAttempt(id: string, attempt: number): Promise<boolean> {
    if (!isJobId(id) || !Number.isInteger(attempt) || attempt < 1) return false;
    const leaseMs = this.options.webhookLeaseMs ?? WEBHOOK_ATTEMPT_MS;
    // The count of takes lives as long as the job can be delivered to (its time to live, twice).
    const takes = Number(
      await this.redis.eval(
        TAKE_WEBHOOK_ATTEMPT,
        2,
        key.hook(id, attempt),
        key.hookTakes(id, attempt),
        String(process.pid),
        leaseMs,
        MAX_ATTEMPT_TAKES,
        2 * this.options.ttlMs + leaseMs,
      ),
    );
    if (takes === -1) {
      const last_error = `every instance that took attempt ${attempt} stopped before recording it (${MAX_ATTEMPT_TAKES} times)`;
      await this.updateWebhook(id, { attempts: attempt, delivered_at: null, next_at: null, last_error });
    }
    return takes === 1;
  }

  async updateWebhook(id: string, state: WebhookState): Promise<void> {
    if (!isJobId(id)) return;
    const tx = this.redis.multi().hset(key.state(id), 'webhook', JSON.stringify(state));
    if (state.next_at) tx.zadd(key.webhooks, Date.parse(state.next_at), id);
    else tx.zrem(key.webhooks, id);
    await tx.exec();
  }

  async webhooksDue(now: number): Promise<JobRecord[]> {
    const due: JobRecord[] = [];
    for (const id of await this.redis.zrangebyscore(key.webhooks, '-inf', now)) {
      const job = await this.get(id);
      if (!job?.webhook_url || job.expired) await this.redis.zrem(key.webhooks, id);
      else if (FINISHED.has(job.status)) due.push(job);
    }
    return due;
  }

  async sweep(now: number): Promise<void> {
    const { ttlMs } = this.options;
    for (const id of await this.redis.zrangebyscore(key.finished, '-inf', now - ttlMs)) {
      const finishedAt = Number(await this.redis.zscore(key.finished, id));
      if (now - finishedAt > 2 * ttlMs) await this.forget(id);
      else await this.expire(id);
    }
    await this.requeueOrphans(now);
  }

  async stats(): Promise<StoreStats> {
    const stats: StoreStats = { queued: 0, running: 0, finished: { succeeded: 0, failed: 0, canceled: 0 }, oldest_queued_s: 0, bytes: 0 };
    const entries = await this.redis.zrange(key.jobs, 0, -1, 'WITHSCORES');
    const now = Date.now();
    const tx = this.redis.multi();
    for (let i = 0; i < entries.length; i += 2) tx.hmget(key.state(entries[i]), 'outcome', 'canceled').exists(key.claim(entries[i]));
    tx.get(key.bytes);
    const res = (await tx.exec()) ?? [];
    for (let i = 0; i < entries.length; i += 2) {
      const [outcome, canceled] = res[i][1] as [string | null, string | null];
      const claimed = res[i + 1][1] === 1;
      const status = statusOf(outcome, canceled, claimed);
      if (status === 'queued') {
        stats.queued++;
        stats.oldest_queued_s = Math.max(stats.oldest_queued_s, Math.round((now - Number(entries[i + 1])) / 1000));
      } else if (status === 'running') stats.running++;
      else stats.finished[status]++;
    }
    stats.bytes = Math.max(0, Number(res[res.length - 1]?.[1]) || 0);
    return stats;
  }

  async close(): Promise<void> {
    await this.stalledChecks;
    await this.worker.close(true).catch(() => undefined);
    await this.queue.close().catch(() => undefined);
    await Promise.all([this.redis.quit().catch(() => undefined), this.workerConnection.quit().catch(() => undefined)]);
  }

  // --- internals ---

  /** The queue entry of a job this instance no longer converts goes (its outcome or cancel is recorded). */
  private async letGo(token: string): Promise<void> {
    const job = this.held.get(token);
    this.held.delete(token);
    await job?.moveToCompleted(null, token, false).catch(() => undefined);
  }

  private async expire(id: string): Promise<void> {
    const res = (await this.redis.eval(EXPIRE, 5, key.state(id), key.upload(id), key.result(id), key.bytes, key.webhooks, id)) as
      | 0
      | [1, string, string];
    if (res === 0) return;
    if (res[1] === 'file') await fsp.rm(path.join(this.uploads, `${id}.pdf`), { force: true });
    if (res[2] && res[2] !== 'inline') await fsp.rm(this.resultPath(res[2]), { force: true });
  }

  /** Every trace of a job: after its tombstone, or a job that could not be queued. */
  private async forget(id: string): Promise<void> {
    await this.expire(id);
    await this.redis
      .multi()
      .del(key.spec(id), key.state(id), key.claim(id), key.upload(id), key.result(id))
      .zrem(key.jobs, id)
      .zrem(key.finished, id)
      .zrem(key.webhooks, id)
      .exec();
    await this.queue.remove(id).catch(() => undefined);
  }

  /** A job stored whose instance died before queueing it: queue it (BullMQ refuses a second entry for an id). */
  private async requeueOrphans(now: number): Promise<void> {
    for (const id of await this.redis.zrangebyscore(key.jobs, '-inf', now - ORPHAN_AFTER_MS)) {
      const job = await this.get(id);
      if (job?.status !== 'queued') continue;
      if ((await this.queue.getJobState(id)) === 'unknown') {
        await this.enqueue(id);
        this.options.log?.({ level: 'warn', msg: 'a job stored but never queued was queued', job: id });
      }
    }
  }

  private resultPath(name: string): string {
    // Names are written by this store only (<id>.<token>.json); anything else is not read.
    if (!/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{16}\.json$/.test(name)) throw new Error('bad result name');
    return path.join(this.results, name);
  }
}

function statusOf(outcome: string | null | undefined, canceled: string | null | undefined, claimed: boolean): JobState {
  if (outcome) return (JSON.parse(outcome) as Outcome).status;
  if (canceled) return 'canceled';
  return claimed ? 'running' : 'queued';
}

function record(spec: JobRecord, state: StateHash, claimed: boolean): JobRecord {
  const outcome = state.outcome ? (JSON.parse(state.outcome) as Outcome) : undefined;
  const canceled = state.canceled ? (JSON.parse(state.canceled) as { finished_at: string }) : undefined;
  const status = statusOf(state.outcome, state.canceled, claimed);
  return {
    ...spec,
    status,
    pages_done: Number(state.pages_done) || 0,
    pages_total: state.pages_total ? Number(state.pages_total) : null,
    started_at: status === 'queued' ? null : (state.started_at ?? null),
    finished_at: outcome?.finished_at ?? canceled?.finished_at ?? null,
    error: outcome?.error ?? null,
    attempts: Number(state.attempts) || 0,
    released: Number(state.released) || 0,
    webhook: state.webhook ? (JSON.parse(state.webhook) as WebhookState) : null,
    ...(state.expired ? { expired: true } : {}),
  };
}

/** Replace `file` whole: a reader on any host sees the old content or the new, never half of one. */
async function writeWhole(file: string, content: string): Promise<void> {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await fsp.writeFile(aside, content);
  await fsp.rename(aside, file);
}

/** Connection errors repeat every retry while Redis is away: one line per kind every 10 s. */
function throttledLog(log: RedisStoreOptions['log']): (err: unknown) => void {
  const last = new Map<string, number>();
  return (err) => {
    const message = String((err as Error)?.message ?? err);
    const now = Date.now();
    if (now - (last.get(message) ?? 0) < 10_000) return;
    last.set(message, now);
    log?.({ level: 'warn', msg: 'redis', error: message });
  };
}
