// The playback engine: which blocks to synthesize, which audio to play, and when. It knows
// nothing of the page; the view renders its snapshots and calls its methods.
//
// Staleness is the hard part. Audio is cached per (block, model, voice), so a `cached` status
// stays useful after a seek, but it must never *start* anything unless it is the block the
// listener is waiting for now. Every seek, voice change and document load starts a new
// generation: waits, `play()` promises and preloads of an older one are ignored, and requests
// still pending from an older generation outside the new window are forgotten (the server evicts
// them; we re-request them if the cursor comes back).

import type { ConnectionState, SynthesisConnection } from './connection';
import {
  MAX_INDICES_PER_MESSAGE,
  type SegmentMessage,
  type ServerMessage,
  type StatusMessage,
} from './protocol';
import type { WordTiming } from './words';

/** The audio element, as far as the engine uses it (an `HTMLAudioElement` in the page). */
export interface AudioLike {
  src: string;
  preload: string;
  playbackRate: number;
  preservesPitch: boolean;
  currentTime: number;
  readonly paused: boolean;
  play(): Promise<void>;
  pause(): void;
  addEventListener(type: 'ended' | 'timeupdate' | 'error', listener: () => void): void;
}

export interface EngineBlock {
  idx: number;
  speakable: boolean;
  /** Length of the spoken text, for the time estimate before the real duration is known. */
  chars: number;
}

export interface EngineDocument {
  id: string;
  blocks: EngineBlock[];
}

export interface Voice {
  model: string;
  voice: string;
}

export type BlockState = 'requested' | 'queued' | 'processing' | 'cached' | 'skipped' | 'error';

/** One chunk of a block, playable before the whole block is rendered. */
export interface Segment {
  url: string;
  durationMs: number;
  /** It ends the block. */
  last: boolean;
  /** The words it speaks, in seconds from the start of the block (empty without timings). */
  words: WordTiming[];
}

export interface BlockAudio {
  state: BlockState;
  audioUrl?: string;
  durationMs?: number;
  error?: string;
  /** While queued: how many jobs go before it, when the server said. */
  ahead?: number;
  /** While queued: no running worker serves the voice; the server keeps the job for one. */
  waitingForWorker?: boolean;
  /** The synthesis queue is unreachable for now. */
  queueUnreachable?: boolean;
  /** The generation that last requested it. */
  generation: number;
  /** While it is rendered: its segments so far, in order from the first (none when the first
   *  was missed, e.g. after a reconnect: the block then plays whole once cached). */
  segments?: Segment[];
}

/** `buffering`: wants to play, waiting for the cursor block's audio. */
export type PlayState = 'paused' | 'buffering' | 'playing' | 'ended';

export interface EngineSnapshot {
  documentId: string | null;
  cursor: number;
  state: PlayState;
  rate: number;
  voice: Voice | null;
  generation: number;
  /** Per block, for the view: only blocks something is known about. Same object until it changes. */
  blocks: ReadonlyMap<number, BlockAudio>;
  connection: ConnectionState;
  /** A message for the listener (a refused message, a blocked autoplay), or null. */
  notice: string | null;
  /** Playback started and ran ahead of the audio: it waits for the next piece and goes on by
   *  itself when it comes. */
  waitingForAudio: boolean;
}

/** What the listener waits for while the player buffers: its place in the queue when known. */
export function waitingMessage(snapshot: EngineSnapshot): string {
  const block = snapshot.blocks.get(snapshot.cursor);
  if (block?.queueUnreachable) return 'The synthesis queue is unreachable — waiting for it…';
  if (block?.state === 'queued' && block.waitingForWorker) {
    return 'No synthesis worker is running for this voice — waiting for one…';
  }
  if (block?.state === 'queued' && block.ahead !== undefined) {
    return block.ahead === 0 ? 'Queued — next in line…' : `Queued — ${block.ahead} ahead…`;
  }
  if (snapshot.waitingForAudio) return 'Waiting for audio…';
  if (block?.state === 'processing') return 'Synthesizing…';
  return 'Preparing audio…';
}

