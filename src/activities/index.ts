export * from './eventStoreActivities.js';
export * from './jobStepActivities.js';
