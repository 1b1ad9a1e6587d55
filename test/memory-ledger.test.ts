import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { parseOptions } from '../src/engine/options.ts';
import { startServer, STRIKES_FILE, type RunningServer } from '../src/server/serve.ts';
import { documentKey } from '../src/server/strikes/key.ts';
import { StrikeLedger } from '../src/server/strikes/ledger.ts';
import { rawRequest, type RawResponse } from './helpers/http.ts';
import { CORPUS, ROOT, startServerProcess } from './helpers/server.ts';
import { waitFor } from './helpers/wait.ts';

// Documents that take instances past their memory limit (issue 19): the shared record of strikes
// (two writers, expiry, bounds, a corrupt file), then the real server over HTTP with a test
// worker whose conversion of one document really holds memory past DOCMARK_MAX_MEMORY: strikes
// for the document converting at that moment only, the third attempt refused 422, other
// documents and jobs as before; then `docmark serve` processes: the record outlives the process
// that wrote it, and an exit caused by the test ballast strikes nothing.

const MB = 1024 * 1024;
const HOUR = 3_600_000;
const SMALL_PDF = fs.readFileSync(path.join(CORPUS, 'bcrypt.pdf'));
const hooked = (hook: string): Buffer => Buffer.concat([SMALL_PDF, Buffer.from(`\n%DOCMARK-TEST:${hook}\n`)]);
const HOOKED_WORKER = new URL('./helpers/hooked-worker.mjs', import.meta.url);
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const post = (url: string, body: Buffer, route = '/convert'): Promise<RawResponse> =>
  rawRequest(`${url}${route}`, { headers: { 'content-type': 'application/pdf' }, body });
const get = (url: string): Promise<RawResponse> => rawRequest(url, { method: 'GET' });
const tmp = (name: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `docmark-${name}-`));
/** The strike lines of a ledger file, in order (others skipped). */
const strikeLines = (file: string): Array<Record<string, unknown>> => {
  if (!fs.existsSync(file)) return [];
  const entries: Array<Record<string, unknown>> = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    try {
      const entry = JSON.parse(line);
      if (entry && typeof entry === 'object' && 'strike' in entry) entries.push(entry);
    } catch {
      // not a line of ours
    }
  }
  return entries;
};
const docA = 'a'.repeat(64);
const docB = 'b'.repeat(64);