export interface Timing {
  /** At 1×: time before the cursor block plus the position inside it. */
  elapsedMs: number;
  totalMs: number;
}

export interface EngineOptions {
  connection: SynthesisConnection;
  createAudio: () => AudioLike;
  /** Speakable blocks kept requested ahead of the cursor block. */
  prefetchAhead?: number;
  /** Play only whole blocks, once each is rendered completely (no segments): how the player
   *  worked before segments, kept for comparison. */
  wholeBlocks?: boolean;
  /** With segments: ask for the block to be heard first alone, and for the rest of the window
   *  once it is complete, so prefetch does not share the cores with it (the player's choice;
   *  off, the whole window is asked for at once). */
  headFirst?: boolean;
}

export const MIN_RATE = 0.5;
export const MAX_RATE = 3;
/** Kokoro at 1× reads about 15 characters a second; used until a block's duration is known. */
const ESTIMATED_CHARS_PER_SECOND = 15;

const PENDING: ReadonlySet<BlockState> = new Set(['requested', 'queued', 'processing']);
/** After the server refuses a request (an unserved voice, a full quota), ask again after this,
 *  doubling up to the cap. */
const REFUSED_RETRY_MS = 5_000;
const REFUSED_RETRY_MAX_MS = 60_000;

interface Loaded {
  idx: number;
  url: string;
  token: number;
  /** The segment of the block it plays, or null for the whole block. */
  segment: number | null;
  /** Where in the block the element's audio starts, in ms at 1×. */
  offsetMs: number;
}

/** Playback ran out of audio inside block `idx`: it goes on at segment `next` (or the whole
 *  block from `offsetMs`) when that is there. */
interface Stalled {
  idx: number;
  next: number;
  offsetMs: number;
}

/** The segment heard so far that holds `ms` (into the block) and where it starts; the last one
 *  heard when `ms` lies beyond them all. */
function segmentAt(segments: readonly Segment[], ms: number): { index: number; startMs: number } | null {
  let startMs = 0;
  for (let index = 0; index < segments.length; index += 1) {
    const end = startMs + segments[index].durationMs;
    if (ms < end || index === segments.length - 1) return { index, startMs };
    startMs = end;
  }
  return null;
}

export class PlaybackEngine {
  private readonly connection: SynthesisConnection;
  private readonly prefetchAhead: number;
  private readonly wholeBlocks: boolean;
  private readonly headFirst: boolean;
  private stalled: Stalled | null = null;
  private readonly slots: [AudioLike, AudioLike];
  /** Which slot plays; the other preloads the next block. */
  private active = 0;
  private loaded: Loaded | null = null;
  private preloadedUrl: string | null = null;
  private playToken = 0;

  private doc: EngineDocument | null = null;
  private voice: Voice | null = null;
  private generation = 0;
  private cursor = 0;
  private state: PlayState = 'paused';
  private rate = 1;
  private notice: string | null = null;
  private audio = new Map<number, BlockAudio>();
  private blocksView: ReadonlyMap<number, BlockAudio> = new Map();
  private blocksDirty = false;
  private listeners = new Set<(snapshot: EngineSnapshot) => void>();
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private refusals = 0;
  /** Blocks that failed (their synthesis, or loading their audio) and were asked for again,
   *  once each per document and voice. */
  private reasked = new Set<number>();
  /** Where the next block to start begins, when a word was clicked (seconds into block `idx`). */
  private startAt: { idx: number; seconds: number } | null = null;

  constructor(options: EngineOptions) {
    this.connection = options.connection;
    this.prefetchAhead = options.prefetchAhead ?? 8;
    this.wholeBlocks = options.wholeBlocks ?? false;
    this.headFirst = !this.wholeBlocks && (options.headFirst ?? false);
    this.slots = [options.createAudio(), options.createAudio()];
    for (const slot of this.slots) {
      slot.preservesPitch = true;
      slot.preload = 'auto';
      slot.addEventListener('ended', () => this.onEnded(slot));
      slot.addEventListener('error', () => this.onAudioError(slot));
      slot.addEventListener('timeupdate', () => {
        if (slot === this.activeSlot) this.emit();
      });
    }
    this.connection.setListener({
      open: () => this.onConnectionOpen(),
      message: (message) => this.onMessage(message),
      state: () => this.emit(),
    });
  }

