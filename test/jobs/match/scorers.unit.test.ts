import { describe, expect, it } from 'vitest';
import {
  normalize,
  numericScore,
  parseNumber,
  phoneticCodes,
  scorerFor,
  similarity,
  tokenSetScore,
  tokens,
  type MatchType,
} from '../../../src/jobs/match/scorers.js';

const score = (type: MatchType, a: string, b: string, useNormalization = true) => {
  const scorer = scorerFor(type, useNormalization);
  return scorer.score(scorer.prepare(a), scorer.prepare(b));
};

describe('normalization', () => {
  it('folds case, accents (NFKD), punctuation and white space', () => {
    expect(normalize('  José   GARCÍA-López ')).toBe('jose garcia lopez');
    expect(normalize("O'Brien, Seán")).toBe('obrien sean');
    expect(normalize('Ｍüller\tＧｍｂＨ.')).toBe('muller gmbh'); // full-width letters, umlaut, tab
    expect(normalize('ﬁne & dandy!')).toBe('fine dandy'); // ligature decomposed, symbols dropped
    expect(normalize('...')).toBe('');
  });

  it('is applied only with use_normalization', () => {
    expect(score('exact', 'José Garcia', 'jose garcia')).toBe(100);
    expect(score('exact', 'José Garcia', 'jose garcia', false)).toBe(0);
    expect(score('exact', 'José Garcia', 'José Garcia', false)).toBe(100);
  });

  it('splits words on white space', () => {
    expect(tokens('a  b\tc ')).toEqual(['a', 'b', 'c']);
  });
});

describe('scorers (0–100)', () => {
  it('fuzzy: Levenshtein similarity 100 × (1 − edits / longer length)', () => {
    expect(similarity('kitten', 'sitting')).toBeCloseTo(100 * (1 - 3 / 7), 6);
    expect(score('fuzzy', 'Jonathan Smith', 'Jonathon Smith')).toBeCloseTo(100 * (1 - 1 / 14), 6);
    expect(score('fuzzy', 'abc', 'xyz')).toBe(0);
    expect(score('fuzzy', 'same', 'SAME')).toBe(100);
    expect(score('fuzzy', 'same', 'SAME', false)).toBe(0);
  });

  it('an empty value never matches, whatever the type', () => {
    for (const type of ['exact', 'fuzzy', 'token_sort', 'token_set', 'phonetic', 'numeric'] as const) {
      expect(score(type, '', ''), type).toBe(0);
      expect(score(type, '  ', 'x'), type).toBe(0);
    }
  });

  it('token_sort: word order does not matter', () => {
    expect(score('token_sort', 'Smith, John', 'john smith')).toBe(100);
    expect(score('fuzzy', 'Smith, John', 'john smith')).toBeLessThan(50);
    expect(score('token_sort', 'Smith John A', 'john smith')).toBeCloseTo(100 * (1 - 2 / 12), 6);
  });

  it("token_set: TheFuzz's token_set_ratio (a subset scores 100)", () => {
    expect(score('token_set', 'new york mets', 'new york mets vs atlanta braves')).toBe(100);
    // Common "acme"; best of (acme, acme corp), (acme, acme corporation inc), (acme corp, acme corporation inc).
    expect(score('token_set', 'ACME Corp', 'acme corporation inc')).toBeCloseTo(100 * (1 - 11 / 20), 6);
    expect(score('token_set', 'Corp ACME', 'acme corp')).toBe(100);
    // No common word: the similarity of the two sorted word lists.
    expect(tokenSetScore(['abc'], ['abd'])).toBeCloseTo(100 * (1 - 1 / 3), 6);
    expect(tokenSetScore([], ['a'])).toBe(0);
  });

  it('phonetic: Double Metaphone codes, word by word', () => {
    expect(phoneticCodes(['smith']).primary).toBe('SM0');
    expect(score('phonetic', 'Smith', 'Smyth')).toBe(100);
    expect(score('phonetic', 'Catherine Schmidt', 'Katherine Smith')).toBe(100);
    expect(score('phonetic', 'Smith', 'Jones')).toBeLessThan(50);
    // JN = JN (100), XMT vs T (Doe) 1 edit of 3: (100 + 33.3) / 2.
    expect(score('phonetic', 'John Smith', 'Jon Doe')).toBeCloseTo((100 + 100 / 3) / 2, 6);
    expect(score('phonetic', 'Philips', 'Fillips')).toBe(100);
    expect(score('phonetic', 'Peterson', 'Pearson')).toBeCloseTo(80, 6); // PTRSN / PRSN
  });

  it('numeric: relative difference, with currency signs and separators read', () => {
    expect(parseNumber('$1,234.50')).toBe(1234.5);
    expect(parseNumber('12 %')).toBe(12);
    expect(parseNumber('n/a')).toBeNaN();
    expect(score('numeric', '100', '95')).toBeCloseTo(95, 6);
    expect(score('numeric', '$1,234.50', '1234.5')).toBe(100);
    expect(score('numeric', '0', '0.00')).toBe(100);
    expect(score('numeric', '10', '-10')).toBe(0);
    expect(score('numeric', 'n/a', '5')).toBe(0);
    expect(numericScore(200, 100)).toBe(50);
  });
});
