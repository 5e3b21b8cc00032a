import { EventEmitter } from 'node:events';

/**
 * Process-wide: every EventStore instance on the same file shares one channel (keyed by the file's
 * real path), so an append through one instance wakes waiters on all of them without polling.
 */
const appends = new EventEmitter();
// One listener per instance that currently has waiters; there is no sensible cap.
appends.setMaxListeners(0);

export const announceAppend = (storeKey: string, lastGlobalPosition: number): void => {
  appends.emit(storeKey, lastGlobalPosition);
};

export const subscribeToAppends = (storeKey: string, listener: (lastGlobalPosition: number) => void): (() => void) => {
  appends.on(storeKey, listener);
  return () => appends.off(storeKey, listener);
};
