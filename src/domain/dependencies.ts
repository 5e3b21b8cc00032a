/** Dependencies between jobs (`depends_on`): what each condition needs, and when it can no longer hold. */
import { isTerminalJobStatus } from './jobStatus.js';

export const DEPENDENCY_CONDITIONS = ['succeeded', 'finished', 'failed'] as const;
/** `succeeded`: the dependency completed; `finished`: it ended in any way; `failed`: it ended without
 * completing (failed, cancelled, terminated, timed out). */
export type DependencyCondition = (typeof DEPENDENCY_CONDITIONS)[number];

export interface Dependency {
  jobId: string;
  condition: DependencyCondition;
}

/** errorType / reason code of a job cancelled because a dependency can no longer be met. */
export const DEPENDENCY_FAILED = 'DependencyFailed';

/**
 * Where a dependency stands, given its job's status: `met`, `waiting` (not finished), or `impossible`
 * (finished in a way the condition excludes). A dependency that is retried later is waited for again
 * by dependents that still wait; dependents already cancelled are re-armed by retrying them.
 */
export function dependencyVerdict(condition: DependencyCondition, status: string): 'met' | 'waiting' | 'impossible' {
  if (!isTerminalJobStatus(status)) return 'waiting';
  const completed = status === 'completed';
  switch (condition) {
    case 'finished':
      return 'met';
    case 'succeeded':
      return completed ? 'met' : 'impossible';
    case 'failed':
      return completed ? 'impossible' : 'met';
  }
}

/**
 * The first cycle among `edges` (node → the nodes it depends on), as a path that starts and ends at
 * the same node, or undefined. Used to refuse a DAG batch whose items depend on each other in a loop.
 */
export function findDependencyCycle(edges: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    const s = state.get(node);
    if (s === 'done') return undefined;
    if (s === 'visiting') return [...path.slice(path.indexOf(node)), node];
    state.set(node, 'visiting');
    path.push(node);
    for (const next of edges.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of edges.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}
