import { fileStoreProbe, jobsApiContract } from './helpers/jobs-contract.ts';

// The jobs API on the embedded store (a folder per job). test/jobs-redis.test.ts runs the same
// cases on the store in Redis.

jobsApiContract('embedded store', fileStoreProbe);
