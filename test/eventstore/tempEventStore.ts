import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEventStore, type EventStore, type EventStoreOptions, type NewEvent } from '../../src/eventstore/index.js';

/** A fresh directory per test, so no test can see another's events. */
export const createTempDir = (): { dir: string; dbPath: string; cleanup: () => void } => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'es-'));
  return { dir, dbPath: path.join(dir, 'events.db'), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
};

/** Opens stores on one temp file and closes them all (then deletes the file) in `dispose`. */
export const createStoreFixture = () => {
  const temp = createTempDir();
  const opened: EventStore[] = [];
  return {
    ...temp,
    open(options?: EventStoreOptions): EventStore {
      const store = openEventStore(temp.dbPath, options);
      opened.push(store);
      return store;
    },
    dispose() {
      for (const store of opened) store.close();
      temp.cleanup();
    },
  };
};

export const newEvent = (eventId: string, data: Record<string, unknown> = { id: eventId }, type = 'TestEvent'): NewEvent => ({
  eventId,
  type,
  data,
});
