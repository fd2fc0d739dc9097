// Word timings of a block's audio (`GET /v1/audio/{hash}/words`, the audio's own signed link
// with `/words` added to its path): which word is being spoken, and where each word is in the
// text the listener sees. No DOM here, so it is tested alone.

/** One written word of a block and when its audio speaks it (seconds from the audio's start). */
export interface WordTiming {
  word: string;
  start_char: number;
  end_char: number;
  start: number;
  end: number;
}

/** The timings link of a block's audio link: `/v1/audio/<hash>?…` → `/v1/audio/<hash>/words?…`. */
export function wordsUrl(audioUrl: string): string {
  const query = audioUrl.indexOf('?');
  return query < 0 ? `${audioUrl}/words` : `${audioUrl.slice(0, query)}/words${audioUrl.slice(query)}`;
}

/** A block's words as its segments so far tell them (each segment's words are timed from the
 *  block's start, so together they are the block's words up to the last segment heard). */
export function wordsOfSegments(segments: ReadonlyArray<{ words?: readonly WordTiming[] }>): WordTiming[] {
  return segments.flatMap((s) => s.words ?? []);
}

/** Where the words of a block come from for highlighting: its segments' words while it is
 *  rendered (and after, when every segment was heard), else the timings beside its whole audio;
 *  `key` changes when the words do. Null when nothing is known yet. */
export type WordSource = { key: string; words: WordTiming[] } | { key: string; url: string } | null;

export function wordSource(
  block:
    | { audioUrl?: string; segments?: ReadonlyArray<{ last: boolean; words?: readonly WordTiming[] }> }
    | undefined,
): WordSource {
  const segments = block?.segments ?? [];
  const words = wordsOfSegments(segments);
  const complete = segments.some((s) => s.last);
  if (block?.audioUrl && !(complete && words.length > 0)) return { key: block.audioUrl, url: block.audioUrl };
  if (words.length > 0) return { key: `segments:${words.length}`, words };
  return null;
}

/** The index of the word being spoken at `seconds`: the last one that has started, so a word
 *  stays highlighted through the short silence after it. -1 before the first word. */
export function wordAt(words: readonly WordTiming[], seconds: number): number {
  let low = 0;
  let high = words.length; // the first word that starts after `seconds`
  while (low < high) {
    const mid = (low + high) >> 1;
    if (words[mid].start <= seconds) low = mid + 1;
    else high = mid;
  }
  return low - 1;
}

/** Where each timed word is in `text` (what the page shows of the block, which may differ from
 *  the text that was spoken: markup, link text, spacing), as [start, end) offsets of the string,
 *  or null for a word not found. Each is looked for after the one before it, so a repeated word
 *  is found in its own place. */
export function locateWords(text: string, words: readonly WordTiming[]): Array<[number, number] | null> {
  let from = 0;
  return words.map((w) => {
    const at = text.indexOf(w.word, from);
    if (at < 0 || w.word.length === 0) return null;
    from = at + w.word.length;
    return [at, from];
  });
}

/** The word whose place holds the text offset `offset` (a click), or -1. */
export function wordAtOffset(places: ReadonlyArray<[number, number] | null>, offset: number): number {
  return places.findIndex((p) => p !== null && p[0] <= offset && offset < p[1]);
}