describe('the strike ledger (one file, shared)', () => {
  let dir: string;
  before(() => (dir = tmp('ledger')));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('counts strikes per document, drops them when the document converts well, and lets them expire', () => {
    let now = 1_000 * HOUR;
    const file = path.join(dir, 'expiry', 'strikes.jsonl'); // the folder does not exist yet
    const ledger = new StrikeLedger({ file, ttlMs: 24 * HOUR, now: () => now });
    assert.deepEqual(ledger.strikes(docA), { count: 0, last: 0 }, 'no file: no strikes');
    ledger.strike([docA, docB]);
    now += HOUR;
    ledger.strike([docA]);
    assert.deepEqual(ledger.strikes(docA), { count: 2, last: now });
    assert.equal(ledger.strikes(docB).count, 1);
    // Another reader of the same file (a sibling instance) sees the same.
    assert.equal(new StrikeLedger({ file, now: () => now }).strikes(docA).count, 2);
    now += 1000;
    ledger.clear(docA);
    assert.equal(ledger.strikes(docA).count, 0, 'converted well: its strikes so far are dropped');
    now += 1000;
    ledger.strike([docA]);
    assert.equal(ledger.strikes(docA).count, 1, 'a strike after the clear counts');
    assert.equal(ledger.strikes(docB).count, 1);
    now += 23.5 * HOUR; // docB's strike is 24.5 h old now
    assert.equal(ledger.strikes(docB).count, 0);
    assert.equal(ledger.strikes(docA).count, 1);
    now += HOUR;
    assert.deepEqual(ledger.documents(), []);
  });

  it('keeps the most recently struck documents only, and compacts what no longer counts away', () => {
    let now = 2_000 * HOUR;
    const file = path.join(dir, 'bounded.jsonl');
    const ledger = new StrikeLedger({ file, maxDocuments: 3, now: () => now });
    const docs = ['1', '2', '3', '4', '5'].map((c) => c.repeat(64));
    for (const doc of docs) {
      ledger.strike([doc]);
      now += 1000;
    }
    assert.deepEqual(
      ledger.documents().map((d) => d.doc),
      [docs[4], docs[3], docs[2]],
    );
    ledger.strike([docs[4]]);
    now += 1000;
    ledger.clear(docs[4]);
    ledger.compact();
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
    assert.deepEqual(
      lines.map((l) => JSON.parse(l).doc ?? `clear ${JSON.parse(l).clear}`),
      [docs[3], docs[2], docs[1], `clear ${docs[4]}`],
      'the three most recently struck documents, and the clear',
    );
    assert.equal(ledger.strikes(docs[0]).count, 0);
    assert.equal(ledger.strikes(docs[4]).count, 0);
    assert.equal(ledger.strikes(docs[1]).count, 1);
  });

  it('reads a corrupt or foreign file as no strikes, skips bad lines, and still appends', () => {
    const file = path.join(dir, 'corrupt.jsonl');
    fs.writeFileSync(
      file,
      Buffer.concat([
        Buffer.from([0, 0xff, 0xfe, 0x7b]),
        Buffer.from('{"strike":1}\nnot json\n{"strike":"x","doc":"../etc","at":1}\n[1,2]\nnull\n{"strike":"y","doc":"'),
      ]),
    );
    const ledger = new StrikeLedger({ file });
    assert.equal(ledger.strikes(docA).count, 0);
    assert.deepEqual(ledger.documents(), []);
    ledger.strike([docA]);
    assert.equal(ledger.strikes(docA).count, 1, 'a strike appended after a torn last line still counts');
    fs.writeFileSync(file, '');
    assert.equal(ledger.strikes(docA).count, 0, 'an emptied file (the operator cleared it): no strikes');
    fs.mkdirSync(path.join(dir, 'a-folder.jsonl'));
    assert.equal(new StrikeLedger({ file: path.join(dir, 'a-folder.jsonl') }).strikes(docA).count, 0, 'unreadable: no strikes');
  });

  it('loses no strike when two processes append and compact at once', async () => {
    const file = path.join(dir, 'two-writers.jsonl');
    const each = 400;
    // Each writer strikes its own documents one at a time and compacts after every 25th: the
    // compactions move the file away under the other writer's appends.
    const writer = (name: string): Promise<number | null> => {
      const script = `
        import { StrikeLedger } from ${JSON.stringify(path.join(ROOT, 'src/server/strikes/ledger.ts'))};
        const ledger = new StrikeLedger({ file: ${JSON.stringify(file)} });
        for (let i = 0; i < ${each}; i++) {
          ledger.strike([(${JSON.stringify(name)} + String(i).padStart(4, '0')).padEnd(64, '0')]);
          if (i % 25 === 24) ledger.compact();
        }`;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: ROOT,
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      return new Promise((resolve) => child.once('exit', resolve));
    };
    const codes = await Promise.all([writer('a'), writer('b')]);
    assert.deepEqual(codes, [0, 0]);
    const ledger = new StrikeLedger({ file, maxDocuments: 10_000 });
    const docs = ledger.documents();
    assert.equal(docs.length, 2 * each, 'every strike of both writers is in the file');
    assert.ok(
      docs.every((d) => d.count === 1),
      'none counted twice',
    );
    assert.deepEqual(
      fs.readdirSync(dir).filter((n) => n.startsWith('two-writers') && n !== 'two-writers.jsonl'),
      [],
      'no compaction left a file behind',
    );
  });

  it('keys a document by its bytes, and apart for a page range or OCR', async () => {
    const options = parseOptions({}, { maxPages: 100 });
    const whole = await documentKey(SMALL_PDF, options);
    assert.equal(whole, sha256(SMALL_PDF));
    assert.equal(await documentKey(SMALL_PDF, parseOptions({ page_range: '0-2,5' }, { maxPages: 100 })), `${whole}:pages=0-2,5`);
    assert.equal(await documentKey(SMALL_PDF, parseOptions({ force_ocr: 'true' }, { maxPages: 100 })), `${whole}:ocr`);
    const long = await documentKey(
      SMALL_PDF,
      parseOptions({ page_range: Array.from({ length: 40 }, (_, i) => String(i * 2)).join(',') }, { maxPages: 100 }),
    );
    assert.match(long, /^[0-9a-f]{64}:pages#[0-9a-f]{16}$/);
    const big = Buffer.alloc(9 * MB + 5, 7); // hashed over several turns of the event loop
    assert.equal(await documentKey(big, options), sha256(big));
  });
});

describe('a document that takes the instance past its memory limit, on the real server over HTTP', () => {
  // The instance's RSS is read for real, less what the test process held once the workers were
  // ready: the limit is "this much more than an idle instance", whatever else this process holds.
  const LIMIT_MB = 300;
  const HOLD_MB = 800;
  let dataDir: string;
  let ledgerFile: string;
  let base = Number.POSITIVE_INFINITY;
  const logs: Array<Record<string, unknown>> = [];
  const hog = hooked(`hold=${HOLD_MB}`);

  const start = async (graceS = 2): Promise<RunningServer> => {
    base = Number.POSITIVE_INFINITY;
    const config = loadConfig(
      {
        DOCMARK_HOST: '127.0.0.1',
        DOCMARK_PORT: '0',
        DOCMARK_WORKERS: '2',
        DOCMARK_MAX_QUEUE: '2',
        DOCMARK_MAX_MEMORY: `${LIMIT_MB}M`,
        DOCMARK_MEMORY_GRACE_S: String(graceS),
        DOCMARK_MEMORY_STRIKES: '2',
        DOCMARK_DATA_DIR: dataDir,
      },
      { supervised: true },
    );
    const server = await startServer({
      config,
      workerUrl: HOOKED_WORKER,
      readRss: () => Math.max(0, process.memoryUsage.rss() - base),
      log: (l) => logs.push(l),
    });
    await waitFor(async () => (await get(`${server.url}/health`)).json?.converter?.ready === 2, { timeoutMs: 120_000, what: 'two ready workers' });
    base = process.memoryUsage.rss();
    return server;
  };

  /** One instance's life: the hog (and whatever else is sent) converting when it passes its limit. */
  const overTheLimit = async (server: RunningServer, alongside: () => Promise<void> = async () => undefined): Promise<void> => {
    const hogRes = post(server.url, hog);
    await alongside();
    await waitFor(() => server.lifecycle.refusing === 'memory_limit', { timeoutMs: 60_000, what: 'the instance to pass its memory limit' });
    const res = await hogRes;
    assert.equal(res.status, 503, res.body);
    assert.equal(res.json.error.code, 'restarting');
    await server.close();
  };

  before(() => {
    dataDir = tmp('strikes-server');
    ledgerFile = path.join(dataDir, STRIKES_FILE);
  });
  after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('strikes the running document only, refuses it once struck twice (422, for jobs too), and converts others', async () => {
    // A corrupt record from before: ignored, never a crash.
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(ledgerFile, '\u0000garbage{"strike":\n');

    // First instance: the hog and a slow honest conversion run, a third one queues. The hog holds
    // its memory 3 s after it starts; the honest one is still converting then and finishes within the grace.
    let server = await start(16);
    const innocent = hooked('sleep=8000');
    let innocentRes: Promise<RawResponse> | undefined;
    let queuedRes: Promise<RawResponse> | undefined;
    await overTheLimit(server, async () => {
      await waitFor(async () => (await get(`${server.url}/health`)).json.converter.busy === 1, { timeoutMs: 30_000, what: 'the hog to run' });
      innocentRes = post(server.url, innocent);
      await waitFor(async () => (await get(`${server.url}/health`)).json.converter.busy === 2, {
        timeoutMs: 30_000,
        what: 'the honest conversion to run',
      });
      queuedRes = post(server.url, SMALL_PDF);
      await waitFor(async () => (await get(`${server.url}/health`)).json.converter.queued === 1, { timeoutMs: 30_000, what: 'a queued conversion' });
    });
    assert.equal((await innocentRes!).status, 200, 'the honest conversion finished within the grace');
    const queued = await queuedRes!;
    assert.equal(queued.json?.error?.code, 'restarting', `${queued.status} ${queued.body.slice(0, 300)}`);
    const ledger = new StrikeLedger({ file: ledgerFile });
    assert.equal(ledger.strikes(sha256(hog)).count, 1, 'the hog: struck');
    assert.equal(ledger.strikes(sha256(innocent)).count, 0, 'the honest conversion: struck, then cleared when it finished');
    assert.equal(ledger.strikes(sha256(SMALL_PDF)).count, 0, 'the queued one never ran: no strike');
    assert.deepEqual(
      strikeLines(ledgerFile).map((e) => e.doc),
      [sha256(hog), sha256(innocent)],
      'struck as the limit was passed: the two running',
    );

    // The replacement: the hog again (its client retried), struck a second time.
    server = await start();
    await overTheLimit(server);
    assert.equal(new StrikeLedger({ file: ledgerFile }).strikes(sha256(hog)).count, 2);

    // The third attempt is refused, before it runs, and not retryable; other documents convert.
    server = await start();
    try {
      const refused = await post(server.url, hog);
      assert.equal(refused.status, 422, refused.body);
      assert.equal(refused.headers['retry-after'], undefined);
      assert.equal(refused.json.success, false);
      assert.equal(refused.json.error.code, 'memory_limit_document');
      assert.match(refused.json.error.message, /past its memory limit \(DOCMARK_MAX_MEMORY = 300M\) 2 times/);
      assert.match(refused.json.error.message, /page_range/);
      assert.ok(refused.json.error.message.includes(sha256(hog)));
      assert.equal(server.lifecycle.refusing, undefined, 'nothing held the memory: the instance stays');
      assert.equal((await post(server.url, SMALL_PDF)).status, 200);

      // A job of that document fails with the same error rather than going round the instances.
      const job = await post(server.url, hog, '/jobs');
      assert.equal(job.status, 202, job.body);
      const done = await waitFor(
        async () => {
          const s = (await get(`${server.url}/jobs/${job.json.id}`)).json;
          return ['succeeded', 'failed', 'canceled'].includes(s?.status) ? s : undefined;
        },
        { timeoutMs: 60_000, what: 'the job to finish' },
      );
      assert.equal(done.status, 'failed');
      assert.equal(done.error.code, 'memory_limit_document');

      // What the operator sees.
      const health = (await get(`${server.url}/health`)).json;
      assert.equal(health.memory_strikes.strikes_to_refuse, 2);
      assert.equal(health.memory_strikes.refused, 2);
      assert.equal(health.memory_strikes.last_refused.sha256, sha256(hog));
      assert.equal(health.memory_strikes.ledger, ledgerFile);
      const metrics = (await get(`${server.url}/metrics`)).body;
      assert.match(metrics, /^docmark_memory_strike_refusals_total(\{[^}]*\})? 2$/m);
      assert.match(metrics, /^docmark_conversions_total\{[^}]*code="memory_limit_document"[^}]*\} 2$/m);
      assert.ok(logs.some((l) => l.msg === 'document refused: it took instances past their memory limit' && l.sha256 === sha256(hog)));
      assert.equal(server.lifecycle.refusing, undefined);
    } finally {
      await server.close();
    }
  });

  it('expired strikes and a cleared record refuse nothing', async () => {
    const old = Date.now() - 25 * HOUR;
    fs.writeFileSync(ledgerFile, ['s1', 's2', 's3'].map((id) => JSON.stringify({ strike: id, doc: sha256(SMALL_PDF), at: old })).join('\n') + '\n');
    const server = await start();
    try {
      assert.equal((await post(server.url, SMALL_PDF)).status, 200, 'strikes older than 24 h do not count');
      fs.rmSync(ledgerFile);
      const res = await post(server.url, hog);
      assert.notEqual(res.json?.error?.code, 'memory_limit_document', 'the record deleted: the hog gets another try');
      assert.equal(server.lifecycle.refusing, 'memory_limit');
    } finally {
      await server.close();
    }
  });
});

