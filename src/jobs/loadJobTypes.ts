import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { JobTypeDefinition } from './jobType.js';
import { JobTypeRegistry } from './registry.js';

const isJobType = (value: unknown): value is JobTypeDefinition =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as JobTypeDefinition).name === 'string' &&
  typeof (value as JobTypeDefinition).runStep === 'function' &&
  typeof (value as JobTypeDefinition).steps === 'function' &&
  typeof (value as JobTypeDefinition).inputSchema === 'object';

/**
 * The registry of a deployment: the built-in job types plus every job type exported by the modules
 * named in JOB_TYPES (paths relative to the working directory, TypeScript or JavaScript). The API
 * process and every worker process must load the same modules: the API validates and plans with a
 * type, the worker runs its steps.
 */
export async function loadJobTypeRegistry(modules: readonly string[] = []): Promise<JobTypeRegistry> {
  const registry = new JobTypeRegistry();
  for (const module of modules) {
    const url = pathToFileURL(path.resolve(module)).href;
    const exported = Object.values((await import(url)) as Record<string, unknown>).filter(isJobType);
    if (exported.length === 0) throw new Error(`JOB_TYPES: ${module} exports no job type (export the result of defineJobType)`);
    for (const type of exported) registry.register(type);
  }
  return registry;
}
