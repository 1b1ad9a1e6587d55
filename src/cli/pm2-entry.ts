// What PM2 runs (ecosystem.config.js): `docmark serve`, with its exit codes and messages, but
// reading no command-line arguments. Under pm2-runtime (containers) cluster instances inherit
// pm2-runtime's own arguments ("ecosystem.config.js") ahead of the app's `args`, so a command
// name passed that way would never arrive intact.
import { serveCommand } from './commands/serve.js';

await serveCommand.run([]);
