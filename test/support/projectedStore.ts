import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEventStore, type EventStore } from '../../src/eventstore/index.js';
import { openReadModelDb, type ReadModelDb } from '../../src/projections/readModelDb.js';
import { Projector } from '../../src/projections/projector.js';
import { readModelProjections } from '../../src/projections/readModelProjections.js';

/** An event store and the read model its running projector follows, in files of a test's own folder. */
export interface ProjectedStore {
  store: EventStore;
  db: ReadModelDb;
  projector: Projector;
  /** Stops the projector, closes both files and removes the folder. */
  dispose(): Promise<void>;
}

export function openProjectedStore(name: string): ProjectedStore {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-`));
  const store = openEventStore(path.join(dir, 'events.db'));
  const db = openReadModelDb(path.join(dir, 'rm.db'));
  const projector = new Projector(store, db, readModelProjections(), { idleWaitMs: 20 });
  projector.start();
  return {
    store,
    db,
    projector,
    async dispose() {
      await projector.stop();
      db.close();
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
