import type { Command } from '../command.js';
import { batchCommand } from './batch.js';
import { convertCommand } from './convert.js';
import { evalCommand } from './eval.js';
import { jobCommand } from './job.js';
import { restartsCommand } from './restarts.js';
import { serveCommand } from './serve.js';

/** Every CLI command, in the order `docmark --help` lists them. */
export const COMMANDS: Command[] = [convertCommand, serveCommand, batchCommand, jobCommand, evalCommand, restartsCommand];
