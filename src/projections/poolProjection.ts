import type { ScannedEvent } from '../eventstore/index.js';
import { PoolEvents } from '../domain/index.js';
import type { Projection } from './jobProjection.js';
import type { ReadModelDb } from './readModelDb.js';

/** pools, from the pool streams (PoolCreated, PoolLimitChanged). Idempotent by last_position. */
export function poolProjection(): Projection {
  let prepared: ReadModelDb | undefined;
  let s: ReturnType<typeof prepare>;
  function prepare(db: ReadModelDb) {
    return {
      get: db.prepare<[string], { last_position: number }>('SELECT last_position FROM pools WHERE name = ?'),
      upsert: db.prepare(`INSERT INTO pools (name, "limit", created_at, updated_at, last_position)
          VALUES (@name, @limit, @at, @at, @position)
        ON CONFLICT (name) DO UPDATE SET "limit" = excluded."limit", updated_at = excluded.updated_at,
          last_position = excluded.last_position`),
    };
  }
  return {
    name: 'pools',
    eventTypePrefixes: ['Pool'],
    apply(db, event: ScannedEvent) {
      if (event.type !== PoolEvents.created && event.type !== PoolEvents.limitChanged) return;
      if (prepared !== db) {
        s = prepare(db);
        prepared = db;
      }
      const d = event.data as { pool: string; limit: number; at?: string };
      const row = s.get.get(d.pool);
      if (row && event.globalPosition <= row.last_position) return;
      // A pool created again (its workflow restarted from config) keeps a limit changed at run time.
      if (row && event.type === PoolEvents.created) return;
      s.upsert.run({ name: d.pool, limit: d.limit, at: d.at ?? event.recordedAt, position: event.globalPosition });
    },
  };
}
