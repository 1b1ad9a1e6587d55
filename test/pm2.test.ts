import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRequire } from 'node:module';
import { RecycleBaton, ServingMarkers, staggeredLimit } from '../src/server/recycle.ts';
import { summarize } from '../src/cli/commands/restarts.ts';
import { CLI, CORPUS, ROOT } from './helpers/server.ts';
import { Pm2Sandbox, freePort, steadyLoad, type RestartRecord } from './helpers/pm2.ts';
import { busTrace } from './helpers/jsonl.ts';
import { waitFor } from './helpers/wait.ts';

const require = createRequire(import.meta.url);
const { classify } = require('../ops/restart-logger/classify.js') as {
  classify(events: Array<{ type: string; data: unknown }>, options?: { settleMs?: number }): RestartRecord[];
};

const PDF = fs.readFileSync(path.join(CORPUS, 'bull.pdf'));
const trace = (scenario: string): Array<{ type: string; data: unknown }> => busTrace(scenario);

const causes = (records: RestartRecord[], app?: string): string[] => records.filter((r) => !app || r.app === app).map((r) => r.cause);

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: ROOT, env }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('restart cause classifier (recorded PM2 7.0.4 bus traces)', () => {
  it('names each single-cause trace right', () => {
    assert.deepEqual(causes(classify(trace('mem-fork'))), ['memory_limit']);
    assert.deepEqual(causes(classify(trace('mem-cluster'))), ['memory_limit']);
    assert.deepEqual(causes(classify(trace('selfexit0'))), ['conversion_limit', 'conversion_limit']);
    assert.deepEqual(causes(classify(trace('selfexit-cluster'))), Array(5).fill('conversion_limit'));
    assert.deepEqual(causes(classify(trace('crash'))), ['crash']);
    assert.deepEqual(causes(classify(trace('signal'))), ['signal', 'signal']);
    assert.deepEqual(causes(classify(trace('manual'))), ['manual', 'manual']);
    assert.deepEqual(causes(classify(trace('ready'))), ['manual', 'manual']);
    const cron = classify(trace('cron'));
    assert.equal(cron.length, 8);
    assert.ok(cron.every((r) => r.cause === 'cron'));
  });

  it('keeps the causes of interleaved apps apart, with memory, exit codes and signals', () => {
    const records = classify(trace('all-causes'));
    assert.deepEqual(causes(records, 'memapp'), ['memory_limit']);
    assert.deepEqual(causes(records, 'memcl').slice(0, 1), ['memory_limit']);
    assert.deepEqual(causes(records, 'countapp'), ['conversion_limit', 'conversion_limit', 'conversion_limit']);
    assert.deepEqual(causes(records, 'crashapp'), ['crash', 'crash', 'crash']);
    assert.deepEqual(causes(records, 'sigapp'), ['signal', 'signal', 'manual']);
    assert.deepEqual(causes(records, 'cronapp'), ['cron']);
    assert.ok(causes(records, 'unstable').includes('errored'));
    const mem = records.find((r) => r.app === 'memapp')!;
    assert.ok(mem.rss_mb! > 150, 'RSS at restart comes from the memory log line');
    assert.equal(records.find((r) => r.app === 'crashapp')!.exit_code, 1);
    assert.equal(records.find((r) => r.app === 'sigapp')!.signal, 'SIGKILL');
    assert.equal(records.find((r) => r.app === 'countapp')!.conversions, 10);
    // Stops with stop_exit_codes are not restarts.
    assert.deepEqual(causes(records, 'stopcode'), []);
  });

  it('never copies pm2_env (or the environment) into a record', () => {
    const keys = new Set(classify(trace('all-causes')).flatMap((r) => Object.keys(r)));
    assert.deepEqual([...keys].sort(), [
      'app',
      'cause',
      'conversions',
      'exit_code',
      'instance',
      'new_pid',
      'old_pid',
      'pm_id',
      'restarts',
      'rss_mb',
      'signal',
      'time',
      'uptime_s',
    ]);
  });
});

