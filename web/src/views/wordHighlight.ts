// Word-by-word highlighting of the block being read, and seeking to a clicked word. The timings
// come with each segment while a block is rendered, and beside each block's whole audio
// (engine/words.ts); the words are found in the page's own text
// of the block, so the markup is never touched. The CSS Custom Highlight API paints the word
// where the browser has it; elsewhere a box is laid over the word.

import { useCallback, useEffect, useRef } from 'preact/hooks';

import type { EngineSnapshot, PlaybackEngine } from '../engine/engine';
import { locateWords, wordAt, wordAtOffset, wordSource, wordsUrl, type WordTiming } from '../engine/words';

/** The name of the highlight (styled by `::highlight(spoken-word)`). */
export const SPOKEN_WORD = 'spoken-word';

interface BlockWords {
  words: WordTiming[];
  /** Each word's place in the block's text nodes, or null where the page does not show it. */
  places: Array<[number, number] | null>;
  element: HTMLElement;
  /** The block's text nodes and where each starts in their joined text. */
  nodes: Array<{ node: Text; start: number }>;
}

const supportsHighlights = () => typeof CSS !== 'undefined' && 'highlights' in CSS && typeof Highlight !== 'undefined';

function textNodes(element: HTMLElement): { text: string; nodes: Array<{ node: Text; start: number }> } {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  const nodes: Array<{ node: Text; start: number }> = [];
  let text = '';
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    nodes.push({ node: node as Text, start: text.length });
    text += node.nodeValue ?? '';
  }
  return { text, nodes };
}

function rangeOf(block: BlockWords, index: number): Range | null {
  const place = block.places[index];
  if (!place) return null;
  const at = (offset: number, end: boolean): [Text, number] | null => {
    for (let i = block.nodes.length - 1; i >= 0; i -= 1) {
      const { node, start } = block.nodes[i];
      if (end ? start < offset : start <= offset) return [node, offset - start];
    }
    return null;
  };
  const from = at(place[0], false);
  const to = at(place[1], true);
  if (!from || !to) return null;
  const range = document.createRange();
  range.setStart(from[0], Math.min(from[1], from[0].length));
  range.setEnd(to[0], Math.min(to[1], to[0].length));
  return range;
}

/** Lights the word being spoken in the cursor block while it plays; returns the click handler
 *  that seeks to a word (true when the click was on a timed word). */
