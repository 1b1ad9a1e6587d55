// `npm run bench -- uploads`: many clients upload big PDFs at once to one `docmark serve`; the
// server's peak RSS is printed against the upload-memory bound, (workers + queue) × max upload.
// A request takes a place in the pool before its body is read and the rest are refused (503)
// unread, so the peak must not grow with the number of clients. On top of the uploads themselves
// the server holds a constant: socket read buffers already copied out but not yet garbage-collected
// (malloc keeps their memory and reuses it), allowed for by CONSTANT_MB.
//
// Each scenario runs on a fresh server whose max upload is the upload size, in two pool shapes:
// 1 worker and a queue of 2, and this machine's defaults. The uploads are real PDFs (one page of
// text) padded to size by an unreferenced stream, so each admitted one is read, moved to a worker
// and converted. Peak RSS is the server's VmHWM (/proc), over its value before the burst.
//
//   UPLOADS_SCENARIOS="16x40,50x100"   clients × MB, comma-separated
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'bin/docmark.js');
const MB = 1024 * 1024;
const CONSTANT_MB = 64;
const scenarios = (process.env.UPLOADS_SCENARIOS ?? '16x40,50x100').split(',').map((s) => {
  const [clients, mb] = s.split('x').map(Number);
  return { clients, mb };
});
const shapes = [
  { name: '1 worker, queue 2', env: { DOCMARK_WORKERS: '1', DOCMARK_MAX_QUEUE: '2' } },
  { name: 'defaults', env: {} },
].filter((s) => !process.env.UPLOADS_SHAPE || s.name.startsWith(process.env.UPLOADS_SHAPE));

/** A one-page PDF of `size` bytes: the padding is a stream no page refers to. */
function paddedPdf(size) {
  const text = 'BT /F1 18 Tf 72 720 Td (Upload benchmark) Tj ET';
  const head = '%PDF-1.7\n%\xe2\xe3\xcf\xd3\n';
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${text.length} >>\nstream\n${text}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  const parts = [Buffer.from(head, 'latin1')];
  const offsets = [];
  let at = parts[0].length;
  const add = (buf) => {
    parts.push(buf);
    at += buf.length;
  };
  objects.forEach((body, i) => {
    offsets.push(at);
    add(Buffer.from(`${i + 1} 0 obj\n${body}\nendobj\n`, 'latin1'));
  });
  const tailEstimate = 200 + 20 * 7;
  const padLength = Math.max(0, size - at - tailEstimate - 60);
  offsets.push(at);
  add(Buffer.from(`6 0 obj\n<< /Length ${padLength} >>\nstream\n`, 'latin1'));
  add(Buffer.alloc(padLength, 0x20));
  add(Buffer.from('\nendstream\nendobj\n', 'latin1'));
  const xref = at;
  const rows = offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('');
  add(
    Buffer.from(
      `xref\n0 ${offsets.length + 1}\n0000000000 65535 f \n${rows}trailer\n<< /Size ${offsets.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`,
      'latin1',
    ),
  );
  return Buffer.concat(parts);
}

function startServer(env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'serve'], {
      env: { ...process.env, DOCMARK_HOST: '127.0.0.1', DOCMARK_PORT: '0', DOCMARK_CRON_RESTART: '', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buf = '';
    child.stdout.setEncoding('utf8').on('data', (c) => {
      buf += c;
      const line = buf.split('\n').find((l) => l.includes('"listening"'));
      if (line) resolve({ child, url: JSON.parse(line).url });
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
}

const memory = (pid) => {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)[1]);
  return { peakMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
};

/** POST the PDF; stop sending as soon as an answer arrives (a refusal comes before the body is read). */
function upload(url, pdf) {
  const started = performance.now();
  return new Promise((resolve) => {
    let answered = false;
    const req = http.request(
      `${url}/convert`,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/pdf', 'content-length': String(pdf.length) } },
      (res) => {
        answered = true;
        res.resume();
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode, ms: performance.now() - started });
        });
      },
    );
    req.on('error', (err) => {
      if (!answered) resolve({ status: err.code ?? 'error', ms: performance.now() - started });
    });
    let offset = 0;
    const step = MB;
    const pump = () => {
      while (offset < pdf.length && !answered) {
        const ok = req.write(pdf.subarray(offset, offset + step));
        offset += step;
        if (!ok) return void req.once('drain', pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

async function health(url) {
  return (await fetch(`${url}/health`)).json();
}

const fmt = (n, d = 0) => n.toFixed(d);

console.log('upload memory: N clients upload M MB each at the same moment; server peak RSS against the bound');
console.log(`bound = (workers + queue) × M MB + ${CONSTANT_MB} MB, over the server's RSS before the burst\n`);
for (const { clients, mb } of scenarios) {
  const pdf = paddedPdf(mb * MB);
  for (const shape of shapes) {
    const server = await startServer({ ...shape.env, DOCMARK_MAX_UPLOAD_MB: String(mb) });
    try {
      // Warm up: every worker ready, one conversion done.
      const small = paddedPdf(64 * 1024);
      await upload(server.url, small);
      const h = await health(server.url);
      const places = h.converter.workers + h.converter.max_queue;
      const before = memory(server.child.pid);
      const t0 = performance.now();
      const results = await Promise.all(Array.from({ length: clients }, () => upload(server.url, pdf)));
      const seconds = (performance.now() - t0) / 1000;
      const after = memory(server.child.pid);
      const byStatus = {};
      for (const r of results) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
      const refused = results.filter((r) => r.status === 503).map((r) => r.ms);
      const growth = after.peakMb - before.rssMb;
      const bound = places * mb + CONSTANT_MB;
      console.log(
        `${String(clients).padStart(3)} × ${String(mb).padStart(3)} MB, ${shape.name} (${h.converter.workers} workers + ${h.converter.max_queue} queue = ${places} places): ` +
          `peak RSS ${fmt(before.rssMb)} → ${fmt(after.peakMb)} MB (+${fmt(growth)} MB; bound ${places} × ${mb} + ${CONSTANT_MB} = ${bound} MB, ${fmt((100 * growth) / bound)} % of it); ` +
          `answers ${JSON.stringify(byStatus)}; refusals within ${refused.length ? fmt(Math.max(...refused)) : '–'} ms; ${fmt(seconds, 1)} s`,
      );
      if (growth > bound) console.log('  OVER THE BOUND');
    } finally {
      server.child.kill('SIGTERM');
      await new Promise((resolve) => server.child.once('exit', resolve));
    }
  }
}
