// `docmark serve` as the tests run it when they need misbehaving conversions: the compiled server,
// configured from the environment like the real one, with hooked-worker.mjs as its worker entry.
// Only a script like this one can select another worker; no setting of a deployed server can.
import { serveForever } from '../../dist/server/serve.js';

await serveForever({ workerUrl: new URL('./hooked-worker.mjs', import.meta.url) });
