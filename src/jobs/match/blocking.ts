/**
 * Blocking: a row of file1 is compared only with the rows of file2 that share a block with it, never
 * with all of them. A blocking key turns a cell into block names; several keys are several passes
 * whose candidates are united (a typo that moves a row out of one block seldom moves it out of all).
 * Keys always read the normalized value, whatever the mapping's use_normalization says.
 */
import { normalize, phoneticCodes, tokens } from './scorers.js';
import { doubleMetaphone } from 'double-metaphone';

export const BLOCKING_METHODS = ['prefix', 'token_prefix', 'phonetic', 'exact'] as const;
export type BlockingMethod = (typeof BLOCKING_METHODS)[number];

export interface BlockingKey {
  /** Index of the mapping whose columns (file1_col, file2_col) the key reads. */
  mapping: number;
  method: BlockingMethod;
  /** Characters of a prefix (prefix, token_prefix). */
  length: number;
}

/** The default: two passes on the first mapping, its first 3 characters and its sound. */
export const DEFAULT_BLOCKING_KEYS: BlockingKey[] = [
  { mapping: 0, method: 'prefix', length: 3 },
  { mapping: 0, method: 'phonetic', length: 3 },
];

/**
 * The block names of one cell under one key (none for an empty value: empty cells block with nothing).
 * - prefix: the first `length` characters of the normalized value with its spaces removed;
 * - token_prefix: the first `length` characters of each word (a row is in one block per word);
 * - phonetic: the Double Metaphone codes of the words, in order (primary, and alternate when it differs);
 * - exact: the normalized value.
 */
export function blockNames(raw: string, key: BlockingKey): string[] {
  const value = normalize(raw);
  if (!value) return [];
  switch (key.method) {
    case 'prefix':
      return [value.replace(/ /g, '').slice(0, key.length)];
    case 'token_prefix':
      return [...new Set(tokens(value).map((t) => t.slice(0, key.length)))];
    case 'phonetic': {
      const words = tokens(value);
      if (words.length === 1) {
        const [p, a] = doubleMetaphone(words[0]!);
        return p ? (a && a !== p ? [p, a] : [p]) : [];
      }
      const { primary, alternate } = phoneticCodes(words);
      if (!primary) return [];
      return alternate && alternate !== primary ? [primary, alternate] : [primary];
    }
    case 'exact':
      return [value];
  }
}

/** The blocks of file2, one map per key, filled row by row; once sealed, blocks larger than
 * `maxBlockSize` are left out (counted). */
export class BlockIndex {
  private readonly passes: Map<string, number[]>[];
  /** Blocks dropped for being larger than maxBlockSize, per key (after seal). */
  oversizedBlocks: number[] = [];
  /** Blocks kept, all keys together (after seal). */
  blocks = 0;

  constructor(
    private readonly keys: readonly BlockingKey[],
    private readonly maxBlockSize: number,
  ) {
    this.passes = keys.map(() => new Map());
  }

  /** An index of `rows` rows at once: `namesOf(k, row)` are the block names of a row under key k. */
  static build(
    keys: readonly BlockingKey[],
    namesOf: (k: number, row: number) => readonly string[],
    rows: number,
    maxBlockSize: number,
  ) {
    const index = new BlockIndex(keys, maxBlockSize);
    for (let row = 0; row < rows; row++) for (let k = 0; k < keys.length; k++) index.add(k, row, namesOf(k, row));
    return index.seal();
  }

  /** Puts file2's row `row` (rows added in ascending order) into its blocks under key k. */
  add(k: number, row: number, names: readonly string[]): void {
    const blocks = this.passes[k]!;
    for (const name of names) {
      const members = blocks.get(name);
      if (!members) blocks.set(name, [row]);
      else if (members[members.length - 1] !== row) members.push(row);
    }
  }

  /** Drops the oversized blocks; call once, after the last add. */
  seal(): this {
    this.oversizedBlocks = this.passes.map((blocks) => {
      let dropped = 0;
      for (const [name, members] of blocks)
        if (members.length > this.maxBlockSize) {
          blocks.delete(name);
          dropped++;
        }
      return dropped;
    });
    this.blocks = this.passes.reduce((n, p) => n + p.size, 0);
    return this;
  }

  /**
   * The file2 rows that share a block with a file1 row whose cells per key are `cells`, each once, in
   * ascending order. `seen` is a scratch array of file2's length; `stamp` must differ between calls.
   */
  candidates(cells: readonly string[], seen: Uint32Array, stamp: number): number[] {
    const out: number[] = [];
    for (let k = 0; k < this.keys.length; k++) {
      for (const name of blockNames(cells[k] ?? '', this.keys[k]!)) {
        const members = this.passes[k]!.get(name);
        if (!members) continue;
        for (const row of members)
          if (seen[row] !== stamp) {
            seen[row] = stamp;
            out.push(row);
          }
      }
    }
    // Ascending, so that ties go to the first row of file2 whatever key found it.
    return out.sort((a, b) => a - b);
  }
}
