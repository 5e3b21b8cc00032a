import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { workflowsPath } from '../../src/worker/engineWorkers.js';

/** Bundles the workflows once per test run: every test's worker (in-process or a child process)
 * loads the same bundle instead of spending seconds on webpack each. */
export default async function setup(project: TestProject) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'job-engine-bundle-'));
  const codePath = path.join(dir, 'workflows.js');
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: quietLogger });
  writeFileSync(codePath, code);
  project.provide('workflowBundlePath', codePath);
  return () => rmSync(dir, { recursive: true, force: true });
}

const noop = () => {};
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop } as any;

declare module 'vitest' {
  export interface ProvidedContext {
    workflowBundlePath: string;
  }
}