describe('`docmark serve` processes: the record outlives the instance; the test ballast strikes nothing', () => {
  it('a replacement process refuses the document its predecessor was converting when it left', async () => {
    const dataDir = tmp('strikes-serve');
    const ledgerFile = path.join(dataDir, STRIKES_FILE);
    const env = {
      DOCMARK_MAX_MEMORY: '1500M',
      DOCMARK_MEMORY_GRACE_S: '1',
      DOCMARK_MEMORY_STRIKES: '1',
      DOCMARK_TEST_CRASH_HOOK: '1',
      DOCMARK_WORKERS: '1',
      DOCMARK_MIN_UPTIME_S: '0',
      DOCMARK_DATA_DIR: dataDir,
    };
    const ready = async (url: string): Promise<void> => {
      await waitFor(async () => (await get(`${url}/health`)).json?.converter?.ready === 1, { timeoutMs: 120_000, what: 'a ready worker' });
    };
    const stuck = hooked('hang');
    try {
      // The ballast takes the instance over while a conversion runs: an exit that strikes nothing.
      let server = await startServerProcess(env, 120_000, { testHooks: true });
      try {
        await ready(server.url);
        const res = post(server.url, stuck);
        await waitFor(async () => (await get(`${server.url}/health`)).json?.converter?.busy === 1, {
          timeoutMs: 30_000,
          what: 'a running conversion',
        });
        server.child.kill('SIGWINCH');
        assert.equal((await res).json.error.code, 'restarting');
        const exiting = await waitFor(() => server.logs.find((l) => l.msg === 'exiting'), { timeoutMs: 60_000, what: 'the exit' });
        assert.equal(exiting.reason, 'memory_limit');
        assert.equal(await server.stop(), 0);
        assert.ok(server.logs.some((l) => l.msg === 'memory limit passed by something else than conversions: no strikes' && l.running === 1));
        assert.deepEqual(strikeLines(ledgerFile), [], 'no strike for the ballast');
      } finally {
        await server.stop();
      }

      // A document that really holds the memory: struck, in the record on disk once the process has left.
      const hog = hooked('hold=1800');
      server = await startServerProcess(env, 120_000, { testHooks: true });
      try {
        await ready(server.url);
        const res = await post(server.url, hog);
        assert.equal(res.json.error.code, 'restarting', res.body);
        const exiting = await waitFor(() => server.logs.find((l) => l.msg === 'exiting'), { timeoutMs: 60_000, what: 'the exit' });
        assert.equal(exiting.reason, 'memory_limit');
        assert.equal(await server.stop(), 0);
      } finally {
        await server.stop();
      }
      assert.deepEqual(
        strikeLines(ledgerFile).map((e) => e.doc),
        [sha256(hog)],
      );

      // The replacement (another process) refuses it, and converts the document the ballast interrupted.
      server = await startServerProcess(env, 120_000, { testHooks: true });
      try {
        await ready(server.url);
        const refused = await post(server.url, hog);
        assert.equal(refused.status, 422, refused.body);
        assert.equal(refused.json.error.code, 'memory_limit_document');
        assert.equal((await post(server.url, SMALL_PDF)).status, 200);
      } finally {
        await server.stop();
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
