import { runConversionWorker } from './worker-runtime.js';

// Entry point of the server's conversion worker threads (the pool starts this file).
await runConversionWorker();
