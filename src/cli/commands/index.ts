import type { Command } from '../command.js';
import { convertCommand } from './convert.js';
import { serveCommand } from './serve.js';

/** Every CLI command, in the order `docmark --help` lists them. */
export const COMMANDS: Command[] = [convertCommand, serveCommand];
