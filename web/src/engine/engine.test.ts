import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { SynthesisConnection, backoffDelay } from './connection';
import { PlaybackEngine, waitingMessage, type EngineBlock, type Voice } from './engine';
import { FakeAudio, FakeSocket, type PlayLog } from './fakes';
import { wordsOfSegments } from './words';

const HEART: Voice = { model: 'kokoro', voice: 'af_heart' };
const ALPHA: Voice = { model: 'kokoro', voice: 'jf_alpha' };
const DOC = 'doc-1';

function blocks(count: number, unspoken: number[] = []): EngineBlock[] {
  return Array.from({ length: count }, (_, idx) => ({
    idx,
    speakable: !unspoken.includes(idx),
    chars: 150,
  }));
}

function url(idx: number, voice: Voice = HEART): string {
  return `/v1/audio/${voice.voice}-${idx}`;
}

function segmentUrl(idx: number, index: number): string {
  return `/v1/audio/af_heart-${idx}/segments/${index}`;
}

function setup(
  options: { count?: number; unspoken?: number[]; ahead?: number; start?: number; wholeBlocks?: boolean; headFirst?: boolean } = {},
) {
  const sockets: FakeSocket[] = [];
  const log: PlayLog = [];
  const audios: FakeAudio[] = [];
  const connection = new SynthesisConnection(
    () => {
      const socket = new FakeSocket();
      sockets.push(socket);
      return socket;
    },
    { initialMs: 100, maxMs: 1_000, random: () => 1 },
  );
  const engine = new PlaybackEngine({
    connection,
    createAudio: () => {
      const audio = new FakeAudio(log);
      audios.push(audio);
      return audio;
    },
    prefetchAhead: options.ahead ?? 8,
    wholeBlocks: options.wholeBlocks,
    headFirst: options.headFirst,
  });
  engine.setVoice(HEART);
  engine.load({ id: DOC, blocks: blocks(options.count ?? 20, options.unspoken) }, options.start ?? 0);
  sockets[0].serverOpen();
  const socket = () => sockets[sockets.length - 1];
  const status = (idx: number, state: string, extra: object = {}, voice: Voice = HEART) =>
    socket().serverSend({
      type: 'status',
      document_id: DOC,
      block_idx: idx,
      status: state,
      audio_url: state === 'cached' ? url(idx, voice) : null,
      duration_ms: state === 'cached' ? 2_000 : null,
      error: state === 'error' ? 'the worker failed' : null,
      model: voice.model,
      voice: voice.voice,
      ...extra,
    });
  const cache = (...indices: number[]) => indices.forEach((idx) => status(idx, 'cached'));
  const segment = (idx: number, index: number, last = false, durationMs = 1_500, words: object[] = []) =>
    socket().serverSend({
      words,
      type: 'segment',
      document_id: DOC,
      block_idx: idx,
      index,
      duration_ms: durationMs,
      last,
      audio_url: segmentUrl(idx, index),
      model: HEART.model,
      voice: HEART.voice,
    });
  /** The element playing now (at most one may be). */
  const playing = () => {
    const active = audios.filter((a) => !a.paused);
    expect(active.length).toBeLessThanOrEqual(1);
    return active[0] ?? null;
  };
  const finish = () => {
    const audio = playing();
    if (!audio) throw new Error('nothing is playing');
    audio.dispatch('ended');
  };
  return { engine, connection, sockets, socket, status, cache, segment, playing, finish, log, audios };
}

