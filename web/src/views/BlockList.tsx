import { memo } from 'preact/compat';
import { useEffect, useRef } from 'preact/hooks';

import type { Block } from '../api/client';
import type { BlockAudio } from '../engine/engine';

interface BlockListProps {
  blocks: Block[];
  cursor: number;
  states: ReadonlyMap<number, BlockAudio>;
  playing: boolean;
  onPick: (idx: number) => void;
  /** A click on a word of a block: true when it was handled (the player seeks to the word). */
  onPickWord?: (idx: number, event: MouseEvent) => boolean;
}

/** The document, one element per block; the cursor block is highlighted and kept in view.
 *  Memoised: the player re-renders on every `timeupdate`, the text only when a block changes. */
export const BlockList = memo(function BlockList({ blocks, cursor, states, playing, onPick, onPickWord }: BlockListProps) {
  const list = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const current = list.current?.querySelector<HTMLElement>(`[data-idx="${cursor}"]`);
    if (!current) return;
    const reduced = window.matchMedia?.('(prefers-reduced-motion: reduce)').matches;
    // `nearest` leaves a visible block alone; the page's scroll-padding keeps it clear of the
    // player bar.
    current.scrollIntoView({ block: 'nearest', behavior: reduced ? 'auto' : 'smooth' });
  }, [cursor]);

  const onClick = (event: MouseEvent) => {
    const target = event.target as HTMLElement;
    if (target.closest('a')) return; // links open (in a new tab), they do not seek
    const block = target.closest<HTMLElement>('[data-idx]');
    if (!block || block.dataset.speakable !== 'true') return;
    if (window.getSelection()?.toString()) return; // selecting text is not a click to play
    const idx = Number(block.dataset.idx);
    if (onPickWord?.(idx, event)) return;
    onPick(idx);
  };

  return (
    <article class="blocks" ref={list} onClick={onClick} aria-label="Document" data-playing={playing}>
      {blocks.map((block) => (
        <BlockView key={block.idx} block={block} current={block.idx === cursor} state={states.get(block.idx)?.state} error={states.get(block.idx)?.error} />
      ))}
    </article>
  );
});

const BlockView = memo(function BlockView({
  block,
  current,
  state,
  error,
}: {
  block: Block;
  current: boolean;
  state: BlockAudio['state'] | undefined;
  error: string | undefined;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    ref.current?.querySelectorAll('a[href]').forEach((a) => a.setAttribute('target', '_blank'));
  }, [block.html]);
  const failed = state === 'error';
  return (
    <div
      class={`block kind-${block.kind}${current ? ' current' : ''}${failed ? ' failed' : ''}${block.speakable ? ' speakable' : ''}`}
      data-idx={block.idx}
      data-speakable={String(block.speakable)}
      data-state={state ?? 'none'}
      aria-current={current ? 'true' : undefined}
      title={failed ? `Could not be read aloud: ${error ?? 'unknown error'}` : block.speakable ? 'Play from here' : undefined}
    >
      <div class="block-content" ref={ref} dangerouslySetInnerHTML={{ __html: block.html }} />
      {failed && <p class="block-error small" role="note">Couldn't be read aloud{error ? `: ${error}` : ''}. Skipped.</p>}
    </div>
  );
});