  // ---- commands -------------------------------------------------------------------------

  /** Opens a document at block `start` (paused). */
  load(doc: EngineDocument, start = 0): void {
    this.stopAudio();
    this.cancelRetry();
    this.generation += 1;
    this.doc = doc;
    this.audio.clear();
    this.reasked.clear();
    this.blocksDirty = true;
    this.cursor = this.clampIndex(start);
    this.state = 'paused';
    this.notice = null;
    this.connection.connect();
    this.fillWindow();
    this.emit();
  }

  setVoice(voice: Voice): void {
    if (this.voice && this.voice.model === voice.model && this.voice.voice === voice.voice) return;
    const wasPlaying = this.state === 'playing' || this.state === 'buffering';
    this.stopAudio();
    this.cancelRetry();
    this.generation += 1;
    this.voice = { ...voice };
    this.audio.clear();
    this.reasked.clear();
    this.blocksDirty = true;
    this.fillWindow();
    if (wasPlaying) {
      this.state = 'buffering';
      this.startIfReady();
    }
    this.emit();
  }

  play(): void {
    if (!this.doc || this.state === 'playing' || this.state === 'buffering') return;
    this.notice = null;
    if (this.state === 'ended') {
      this.seek(this.firstPlayable(0) ?? 0, { play: true });
      return;
    }
    const slot = this.activeSlot;
    if (this.loaded && this.loaded.idx === this.cursor) {
      // Resume inside the block that was paused.
      this.state = 'playing';
      this.startElement(slot, this.loaded);
      this.preloadNext();
    } else {
      this.state = 'buffering';
      this.startIfReady();
    }
    this.emit();
  }

  pause(): void {
    if (this.state === 'paused' || this.state === 'ended') return;
    this.state = 'paused';
    this.activeSlot.pause();
    this.emit();
  }

  toggle(): void {
    if (this.state === 'playing' || this.state === 'buffering') this.pause();
    else this.play();
  }

  /** Moves to block `idx`; keeps playing if it was (or starts when `play` is set). `at`: start
   *  that many seconds into the block (a clicked word); within the block playing now, the
   *  audio only jumps there. */
  seek(idx: number, options: { play?: boolean; at?: number } = {}): void {
    if (!this.doc) return;
    const at = options.at != null && Number.isFinite(options.at) ? Math.max(0, options.at) : null;
    if (at !== null && this.loaded?.idx === idx && this.state === 'playing') {
      // A word of the block playing now: the audio playing jumps there when it holds the word
      // (the whole block, or the segment that speaks it).
      const loaded = this.loaded;
      const played = loaded.segment === null ? null : this.audio.get(idx)?.segments?.[loaded.segment];
      const ms = at * 1000;
      const inside =
        loaded.segment === null || (played && ms >= loaded.offsetMs && ms < loaded.offsetMs + played.durationMs);
      if (inside) {
        this.activeSlot.currentTime = at - loaded.offsetMs / 1000;
        this.emit();
        return;
      }
    }
    this.startAt = at === null ? null : { idx: this.clampIndex(idx), seconds: at };
    const wasPlaying = this.state === 'playing' || this.state === 'buffering';
    this.stopAudio();
    this.cancelRetry();
    this.generation += 1;
    this.cursor = this.clampIndex(idx);
    this.forgetStaleRequests();
    this.connection.send({ type: 'cursor_moved', document_id: this.doc.id, cursor: this.cursor });
    this.fillWindow();
    this.notice = null;
    if (wasPlaying || options.play) {
      this.state = 'buffering';
      this.startIfReady();
    } else {
      this.state = 'paused';
    }
    this.emit();
  }

