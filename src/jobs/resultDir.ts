import path from 'node:path';

/** The folder of a job's result files: `<resultsDir>/<job id>` (the id made safe for a path). */
export function resultDirOf(resultsDir: string, jobId: string): string {
  // Job ids come from our API (job_<uuid>) but may be typed by hand: never leave the results folder.
  return path.join(resultsDir, jobId.replace(/[^A-Za-z0-9_.-]/g, '_'));
}
