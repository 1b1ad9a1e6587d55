import type { Command } from '../command.js';
import { EXIT } from '../command.js';
import { reportError } from '../errors.js';

/** Why a server cannot listen, in words that say what to do. */
const LISTEN_PROBLEMS: Record<string, string> = {
  EADDRINUSE: 'the port is in use (another docmark, or another program, listens there): stop it or choose another DOCMARK_PORT',
  EACCES: 'permission denied (ports below 1024 need privileges): choose a DOCMARK_PORT above 1023',
  EADDRNOTAVAIL: 'this machine has no such address: check DOCMARK_HOST',
  ENOTFOUND: 'DOCMARK_HOST is not a known host name or address',
};

/** The longest wait for the error message to be written before leaving anyway. */
const EXIT_GRACE_MS = 2000;

export const serveCommand: Command = {
  name: 'serve',
  usage: 'serve',
  summary: 'Run the HTTP server in the foreground (what PM2 runs).',
  help: `Usage: docmark serve

Runs the HTTP server in the foreground. Configuration comes from the environment
(DOCMARK_HOST, DOCMARK_PORT, ...; see the README's settings table). Stops gracefully on
SIGINT/SIGTERM: in-flight conversions finish first.

Exit code: 1 at once when the server cannot start (the port is taken, say), 2 for a
wrong setting; 0 after a graceful stop.`,
  async run() {
    const { serveForever } = await import('../../server/serve.js');
    try {
      await serveForever();
    } catch (err) {
      // Leave now, whatever still holds the event loop: under PM2 the IPC channel would keep
      // a server that never listened alive, and "online", for good.
      const code = (err as { code?: string })?.code ?? '';
      const { message, exitCode } = LISTEN_PROBLEMS[code] ? { message: listenMessage(err, code), exitCode: EXIT.failed } : reportError(err);
      process.exitCode = exitCode;
      // Exit once the message is written: under PM2 the log file is written asynchronously.
      process.stderr.write(`docmark serve: ${message}\n`, () => process.exit(exitCode));
      setTimeout(() => process.exit(exitCode), EXIT_GRACE_MS).unref();
    }
    // The server runs until a signal or PM2 stops it; the process exits on its own then.
    return undefined;
  },
};

function listenMessage(err: unknown, code: string): string {
  const e = err as { address?: string; port?: number };
  const where = e.address !== undefined ? `${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port ?? ''}` : 'the address';
  return `cannot listen on ${where}: ${LISTEN_PROBLEMS[code]} (${code}).`;
}