export function useWordHighlight(
  engine: PlaybackEngine | null,
  snapshot: EngineSnapshot | null,
  list: () => HTMLElement | null,
): (idx: number, event: MouseEvent) => boolean {
  const fetched = useRef(new Map<string, Promise<WordTiming[] | null>>());
  const current = useRef<{ idx: number; key: string; block: BlockWords | null } | null>(null);
  const lit = useRef<{ idx: number; word: number } | null>(null);
  /** A clicked word of the block playing that its segments have not timed yet (still being
   *  rendered): where it is in the block's text. Playback jumps there once its words come. */
  const wanted = useRef<{ idx: number; offset: number } | null>(null);
  const box = useRef<HTMLDivElement | null>(null);
  // Read by the click handler, which stays the same function so the memoised list of blocks
  // does not render again on every snapshot.
  const latest = useRef(snapshot);
  latest.current = snapshot;

  const timings = useCallback((url: string) => {
    let pending = fetched.current.get(url);
    if (!pending) {
      pending = fetch(wordsUrl(url))
        .then((r) => (r.ok ? (r.json() as Promise<{ words: WordTiming[] }>) : null))
        .then((body) => body?.words ?? null)
        .catch(() => null);
      fetched.current.set(url, pending);
    }
    return pending;
  }, []);

  const blockWords = useCallback(
    (idx: number, words: WordTiming[]): BlockWords | null => {
      const element = list()?.querySelector<HTMLElement>(`[data-idx="${idx}"] .block-content`);
      if (!element) return null;
      const { text, nodes } = textNodes(element);
      return { words, places: locateWords(text, words), element, nodes };
    },
    [list],
  );

  const clear = useCallback(() => {
    if (supportsHighlights()) CSS.highlights.delete(SPOKEN_WORD);
    box.current?.remove();
    box.current = null;
    lit.current = null;
    list()?.querySelector('[data-spoken-word]')?.removeAttribute('data-spoken-word');
  }, [list]);

  const light = useCallback(
    (idx: number, block: BlockWords, word: number) => {
      if (lit.current?.idx === idx && lit.current.word === word && !box.current) return;
      const range = rangeOf(block, word);
      if (!range) return;
      lit.current = { idx, word };
      // For tests and assistive tools: which word is lit, by its place in the timings.
      block.element.closest('[data-idx]')?.setAttribute('data-spoken-word', `${word}:${block.words[word].word}`);
      if (supportsHighlights()) {
        CSS.highlights.set(SPOKEN_WORD, new Highlight(range));
        return;
      }
      const rect = range.getBoundingClientRect();
      if (!box.current) {
        box.current = document.createElement('div');
        box.current.className = 'spoken-word-box';
        box.current.setAttribute('aria-hidden', 'true');
        document.body.appendChild(box.current);
      }
      Object.assign(box.current.style, {
        left: `${rect.left + window.scrollX}px`,
        top: `${rect.top + window.scrollY}px`,
        width: `${rect.width}px`,
        height: `${rect.height}px`,
      });
    },
    [],
  );

  const cursor = snapshot?.cursor ?? -1;
  const source = wordSource(snapshot?.blocks.get(cursor));
  const playing = snapshot?.state === 'playing';

  // The cursor block's words: its segments' as they come (no request), or the timings beside its
  // whole audio once that is known.
  useEffect(() => {
    if (source === null) {
      current.current = null;
      clear();
      return;
    }
    if (current.current?.idx === cursor && current.current.key === source.key) return;
    if (wanted.current && wanted.current.idx !== cursor) wanted.current = null;
    if ('words' in source) {
      // More words of the block playing: the word lit stays lit.
      if (current.current?.idx !== cursor) clear();
      const block = blockWords(cursor, source.words);
      current.current = { idx: cursor, key: source.key, block };
      const word = wanted.current && block ? wordAtOffset(block.places, wanted.current.offset) : -1;
      if (block && word >= 0) {
        wanted.current = null;
        engine?.seek(cursor, { play: true, at: block.words[word].start });
      }
      return;
    }
    const entry = { idx: cursor, key: source.key, block: null as BlockWords | null };
    const previous = current.current;
    current.current = entry;
    if (previous?.idx !== cursor || !previous.block) clear();
    else entry.block = previous.block; // until the whole block's timings are in
    void timings(source.url).then((words) => {
      if (current.current === entry && words && words.length > 0) entry.block = blockWords(cursor, words);
    });
  }, [cursor, source?.key, engine, timings, blockWords, clear]);

  // Follow the audio frame by frame while it plays (timeupdate comes only about 4 times a second).
  useEffect(() => {
    if (!engine || !playing) return;
    let frame = 0;
    const follow = () => {
      const entry = current.current;
      if (entry?.block) {
        const word = wordAt(entry.block.words, engine.positionSeconds);
        if (word >= 0) light(entry.idx, entry.block, word);
      }
      frame = requestAnimationFrame(follow);
    };
    frame = requestAnimationFrame(follow);
    return () => cancelAnimationFrame(frame);
  }, [engine, playing, light]);

  useEffect(() => clear, [clear]);

  return useCallback(
    (idx: number, event: MouseEvent) => {
      const source = wordSource(latest.current?.blocks.get(idx));
      if (!engine || !source) return false;
      const caret = caretAt(event.clientX, event.clientY);
      if (!caret) return false;
      const words = 'words' in source ? Promise.resolve(source.words) : timings(source.url);
      void words.then((words) => {
        const block = words && blockWords(idx, words);
        let at: number | undefined;
        wanted.current = null;
        if (block) {
          const node = block.nodes.find((n) => n.node === caret.node);
          const offset = node ? node.start + caret.offset : -1;
          const word = wordAtOffset(block.places, offset);
          if (word >= 0) {
            at = block.words[word].start;
          } else if (
            'words' in source &&
            idx === latest.current?.cursor &&
            !latest.current.blocks.get(idx)?.segments?.some((s) => s.last) &&
            offset >= lastPlaced(block.places)
          ) {
            // Past the words timed so far of the block playing: it goes on, and jumps there once
            // the segment that speaks it comes.
            wanted.current = { idx, offset };
            return;
          }
        }
        engine.seek(idx, { play: true, at });
      });
      return true;
    },
    [engine, timings, blockWords],
  );
}

/** Where the last word placed in the page's text ends (0 when none is). */
function lastPlaced(places: ReadonlyArray<[number, number] | null>): number {
  return places.reduce((end, place) => (place ? Math.max(end, place[1]) : end), 0);
}

/** The text node and offset under a point, in whichever form the browser offers. */
function caretAt(x: number, y: number): { node: Node; offset: number } | null {
  const doc = document as Document & {
    caretPositionFromPoint?: (x: number, y: number) => { offsetNode: Node; offset: number } | null;
    caretRangeFromPoint?: (x: number, y: number) => Range | null;
  };
  const position = doc.caretPositionFromPoint?.(x, y);
  if (position) return { node: position.offsetNode, offset: position.offset };
  const range = doc.caretRangeFromPoint?.(x, y);
  return range ? { node: range.startContainer, offset: range.startOffset } : null;
}
