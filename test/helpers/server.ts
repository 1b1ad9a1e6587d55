import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'bin/docmark.js');
/** `docmark serve` with the test-only misbehaving worker (see hooked-server.mjs). */
const HOOKED_SERVER = path.join(ROOT, 'test/helpers/hooked-server.mjs');
export const CORPUS = path.join(ROOT, 'test/fixtures/corpus');

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Everything the server printed on stdout, as parsed JSON lines. */
  logs: Array<Record<string, unknown>>;
  stderr: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Start the compiled server (`docmark serve`) as a child process on a free loopback
 * port and resolve once it prints where it listens. `testHooks`: its workers obey the
 * misbehaviour markers of misbehaviour.mjs.
 */
export async function startServerProcess(
  env: Record<string, string> = {},
  timeoutMs = 30_000,
  { testHooks = false }: { testHooks?: boolean } = {},
): Promise<ServerProcess> {
  // A job store of its own unless the test gives one: never the user's, never another test's.
  const ownDataDir = env.DOCMARK_DATA_DIR ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-test-data-'));
  const child = spawn(process.execPath, testHooks ? [HOOKED_SERVER] : [CLI, 'serve'], {
    cwd: ROOT,
    env: { ...process.env, DOCMARK_HOST: '127.0.0.1', DOCMARK_PORT: '0', ...(ownDataDir ? { DOCMARK_DATA_DIR: ownDataDir } : {}), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let err = '';
  let buffered = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        logs.push(JSON.parse(line));
      } catch {
        logs.push({ raw: line });
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  let exited = false;
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exited = true;
      resolve(code);
    }),
  );
  const listening = await waitFor(
    () => {
      if (exited) throw new Error(`server exited before listening: ${err}`);
      return logs.find((l) => l.msg === 'listening');
    },
    { timeoutMs, what: 'server to listen' },
  );
  return {
    url: String(listening.url),
    child,
    logs,
    stderr: () => err,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (!exited) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exit;
      clearTimeout(timer);
      if (ownDataDir) fs.rmSync(ownDataDir, { recursive: true, force: true });
      return code;
    },
  };
}