describe('prefetch window', () => {
  it('asks for the cursor block and the 8 speakable blocks after it, at speed 1', () => {
    const { socket } = setup({ count: 20, unspoken: [3] });
    expect(socket().requested()).toEqual([0, 1, 2, 4, 5, 6, 7, 8, 9]);
    const message = socket().sent[0];
    expect(message).toMatchObject({ type: 'synthesize', document_id: DOC, cursor: 0, model: 'kokoro', voice: 'af_heart', speed: 1 });
  });

  it('slides as blocks finish and never asks twice for a block', () => {
    const { engine, socket, cache, finish } = setup({ count: 20 });
    socket().takeRequested();
    cache(0, 1, 2);
    engine.play();
    finish();
    expect(socket().takeRequested()).toEqual([9]);
    finish();
    expect(socket().takeRequested()).toEqual([10]);
    expect(socket().sent.filter((m) => m.type === 'synthesize')).toEqual([]);
  });

  it('splits a large request into messages of at most 64 blocks', () => {
    const { socket } = setup({ count: 200, ahead: 150 });
    const sizes = socket().sent.map((m) => (m.type === 'synthesize' ? m.block_indices.length : 0));
    expect(sizes).toEqual([64, 64, 23]);
  });

  it('head first: asks for the block to be heard alone, and for the window once it is whole', () => {
    const { engine, socket, segment, cache } = setup({ count: 20, headFirst: true });
    expect(socket().takeRequested()).toEqual([0]);
    engine.play();
    segment(0, 0);
    expect(socket().takeRequested()).toEqual([]);
    cache(0);
    expect(socket().takeRequested()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // A seek to a block nobody asked for yet starts it alone again.
    engine.seek(15);
    expect(socket().takeRequested()).toEqual([15]);
  });

  it('head first has no effect on whole-block playback', () => {
    const { socket } = setup({ count: 20, headFirst: true, wholeBlocks: true });
    expect(socket().takeRequested()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('fills the window once the socket opens, not before', () => {
    const sockets: FakeSocket[] = [];
    const connection = new SynthesisConnection(() => {
      const s = new FakeSocket();
      sockets.push(s);
      return s;
    });
    const engine = new PlaybackEngine({ connection, createAudio: () => new FakeAudio([]) });
    engine.setVoice(HEART);
    engine.load({ id: DOC, blocks: blocks(3) }, 0);
    expect(sockets[0].sent).toEqual([]);
    sockets[0].serverOpen();
    expect(sockets[0].requested()).toEqual([0, 1, 2]);
  });
});

describe('playing in order', () => {
  it('waits for the cursor block, then plays blocks in order through the preloaded element', () => {
    const { engine, status, cache, playing, finish, log, audios } = setup({ count: 5 });
    engine.play();
    expect(engine.snapshot().state).toBe('buffering');
    status(1, 'cached'); // arrives first: must not start before block 0
    expect(playing()).toBeNull();
    status(0, 'processing');
    expect(engine.snapshot().blocks.get(0)?.state).toBe('processing');
    cache(0);
    expect(engine.snapshot().state).toBe('playing');
    const first = playing();
    expect(first?.src).toBe(url(0));
    // The next block's audio already sits in the other element.
    const spare = audios.find((a) => a !== first);
    expect(spare?.src).toBe(url(1));
    finish();
    expect(playing()).toBe(spare);
    expect(engine.snapshot().cursor).toBe(1);
    cache(2);
    expect(first?.src).toBe(url(2)); // preloaded while 1 plays
    finish();
    finish();
    expect(log).toEqual([url(0), url(1), url(2)]);
  });

  it('pauses and resumes inside the same block', () => {
    const { engine, cache, playing, log } = setup({ count: 3 });
    cache(0);
    engine.play();
    const audio = playing();
    engine.pause();
    expect(playing()).toBeNull();
    expect(engine.snapshot().state).toBe('paused');
    engine.toggle();
    expect(playing()).toBe(audio);
    expect(log).toEqual([url(0), url(0)]);
  });

  it('stops at the end and starts again from the top on play', () => {
    const { engine, cache, finish, log } = setup({ count: 2 });
    cache(0, 1);
    engine.play();
    finish();
    finish();
    expect(engine.snapshot().state).toBe('ended');
    engine.play();
    expect(engine.snapshot().state).toBe('playing');
    expect(log).toEqual([url(0), url(1), url(0)]);
  });

  it('applies the speed to both elements, keeping the pitch, within 0.5 to 3', () => {
    const { engine, audios } = setup();
    engine.setRate(1.75);
    expect(audios.map((a) => [a.playbackRate, a.preservesPitch])).toEqual([
      [1.75, true],
      [1.75, true],
    ]);
    engine.setRate(9);
    expect(engine.snapshot().rate).toBe(3);
    engine.setRate(0.1);
    expect(engine.snapshot().rate).toBe(0.5);
  });

  it('turns a blocked autoplay into a pause with a notice', async () => {
    const { engine, cache, audios } = setup({ count: 2 });
    audios.forEach((a) => (a.rejectNextPlay = 'NotAllowedError'));
    cache(0);
    engine.play();
    await Promise.resolve();
    await Promise.resolve();
    expect(engine.snapshot().state).toBe('paused');
    expect(engine.snapshot().notice).toMatch(/press play/i);
  });
});

describe('skipped and failed blocks', () => {
  it('passes over skipped blocks and blocks that are not spoken', () => {
    const { engine, socket, status, cache, finish, log } = setup({ count: 6, unspoken: [2] });
    expect(socket().requested()).not.toContain(2);
    cache(0);
    engine.play();
    status(1, 'skipped');
    cache(3);
    finish();
    expect(engine.snapshot().cursor).toBe(3);
    expect(log).toEqual([url(0), url(3)]);
  });

  it('shows a failed block, asks for it once more when the listener reaches it, then moves on', () => {
    const { engine, socket, status, cache, finish, log } = setup({ count: 4 });
    cache(0, 2);
    engine.play();
    status(1, 'error');
    expect(engine.snapshot().blocks.get(1)).toMatchObject({ state: 'error', error: 'the worker failed' });
    socket().takeRequested();
    finish();
    expect(socket().takeRequested()).toEqual([1]);
    expect(engine.snapshot().state).toBe('buffering');
    status(1, 'error');
    expect(log).toEqual([url(0), url(2)]);
  });

  it('plays a failed block that succeeds when asked again', () => {
    const { engine, socket, status, cache, finish, log } = setup({ count: 3 });
    cache(0);
    engine.play();
    status(1, 'error');
    socket().takeRequested();
    finish();
    expect(socket().takeRequested()).toEqual([1]);
    cache(1);
    expect(log).toEqual([url(0), url(1)]);
  });

  it('tells the listener its place in the queue while it waits', () => {
    const { engine, status } = setup({ count: 3 });
    engine.play();
    expect(waitingMessage(engine.snapshot())).toBe('Preparing audio…');
    status(0, 'queued', { ahead: 12 });
    expect(waitingMessage(engine.snapshot())).toBe('Queued — 12 ahead…');
    status(0, 'queued', { ahead: 0 });
    expect(waitingMessage(engine.snapshot())).toBe('Queued — next in line…');
    status(0, 'queued', { waiting_for_worker: true });
    expect(waitingMessage(engine.snapshot())).toContain('waiting for one');
    status(0, 'processing');
    expect(waitingMessage(engine.snapshot())).toBe('Synthesizing…');
    status(0, 'processing', { queue_unreachable: true });
    expect(waitingMessage(engine.snapshot())).toContain('queue is unreachable');
  });

  it('moves on when a block fails while the player waits for it', () => {
    const { engine, status, cache, log } = setup({ count: 4 });
    engine.play();
    status(0, 'error');
    expect(engine.snapshot().cursor).toBe(0); // asked for once more
    status(0, 'error');
    expect(engine.snapshot().cursor).toBe(1);
    cache(1);
    expect(log).toEqual([url(1)]);
  });

  it('asks again once for a block whose audio will not load (an expired link), then moves on', () => {
    const { engine, socket, status, cache, playing, log } = setup({ count: 3 });
    cache(0, 1);
    engine.play();
    socket().takeRequested();
    playing()?.dispatch('error');
    expect(socket().takeRequested()).toEqual([0]);
    expect(engine.snapshot().state).toBe('buffering');
    status(0, 'cached', { audio_url: '/v1/audio/fresh-link-0' });
    expect(log).toEqual([url(0), '/v1/audio/fresh-link-0']);

    playing()?.dispatch('error');
    expect(engine.snapshot().blocks.get(0)?.state).toBe('error');
    expect(socket().takeRequested()).toEqual([]);
    expect(log).toEqual([url(0), '/v1/audio/fresh-link-0', url(1)]);
  });

  it('asks for one more block when a block in the window is skipped', () => {
    const { socket, status } = setup({ count: 20 });
    socket().takeRequested();
    status(4, 'skipped');
    expect(socket().takeRequested()).toEqual([9]);
  });
});

describe('seeking', () => {
  it('starts a clicked word where it is spoken, in the playing block or another', () => {
    const { engine, cache, playing } = setup({ count: 10 });
    cache(0, 1, 2);
    engine.play();
    const first = playing()!;
    expect(first.src).toBe(url(0));
    first.currentTime = 0.4;
    // A word of the block playing now: the same audio jumps, nothing restarts.
    engine.seek(0, { play: true, at: 1.25 });
    expect(playing()).toBe(first);
    expect(first.currentTime).toBe(1.25);
    // A word of another block: that block starts at the word.
    engine.seek(2, { play: true, at: 0.8 });
    expect(playing()?.src).toBe(url(2));
    expect(playing()?.currentTime).toBe(0.8);
    expect(engine.snapshot().cursor).toBe(2);
    // A block clicked as a whole still starts at its beginning.
    engine.seek(1, { play: true });
    expect(playing()?.src).toBe(url(1));
    expect(playing()?.currentTime).toBe(0);
  });

  it('sends cursor_moved, asks for the new window and forgets old requests outside it', () => {
    const { engine, socket } = setup({ count: 40 });
    socket().takeRequested();
    engine.seek(20);
    expect(socket().sent[0]).toEqual({ type: 'cursor_moved', document_id: DOC, cursor: 20 });
    expect(socket().takeRequested()).toEqual([20, 21, 22, 23, 24, 25, 26, 27, 28]);
    expect([...engine.snapshot().blocks.keys()].sort((a, b) => a - b)).toEqual([
      20, 21, 22, 23, 24, 25, 26, 27, 28,
    ]);
    // Seeking back asks again for what was forgotten.
    engine.seek(0);
    expect(socket().takeRequested()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('re-requests evicted blocks that are still wanted, and only those', () => {
    const { engine, socket } = setup({ count: 40 });
    engine.seek(5);
    socket().takeRequested();
    // The server dropped 3 and 4 (behind us) and 9 and 10 (still in our window).
    socket().serverSend({ type: 'evicted', document_id: DOC, block_indices: [3, 4, 9, 10] });
    expect(socket().takeRequested()).toEqual([9, 10]);
  });

  it('keeps cached audio when evictions name it', () => {
    const { engine, socket, cache } = setup({ count: 20 });
    cache(2);
    socket().takeRequested();
    socket().serverSend({ type: 'evicted', document_id: DOC, block_indices: [2] });
    expect(engine.snapshot().blocks.get(2)?.state).toBe('cached');
    expect(socket().takeRequested()).toEqual([]);
  });

  it('never plays a block that was awaited before the seek', () => {
    const { engine, cache, playing, log, audios } = setup({ count: 30 });
    cache(0);
    engine.play();
    const first = playing();
    engine.seek(15);
    expect(engine.snapshot().state).toBe('buffering');
    cache(1); // the old next block arrives late
    first?.dispatch('ended'); // and a late end of the old block
    expect(audios.every((a) => a.paused)).toBe(true);
    cache(15);
    expect(playing()?.src).toBe(url(15));
    expect(log).toEqual([url(0), url(15)]);
  });

  it('does not start the preloaded old-next block after a seek', () => {
    const { engine, cache, finish, log } = setup({ count: 30 });
    cache(0, 1, 20, 21);
    engine.play();
    engine.seek(20);
    finish();
    expect(log).toEqual([url(0), url(20), url(21)]);
  });

  it('starts at a clicked block when asked, and stays paused otherwise', () => {
    const { engine, cache, playing } = setup({ count: 30 });
    cache(0, 10);
    engine.seek(10);
    expect(engine.snapshot().state).toBe('paused');
    expect(playing()).toBeNull();
    engine.seek(10, { play: true });
    expect(playing()?.src).toBe(url(10));
  });

  it('next and previous step over blocks that are not spoken', () => {
    const { engine } = setup({ count: 6, unspoken: [1, 2] });
    engine.next();
    expect(engine.snapshot().cursor).toBe(3);
    engine.previous();
    expect(engine.snapshot().cursor).toBe(0);
    engine.previous();
    expect(engine.snapshot().cursor).toBe(0);
  });
});

describe('voice changes', () => {
  it('ignores audio for the voice the listener left and plays only the new voice', () => {
    const { engine, socket, status, playing, log } = setup({ count: 10 });
    status(0, 'cached');
    engine.play();
    socket().takeRequested();
    engine.setVoice(ALPHA);
    expect(engine.snapshot().state).toBe('buffering');
    const requests = socket().sent.filter((m) => m.type === 'synthesize');
    expect(requests.every((m) => m.type === 'synthesize' && m.voice === 'jf_alpha')).toBe(true);
    expect(socket().requested()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    status(0, 'cached', {}, HEART); // late answer for the old voice
    status(1, 'cached', {}, HEART);
    expect(playing()).toBeNull();
    status(0, 'cached', {}, ALPHA);
    expect(playing()?.src).toBe(url(0, ALPHA));
    expect(log).toEqual([url(0, HEART), url(0, ALPHA)]);
  });

  it('trusts a status without a voice only for a block it is waiting for', () => {
    const { engine, status } = setup({ count: 20 });
    status(15, 'cached', { model: undefined, voice: undefined });
    expect(engine.snapshot().blocks.has(15)).toBe(false);
    status(3, 'cached', { model: undefined, voice: undefined });
    expect(engine.snapshot().blocks.get(3)?.state).toBe('cached');
  });

  it('ignores messages about another document', () => {
    const { engine, socket } = setup({ count: 5 });
    socket().serverSend({ type: 'status', document_id: 'other', block_idx: 0, status: 'cached', audio_url: '/x', model: 'kokoro', voice: 'af_heart' });
    expect(engine.snapshot().blocks.get(0)?.state).toBe('requested');
  });
});

describe('the connection', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reconnects with backoff and re-requests what is still pending', () => {
    const { engine, sockets, socket, cache } = setup({ count: 20 });
    cache(0, 1);
    sockets[0].serverClose(1006);
    expect(engine.snapshot().connection).toBe('reconnecting');
    vi.advanceTimersByTime(99);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);
    // This attempt fails too: the next wait is twice as long.
    sockets[1].serverClose(1006);
    vi.advanceTimersByTime(199);
    expect(sockets).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(3);
    socket().serverOpen();
    expect(engine.snapshot().connection).toBe('open');
    expect(socket().requested()).toEqual([2, 3, 4, 5, 6, 7, 8]);
    expect(engine.snapshot().blocks.get(0)?.state).toBe('cached');
  });

  it('keeps playing cached blocks while reconnecting and resumes the wait afterwards', () => {
    const { engine, sockets, socket, cache, finish, playing } = setup({ count: 20 });
    cache(0);
    engine.play();
    sockets[0].serverClose(1006);
    finish();
    expect(engine.snapshot().state).toBe('buffering');
    vi.advanceTimersByTime(100);
    socket().serverOpen();
    expect(socket().requested()).toContain(1);
    cache(1);
    expect(playing()?.src).toBe(url(1));
  });

  it('stops on an authentication failure (close code 1008)', () => {
    const { engine, sockets } = setup();
    sockets[0].serverClose(1008);
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
    expect(engine.snapshot().connection).toBe('auth-failed');
  });

  it('shows a refused request, and asks again later for what it left unanswered', () => {
    const { engine, socket, status, cache, playing } = setup({ count: 20 });
    engine.play();
    status(0, 'queued');
    socket().takeRequested();
    // The server answered block 0, then refused the rest (say, the voice's worker went away).
    socket().serverSend({ type: 'error', error: 'voice "af_heart" of model kokoro is not served' });
    expect(engine.snapshot().notice).toMatch(/not served/);
    expect(engine.snapshot().connection).toBe('open');
    expect(engine.snapshot().blocks.has(1)).toBe(false);
    vi.advanceTimersByTime(4_999);
    expect(socket().takeRequested()).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(socket().takeRequested()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // Refused again: the wait doubles.
    socket().serverSend({ type: 'error', error: 'still not served' });
    vi.advanceTimersByTime(9_999);
    expect(socket().takeRequested()).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(socket().takeRequested()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    cache(0);
    expect(playing()?.src).toBe(url(0));
    expect(engine.snapshot().notice).toBeNull();
  });

  it('drops only the blocks a refusal names, when it names them', () => {
    const { engine, socket, status } = setup({ count: 20 });
    engine.play();
    socket().takeRequested();
    // Blocks 1 and 2 got their status in the meantime; the refusal concerns 3 on.
    status(1, 'queued');
    status(2, 'queued');
    socket().serverSend({
      type: 'error',
      error: 'your connections already wait for 256 blocks',
      code: 'queue_full',
      block_indices: [3, 4, 5, 6, 7, 8],
    });
    const blocks = engine.snapshot().blocks;
    expect(blocks.get(0)?.state).toBe('requested');
    expect([1, 2].map((i) => blocks.get(i)?.state)).toEqual(['queued', 'queued']);
    expect(blocks.has(3)).toBe(false);
    vi.advanceTimersByTime(5_000);
    expect(socket().takeRequested()).toEqual([3, 4, 5, 6, 7, 8]);
  });

  it('closes the socket for good on destroy', () => {
    const { engine, sockets } = setup();
    engine.destroy();
    expect(sockets[0].closedWith).toBe(1000);
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
  });

  it('caps and jitters the backoff', () => {
    const options = { initialMs: 500, maxMs: 15_000, random: () => 0 };
    expect(backoffDelay(0, options)).toBe(250);
    expect(backoffDelay(10, options)).toBe(7_500);
    expect(backoffDelay(10, { ...options, random: () => 1 })).toBe(15_000);
  });
});

describe('time estimate', () => {
  it('uses real durations where known and the length of the text elsewhere', () => {
    const { engine, cache } = setup({ count: 3 });
    // 150 characters at 15 a second: 10 s each until known.
    expect(engine.timing()).toEqual({ elapsedMs: 0, totalMs: 30_000 });
    cache(0);
    engine.seek(1);
    expect(engine.timing()).toEqual({ elapsedMs: 2_000, totalMs: 22_000 });
  });
});

describe('segments', () => {
  it('asks for segments, starts a block on its first one and plays the rest in order', () => {
    const { engine, socket, status, segment, cache, finish, playing, log } = setup({ count: 3 });
    expect(socket().sent[0]).toMatchObject({ type: 'synthesize', segments: true });
    engine.play();
    status(0, 'processing');
    expect(log).toEqual([]);
    segment(0, 0);
    expect(log).toEqual([segmentUrl(0, 0)]);
    expect(engine.snapshot().state).toBe('playing');
    segment(0, 1);
    segment(0, 2, true);
    cache(0, 1);
    finish();
    expect(playing()?.src).toBe(segmentUrl(0, 1));
    // The position counts the segments played before.
    expect(engine.positionSeconds).toBeCloseTo(1.5);
    finish();
    expect(playing()?.src).toBe(segmentUrl(0, 2));
    // The last segment ends the block: on to the next, whole since it is complete.
    finish();
    expect(log).toEqual([segmentUrl(0, 0), segmentUrl(0, 1), segmentUrl(0, 2), url(1)]);
    expect(engine.snapshot().cursor).toBe(1);
  });

  it('preloads the next segment into the spare element, so the join has no gap', () => {
    const { engine, segment, audios } = setup({ count: 2 });
    engine.play();
    segment(0, 0);
    segment(0, 1, true);
    const spare = audios.find((a) => a.paused);
    expect(spare?.src).toBe(segmentUrl(0, 1));
  });

  it('says it waits for audio when playback overtakes the rendering, and goes on by itself', () => {
    const { engine, segment, finish, playing } = setup({ count: 2 });
    engine.play();
    segment(0, 0);
    finish();
    const waiting = engine.snapshot();
    expect(waiting.state).toBe('buffering');
    expect(waiting.waitingForAudio).toBe(true);
    expect(waitingMessage(waiting)).toBe('Waiting for audio…');
    expect(waiting.cursor).toBe(0);
    segment(0, 1, true);
    expect(playing()?.src).toBe(segmentUrl(0, 1));
    expect(engine.snapshot().waitingForAudio).toBe(false);
  });

  it('plays the whole block from where it stopped when the next segment never came', () => {
    // After a reconnect the server cannot replay the segments it sent before.
    const { engine, segment, cache, finish, playing } = setup({ count: 2 });
    engine.play();
    segment(0, 0, false, 1_200);
    finish();
    cache(0);
    expect(playing()?.src).toBe(url(0));
    expect(playing()?.currentTime).toBeCloseTo(1.2);
  });

  it('learns that a segment heard before was the last when it is told again', () => {
    const { engine, segment, finish, cache, log } = setup({ count: 2 });
    engine.play();
    segment(0, 0, false);
    segment(0, 0, true);
    cache(1);
    finish();
    expect(log).toEqual([segmentUrl(0, 0), url(1)]);
  });

  it('ignores a repeated segment and one after a gap', () => {
    const { engine, segment, log } = setup({ count: 2 });
    segment(0, 1);
    expect(engine.snapshot().blocks.get(0)?.segments).toBeUndefined();
    segment(0, 0);
    segment(0, 0);
    expect(engine.snapshot().blocks.get(0)?.segments).toHaveLength(1);
    engine.play();
    expect(log).toEqual([segmentUrl(0, 0)]);
  });

  it('whole-block playback neither asks for segments nor plays them', () => {
    const { engine, socket, segment, cache, log } = setup({ count: 2, wholeBlocks: true });
    expect(socket().sent[0]).not.toHaveProperty('segments');
    engine.play();
    segment(0, 0);
    expect(log).toEqual([]);
    cache(0);
    expect(log).toEqual([url(0)]);
  });

  it('keeps each segment\'s words, timed from the block\'s start', () => {
    const { engine, segment } = setup({ count: 2 });
    const first = [{ word: 'In', start_char: 0, end_char: 2, start: 0.1, end: 0.3 }];
    const second = [{ word: 'lamp', start_char: 3, end_char: 7, start: 1.6, end: 1.9 }];
    segment(0, 0, false, 1_500, first);
    segment(0, 1, true, 1_500, [...second, { word: 7 }]);
    const segments = engine.snapshot().blocks.get(0)?.segments ?? [];
    expect(wordsOfSegments(segments)).toEqual([...first, ...second]);
  });

  it('starts a clicked word of a block still rendered in the segment that speaks it', () => {
    const { engine, segment, playing } = setup({ count: 3 });
    engine.play();
    segment(0, 0, false, 1_500);
    segment(0, 1, false, 1_000);
    const first = playing()!;
    expect(first.src).toBe(segmentUrl(0, 0));
    // A word in the segment playing: the same element jumps.
    engine.seek(0, { play: true, at: 0.9 });
    expect(playing()).toBe(first);
    expect(first.currentTime).toBeCloseTo(0.9);
    // A word in the next segment: that segment, from the word.
    engine.seek(0, { play: true, at: 2.0 });
    expect(playing()?.src).toBe(segmentUrl(0, 1));
    expect(playing()?.currentTime).toBeCloseTo(0.5);
    expect(engine.positionSeconds).toBeCloseTo(2.0);
    // And back into the first one from there.
    engine.seek(0, { play: true, at: 0.4 });
    expect(playing()?.src).toBe(segmentUrl(0, 0));
    expect(engine.positionSeconds).toBeCloseTo(0.4);
  });
});
