// The synthesis WebSocket, kept open: reconnects with exponential backoff and tells its owner
// each time it is open again, so the owner can re-request what is still pending.

import { parseServerMessage, type ClientMessage, type ServerMessage } from './protocol';

/** The part of the browser's WebSocket this module uses, so tests can pass a fake. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason?: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type SocketFactory = () => SocketLike;

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'auth-failed' | 'closed';

export interface ConnectionListener {
  open(): void;
  message(message: ServerMessage): void;
  state(state: ConnectionState): void;
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** 0..1; tests pass a constant. */
  random: () => number;
}

const OPEN = 1;
/** The gateway closes with 1008 (policy violation) when the session is not valid. */
const CLOSE_AUTH_FAILED = 1008;

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 15_000, random: Math.random };

/** Delay before reconnect attempt `attempt` (0-based): doubling, capped, with half of it jittered
 *  so that many pages dropped by one gateway restart do not all come back in the same instant. */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const base = Math.min(options.maxMs, options.initialMs * 2 ** attempt);
  return Math.round(base / 2 + (base / 2) * options.random());
}

export class SynthesisConnection {
  private socket: SocketLike | null = null;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private current: ConnectionState = 'closed';
  private listener: ConnectionListener | null = null;

  constructor(
    private readonly createSocket: SocketFactory,
    private readonly backoff: BackoffOptions = DEFAULT_BACKOFF,
  ) {}

  get state(): ConnectionState {
    return this.current;
  }

  get isOpen(): boolean {
    return this.socket?.readyState === OPEN && this.current === 'open';
  }

  setListener(listener: ConnectionListener | null): void {
    this.listener = listener;
  }

  connect(): void {
    this.stopped = false;
    if (this.socket || this.retryTimer) return;
    this.open();
  }

  /** Skips the wait of a pending retry (the page came back online or into view). */
  reconnectNow(): void {
    if (this.stopped || this.current === 'auth-failed' || !this.retryTimer) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.open();
  }

  /** Sends when open; a message sent while closed is dropped (the owner re-sends on `open`). */
  send(message: ClientMessage): boolean {
    if (!this.isOpen || !this.socket) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  close(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
      socket.close(1000, 'player closed');
    }
    this.setState('closed');
  }

  private open(): void {
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    let socket: SocketLike;
    try {
      socket = this.createSocket();
    } catch {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.attempt = 0;
      this.setState('open');
      this.listener?.open();
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      const message = parseServerMessage(event.data);
      if (message) this.listener?.message(message);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (event.code === CLOSE_AUTH_FAILED) {
        this.setState('auth-failed');
        return;
      }
      if (!this.stopped) this.scheduleRetry();
    };
    // An error is always followed by a close, which decides what happens next.
    socket.onerror = () => {};
  }

  private scheduleRetry(): void {
    const delay = backoffDelay(this.attempt, this.backoff);
    this.attempt += 1;
    this.setState('reconnecting');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) this.open();
    }, delay);
  }

  private setState(state: ConnectionState): void {
    if (state === this.current) return;
    this.current = state;
    this.listener?.state(state);
  }
}

/** The page's own socket: same origin, so the session cookie authenticates it. */
export function browserSocketFactory(path = '/v1/ws/tts'): SocketFactory {
  return () => {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return new WebSocket(`${scheme}//${location.host}${path}`) as unknown as SocketLike;
  };
}
