import { describe, expect, it } from 'vitest';

import { locateWords, wordAt, wordAtOffset, wordSource, wordsUrl, type WordTiming } from './words';

function timed(entries: Array<[string, number, number]>): WordTiming[] {
  return entries.map(([word, start, end]) => ({ word, start, end, start_char: 0, end_char: 0 }));
}

const WORDS = timed([
  ['In', 0.12, 0.22],
  ['1897', 0.27, 1.54],
  ['the', 1.69, 1.74],
  ['keeper', 1.79, 2.17],
]);

describe('word timings', () => {
  it('finds the word being spoken, keeping it through the pause after it', () => {
    expect(wordAt(WORDS, 0)).toBe(-1);
    expect(wordAt(WORDS, 0.12)).toBe(0);
    expect(wordAt(WORDS, 0.25)).toBe(0); // between "In" and "1897"
    expect(wordAt(WORDS, 1.0)).toBe(1);
    expect(wordAt(WORDS, 1.6)).toBe(1);
    expect(wordAt(WORDS, 1.7)).toBe(2);
    expect(wordAt(WORDS, 99)).toBe(3);
    expect(wordAt([], 1)).toBe(-1);
  });

  it('moves forward as time does', () => {
    let last = -1;
    for (let t = 0; t < 2.5; t += 0.01) {
      const now = wordAt(WORDS, t);
      expect(now).toBeGreaterThanOrEqual(last);
      last = now;
    }
    expect(last).toBe(3);
  });

  it('places each word in the shown text after the one before it', () => {
    const shown = 'In 1897, the keeper (the old one)';
    const places = locateWords(shown, timed([['In', 0, 1], ['1897', 1, 2], ['the', 2, 3], ['keeper', 3, 4], ['the', 4, 5], ['gone', 5, 6]]));
    expect(places).toEqual([[0, 2], [3, 7], [9, 12], [13, 19], [21, 24], null]);
    expect(wordAtOffset(places, 5)).toBe(1);
    expect(wordAtOffset(places, 22)).toBe(4);
    expect(wordAtOffset(places, 8)).toBe(-1); // the comma and space between words
  });

  it('derives the timings link from the audio link', () => {
    expect(wordsUrl('/v1/audio/ab12?expires=1&sig=ff')).toBe('/v1/audio/ab12/words?expires=1&sig=ff');
    expect(wordsUrl('/v1/audio/ab12')).toBe('/v1/audio/ab12/words');
  });

  it('takes a block\'s words from its segments while it is rendered, and from its audio after', () => {
    const [first, second] = [WORDS.slice(0, 2), WORDS.slice(2)];
    expect(wordSource(undefined)).toBeNull();
    expect(wordSource({ segments: [] })).toBeNull();
    // The first segment's words, before the block is complete: highlighted at once.
    expect(wordSource({ segments: [{ last: false, words: first }] })).toEqual({
      key: 'segments:2',
      words: first,
    });
    const both = wordSource({ segments: [{ last: false, words: first }, { last: true, words: second }] });
    expect(both).toEqual({ key: 'segments:4', words: WORDS });
    // Complete: the segments' words are the block's; no request for them.
    const complete = [
      { last: false, words: first },
      { last: true, words: second },
    ];
    expect(wordSource({ audioUrl: '/v1/audio/h', segments: complete })).toEqual(both);
    // Some segments missed (a reconnect), or none heard: the timings beside the whole audio.
    const whole = { key: '/v1/audio/h', url: '/v1/audio/h' };
    expect(wordSource({ audioUrl: '/v1/audio/h', segments: [{ last: false, words: first }] })).toEqual(whole);
    expect(wordSource({ audioUrl: '/v1/audio/h' })).toEqual(whole);
  });
});
