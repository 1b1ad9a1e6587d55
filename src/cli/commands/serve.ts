import type { Command } from '../command.js';

export const serveCommand: Command = {
  name: 'serve',
  usage: 'serve',
  summary: 'Run the HTTP server in the foreground (what PM2 runs).',
  help: `Usage: docmark serve

Runs the HTTP server in the foreground. Configuration comes from the environment
(DOCMARK_HOST, DOCMARK_PORT, ...; see the README). Stops gracefully on SIGINT/SIGTERM:
in-flight conversions finish first.`,
  async run() {
    const { serveForever } = await import('../../server/serve.js');
    await serveForever();
    return undefined as unknown as number;
  },
};
