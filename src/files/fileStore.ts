import Database from 'better-sqlite3';
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** An uploaded file: its bytes live at `<dir>/<owner-safe>/<id>`, this is its row in `files.db`. */
export interface StoredFile {
  id: string;
  owner: string;
  /** The client's file name (no folders), or the form's `name` field. */
  name: string;
  size: number;
  /** Hex SHA-256 of the bytes, computed while they streamed to disk. */
  sha256: string;
  /** Newline characters + 1 for a last line without one (an upper bound of a CSV file's records + header). */
  lines: number;
  contentType: string;
  createdAt: string;
}

/** The upload went over its limit; nothing was kept. */
export class FileTooLargeError extends Error {
  override readonly name = 'FileTooLargeError';
  constructor(readonly maxBytes: number) {
    super(`File larger than ${maxBytes} bytes (MAX_UPLOAD_BYTES)`);
  }
}

/** A file written to disk but not yet recorded: commit() makes it visible, discard() removes it. */
export interface PendingUpload {
  readonly size: number;
  readonly sha256: string;
  commit(meta: { name: string; contentType?: string }): StoredFile;
  discard(): Promise<void>;
}

interface FileRow {
  id: string;
  owner: string;
  name: string;
  size: number;
  sha256: string;
  lines: number;
  content_type: string;
  created_at: string;
}

/**
 * Uploaded files, one folder per owner, with a small SQLite table of their metadata (`files.db` in the
 * same folder). A file is streamed to `<id>.part` while its SHA-256, size and newlines are counted,
 * fsynced, renamed to `<id>`, and only then recorded: a row always names a complete file.
 */
export class FileStore {
  private readonly db: Database.Database;
  private readonly insert;
  private readonly byId;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.db = new Database(path.join(dir, 'files.db'), { timeout: 5000 });
    this.db.pragma('journal_mode = WAL');
    // FULL: an upload answered 201 keeps its row through a power cut (its bytes were fsynced before).
    this.db.pragma('synchronous = FULL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS files (
      id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL,
      lines INTEGER NOT NULL, content_type TEXT NOT NULL, created_at TEXT NOT NULL) WITHOUT ROWID`);
    this.db.exec('CREATE INDEX IF NOT EXISTS files_by_owner ON files (owner, created_at)');
    this.insert = this.db.prepare(
      'INSERT INTO files (id, owner, name, size, sha256, lines, content_type, created_at) VALUES (@id, @owner, @name, @size, @sha256, @lines, @content_type, @created_at)',
    );
    this.byId = this.db.prepare<[string], FileRow>('SELECT * FROM files WHERE id = ?');
  }

  /** Streams `source` to disk (never more than `maxBytes`: FileTooLargeError, and the part file goes). */
  async receive(owner: string, source: Readable, options: { maxBytes: number }): Promise<PendingUpload> {
    const id = `file_${randomUUID()}`;
    const folder = path.join(this.dir, ownerFolder(owner));
    mkdirSync(folder, { recursive: true });
    const partPath = path.join(folder, `${id}.part`);
    const finalPath = path.join(folder, id);
    const hash = createHash('sha256');
    let size = 0;
    let newlines = 0;
    let lastByte = -1;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        size += chunk.length;
        if (size > options.maxBytes) return callback(new FileTooLargeError(options.maxBytes));
        hash.update(chunk);
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) newlines++;
        if (chunk.length > 0) lastByte = chunk[chunk.length - 1]!;
        callback(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(partPath));
      const handle = await open(partPath, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(partPath, finalPath);
    } catch (error) {
      await rm(partPath, { force: true });
      throw error;
    }
    const sha256 = hash.digest('hex');
    const lines = newlines + (size > 0 && lastByte !== 10 ? 1 : 0);
    return {
      size,
      sha256,
      commit: ({ name, contentType }) => {
        const row: FileRow = {
          id,
          owner,
          name,
          size,
          sha256,
          lines,
          content_type: contentType || 'application/octet-stream',
          created_at: new Date().toISOString(),
        };
        this.insert.run(row);
        return toStoredFile(row);
      },
      discard: () => rm(finalPath, { force: true }),
    };
  }

  /** Stores a whole stream at once (benchmarks, tests, scripts). */
  async put(owner: string, name: string, source: Readable, options: { maxBytes?: number; contentType?: string } = {}) {
    const pending = await this.receive(owner, source, { maxBytes: options.maxBytes ?? Number.MAX_SAFE_INTEGER });
    return pending.commit({ name, contentType: options.contentType });
  }

  get(id: string): StoredFile | undefined {
    const row = this.byId.get(id);
    return row ? toStoredFile(row) : undefined;
  }

  /** An owner's files, newest first. */
  listOf(owner: string, limit = 1000): StoredFile[] {
    return this.db
      .prepare<[string, number], FileRow>('SELECT * FROM files WHERE owner = ? ORDER BY created_at DESC LIMIT ?')
      .all(owner, limit)
      .map(toStoredFile);
  }

  /** Removes a file's row and bytes; the bytes it freed (0 if it was not there). */
  remove(id: string): number {
    const file = this.get(id);
    if (!file) return 0;
    this.db.prepare('DELETE FROM files WHERE id = ?').run(id);
    rmSync(this.pathOf(file), { force: true });
    return file.size;
  }

  /** Where the bytes of a recorded file are. */
  pathOf(file: Pick<StoredFile, 'id' | 'owner'>): string {
    return path.join(this.dir, ownerFolder(file.owner), file.id);
  }

  close(): void {
    this.db.close();
  }
}

/** A folder name for an owner id: readable, and distinct for distinct ids (`a/b` and `a_b` differ by the hash). */
export function ownerFolder(owner: string): string {
  const readable =
    owner
      .replace(/[^A-Za-z0-9_.-]/g, '_')
      .replace(/^\.+/, '_')
      .slice(0, 64) || '_';
  return `${readable}-${createHash('sha256').update(owner).digest('hex').slice(0, 12)}`;
}

/** A client's file name without any folder part, at most 255 characters. */
export function safeFileName(name: string | undefined): string {
  const base = (name ?? '').split(/[\\/]/).pop()!.trim();
  // eslint-disable-next-line no-control-regex
  return base.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 255) || 'upload';
}

function toStoredFile(row: FileRow): StoredFile {
  return {
    id: row.id,
    owner: row.owner,
    name: row.name,
    size: row.size,
    sha256: row.sha256,
    lines: row.lines,
    contentType: row.content_type,
    createdAt: row.created_at,
  };
}
