import { describe, expect, it } from 'vitest';
import { BlockIndex, blockNames, DEFAULT_BLOCKING_KEYS, type BlockingKey } from '../../../src/jobs/match/blocking.js';

const prefix3: BlockingKey = { mapping: 0, method: 'prefix', length: 3 };

describe('block names', () => {
  it('read the normalized value', () => {
    expect(blockNames('  José Smith', prefix3)).toEqual(['jos']);
    expect(blockNames('Jo Smith', prefix3)).toEqual(['jos']); // spaces removed before the prefix
    expect(blockNames('Jean-Luc Picard', { mapping: 0, method: 'token_prefix', length: 2 })).toEqual(['je', 'lu', 'pi']);
    expect(blockNames('ACME  Corp.', { mapping: 0, method: 'exact', length: 3 })).toEqual(['acme corp']);
    expect(blockNames('Smith', { mapping: 0, method: 'phonetic', length: 3 })).toEqual(['SM0', 'XMT']);
    expect(blockNames('Smyth', { mapping: 0, method: 'phonetic', length: 3 })).toEqual(['SM0', 'XMT']);
  });

  it('an empty value is in no block', () => {
    for (const method of ['prefix', 'token_prefix', 'phonetic', 'exact'] as const)
      expect(blockNames(' - ', { mapping: 0, method, length: 3 })).toEqual([]);
  });
});

describe('BlockIndex', () => {
  const file2 = ['John Smith', 'Jon Smith', 'Jane Doe', 'Johanna Smyth', '', 'Peter Pan'];
  const indexOf = (keys: BlockingKey[], maxBlockSize = 100) =>
    BlockIndex.build(keys, (k, row) => blockNames(file2[row]!, keys[k]!), file2.length, maxBlockSize);

  it('gives only rows sharing a block, each once, ascending', () => {
    const index = indexOf([prefix3]);
    const seen = new Uint32Array(file2.length);
    expect(index.candidates(['John Smyth'], seen, 1)).toEqual([0, 3]); // "joh"
    expect(index.candidates(['Jon Smith'], seen, 2)).toEqual([1]); // "jon": the typo hides row 0
    expect(index.candidates([''], seen, 3)).toEqual([]);
  });

  it('unites the candidates of several keys (a typo in the prefix is caught by the sound)', () => {
    const index = indexOf([prefix3, { mapping: 0, method: 'phonetic', length: 3 }]);
    const seen = new Uint32Array(file2.length);
    expect(index.candidates(['Jon Smith', 'Jon Smith'], seen, 1)).toEqual([0, 1]);
  });

  it('leaves out blocks larger than max_block_size, and counts them', () => {
    // Words' first 3 letters: joh [0, 3], smi [0, 1], jon [1], jan [2], doe [2], smy [3], pet [5], pan [5].
    const key: BlockingKey = { mapping: 0, method: 'token_prefix', length: 3 };
    expect(indexOf([key], 2).oversizedBlocks).toEqual([0]);
    const index = indexOf([key], 1);
    expect(index.oversizedBlocks).toEqual([2]); // joh and smi
    expect(index.blocks).toBe(6);
    expect(index.candidates(['Jon Smith'], new Uint32Array(file2.length), 1)).toEqual([1]);
  });

  it('compares far fewer pairs than n² on names', () => {
    const rng = mulberry32(7);
    const syllables = ['ka', 'ro', 'mi', 'le', 'to', 'na', 'su', 'vi', 'da', 'po', 'ri', 'ze', 'lo', 'be', 'fa', 'gu'];
    const word = () =>
      Array.from({ length: 2 + Math.floor(rng() * 2) }, () => syllables[Math.floor(rng() * syllables.length)]).join('');
    const names = Array.from({ length: 2000 }, () => `${word()} ${word()}`);
    const index = BlockIndex.build(
      DEFAULT_BLOCKING_KEYS,
      (k, row) => blockNames(names[row]!, DEFAULT_BLOCKING_KEYS[k]!),
      names.length,
      10_000,
    );
    const seen = new Uint32Array(names.length);
    let pairs = 0;
    let found = 0;
    names.forEach((name, i) => {
      const candidates = index.candidates([name, name], seen, i + 1);
      pairs += candidates.length;
      if (candidates.includes(i)) found++;
    });
    expect(found).toBe(names.length); // every row finds itself
    expect(pairs / (names.length * names.length)).toBeLessThan(0.05);
  });
});

function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
