// Preloaded (`--import`) into the Temporal SDK's workflow threads when workflow stack traces are off
// (WORKFLOW_STACK_TRACES, see workflowStackTraces.ts). The SDK records a source-mapped stack for every
// promise workflow code creates, through a V8 promise hook, only to answer the stack-trace query; where
// it cannot create that hook (Bun, old Node) it runs without it and the query answers "not enabled".
// This puts the thread in that mode: the SDK's own request for a hook (from its vm-shared module) is
// refused. Every other caller gets its hook as before: Node's AsyncLocalStorage, which the SDK's
// cancellation scopes use, needs one.
import v8 from 'node:v8';

const createHook = v8.promiseHooks.createHook;
v8.promiseHooks.createHook = function (hooks) {
  if (/[\\/]@temporalio[\\/]worker[\\/].*vm-shared\.[cm]?[jt]s\b/.test(new Error().stack ?? '')) {
    throw new Error('workflow stack traces are off in this thread (WORKFLOW_STACK_TRACES)');
  }
  return createHook.call(this, hooks);
};
