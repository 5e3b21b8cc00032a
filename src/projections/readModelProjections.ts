import { batchProjection } from './batchProjection.js';
import { jobProjection, type Projection } from './jobProjection.js';
import { poolProjection } from './poolProjection.js';
import { scheduleProjection } from './scheduleProjection.js';
import { webhookProjection } from './webhookProjection.js';
import { throughputProjection } from './throughput.js';

/** Every projection of the read model, in the order they apply each event (live and rebuild alike). */
export const readModelProjections = (): Projection[] => [
  jobProjection(),
  batchProjection(),
  poolProjection(),
  scheduleProjection(),
  webhookProjection(),
  // After jobProjection: it reads the job's owner from the row.
  throughputProjection(),
];
