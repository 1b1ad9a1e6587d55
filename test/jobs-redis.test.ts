import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RedisJobStore } from '../src/jobs/redis-store.ts';
import type { JobRecord } from '../src/jobs/types.ts';
import { rawRequest } from './helpers/http.ts';
import { jobsApiContract, type StoreProbe } from './helpers/jobs-contract.ts';
import { getJson, Pm2Sandbox } from './helpers/pm2.ts';
import { type RedisServer, startRedis } from './helpers/redis.ts';
import { CLI, CORPUS } from './helpers/server.ts';
import { waitFor } from './helpers/wait.ts';

// The job store on Redis through BullMQ, against a real redis-server started here: the jobs API
// contract, the outcome written once when two holders race, and two "hosts" (two PM2 daemons with
// their own PM2_HOME and ports, one Redis, one shared data folder) where one host vanishes mid-job.

const P = 'docmark:store';
/** Small enough that the corpus's uploads and results take both paths: some in Redis, some in files. */
const INLINE_MB = '0.25';

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(() => redis?.stop());

function redisProbe(dataDir: string): StoreProbe {
  const client = () => redis.client;
  return {
    env: { DOCMARK_REDIS_URL: redis.url, DOCMARK_REDIS_INLINE_MB: INLINE_MB, DOCMARK_REDIS_LEASE_S: '10' },
    jobCount: () => client().zcard(`${P}:jobs`),
    staged: async () => (fs.existsSync(path.join(dataDir, 'incoming')) ? fs.readdirSync(path.join(dataDir, 'incoming')) : []),
    uploadExists: async (id) => (await client().exists(`${P}:upload:${id}`)) === 1 || fs.existsSync(path.join(dataDir, 'uploads', `${id}.pdf`)),
    resultExists: async (id) =>
      (await client().exists(`${P}:result:${id}`)) === 1 || fs.readdirSync(path.join(dataDir, 'results')).some((f) => f.startsWith(`${id}.`)),
    webhookState: async (id) => {
      const w = await client().hget(`${P}:state:${id}`, 'webhook');
      return w ? JSON.parse(w) : undefined;
    },
  };
}

// Each suite starts from an empty Redis (its counts and store size are its own).
jobsApiContract('Redis store', async (dataDir) => {
  await redis.client.flushall();
  return redisProbe(dataDir);
});

