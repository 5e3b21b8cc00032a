import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { PreparedBatchItem } from '../workflows/batchContract.js';

/**
 * Claim check for batch inputs: a 100,000-job batch does not fit in a workflow's input (2 MB), so the
 * API stores the validated, planned items here and starts the batch workflow with the batch id; the
 * workflow loads them a page at a time through an activity. Inputs only — never job state.
 */
export class BatchItemStore {
  private readonly db: Database.Database;
  private readonly insert;
  private readonly page;

  constructor(file: string) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file, { timeout: 5000 });
    this.db.pragma('journal_mode = WAL');
    // FULL: put() returns only once the items are fsynced, so a batch acknowledged with 201 keeps its
    // inputs through a power cut (its workflow will load them; NORMAL could lose the last commits).
    this.db.pragma('synchronous = FULL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS batch_items (
      batch_id TEXT NOT NULL, idx INTEGER NOT NULL, item TEXT NOT NULL, PRIMARY KEY (batch_id, idx)) WITHOUT ROWID`);
    this.insert = this.db.prepare('INSERT OR REPLACE INTO batch_items (batch_id, idx, item) VALUES (?, ?, ?)');
    this.page = this.db.prepare<[string, number, number], { item: string }>(
      'SELECT item FROM batch_items WHERE batch_id = ? AND idx >= ? ORDER BY idx LIMIT ?',
    );
  }

  /** Stores all items of a batch in one transaction (all or nothing). */
  put(batchId: string, items: PreparedBatchItem[]): void {
    this.db.transaction(() => {
      items.forEach((item, idx) => this.insert.run(batchId, idx, JSON.stringify(item)));
    })();
  }

  /** Batches that have stored items, by id, after `afterId` (paging); for retention. */
  batchIds(afterId: string, limit: number): string[] {
    return this.db
      .prepare<[string, number], { batch_id: string }>(
        'SELECT DISTINCT batch_id FROM batch_items WHERE batch_id > ? ORDER BY batch_id LIMIT ?',
      )
      .all(afterId, limit)
      .map((r) => r.batch_id);
  }

  /** Removes the items of these batches (finished ones: nothing loads them again); items removed. */
  remove(batchIds: string[]): number {
    const remove = this.db.prepare('DELETE FROM batch_items WHERE batch_id = ?');
    return this.db.transaction(() => batchIds.reduce((n, id) => n + remove.run(id).changes, 0))();
  }

  load(batchId: string, offset: number, limit: number): PreparedBatchItem[] {
    return this.page.all(batchId, offset, limit).map((r) => JSON.parse(r.item) as PreparedBatchItem);
  }

  /** `PRAGMA synchronous` of the connection: 2 = FULL. */
  synchronousLevel(): number {
    return this.db.pragma('synchronous', { simple: true }) as number;
  }

  close(): void {
    this.db.close();
  }
}
