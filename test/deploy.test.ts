import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { type RunningServer, startServer } from '../src/server/serve.ts';
import { rawRequest } from './helpers/http.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * What a container platform relies on: `/ready` (readiness, false while draining or before a
 * conversion worker is up), the Dockerfile and its runtime stage replayed for real, compose.yaml
 * and the Kubernetes manifests against their schemas.
 */

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-deploy-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('GET /ready', () => {
  // The real pool and app over HTTP; only the conversion worker is a stand-in that says `ready`
  // when the test lets it (the real worker is up within a second, too fast to catch before it).
  const flag = path.join(scratch, 'worker-may-start');
  const stub = path.join(scratch, 'stub-worker.mjs');
  fs.writeFileSync(
    stub,
    `import fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
const poll = setInterval(() => {
  if (!fs.existsSync(${JSON.stringify(flag)})) return;
  clearInterval(poll);
  parentPort.postMessage({ type: 'ready' });
}, 20);
parentPort.on('message', () => {});
`,
  );
  let server: RunningServer | undefined;
  after(() => server?.close());

  it('is 503 not_ready until a worker is up, 200 while serving, 503 draining once a drain begins', async () => {
    const config = loadConfig(
      { DOCMARK_HOST: '127.0.0.1', DOCMARK_PORT: '0', DOCMARK_WORKERS: '1', DOCMARK_HOST_SAMPLE_S: '60' },
      { supervised: false },
    );
    server = await startServer({ config, workerUrl: pathToFileURL(stub), log: () => {} });
    const ready = (): ReturnType<typeof rawRequest> => rawRequest(`${server!.url}/ready`, { method: 'GET' });

    const before = await ready();
    assert.equal(before.status, 503);
    assert.equal(before.json.success, false);
    assert.equal(before.json.error.code, 'not_ready');
    assert.equal(before.headers['retry-after'], '1');
    // Alive all the same: liveness must not kill a pod that is still starting.
    assert.equal((await rawRequest(`${server.url}/health`, { method: 'GET' })).status, 200);

    fs.writeFileSync(flag, '');
    const up = await waitFor(
      async () => {
        const res = await ready();
        return res.status === 200 ? res : undefined;
      },
      { what: '/ready 200' },
    );
    assert.equal(up.json.status, 'ready');
    assert.equal(up.json.ready_workers, 1);
    assert.equal(up.headers['cache-control'], 'no-store');
    assert.equal((await rawRequest(`${server.url}/ready`, { method: 'HEAD' })).status, 200);
    assert.equal((await rawRequest(`${server.url}/ready`, { method: 'POST' })).status, 405);

    server.lifecycle.beginDrain('signal');
    const draining = await ready();
    assert.equal(draining.status, 503);
    assert.equal(draining.json.error.code, 'draining');
    const health = await rawRequest(`${server.url}/health`, { method: 'GET' });
    assert.equal(health.status, 200);
    assert.equal(health.json.status, 'draining');
  });

  it('stays open when an API key protects /convert (probes send no credentials)', async () => {
    const config = loadConfig(
      { DOCMARK_HOST: '127.0.0.1', DOCMARK_PORT: '0', DOCMARK_WORKERS: '1', DOCMARK_HOST_SAMPLE_S: '60', DOCMARK_API_KEY: 'k' },
      { supervised: false },
    );
    const keyed = await startServer({ config, workerUrl: pathToFileURL(stub), log: () => {} });
    try {
      const res = await waitFor(
        async () => {
          const r = await rawRequest(`${keyed.url}/ready`, { method: 'GET' });
          return r.status === 200 ? r : undefined;
        },
        { what: '/ready 200 with an API key set' },
      );
      assert.equal(res.json.status, 'ready');
      assert.equal((await rawRequest(`${keyed.url}/convert`, { body: Buffer.from('%PDF-') })).status, 401);
    } finally {
      await keyed.close();
    }
  });
});
