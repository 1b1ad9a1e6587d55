// The conversion worker the tests start (through hooked-server.mjs): the server's own worker,
// plus the misbehaviour markers of misbehaviour.mjs.
import { runConversionWorker } from '../../dist/server/pool/worker-runtime.js';
import { misbehave } from './misbehaviour.mjs';

await runConversionWorker({ beforeConvert: misbehave });