describe('ecosystem.config.js', () => {
  const load = (env: Record<string, string>) =>
    run(
      [
        '--no-warnings',
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(path.join(ROOT, 'ecosystem.config.js'))}); console.log(JSON.stringify(m.apps))`,
      ],
      { PATH: process.env.PATH, HOME: os.tmpdir(), ...env },
    );

  it('runs compiled dist in cluster mode with the documented defaults', async () => {
    const res = await load({});
    assert.equal(res.code, 0, res.stderr);
    const [app, logger] = JSON.parse(res.stdout);
    assert.match(app.script, /dist\/cli\/pm2-entry\.js$/);
    assert.equal(app.args, undefined);
    assert.equal(app.exec_mode, 'cluster');
    assert.equal(app.instances, 2);
    assert.equal(app.max_memory_restart, '8G');
    assert.equal(app.wait_ready, true);
    assert.equal(app.env.DOCMARK_MAX_CONVERSIONS, '50');
    assert.equal(app.env.DOCMARK_CRON_RESTART, '0 */10 * * *');
    assert.equal(app.cron_restart, undefined, 'in app mode the instances schedule themselves');
    assert.ok(app.kill_timeout > (120 + 150) * 1000, 'kill_timeout outlasts a conversion plus the drain');
    assert.ok(Number(app.env.DOCMARK_MIN_UPTIME_S) * 1000 > app.min_uptime, 'planned exits wait past min_uptime');
    assert.match(logger.script, /ops\/restart-logger\/index\.js$/);
  });

  it('takes overrides from the environment and refuses what PM2 would refuse', async () => {
    const res = await load({
      DOCMARK_INSTANCES: '3',
      DOCMARK_MAX_MEMORY: '1536M',
      DOCMARK_CRON_RESTART: '',
      DOCMARK_PM2_NAME: 'dm',
      DOCMARK_CRON_MODE: 'pm2',
    });
    const [app, logger] = JSON.parse(res.stdout);
    assert.deepEqual([app.name, app.instances, app.max_memory_restart, app.cron_restart], ['dm', 3, '1536M', undefined]);
    assert.equal(logger.env.apps, 'dm');
    const pm2cron = JSON.parse((await load({ DOCMARK_CRON_MODE: 'pm2', DOCMARK_CRON_RESTART: '*/5 * * * * *' })).stdout)[0];
    assert.equal(pm2cron.cron_restart, '*/5 * * * * *');
    for (const bad of ['1.5G', '512MB', '8g', '0M']) {
      const r = await load({ DOCMARK_MAX_MEMORY: bad });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`DOCMARK_MAX_MEMORY must be a whole number followed by K, M or G.*"${bad.replace('.', '\\.')}"`));
    }
  });
});

describe('planned recycling helpers', () => {
  it('staggers conversion limits per instance', () => {
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => staggeredLimit(50, i)),
      [50, 63, 75, 88],
    );
    assert.equal(staggeredLimit(50, undefined), 50);
    assert.equal(staggeredLimit(0, 1), 0);
  });

  it('lets one instance at a time recycle, until its replacement hands the baton back', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-baton-'));
    try {
      const a = new RecycleBaton({ key: 'app-1', instance: 0, staleMs: 60_000, dir });
      const b = new RecycleBaton({ key: 'app-1', instance: 1, staleMs: 60_000, dir });
      assert.equal(a.tryTake(), true);
      assert.equal(b.tryTake(), false);
      b.handBack(); // not b's baton: nothing changes
      assert.equal(b.tryTake(), false);
      // The replacement of instance 0 (another pid) hands it back.
      fs.writeFileSync(a.file, JSON.stringify({ instance: 0, pid: -1, daemon: process.ppid, at: Date.now() }));
      a.handBack();
      assert.equal(b.tryTake(), true);
      // A lost baton (replacement never ready) goes stale.
      assert.equal(a.tryTake(), false);
      assert.equal(a.tryTake(Date.now() + 61_000), true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never reads a baton being written as free, and ignores one left by an earlier PM2 daemon', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-baton-'));
    try {
      const a = new RecycleBaton({ key: 'app-1', instance: 0, staleMs: 60_000, dir });
      const b = new RecycleBaton({ key: 'app-1', instance: 1, staleMs: 60_000, dir });
      // What a sibling saw between open('wx') and write when both schedules fired at once.
      fs.writeFileSync(a.file, '');
      assert.equal(a.tryTake(), false, 'an empty baton is held, not free');
      assert.equal(a.tryTake(Date.now() + 61_000), true, 'it goes stale like any other');
      // A daemon killed during a recycle left its baton behind: void for this daemon.
      fs.writeFileSync(b.file, JSON.stringify({ instance: 1, pid: 1, daemon: -1, at: Date.now() }));
      assert.equal(a.tryTake(), true);
      assert.equal(b.tryTake(), false);
      assert.deepEqual(fs.readdirSync(dir), [path.basename(a.file)], 'no temporary files left');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('serving markers', () => {
  it('count a sibling only while it serves, under this daemon, in a live process', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-serving-'));
    try {
      const a = new ServingMarkers({ key: 'app-1', instance: 0, dir, daemon: 7 });
      const b = new ServingMarkers({ key: 'app-1', instance: 1, dir, daemon: 7 });
      a.serving();
      assert.equal(a.siblingServing(), false, 'alone: the last open instance must not leave');
      b.serving();
      assert.equal(a.siblingServing(), true);
      assert.equal(b.siblingServing(), true);
      b.leaving();
      assert.equal(a.siblingServing(), false, 'a draining sibling does not count');
      // A sibling that crashed (its process is gone) left its marker behind.
      const dead = spawnSync(process.execPath, ['-e', '']).pid!;
      fs.writeFileSync(path.join(dir, 'docmark-serving-app-1-1.json'), JSON.stringify({ pid: dead, daemon: 7 }));
      assert.equal(a.siblingServing(), false);
      // One from an earlier PM2 daemon, or another app, does not count either.
      fs.writeFileSync(path.join(dir, 'docmark-serving-app-1-1.json'), JSON.stringify({ pid: process.pid, daemon: 6 }));
      fs.writeFileSync(path.join(dir, 'docmark-serving-app-2-1.json'), JSON.stringify({ pid: process.pid, daemon: 7 }));
      assert.equal(a.siblingServing(), false);
      // Instances beyond DOCMARK_INSTANCES (pm2 scale) count.
      new ServingMarkers({ key: 'app-1', instance: 5, dir, daemon: 7 }).serving();
      assert.equal(a.siblingServing(), true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('docmark restarts', () => {
  it('summarises a log by cause and filters by --since', () => {
    const now = Date.now();
    const line = (agoS: number, cause: string, rss: number) =>
      JSON.stringify({ time: new Date(now - agoS * 1000).toISOString(), cause, rss_mb: rss, uptime_s: 100 });
    const text = [line(7200, 'memory_limit', 900), line(3600, 'memory_limit', 1100), line(1800, 'cron', 300), 'garbage', ''].join('\n');
    const all = summarize(text, 'x.jsonl');
    assert.equal(all.total, 3);
    assert.equal(all.skipped_lines, 1);
    const mem = all.by_cause.find((c) => c.cause === 'memory_limit')!;
    assert.deepEqual([mem.count, mem.mean_interval_s, mem.mean_rss_mb, mem.max_rss_mb], [2, 3600, 1000, 1100]);
    assert.equal(summarize(text, 'x', now - 2700 * 1000).total, 1);
  });
});

describe('under PM2 (real daemon, isolated PM2_HOME)', { timeout: 15 * 60_000 }, () => {
  describe('each cause is logged', () => {
    const pm2 = new Pm2Sandbox();
    before(() => pm2.start({ DOCMARK_MAX_CONVERSIONS: '4', DOCMARK_CRON_RESTART: '', DOCMARK_WORKERS: '1', DOCMARK_TEST_CRASH_HOOK: '1' }));
    after(() => pm2.destroy());

    it('manual: pm2 restart', async () => {
      const before = pm2.records().length;
      const pids = (await pm2.waitOnline(2)).map((p) => p.pid);
      const res = await pm2.pm2(['restart', 'docmark']);
      assert.equal(res.code, 0, res.stderr);
      const records = await pm2.waitRecords((r) => r.slice(before).filter((x) => pids.includes(x.old_pid!)).length === 2, 'two manual restarts');
      assert.deepEqual(
        records
          .slice(before)
          .filter((x) => pids.includes(x.old_pid!))
          .map((r) => r.cause),
        ['manual', 'manual'],
      );
    });

    it('signal: SIGTERM from outside PM2', async () => {
      const [target] = await pm2.waitOnline(2);
      process.kill(target.pid, 'SIGTERM');
      const records = await pm2.waitRecords((r) => r.some((x) => x.old_pid === target.pid), 'restart of the signalled pid');
      const rec = records.find((x) => x.old_pid === target.pid)!;
      assert.equal(rec.cause, 'signal');
      assert.equal(rec.pm_id, target.pm_id);
    });

    it('crash: an uncaught exception (test-only hook)', async () => {
      const [target] = await pm2.waitOnline(2);
      process.kill(target.pid, 'SIGUSR2');
      const records = await pm2.waitRecords((r) => r.some((x) => x.pm_id === target.pm_id && x.cause === 'crash'), 'crash restart');
      const rec = records.find((x) => x.pm_id === target.pm_id && x.cause === 'crash')!;
      // In cluster mode PM2's container emits 'disconnect' before exit(1), and Node's cluster
      // worker then exits 0: the exception event, not the code, tells it was a crash.
      assert.ok(rec.new_pid && rec.new_pid !== target.pid);
      await pm2.waitOnline(2);
    });

    it('conversion count: self-exit after the (staggered) limit, counted, never unstable', async () => {
      // `pm2 reset` zeroes the counters (the crash above counted) and reopens PM2's window.
      assert.equal((await pm2.pm2(['reset', 'docmark'])).code, 0);
      const unstableBefore = (await pm2.waitOnline(2)).map((p) => [p.pm_id, p.unstable]);
      assert.deepEqual(
        unstableBefore.map(([, u]) => u),
        [0, 0],
      );
      const load = steadyLoad(pm2.port, PDF, 2);
      const records = await pm2.waitRecords(
        (r) => r.filter((x) => x.cause === 'conversion_limit').length >= 2,
        'two conversion_limit restarts',
        120_000,
      );
      const res = await load.stop();
      assert.equal(res.failed, 0, res.failures.join('\n'));
      const planned = records.filter((r) => r.cause === 'conversion_limit');
      for (const r of planned) {
        assert.equal(r.exit_code, 0);
        assert.ok(r.conversions! >= (r.instance === 1 ? 5 : 4), `conversions ${r.conversions} reach instance ${r.instance}'s limit`);
        assert.ok(r.uptime_s! >= 5, `held until past min_uptime (${r.uptime_s} s)`);
        assert.ok(r.old_pid && r.new_pid && r.old_pid !== r.new_pid);
      }
      // PM2 counts exits within min_uptime as unstable (for 50 s after the last pm2 restart:
      // the window is still open here); a planned exit waits, so the counts do not move.
      const online = await pm2.waitOnline(2);
      assert.deepEqual(
        online.map((p) => [p.pm_id, p.unstable]),
        unstableBefore,
        'PM2 counted no planned exit as unstable',
      );
      // What `pm2 monit` shows, per instance (@pm2/io, reported every few seconds).
      const withMetrics = await waitFor(
        async () => {
          const apps = await pm2.apps();
          return apps.every((p) => ['Conversions', 'In flight', 'RSS'].every((m) => m in p.metrics)) ? apps : undefined;
        },
        { timeoutMs: 30_000, what: '@pm2/io metrics' },
      );
      assert.ok(withMetrics.every((p) => Number(p.metrics.RSS.value) > 20));
    });

    it('`docmark restarts` summarises the log these tests produced', async () => {
      const res = await run([CLI, 'restarts', '--log', pm2.restartLog, '--since', '1h', '--json']);
      assert.equal(res.code, 0, res.stderr);
      const summary = JSON.parse(res.stdout);
      const byCause = Object.fromEntries(summary.by_cause.map((c: { cause: string; count: number }) => [c.cause, c.count]));
      for (const cause of ['conversion_limit', 'manual', 'signal', 'crash']) assert.ok(byCause[cause] >= 1, `${cause} in ${res.stdout}`);
      assert.equal(summary.total, pm2.records().length);
      const table = await run([CLI, 'restarts', '--log', pm2.restartLog]);
      assert.match(table.stdout, /^cause\s+restarts\s+mean interval\s+mean RSS\s+max RSS\s+mean uptime$/m);
      assert.match(table.stdout, /^manual\s+2\s/m);
      const missing = await run([CLI, 'restarts', '--log', path.join(pm2.home, 'nope.jsonl')]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no restart log/);
    });
  });

  describe('packaging', () => {
    it('the restart logger installs as a PM2 module (pm2 install file://) and logs with its own config', async () => {
      const pm2 = new Pm2Sandbox();
      try {
        const log = path.join(pm2.home, 'module.jsonl');
        assert.equal((await pm2.pm2(['set', 'restart-logger:log_file', log])).code, 0);
        const install = await pm2.pm2(['install', `file://${path.join(ROOT, 'ops/restart-logger')}`]);
        assert.equal(install.code, 0, install.stderr || install.stdout);
        await pm2.start({ DOCMARK_WORKERS: '1', DOCMARK_CRON_RESTART: '' }, 2, ['--only', 'docmark']);
        const logger = (await pm2.jlist()).find((p) => p.name === 'restart-logger');
        assert.equal(logger?.status, 'online');
        await waitFor(
          () =>
            fs.existsSync(path.join(pm2.home, 'logs')) &&
            fs
              .readdirSync(path.join(pm2.home, 'logs'))
              .some((f) => f.startsWith('restart-logger-out') && fs.readFileSync(path.join(pm2.home, 'logs', f), 'utf8').includes(log)),
          { timeoutMs: 30_000, what: 'module watching' },
        );
        const pids = (await pm2.apps()).map((p) => p.pid);
        assert.equal((await pm2.pm2(['restart', 'docmark'])).code, 0);
        const lines = await waitFor(
          () => {
            const l = fs.existsSync(log)
              ? fs
                  .readFileSync(log, 'utf8')
                  .trim()
                  .split('\n')
                  .map((x) => JSON.parse(x))
              : [];
            return l.length >= 2 ? l : undefined;
          },
          { timeoutMs: 60_000, what: 'module restart lines' },
        );
        assert.deepEqual(
          lines.map((l: RestartRecord) => l.cause),
          ['manual', 'manual'],
        );
        assert.deepEqual(lines.map((l: RestartRecord) => l.old_pid).sort(), [...pids].sort());
      } finally {
        await pm2.destroy();
      }
    });

    it('npm start brings the service up under PM2 and says where; npm stop removes it', async () => {
      const pm2 = new Pm2Sandbox();
      try {
        const port = String(await freePort());
        const env = { ...pm2.env, DOCMARK_PORT: port, DOCMARK_RESTART_LOG: pm2.restartLog, DOCMARK_WORKERS: '1', DOCMARK_CRON_RESTART: '' };
        const start = await run([path.join(ROOT, 'ops/start.mjs')], env);
        assert.equal(start.code, 0, start.stderr);
        assert.match(start.stdout, new RegExp(`docmark is up under PM2: http://127\\.0\\.0\\.1:${port}`));
        assert.match(start.stdout, /pm2 logs docmark/);
        assert.deepEqual((await pm2.jlist()).map((p) => p.name).sort(), ['docmark', 'docmark', 'docmark-restart-logger']);
        const stop = await new Promise<number>((resolve) =>
          execFile('npm', ['run', '--silent', 'stop'], { cwd: ROOT, env }, (err) => resolve(err ? 1 : 0)),
        );
        assert.equal(stop, 0);
        assert.deepEqual(await pm2.jlist(), []);
      } finally {
        await pm2.destroy();
      }
    });
  });

  describe('the last open instance', () => {
    it('keeps serving past its limit while its sibling is stopped, and leaves once the sibling serves: 0 failed requests', async () => {
      const pm2 = new Pm2Sandbox();
      try {
        await pm2.start({ DOCMARK_MAX_CONVERSIONS: '3', DOCMARK_CRON_RESTART: '', DOCMARK_WORKERS: '1' });
        const apps = await pm2.waitOnline(2);
        const stays = apps.find((p) => p.instance === 0)!;
        const stopped = apps.find((p) => p.instance === 1)!;
        assert.equal((await pm2.pm2(['stop', String(stopped.pm_id)])).code, 0);
        const load = steadyLoad(pm2.port, PDF, 2);
        // Instance 0 leaves after 3 conversions, unless it is the only one serving.
        await waitFor(() => load.result.ok >= 10 || undefined, { timeoutMs: 90_000, what: '10 conversions on the only open instance' });
        assert.deepEqual(
          pm2.records().filter((r) => r.cause === 'conversion_limit'),
          [],
          'the only open instance did not leave',
        );
        assert.equal((await pm2.apps()).find((p) => p.pm_id === stays.pm_id)?.pid, stays.pid);
        assert.equal((await pm2.pm2(['start', String(stopped.pm_id)])).code, 0);
        const records = await pm2.waitRecords(
          (r) => r.some((x) => x.cause === 'conversion_limit' && x.pm_id === stays.pm_id),
          'instance 0 leaves once its sibling serves',
          90_000,
        );
        const res = await load.stop();
        assert.equal(res.failed, 0, res.failures.join('\n'));
        const planned = records.find((x) => x.cause === 'conversion_limit' && x.pm_id === stays.pm_id)!;
        assert.ok(planned.conversions! >= 10, `served ${planned.conversions} conversions before leaving`);
      } finally {
        await pm2.destroy();
      }
    });
  });

  describe('memory limit below idle RSS, under steady load', () => {
    const pm2 = new Pm2Sandbox();
    before(() => pm2.start({ DOCMARK_MAX_MEMORY: '40M', DOCMARK_CRON_RESTART: '', DOCMARK_WORKERS: '1' }));
    after(() => pm2.destroy());

    it('reloads each instance (new one first): 0 failed requests', async () => {
      const load = steadyLoad(pm2.port, PDF, 3);
      const records = await pm2.waitRecords(
        (r) => new Set(r.filter((x) => x.cause === 'memory_limit').map((x) => x.pm_id)).size >= 2,
        'memory_limit restarts of both instances',
        120_000,
      );
      const res = await load.stop();
      assert.ok(res.ok > 0);
      assert.equal(res.failed, 0, res.failures.join('\n'));
      for (const r of records.filter((x) => x.cause === 'memory_limit')) assert.ok(r.rss_mb! > 40, `RSS at restart ${r.rss_mb} MB`);
    });
  });

  describe('scheduled restart (seconds-level cron)', () => {
    it('app mode (default): instances leave one at a time under load: 0 failed requests', async () => {
      const pm2 = new Pm2Sandbox();
      try {
        await pm2.start({ DOCMARK_CRON_RESTART: '*/20 * * * * *', DOCMARK_WORKERS: '1' });
        // A schedule may have fired before the load starts: only later restarts count.
        const since = pm2.records().length;
        const cron = (r: RestartRecord[]) => r.slice(since).filter((x) => x.cause === 'cron');
        const load = steadyLoad(pm2.port, PDF, 3);
        const records = await pm2.waitRecords((r) => new Set(cron(r).map((x) => x.pm_id)).size >= 2, 'cron restarts of both instances', 120_000);
        const res = await load.stop();
        assert.ok(res.ok > 0);
        assert.equal(res.failed, 0, res.failures.slice(0, 50).join('\n'));
        // The first scheduled restart of each instance: one after the other, never together.
        const first = new Map<number, RestartRecord>();
        for (const r of cron(records)) if (!first.has(r.pm_id)) first.set(r.pm_id, r);
        const [a, b] = [...first.values()];
        assert.ok(Math.abs(Date.parse(b.time) - Date.parse(a.time)) >= 500, 'the second instance left after the first was replaced');
      } finally {
        await pm2.destroy();
      }
    });

    it("pm2 mode: PM2's cron_restart restarts every instance, logged as cron", async () => {
      const pm2 = new Pm2Sandbox();
      try {
        await pm2.start({ DOCMARK_CRON_RESTART: '*/15 * * * * *', DOCMARK_CRON_MODE: 'pm2', DOCMARK_WORKERS: '1' });
        const records = await pm2.waitRecords(
          (r) => new Set(r.filter((x) => x.cause === 'cron').map((x) => x.pm_id)).size >= 2,
          'cron restarts of both instances',
          90_000,
        );
        assert.ok(records.filter((x) => x.cause === 'cron').every((r) => r.app === 'docmark'));
        await waitFor(async () => (await pm2.apps()).every((p) => p.status === 'online'), { timeoutMs: 60_000, what: 'instances back online' });
      } finally {
        await pm2.destroy();
      }
    });
  });
});
