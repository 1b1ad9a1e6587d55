import { isDocmarkError } from '../errors.js';
import { ConfigError } from '../config.js';
import { UsageError } from './command.js';
import { COMMANDS } from './commands/index.js';

/**
 * `docmark <command> [...]`. Each command lives in ./commands and is listed in
 * ./commands/index.ts; this file only dispatches and reports errors.
 */

function usage(): string {
  const lines = ['Usage: docmark <command> [options]', '', 'Commands:'];
  for (const c of COMMANDS) lines.push(`  ${c.usage.padEnd(58)} ${c.summary}`);
  lines.push('', 'Run `docmark <command> --help` for its options.');
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    const { createRequire } = await import('node:module');
    process.stdout.write(createRequire(import.meta.url)('../../package.json').version + '\n');
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`docmark: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help + '\n');
    return 0;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined && code !== null) process.exitCode = code;
  },
  (err: unknown) => {
    if (isDocmarkError(err)) {
      process.stderr.write(`docmark: ${err.message} [${err.code}]\n`);
      process.exitCode = 1;
    } else if (err instanceof UsageError || err instanceof ConfigError || (err as { code?: string })?.code?.startsWith?.('ERR_PARSE_ARGS')) {
      process.stderr.write(`docmark: ${(err as Error).message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`docmark: ${(err as Error)?.stack ?? err}\n`);
      process.exitCode = 1;
    }
  },
);