describe('Redis store: two holders of one job', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-redis-store-'));
  const stores: RedisJobStore[] = [];
  const open = (options: { webhookLeaseMs?: number } = {}): RedisJobStore => {
    // A 1 s lease (below the setting's floor) so that a vanished holder is taken over at once.
    const store = new RedisJobStore({
      url: redis.url,
      dir: dataDir,
      ttlMs: 3_600_000,
      maxBytes: 1 << 30,
      inlineBytes: 64 * 1024,
      leaseMs: 1_000,
      concurrency: 1,
      ...options,
    });
    stores.push(store);
    return store;
  };
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  const upload = async function* (): AsyncGenerator<Uint8Array> {
    yield fs.readFileSync(path.join(CORPUS, 'passport.pdf'));
  };
  const result = (text: string): any => ({ markdown: text, metadata: { pages: 1 } });

  it('a stalled holder is taken over, and of the two only one outcome counts', async () => {
    await redis.client.flushall();
    const [a, b] = [open(), open()];
    const job: JobRecord = await a.create({ options: {}, filename: 'x.pdf', webhookUrl: null }, upload(), 1 << 30);
    const first = await a.claimNext();
    assert.equal(first?.job.id, job.id);
    assert.equal((await b.get(job.id))?.status, 'running', 'any store answers for any job');
    assert.equal(await b.claimNext(), undefined, 'a held job is not handed out twice');
    // a stops renewing (its host vanished): BullMQ's stalled check gives the job to b.
    const second = await waitFor(() => b.claimNext(), { timeoutMs: 20_000, intervalMs: 200, what: 'the stalled job to be taken over' });
    assert.equal(second.job.id, job.id);
    assert.equal(second.job.attempts, 2);
    assert.equal(await a.holds(first!), false);
    assert.equal(await b.holds(second), true);
    // The late holder's outcome is dropped; the successor's counts, once.
    assert.equal(await a.finish(first!, { result: result('late') }), false);
    assert.equal(await b.finish(second, { result: result('first') }), true);
    assert.equal(await b.finish(second, { result: result('again') }), false);
    assert.equal(await a.release(first!), undefined);
    const done = await a.get(job.id);
    assert.equal(done?.status, 'succeeded');
    assert.equal(done?.released, 0, 'a late release does not count');
    assert.equal(((await a.readResult(job.id)) as any).markdown, 'first');
    assert.equal(await redis.client.hget(`${P}:outcomes`, 'succeeded'), '1');
    assert.equal(await a.claimNext(), undefined, 'nothing left in the queue');
    assert.equal(await redis.client.llen('docmark:jobs:active'), 0);
  });

  it('leases a webhook attempt: taken again only once it lapses, by one instance, a bounded number of times', async () => {
    await redis.client.flushall();
    const [a, b] = [open({ webhookLeaseMs: 300 }), open({ webhookLeaseMs: 300 })];
    const job = await a.create({ options: {}, filename: null, webhookUrl: 'https://hooks.example.com/x' }, upload(), 1 << 30);
    const claim = (await a.claimNext())!;
    assert.equal(await a.finish(claim, { result: result('x') }), true);
    assert.deepEqual(
      (await b.webhooksDue(Date.now())).map((j) => j.id),
      [job.id],
    );
    const takeBoth = async (): Promise<number> =>
      (await Promise.all([a.takeWebhookAttempt(job.id, 1), b.takeWebhookAttempt(job.id, 1)])).filter(Boolean).length;
    const lapsed = () =>
      waitFor(async () => (await redis.client.exists(`${P}:hook:${job.id}:1`)) === 0, {
        timeoutMs: 5_000,
        intervalMs: 20,
        what: 'the lease to lapse',
      });

    assert.equal(await takeBoth(), 1, 'one of two instances takes the attempt');
    assert.equal(await takeBoth(), 0, 'nobody else while its lease runs');
    // Its taker dies before recording it: once the lease lapses, exactly one instance takes it again.
    await lapsed();
    assert.equal(await takeBoth(), 1);
    await lapsed();
    assert.equal(await takeBoth(), 1);
    // The third taker dies too: the delivery is given up instead of a fourth take.
    await lapsed();
    assert.equal(await takeBoth(), 0, 'attempts are bounded');
    const given = (await a.get(job.id))!.webhook!;
    assert.equal(given.attempts, 1);
    assert.equal(given.next_at, null);
    assert.equal(given.delivered_at, null);
    assert.match(given.last_error!, /stopped before recording it/);
    assert.deepEqual(await b.webhooksDue(Date.now()), []);
  });

  it('a cancel stops the holder, frees the queue entry, and a release gives a job back at the head', async () => {
    await redis.client.flushall();
    const [a, b] = [open(), open()];
    const one = await a.create({ options: {}, filename: null, webhookUrl: null }, upload(), 1 << 30);
    const two = await a.create({ options: {}, filename: null, webhookUrl: null }, upload(), 1 << 30);
    assert.equal(await a.queuePosition(one.id), 0);
    assert.equal(await a.queuePosition(two.id), 1);
    const claim = (await a.claimNext())!;
    assert.equal(claim.job.id, one.id);
    assert.equal(await b.queuePosition(two.id), 0);
    await a.release(claim);
    assert.equal((await b.get(one.id))?.status, 'queued');
    assert.equal(await b.queuePosition(one.id), 0, 'given back at the head');
    const again = (await b.claimNext())!;
    assert.equal(again.job.id, one.id);
    assert.equal(again.job.released, 1);
    assert.equal((await a.cancel(one.id))?.status, 'canceled');
    assert.equal(await b.holds(again), false);
    assert.equal(await b.finish(again, { result: result('too late') }), false);
    assert.equal((await a.get(one.id))?.status, 'canceled');
    assert.equal(await redis.client.exists(`${P}:upload:${one.id}`), 0, 'its upload is deleted');
    assert.equal(await redis.client.llen('docmark:jobs:active'), 0, 'the holder let its queue entry go');
    assert.equal((await a.claimNext())?.job.id, two.id);
  });
});

