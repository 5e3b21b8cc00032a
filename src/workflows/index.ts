// The worker's workflowsPath: every workflow type the engine runs.
export { jobWorkflow } from './jobWorkflow.js';
export { deleteJobsWorkflow } from './deleteJobsWorkflow.js';
export { batchWorkflow } from './batchWorkflow.js';
export { poolWorkflow } from './poolWorkflow.js';
export { webhookDeliveryWorkflow } from './webhookDeliveryWorkflow.js';