  next(): void {
    const target = this.firstPlayable(this.cursor + 1);
    if (target !== null) this.seek(target);
  }

  previous(): void {
    const target = this.lastPlayable(this.cursor - 1);
    if (target !== null) this.seek(target);
  }

  setRate(rate: number): void {
    this.rate = Math.min(MAX_RATE, Math.max(MIN_RATE, Math.round(rate * 100) / 100));
    for (const slot of this.slots) slot.playbackRate = this.rate;
    this.emit();
  }

  dismissNotice(): void {
    this.notice = null;
    this.emit();
  }

  destroy(): void {
    this.stopAudio();
    this.cancelRetry();
    this.listeners.clear();
    this.connection.setListener(null);
    this.connection.close();
    this.doc = null;
  }

  subscribe(listener: (snapshot: EngineSnapshot) => void): () => void {
    this.listeners.add(listener);
    listener(this.snapshot());
    return () => this.listeners.delete(listener);
  }

  snapshot(): EngineSnapshot {
    if (this.blocksDirty) {
      this.blocksView = new Map(this.audio);
      this.blocksDirty = false;
    }
    return {
      documentId: this.doc?.id ?? null,
      cursor: this.cursor,
      state: this.state,
      rate: this.rate,
      voice: this.voice,
      generation: this.generation,
      blocks: this.blocksView,
      connection: this.connection.state,
      notice: this.notice,
      waitingForAudio: this.state === 'buffering' && this.stalled !== null,
    };
  }

  /** Elapsed and total listening time at 1×, from real durations where known. */
  timing(): Timing {
    let elapsedMs = 0;
    let totalMs = 0;
    for (const block of this.doc?.blocks ?? []) {
      const ms = this.estimateMs(block);
      totalMs += ms;
      if (block.idx < this.cursor) elapsedMs += ms;
    }
    if (this.loaded && this.loaded.idx === this.cursor) {
      elapsedMs += this.loaded.offsetMs + this.activeSlot.currentTime * 1000;
    } else if (this.stalled && this.stalled.idx === this.cursor) {
      elapsedMs += this.stalled.offsetMs;
    }
    return { elapsedMs, totalMs: Math.max(totalMs, elapsedMs) };
  }

  /** Seconds into the cursor block's audio. */
  get positionSeconds(): number {
    if (this.loaded && this.loaded.idx === this.cursor) {
      return this.loaded.offsetMs / 1000 + this.activeSlot.currentTime;
    }
    return this.stalled && this.stalled.idx === this.cursor ? this.stalled.offsetMs / 1000 : 0;
  }

  // ---- the socket -----------------------------------------------------------------------

  private onConnectionOpen(): void {
    // A new socket knows nothing of the old one's queue: ask again for everything pending.
    for (const [idx, entry] of this.audio) {
      if (PENDING.has(entry.state)) this.audio.delete(idx);
    }
    this.blocksDirty = true;
    this.fillWindow();
    this.emit();
  }

  private onMessage(message: ServerMessage): void {
    if (message.type === 'error') {
      this.onRefused(message.error, message.block_indices);
      return;
    }
    if (!this.doc || message.document_id !== this.doc.id) return;
    if (message.type === 'segment') {
      this.onSegment(message);
      return;
    }
    if (message.type === 'evicted') {
      for (const idx of message.block_indices) {
        const entry = this.audio.get(idx);
        if (entry && PENDING.has(entry.state)) this.audio.delete(idx);
      }
      this.blocksDirty = true;
      this.fillWindow();
      this.emit();
      return;
    }
    this.onStatus(message);
  }

