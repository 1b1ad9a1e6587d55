// `npm run bench -- jobs-redis`: the cost of the Redis job store's operations, against a local
// redis-server started here (saving nothing), in-process (no HTTP): submit (a 200 KB upload kept in
// Redis, and a 470 KB one written to the shared folder), status, claim + finish. Prints the mean wall
// time and this process's CPU time per operation; Redis's own CPU is not counted.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RedisJobStore } from '../dist/jobs/redis-store.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const N = 200;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-bench-redis-'));
const port = await new Promise((resolve) => {
  const srv = net.createServer().listen(0, '127.0.0.1', () => {
    const p = srv.address().port;
    srv.close(() => resolve(p));
  });
});
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', work], {
  stdio: 'pipe',
});
await new Promise((resolve) => redis.stdout.on('data', (c) => String(c).includes('Ready to accept') && resolve()));

const store = new RedisJobStore({
  url: `redis://127.0.0.1:${port}`,
  dir: path.join(work, 'data'),
  ttlMs: 3_600_000,
  maxBytes: 10 * 1024 ** 3,
  inlineBytes: 256 * 1024,
  leaseMs: 30_000,
  concurrency: 1,
});
const small = fs.readFileSync(path.join(ROOT, 'test/fixtures/corpus/bull.pdf')); // 200 KB: in Redis
const big = fs.readFileSync(path.join(ROOT, 'test/fixtures/corpus/bottleneck.pdf')); // 470 KB: a file
const result = JSON.parse(
  JSON.stringify({ markdown: fs.readFileSync(path.join(ROOT, 'test/fixtures/corpus/bull.md'), 'utf8'), metadata: { pages: 8 } }),
);

async function measure(label, fn) {
  const cpu = process.cpuUsage();
  const t = performance.now();
  for (let i = 0; i < N; i++) await fn(i);
  const ms = (performance.now() - t) / N;
  const c = process.cpuUsage(cpu);
  console.log(`${label.padEnd(34)} ${ms.toFixed(2).padStart(7)} ms wall  ${((c.user + c.system) / 1000 / N).toFixed(2).padStart(6)} ms CPU`);
}

const ids = [];
async function* once(bytes) {
  yield bytes;
}
try {
  await measure('submit 200 KB (in Redis)', async () =>
    ids.push((await store.create({ options: {}, filename: null, webhookUrl: null }, once(small), 1 << 30)).id),
  );
  await measure('submit 470 KB (shared folder)', async () =>
    ids.push((await store.create({ options: {}, filename: null, webhookUrl: null }, once(big), 1 << 30)).id),
  );
  await measure('status (get)', async (i) => store.get(ids[i]));
  await measure('claim + read upload + finish', async () => {
    const claim = await store.claimNext();
    await store.readUpload(claim);
    await store.finish(claim, { result });
  });
  const s = performance.now();
  await store.stats();
  console.log(`${'stats over 400 jobs'.padEnd(34)} ${(performance.now() - s).toFixed(2).padStart(7)} ms wall`);
} finally {
  await store.close();
  redis.kill('SIGTERM');
  await new Promise((resolve) => redis.once('exit', resolve));
  fs.rmSync(work, { recursive: true, force: true });
}
