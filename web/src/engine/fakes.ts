// Test doubles for the engine: a WebSocket the test plays the server for, and an audio element
// whose playback the test drives by hand.

import type { SocketLike } from './connection';
import type { AudioLike } from './engine';
import type { ClientMessage } from './protocol';

export class FakeSocket implements SocketLike {
  readyState = 0;
  sent: ClientMessage[] = [];
  closedWith: number | null = null;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason?: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(JSON.parse(data) as ClientMessage);
  }

  close(code = 1000): void {
    this.closedWith = code;
    this.readyState = 3;
  }

  serverOpen(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  serverSend(message: object): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }

  serverClose(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code });
  }

  /** Every block index asked for, in order. */
  requested(): number[] {
    return this.sent.flatMap((m) => (m.type === 'synthesize' ? m.block_indices : []));
  }

  takeRequested(): number[] {
    const indices = this.requested();
    this.sent = [];
    return indices;
  }
}

/** Shared by a test's audio elements: what was started, in order. */
export type PlayLog = string[];

export class FakeAudio implements AudioLike {
  private source = '';
  preload = '';
  playbackRate = 1;
  preservesPitch = false;
  currentTime = 0;
  paused = true;
  /** When set, the next `play()` rejects with an error of this name. */
  rejectNextPlay: string | null = null;
  private listeners = new Map<string, Array<() => void>>();

  constructor(private readonly log: PlayLog) {}

  get src(): string {
    return this.source;
  }

  /** As a real element, a new source starts at its beginning. */
  set src(value: string) {
    this.source = value;
    this.currentTime = 0;
  }

  play(): Promise<void> {
    if (this.rejectNextPlay) {
      const error = new Error('refused');
      error.name = this.rejectNextPlay;
      this.rejectNextPlay = null;
      return Promise.reject(error);
    }
    this.paused = false;
    this.log.push(this.src);
    return Promise.resolve();
  }

  pause(): void {
    this.paused = true;
  }

  addEventListener(type: string, listener: () => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  dispatch(type: 'ended' | 'timeupdate' | 'error'): void {
    if (type === 'ended') this.paused = true;
    for (const listener of this.listeners.get(type) ?? []) listener();
  }
}