  private onStatus(message: StatusMessage): void {
    const idx = message.block_idx;
    const entry = this.audio.get(idx);
    if (message.model !== undefined || message.voice !== undefined) {
      if (!this.voice || message.model !== this.voice.model || message.voice !== this.voice.voice) {
        return; // audio for a voice the listener has left
      }
    } else if (!entry || !PENDING.has(entry.state)) {
      // Without a voice to check, only an answer to a request of ours is trusted.
      return;
    }
    if (entry?.state === 'cached' && message.status !== 'cached') return;
    if (this.refusals > 0 && message.status === 'cached') {
      this.refusals = 0;
      this.notice = null;
    }
    const generation = entry?.generation ?? this.generation;
    // The segments heard so far stay: playback may be inside them.
    const segments = entry?.segments;
    switch (message.status) {
      case 'queued':
        this.audio.set(idx, {
          state: 'queued',
          ahead: message.ahead ?? undefined,
          waitingForWorker: message.waiting_for_worker === true || undefined,
          queueUnreachable: message.queue_unreachable === true || undefined,
          generation,
          segments,
        });
        break;
      case 'processing':
        this.audio.set(idx, {
          state: 'processing',
          queueUnreachable: message.queue_unreachable === true || undefined,
          generation,
          segments,
        });
        break;
      case 'cached':
        if (!message.audio_url) {
          this.audio.set(idx, { state: 'error', error: 'the server sent no audio', generation });
        } else {
          this.audio.set(idx, {
            state: 'cached',
            audioUrl: message.audio_url,
            durationMs: message.duration_ms ?? undefined,
            generation,
            segments,
          });
        }
        break;
      case 'skipped':
        this.audio.set(idx, { state: 'skipped', generation });
        break;
      case 'error':
        this.audio.set(idx, {
          state: 'error',
          error: message.error ?? 'this passage could not be synthesized',
          generation,
        });
        break;
    }
    this.blocksDirty = true;
    if (this.state === 'buffering' && idx === this.cursor) {
      this.startIfReady();
    } else if (this.state === 'playing' && idx === this.firstPlayable(this.cursor + 1)) {
      this.preloadNext();
    }
    // A skipped or failed block leaves the window, so one more block comes into it; a block
    // made whole lets the window held back behind it be asked for.
    if (message.status === 'skipped' || message.status === 'error' || message.status === 'cached') {
      this.fillWindow();
    }
    this.emit();
  }

  /** A piece of a block still being rendered: kept in order (a repeat or one after a gap is
   *  ignored), and played at once when playback waits for it. */
  private onSegment(message: SegmentMessage): void {
    if (this.wholeBlocks) return;
    if (!this.voice || message.model !== this.voice.model || message.voice !== this.voice.voice) {
      return;
    }
    const idx = message.block_idx;
    const entry = this.audio.get(idx);
    if (!entry || !PENDING.has(entry.state)) return;
    const segments = entry.segments ?? [];
    const previous = segments[message.index];
    if (previous && message.index === segments.length - 1 && message.last && !previous.last) {
      // Told again, now as the last (a late joiner heard it first without knowing).
      const marked = [...segments.slice(0, -1), { ...previous, last: true }];
      this.audio.set(idx, { ...entry, segments: marked });
      this.blocksDirty = true;
      return;
    }
    if (message.index !== segments.length) return;
    const segment = {
      url: message.audio_url,
      durationMs: message.duration_ms,
      last: message.last,
      words: message.words ?? [],
    };
    this.audio.set(idx, {
      ...entry,
      state: 'processing',
      ahead: undefined,
      waitingForWorker: undefined,
      segments: [...segments, segment],
    });
    this.blocksDirty = true;
    if (this.state === 'buffering' && idx === this.cursor) {
      this.startIfReady();
    } else if (this.state === 'playing') {
      this.preloadNext();
    }
    this.emit();
  }

