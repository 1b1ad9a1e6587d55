export { WorkerPool, type PoolOptions } from './pool.js';
