import { createRequire } from 'node:module';
import { EXIT } from './command.js';
import { COMMANDS } from './commands/index.js';
import { reportError } from './errors.js';

// `docmark <command> [...]`. Each command lives in ./commands and is listed in
// ./commands/index.ts; this file only dispatches and reports errors.

function usage(): string {
  const lines = ['Usage: docmark <command> [options]', '', 'Commands:'];
  for (const c of COMMANDS) lines.push(`  ${c.usage.padEnd(58)} ${c.summary}`);
  lines.push('', 'Run `docmark <command> --help` for its options, `docmark --version` for the version.');
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number | undefined> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? EXIT.ok : EXIT.usage;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(createRequire(import.meta.url)('../../package.json').version + '\n');
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`docmark: unknown command "${name}"\n\n${usage()}\n`);
    return EXIT.usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help + '\n');
    return EXIT.ok;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    const { message, exitCode } = reportError(err);
    process.stderr.write(`docmark: ${message}\n`);
    process.exitCode = exitCode;
  },
);