  /** The server refused a message: the whole `synthesize` it answers is void from the refused
   *  block on, and no status will come for those blocks (the server names them; an older server
   *  did not, and then every request not yet acknowledged is taken for one). They are dropped
   *  and asked for again later, so a voice whose worker comes back starts playing. */
  private onRefused(error: string, blocks?: number[]): void {
    this.notice = error;
    const named = blocks ? new Set(blocks) : null;
    let dropped = false;
    for (const [idx, entry] of this.audio) {
      if (entry.state === 'requested' && (!named || named.has(idx))) {
        this.audio.delete(idx);
        dropped = true;
      }
    }
    if (dropped && !this.retryTimer) {
      this.blocksDirty = true;
      const delay = Math.min(REFUSED_RETRY_MAX_MS, REFUSED_RETRY_MS * 2 ** this.refusals);
      this.refusals += 1;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.fillWindow();
        this.emit();
      }, delay);
    }
    this.emit();
  }

  private cancelRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.refusals = 0;
  }

  /** Requests the cursor block and the next `prefetchAhead` speakable ones not yet asked for. */
  private fillWindow(): void {
    if (!this.doc || !this.voice || !this.connection.isOpen || this.retryTimer) return;
    let window = this.windowIndices();
    // With segments, the block to be heard first renders alone until it is complete: prefetch
    // beside it would share the same cores and halve how fast its first sound and its later
    // segments come. The window follows as soon as that block is whole.
    if (this.headFirst && window.length > 1) {
      const head = this.audio.get(window[0]);
      if (!head || PENDING.has(head.state)) window = window.slice(0, 1);
    }
    const needed = window.filter((idx) => !this.audio.has(idx));
    if (needed.length === 0) return;
    for (const idx of needed) {
      this.audio.set(idx, { state: 'requested', generation: this.generation });
    }
    this.blocksDirty = true;
    for (let i = 0; i < needed.length; i += MAX_INDICES_PER_MESSAGE) {
      this.connection.send({
        type: 'synthesize',
        document_id: this.doc.id,
        block_indices: needed.slice(i, i + MAX_INDICES_PER_MESSAGE),
        cursor: this.cursor,
        model: this.voice.model,
        voice: this.voice.voice,
        speed: 1,
        ...(this.wholeBlocks ? {} : { segments: true }),
      });
    }
  }

  private windowIndices(): number[] {
    const indices: number[] = [];
    for (const block of this.doc?.blocks ?? []) {
      if (block.idx < this.cursor || !block.speakable) continue;
      const state = this.audio.get(block.idx)?.state;
      if (state === 'skipped' || state === 'error') continue;
      indices.push(block.idx);
      if (indices.length > this.prefetchAhead) break;
    }
    return indices;
  }

  /** After a seek: pending requests of older generations that the new window does not hold. */
  private forgetStaleRequests(): void {
    const wanted = new Set(this.windowIndices());
    for (const [idx, entry] of this.audio) {
      if (PENDING.has(entry.state) && entry.generation < this.generation && !wanted.has(idx)) {
        this.audio.delete(idx);
      }
    }
    this.blocksDirty = true;
  }

  // ---- audio ----------------------------------------------------------------------------

  private get activeSlot(): AudioLike {
    return this.slots[this.active];
  }

  private get spareSlot(): AudioLike {
    return this.slots[1 - this.active];
  }

  /** While buffering: passes over blocks with nothing to play and starts the cursor block if its
   *  audio is there; otherwise keeps waiting for its status. */
  private startIfReady(): void {
    if (!this.doc || this.state !== 'buffering') return;
    const target = this.firstPlayable(this.cursor);
    if (target === null) {
      this.state = 'ended';
      this.cursor = this.doc.blocks.length > 0 ? this.doc.blocks.length - 1 : 0;
      return;
    }
    if (target !== this.cursor) {
      this.cursor = target;
      this.fillWindow();
    }
    const entry = this.audio.get(target);
    if (entry?.state === 'error') {
      this.reasked.add(target);
      this.audio.delete(target);
      this.blocksDirty = true;
      this.fillWindow();
      return;
    }
    // Inside a block, its next segment keeps the joins as they were; a block started afresh
    // plays whole when it is complete, else from its first segment.
    const stalled = this.stalled && this.stalled.idx === target ? this.stalled : null;
    const whole = entry?.state === 'cached' ? entry.audioUrl : undefined;
    // A clicked word in a block still rendered: the segment that speaks it, from the word.
    const startAtMs = !stalled && !whole && this.startAt?.idx === target ? this.startAt.seconds * 1000 : null;
    const from = startAtMs !== null && entry?.segments ? segmentAt(entry.segments, startAtMs) : null;
    const next = stalled?.next ?? from?.index ?? 0;
    const segment = entry?.segments?.[next];
    if (segment && (stalled || !whole)) {
      const offsetMs = stalled?.offsetMs ?? from?.startMs ?? 0;
      this.startAudio(target, segment.url, next, offsetMs, startAtMs !== null ? startAtMs - offsetMs : 0);
    } else if (whole) {
      this.startAudio(target, whole, null, stalled?.offsetMs ?? 0);
    }
  }

  /** Plays `url`: the whole block (`segment` null; from `offsetMs` into it) or one segment of
   *  it that starts `offsetMs` into the block, from `intoMs` into the segment. */
  private startAudio(idx: number, url: string, segment: number | null, offsetMs: number, intoMs = 0): void {
    if (this.preloadedUrl === url) {
      this.activeSlot.pause();
      this.active = 1 - this.active;
    } else {
      this.activeSlot.src = url;
    }
    // A click on a word seeks the whole block to it; a segment starts where it starts.
    if (segment === null && this.startAt?.idx === idx) {
      offsetMs = this.startAt.seconds * 1000;
    }
    this.startAt = null;
    if (segment === null && offsetMs > 0) this.activeSlot.currentTime = offsetMs / 1000;
    if (segment !== null && intoMs > 0) this.activeSlot.currentTime = intoMs / 1000;
    this.preloadedUrl = null;
    this.stalled = null;
    this.playToken += 1;
    // A segment's audio is the block's from `offsetMs`; the whole block's starts at 0 and is
    // sought to `offsetMs`.
    this.loaded = { idx, url, token: this.playToken, segment, offsetMs: segment === null ? 0 : offsetMs };
    this.state = 'playing';
    this.startElement(this.activeSlot, this.loaded);
    this.preloadNext();
  }

  private startElement(slot: AudioLike, loaded: Loaded): void {
    slot.playbackRate = this.rate;
    slot.preservesPitch = true;
    slot.play().catch((error: unknown) => {
      if (loaded.token !== this.playToken || this.loaded !== loaded) return; // a stale start
      if (error instanceof Error && error.name === 'NotAllowedError') {
        this.state = 'paused';
        this.notice = 'The browser blocked autoplay. Press play to listen.';
        this.emit();
      } else if (!(error instanceof Error && error.name === 'AbortError')) {
        this.failLoaded('the audio could not be played');
      }
    });
  }

  /** Loads what plays next (the next segment of this block, or the next playable block's
   *  audio) into the spare element so it starts without a gap. */
  private preloadNext(): void {
    if (this.state !== 'playing' || !this.loaded) return;
    const url = this.nextUrl();
    if (!url || this.preloadedUrl === url) return;
    const spare = this.spareSlot;
    spare.src = url;
    spare.preload = 'auto';
    this.preloadedUrl = url;
  }

  private nextUrl(): string | null {
    const loaded = this.loaded;
    if (!loaded) return null;
    if (loaded.segment !== null) {
      const segments = this.audio.get(loaded.idx)?.segments ?? [];
      if (!segments[loaded.segment]?.last) return segments[loaded.segment + 1]?.url ?? null;
    }
    const next = this.firstPlayable(this.cursor + 1);
    if (next === null) return null;
    const entry = this.audio.get(next);
    if (entry?.state === 'cached' && entry.audioUrl) return entry.audioUrl;
    return entry?.segments?.[0]?.url ?? null;
  }

  private onEnded(slot: AudioLike): void {
    if (slot !== this.activeSlot || this.state !== 'playing' || !this.loaded) return;
    const loaded = this.loaded;
    const entry = this.audio.get(loaded.idx);
    const played = loaded.segment === null ? null : entry?.segments?.[loaded.segment];
    if (loaded.segment === null || !played || played.last) {
      this.advanceFrom(loaded.idx);
      return;
    }
    // Inside a block rendered piece by piece: on to its next piece, or wait for it.
    this.stalled = {
      idx: loaded.idx,
      next: loaded.segment + 1,
      offsetMs: loaded.offsetMs + played.durationMs,
    };
    this.loaded = null;
    this.state = 'buffering';
    this.startIfReady();
    this.emit();
  }

  private onAudioError(slot: AudioLike): void {
    if (slot === this.spareSlot) {
      this.preloadedUrl = null; // it will be loaded again, directly, when its turn comes
      return;
    }
    if (this.state !== 'playing' || !this.loaded) return;
    const idx = this.loaded.idx;
    const entry = this.audio.get(idx);
    if (this.loaded.segment !== null && entry?.state === 'cached' && entry.audioUrl) {
      // A segment no longer kept: the whole block is there, from the same place.
      this.stalled = { idx, next: Number.MAX_SAFE_INTEGER, offsetMs: this.loaded.offsetMs };
      this.loaded = null;
      this.state = 'buffering';
      this.startIfReady();
      this.emit();
      return;
    }
    if (this.reasked.has(idx)) {
      this.failLoaded('the audio could not be loaded');
      return;
    }
    // Audio links expire (the server signs them for a while): ask for the block again, once,
    // and play the fresh link it answers with.
    this.reasked.add(idx);
    this.audio.delete(idx);
    this.blocksDirty = true;
    this.loaded = null;
    this.state = 'buffering';
    this.fillWindow();
    this.emit();
  }

  private failLoaded(reason: string): void {
    if (!this.loaded) return;
    const idx = this.loaded.idx;
    this.audio.set(idx, { state: 'error', error: reason, generation: this.generation });
    this.blocksDirty = true;
    this.advanceFrom(idx);
  }

  /** The block at `idx` is done (played or failed): on to the next, in the same generation. */
  private advanceFrom(idx: number): void {
    this.loaded = null;
    this.stalled = null;
    this.cursor = idx + 1;
    this.state = 'buffering';
    this.fillWindow();
    this.startIfReady();
    this.emit();
  }

  private stopAudio(): void {
    this.playToken += 1;
    for (const slot of this.slots) slot.pause();
    this.loaded = null;
    this.stalled = null;
    this.preloadedUrl = null;
  }

  // ---- blocks ---------------------------------------------------------------------------

  private isPlayable(block: EngineBlock): boolean {
    if (!block.speakable) return false;
    const state = this.audio.get(block.idx)?.state;
    // A block that failed is asked for once more when the listener reaches it (the failure may
    // have been a worker that died); only a second failure passes it over.
    return state !== 'skipped' && !(state === 'error' && this.reasked.has(block.idx));
  }

  private firstPlayable(from: number): number | null {
    for (const block of this.doc?.blocks ?? []) {
      if (block.idx >= from && this.isPlayable(block)) return block.idx;
    }
    return null;
  }

  private lastPlayable(from: number): number | null {
    const blocks = this.doc?.blocks ?? [];
    for (let i = blocks.length - 1; i >= 0; i -= 1) {
      if (blocks[i].idx <= from && this.isPlayable(blocks[i])) return blocks[i].idx;
    }
    return null;
  }

  private clampIndex(idx: number): number {
    const count = this.doc?.blocks.length ?? 0;
    if (count === 0 || !Number.isFinite(idx)) return 0;
    return Math.min(count - 1, Math.max(0, Math.trunc(idx)));
  }

  private estimateMs(block: EngineBlock): number {
    if (!block.speakable) return 0;
    const entry = this.audio.get(block.idx);
    if (entry?.state === 'skipped' || entry?.state === 'error') return 0;
    if (entry?.durationMs != null) return entry.durationMs;
    return (block.chars / ESTIMATED_CHARS_PER_SECOND) * 1000;
  }

  private emit(): void {
    if (this.listeners.size === 0) return;
    const snapshot = this.snapshot();
    for (const listener of this.listeners) listener(snapshot);
  }
}
