/**
 * The domain core: job and batch statuses, events, transitions, control rules, priority and error
 * types. Pure: no I/O and no Temporal imports, so workflows, projections, the reconciler, commands
 * and the API all build on it, and new states land in one place.
 */
export * from './priority.js';
export * from './errors.js';
export * from './control.js';
export * from './jobEvents.js';
export * from './jobStatus.js';
export * from './jobRules.js';
export * from './batchStatus.js';
export * from './batchRules.js';
export * from './dependencies.js';
export * from './pools.js';
export * from './jobProgress.js';
