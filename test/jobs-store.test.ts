import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileJobStore } from '../src/jobs/file-store.ts';
import type { Claim, NewJob } from '../src/jobs/types.ts';
import { checkWebhookUrl, nextAttemptAt, parseAllowList, signature } from '../src/jobs/webhook.ts';
import { ROOT } from './helpers/server.ts';
import { waitFor } from './helpers/wait.ts';

const GB = 1024 ** 3;
const job: NewJob = { options: { output_format: 'markdown' }, filename: 'a.pdf', webhookUrl: null };
const pdf = (n = 1000): AsyncIterable<Uint8Array> =>
  (async function* () {
    yield Buffer.from('%PDF-1.7\n');
    yield Buffer.alloc(n, 0x20);
  })();
const result = { output: '# A\n', metadata: { pages: 1, page_count: 1, duration_ms: 1, ocr_pages: [], low_confidence_pages: [], failed_pages: [] } };

describe('the embedded job store', () => {
  let root: string;
  let dir: string;
  /** Each test gets a store of its own. */
  const open = (opts: Partial<ConstructorParameters<typeof FileJobStore>[0]> = {}) => {
    dir = fs.mkdtempSync(path.join(root, 'store-'));
    return new FileJobStore({ dir, ttlMs: 3_600_000, maxBytes: GB, ...opts });
  };

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-jobs-'));
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('keeps a job from queued to succeeded, with its position, progress, result and attempts', async () => {
    const store = open();
    const a = await store.create(job, pdf(), 1 << 20);
    const b = await store.create(job, pdf(), 1 << 20);
    assert.equal(a.status, 'queued');
    assert.equal(await store.queuePosition(a.id), 0);
    assert.equal(await store.queuePosition(b.id), 1);
    const claim = (await store.claimNext())!;
    assert.equal(claim.job.id, a.id, 'oldest first');
    assert.equal((await store.get(a.id))!.status, 'running');
    assert.equal(await store.queuePosition(a.id), null);
    assert.equal(await store.queuePosition(b.id), 0);
    assert.equal(
      Buffer.from(await store.readUpload(claim))
        .subarray(0, 5)
        .toString(),
      '%PDF-',
    );
    await store.progress(claim, 1, 3);
    assert.deepEqual([(await store.get(a.id))!.pages_done, (await store.get(a.id))!.pages_total], [1, 3]);
    assert.equal(await store.finish(claim, { result }), true);
    const done = (await store.get(a.id))!;
    assert.equal(done.status, 'succeeded');
    assert.equal(done.attempts, 1);
    assert.ok(done.finished_at && done.started_at);
    assert.deepEqual(await store.readResult(a.id), result);
    assert.equal(await store.finish(claim, { error: { code: 'timeout', message: 'late' } }), false, 'an outcome is written once');
    assert.equal((await store.get(a.id))!.status, 'succeeded');
    // b is still queued and claimable; a is not
    const next = (await store.claimNext())!;
    assert.equal(next.job.id, b.id);
    assert.equal(await store.claimNext(), undefined);
    await store.release(next);
    assert.equal((await store.get(b.id))!.status, 'queued', 'a released job goes back to the queue');
    assert.equal((await store.claimNext())!.job.attempts, 2);
  });

  it('refuses ids that are not its own before touching the file system', async () => {
    const store = open();
    for (const id of ['../../etc/passwd', '', 'x'.repeat(5000), 'AAAAAAAAAAAAAAAAAAAAA/']) {
      assert.equal(await store.get(id), undefined);
      assert.equal(await store.cancel(id), undefined);
      assert.equal(await store.readResult(id), undefined);
    }
  });

  it('cancels queued and running jobs, deletes their data, and the holder sees it', async () => {
    const store = open();
    const running = await store.create(job, pdf(), 1 << 20);
    const claim: Claim = (await store.claimNext())!;
    assert.equal(claim.job.id, running.id);
    const queued = await store.create(job, pdf(), 1 << 20);
    assert.equal((await store.cancel(queued.id))!.status, 'canceled');
    assert.equal((await store.cancel(running.id))!.status, 'canceled');
    assert.equal(await store.holds(claim), false);
    assert.equal(await store.finish(claim, { result }), false);
    assert.equal((await store.get(running.id))!.status, 'canceled');
    assert.equal(fs.existsSync(path.join(dir, 'jobs', running.id, 'input.pdf')), false, 'upload deleted');
    assert.equal(await store.queuePosition(queued.id), null);
  });

  it('refuses an upload that would overfill the store, leaving no half-written job', async () => {
    const small = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-jobs-full-'));
    try {
      const store = new FileJobStore({ dir: small, ttlMs: 60_000, maxBytes: 4096 });
      await store.create(job, pdf(2000), 1 << 20);
      await assert.rejects(
        store.create(job, pdf(3000), 1 << 20),
        (e: { code?: string; status?: number }) => e.code === 'store_full' && e.status === 507,
      );
      await assert.rejects(store.create(job, pdf(5000), 2048), (e: { code?: string }) => e.code === 'payload_too_large');
      assert.equal(fs.readdirSync(path.join(small, 'jobs')).length, 1);
      assert.deepEqual(fs.readdirSync(path.join(small, 'incoming')), []);
    } finally {
      fs.rmSync(small, { recursive: true, force: true });
    }
  });

  it('expires results after the time to live (410), then forgets the job (404)', async () => {
    const store = open({ ttlMs: 1000 });
    const a = await store.create(job, pdf(), 1 << 20);
    const claim = (await store.claimNext())!;
    assert.equal(claim.job.id, a.id);
    await store.finish(claim, { result });
    const finished = Date.parse((await store.get(a.id))!.finished_at!);
    await store.sweep(finished + 500);
    assert.equal((await store.get(a.id))!.expired, undefined);
    await store.sweep(finished + 1500);
    assert.equal((await store.get(a.id))!.expired, true);
    assert.equal(await store.readResult(a.id), undefined);
    await store.sweep(finished + 2500);
    assert.equal(await store.get(a.id), undefined);
  });

  it('takes a job over when its holder is gone, whether its process died or its lease ran out', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-jobs-takeover-'));
    try {
      const store = new FileJobStore({ dir: home, ttlMs: 60_000, maxBytes: GB, leaseMs: 1500 });
      const a = await store.create(job, pdf(), 1 << 20);
      // Another process claims it and is killed with SIGKILL: no release, no goodbye.
      const child = claimer(home, ['--hold']);
      await waitFor(() => child.claimed.length > 0, { timeoutMs: 20_000, what: 'child to claim' });
      assert.equal((await store.get(a.id))!.status, 'running');
      assert.equal(await store.claimNext(), undefined, 'a live holder keeps its job');
      child.proc.kill('SIGKILL');
      await waitFor(() => child.exited, { timeoutMs: 10_000, what: 'child to die' });
      const taken = (await store.claimNext())!;
      assert.equal(taken.job.id, a.id, 'a dead process loses its claim at once');
      assert.equal(taken.job.attempts, 2);
      // A holder on another machine is judged by its lease only.
      const b = await store.create(job, pdf(), 1 << 20);
      const claimFile = path.join(home, 'jobs', b.id, 'claim');
      fs.writeFileSync(claimFile, JSON.stringify({ token: 'elsewhere', pid: 1, host: 'another-host', boot: 'x', at: Date.now() }));
      assert.equal(await store.claimNext(), undefined);
      const old = new Date(Date.now() - 2000);
      fs.utimesSync(claimFile, old, old);
      const retaken = (await store.claimNext())!;
      assert.equal(retaken.job.id, b.id, 'a lapsed lease is taken over');
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it('leases a webhook attempt: taken again only once it lapses, by one instance, a bounded number of times', async () => {
    let now = Date.parse('2026-12-06T20:00:00Z');
    const clock = () => now;
    const first = open({ now: clock });
    // Two instances of the host: two stores on one folder, one clock.
    const second = new FileJobStore({ dir, ttlMs: 3_600_000, maxBytes: GB, now: clock });
    const hooked = await first.create({ ...job, webhookUrl: 'https://hooks.example.com/x' }, pdf(), 1 << 20);
    const claim = (await first.claimNext())!;
    await first.finish(claim, { result });
    assert.deepEqual(
      (await first.webhooksDue(now)).map((j) => j.id),
      [hooked.id],
    );
    const takeBoth = async (): Promise<number> =>
      (await Promise.all([first.takeWebhookAttempt(hooked.id, 1), second.takeWebhookAttempt(hooked.id, 1)])).filter(Boolean).length;

    assert.equal(await takeBoth(), 1, 'one of two instances takes the attempt');
    // Its taker dies before recording it (no updateWebhook): nobody takes it while the lease runs…
    now += 119_000;
    assert.equal(await takeBoth(), 0);
    // …and exactly one instance takes it once the lease lapsed.
    now += 2_000;
    assert.equal(await takeBoth(), 1, 'a lapsed attempt is taken again, once');
    assert.equal(await takeBoth(), 0);
    assert.deepEqual(
      (await second.webhooksDue(now)).map((j) => j.id),
      [hooked.id],
      'still due: not recorded',
    );

    // That taker dies too, and the next: the third lapse gives the delivery up instead of a fourth take.
    now += 121_000;
    assert.equal(await takeBoth(), 1);
    now += 121_000;
    assert.equal(await takeBoth(), 0, 'attempts are bounded');
    const given = (await first.get(hooked.id))!.webhook!;
    assert.equal(given.attempts, 1);
    assert.equal(given.next_at, null);
    assert.equal(given.delivered_at, null);
    assert.match(given.last_error!, /stopped before recording it/);
    assert.deepEqual(await first.webhooksDue(now), []);

    // A taker that lives records its attempt; the next attempt is a lease of its own.
    const other = await first.create({ ...job, webhookUrl: 'https://hooks.example.com/y' }, pdf(), 1 << 20);
    await first.finish((await first.claimNext())!, { result });
    assert.equal(await first.takeWebhookAttempt(other.id, 1), true);
    await first.updateWebhook(other.id, { attempts: 1, delivered_at: null, next_at: new Date(now + 10_000).toISOString(), last_error: 'HTTP 500' });
    now += 10_000;
    assert.deepEqual(
      (await second.webhooksDue(now)).map((j) => j.id),
      [other.id],
    );
    assert.equal(await second.takeWebhookAttempt(other.id, 1), false, 'its lease still runs');
    assert.equal(await second.takeWebhookAttempt(other.id, 2), true);
    await second.updateWebhook(other.id, { attempts: 2, delivered_at: new Date(now).toISOString(), next_at: null, last_error: null });
    assert.deepEqual(await first.webhooksDue(now + 3_600_000), [], 'delivered: never due again');
    assert.equal(await first.takeWebhookAttempt('../../etc', 1), false);
    assert.equal(await first.takeWebhookAttempt(other.id, 0), false);
  });

  it('gives each job to exactly one of several processes claiming at once', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-jobs-race-'));
    try {
      const store = new FileJobStore({ dir: home, ttlMs: 60_000, maxBytes: GB });
      const ids = [];
      for (let i = 0; i < 40; i++) ids.push((await store.create(job, pdf(10), 1 << 20)).id);
      const children = [claimer(home), claimer(home), claimer(home)];
      await waitFor(() => children.every((c) => c.exited), { timeoutMs: 60_000, what: 'claimers to finish' });
      const all = children.flatMap((c) => c.claimed);
      assert.equal(all.length, ids.length, `claims: ${children.map((c) => c.claimed.length).join('+')}`);
      assert.deepEqual([...new Set(all)].sort(), [...ids].sort());
      for (const id of ids) assert.equal((await store.get(id))!.status, 'succeeded');
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('webhooks', () => {
  it('allows only listed hosts, http(s), no credentials', () => {
    const allow = parseAllowList('hooks.example.com, *.corp.example:8443 ,127.0.0.1:9000');
    assert.equal(checkWebhookUrl('https://hooks.example.com/x', allow), 'https://hooks.example.com/x');
    assert.ok(checkWebhookUrl('https://a.corp.example:8443/', allow));
    assert.ok(checkWebhookUrl('http://127.0.0.1:9000/hook', allow));
    for (const bad of [
      'https://corp.example:8443/',
      'https://a.corp.example/',
      'http://127.0.0.1:9001/',
      'http://169.254.169.254/latest/meta-data',
      'file:///etc/passwd',
      'https://user:pw@hooks.example.com/',
      'javascript:alert(1)',
      'https://hooks.example.com.evil.test/',
      `https://hooks.example.com/${'a'.repeat(3000)}`,
    ]) {
      assert.throws(
        () => checkWebhookUrl(bad, allow),
        (e: { code?: string }) => e.code === 'invalid_option',
        bad,
      );
    }
    assert.throws(() => checkWebhookUrl('https://hooks.example.com/', []), /webhooks are off/);
    assert.ok(checkWebhookUrl('https://anything.test/', ['*']));
  });

  it('signs timestamp and body with HMAC-SHA256, and gives up after a bounded time', () => {
    // Checked against node's crypto directly, not the code under test.
    const expected = createHmac('sha256', 'k').update('1700000000.{"a":1}').digest('hex');
    assert.equal(signature('k', 1700000000, '{"a":1}'), `t=1700000000,v1=${expected}`);
    let at = 0;
    let attempts = 0;
    while (at !== null && attempts < 100) at = nextAttemptAt(++attempts, 0) as number;
    assert.ok(attempts < 10, 'gives up');
  });
});

/** A child process that claims jobs from the store in `dir` (and finishes them, unless --hold). */
function claimer(dir: string, args: string[] = []) {
  const script = `
    import { FileJobStore } from ${JSON.stringify(path.join(ROOT, 'src/jobs/file-store.ts'))};
    const store = new FileJobStore({ dir: ${JSON.stringify(dir)}, ttlMs: 60000, maxBytes: 2 ** 40 });
    const hold = process.argv.includes('--hold');
    for (;;) {
      const claim = await store.claimNext();
      if (!claim) break;
      console.log(claim.job.id);
      if (hold) { setInterval(() => store.renew([claim]), 200); await new Promise(() => {}); }
      await store.finish(claim, { result: { output: '', metadata: {} } });
    }`;
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, '--', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const state = { proc, claimed: [] as string[], exited: false };
  let buf = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    state.claimed.push(...lines.filter(Boolean));
  });
  proc.on('exit', () => (state.exited = true));
  return state;
}
