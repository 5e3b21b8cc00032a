/** Moved to src/ (the read-model rebuild folds in worker threads too); re-exported for the benches. */
export { startTsWorker } from '../../src/tsWorker.js';