describe('two hosts on one Redis (real PM2 daemons, isolated PM2_HOMEs)', { timeout: 15 * 60_000 }, () => {
  const hostA = new Pm2Sandbox();
  const hostB = new Pm2Sandbox();
  const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-shared-data-'));
  const url = (host: Pm2Sandbox, p: string): string => `http://127.0.0.1:${host.port}${p}`;
  /** A long scan (OCR for tens of seconds): host A is killed while it converts one. */
  const LONG = 'node-fetch.scanned.pdf';
  const FILES = [LONG, 'bull.pdf', 'he.scanned.pdf', 'passport.pdf', 'enquirer.pdf'];
  const bytes = new Map(FILES.map((f) => [f, fs.readFileSync(path.join(CORPUS, f))]));
  const expected = new Map<string, string>();
  const settings = (): Record<string, string> => ({
    DOCMARK_REDIS_URL: redis.url,
    DOCMARK_DATA_DIR: shared,
    DOCMARK_REDIS_INLINE_MB: INLINE_MB,
    DOCMARK_REDIS_LEASE_S: '10',
    DOCMARK_INSTANCES: '1',
    DOCMARK_WORKERS: '1',
    DOCMARK_CRON_RESTART: '',
  });

  before(async () => {
    await redis.client.flushall();
    await Promise.all([hostA.start(settings()), hostB.start(settings())]);
  });
  after(async () => {
    await Promise.all([hostA.destroy(), hostB.destroy()]);
    fs.rmSync(shared, { recursive: true, force: true });
  });

  const status = async (host: Pm2Sandbox, id: string): Promise<any> => (await rawRequest(url(host, `/jobs/${id}`), { method: 'GET' })).json;

  it("jobs submitted to host A finish on host B after A's whole PM2 daemon is killed, each succeeded once", async (t) => {
    for (const [name, file] of bytes) {
      const res = await rawRequest(url(hostB, '/convert'), { body: file, headers: { 'content-type': 'application/pdf', accept: 'text/markdown' } });
      assert.equal(res.status, 200, res.body);
      expected.set(name, res.body);
    }
    const jobs: Array<{ id: string; file: string }> = [];
    for (const file of FILES) {
      const res = await rawRequest(url(hostA, '/jobs'), { body: bytes.get(file), headers: { 'content-type': 'application/pdf' } });
      assert.equal(res.status, 202, res.body);
      jobs.push({ id: res.json.id, file });
    }
    // Host B answers for host A's jobs at once.
    assert.ok(['queued', 'running'].includes((await status(hostB, jobs[0].id)).status));
    // Both hosts take work from the one queue; A is killed while it converts.
    await waitFor(async () => (await getJson(url(hostA, '/health'))).jobs.running_here === 1, { timeoutMs: 120_000, what: 'host A to run a job' });
    await waitFor(async () => (await getJson(url(hostB, '/health'))).jobs.running_here === 1, { timeoutMs: 120_000, what: 'host B to run a job' });
    const victims = (await hostA.jlist()).map((p) => p.pid).filter((pid) => pid > 0);
    const daemon = Number(fs.readFileSync(path.join(hostA.home, 'pm2.pid'), 'utf8'));
    const attempts = async (): Promise<Map<string, number>> =>
      new Map(await Promise.all(jobs.map(async (j) => [j.id, Number(await redis.client.hget(`${P}:state:${j.id}`, 'attempts'))] as const)));
    const runningAtKill = new Set<string>();
    for (const j of jobs) if ((await redis.client.exists(`${P}:claim:${j.id}`)) === 1) runningAtKill.add(j.id);
    const before = await attempts();
    // The daemon first, so that nothing restarts the instances; then every process it ran.
    const killedAt = Date.now();
    for (const pid of [daemon, ...victims]) process.kill(pid, 'SIGKILL');
    await waitFor(() => [daemon, ...victims].every((pid) => !alive(pid)), { timeoutMs: 10_000, what: "host A's processes to be gone" });
    // Host A's job starts over on host B once its lease (10 s) ran out and a stalled check (every 5 s) saw it.
    await waitFor(
      async () => {
        const now = await attempts();
        return [...runningAtKill].some((id) => now.get(id)! > before.get(id)!);
      },
      { timeoutMs: 120_000, intervalMs: 250, what: "host A's job to be taken over" },
    );
    const takeoverS = (Date.now() - killedAt) / 1000;
    t.diagnostic(`host A killed → its job running again on host B: ${takeoverS.toFixed(1)} s (lease 10 s)`);
    assert.ok(takeoverS >= 9, 'not before the lease ran out');

    const final = await waitFor(
      async () => {
        const all = await Promise.all(jobs.map((j) => status(hostB, j.id)));
        return all.every((s) => ['succeeded', 'failed', 'canceled'].includes(s.status)) ? all : undefined;
      },
      { timeoutMs: 600_000, intervalMs: 1000, what: 'every job to finish on host B' },
    );
    assert.deepEqual(
      final.map((s) => s.status),
      jobs.map(() => 'succeeded'),
      JSON.stringify(final.filter((s) => s.status !== 'succeeded')),
    );
    for (const job of jobs) {
      const res = await rawRequest(url(hostB, `/jobs/${job.id}/result`), { method: 'GET', headers: { accept: 'text/markdown' } });
      assert.equal(res.status, 200);
      assert.equal(res.body, expected.get(job.file), `job ${job.id} (${job.file}) gives what /convert gives`);
    }
    // Exactly once: one outcome recorded per job, and the job host A held ran again (lost, not given back).
    assert.equal(await redis.client.hget(`${P}:outcomes`, 'succeeded'), String(jobs.length));
    const counts = await Promise.all(jobs.map((j) => redis.client.hmget(`${P}:state:${j.id}`, 'attempts', 'released')));
    const lost = counts.reduce((n, [attempts, released]) => n + Number(attempts) - 1 - Number(released), 0);
    assert.ok(lost >= 1, `a job of the killed host ran again: ${JSON.stringify(counts)}`);
    for (const list of ['wait', 'active']) assert.equal(await redis.client.llen(`docmark:jobs:${list}`), 0, `nothing left in ${list}`);
    assert.equal(await redis.client.zcard('docmark:jobs:failed'), 0);
  });

  it('docmark batch --server A --server B --jobs spreads a folder over both hosts', async () => {
    await hostA.start(settings()); // host A comes back (a new daemon, a new port)
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-redis-batch-'));
    try {
      const names = ['bull.pdf', 'passport.pdf', 'got.pdf', 'chokidar.pdf', 'concurrently.pdf', 'he.scanned.pdf'];
      fs.mkdirSync(path.join(work, 'in'));
      for (const n of names) fs.copyFileSync(path.join(CORPUS, n), path.join(work, 'in', n));
      const out = path.join(work, 'out');
      const args = ['batch', path.join(work, 'in'), '-o', out, '-s', url(hostA, ''), '-s', url(hostB, ''), '--jobs'];
      const batch = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(process.execPath, [CLI, ...args], { env: { ...process.env, DOCMARK_API_KEY: '' }, timeout: 600_000 }, (err, stdout, stderr) =>
          resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
        ),
      );
      assert.equal(batch.code, 0, batch.stderr);
      for (const n of names) {
        const md = fs.readFileSync(path.join(out, n.replace(/\.pdf$/, '.md')), 'utf8');
        assert.ok(md.length > 100, n);
        if (expected.has(n)) assert.equal(md, expected.get(n), n);
      }
      const report = fs
        .readFileSync(path.join(out, '_report.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.equal(report.filter((r) => r.status === 'converted').length, names.length);
      const servers = new Set(report.map((r) => r.server));
      assert.equal(servers.size, 2, `submitted to both hosts: ${[...servers].join(', ')}`);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
