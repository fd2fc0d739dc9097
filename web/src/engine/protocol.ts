// The synthesis WebSocket's messages (`GET /v1/ws/tts`), as the gateway sends and accepts them.

import type { WordTiming } from './words';

/** Most block indices one `synthesize` message may carry. */
export const MAX_INDICES_PER_MESSAGE = 64;

export interface SynthesizeMessage {
  type: 'synthesize';
  document_id: string;
  block_indices: number[];
  cursor: number;
  model: string;
  voice: string;
  /** Always 1: speed is applied by the audio element, so every listener shares one cache entry. */
  speed: 1;
  /** Ask for a `segment` note per rendered chunk, to start a block before it is complete. */
  segments?: boolean;
}

export interface CursorMovedMessage {
  type: 'cursor_moved';
  document_id: string;
  cursor: number;
}

export type ClientMessage = SynthesizeMessage | CursorMovedMessage;

export type BlockSynthesisStatus = 'queued' | 'processing' | 'cached' | 'skipped' | 'error';

export interface StatusMessage {
  type: 'status';
  document_id: string;
  block_idx: number;
  status: BlockSynthesisStatus;
  audio_url?: string | null;
  duration_ms?: number | null;
  error?: string | null;
  /** While queued: how many jobs go before this one (sent at the listener's cursor). */
  ahead?: number | null;
  /** While queued: no running worker serves the voice; the job waits for one. */
  waiting_for_worker?: boolean;
  /** The synthesis queue (Redis) is unreachable; the block waits until it is back. */
  queue_unreachable?: boolean;
  model?: string;
  voice?: string;
}

/** One chunk of a block still being rendered, playable now. Numbered from 0 in playing order;
 *  `last` ends the block. */
export interface SegmentMessage {
  type: 'segment';
  document_id: string;
  block_idx: number;
  index: number;
  duration_ms: number;
  last: boolean;
  audio_url: string;
  /** The words it speaks, timed in seconds from the start of the block (not of the segment). */
  words?: WordTiming[];
  model?: string;
  voice?: string;
}

/** Queued blocks the server dropped because the cursor moved away from them. */
export interface EvictedMessage {
  type: 'evicted';
  document_id: string;
  block_indices: number[];
}

/** A message the server could not accept; the socket stays open. */
export interface ErrorMessage {
  type: 'error';
  error: string;
  /** What kind of refusal (`invalid_message`, `invalid_request`, `not_found`, `unserved`,
   *  `queue_full`, `unavailable`), when the server said. */
  code?: string;
  /** The blocks of the refused message that get no status (to ask for again), when it said. */
  block_indices?: number[];
}

export type ServerMessage = StatusMessage | SegmentMessage | EvictedMessage | ErrorMessage;

const STATUSES = new Set<string>(['queued', 'processing', 'cached', 'skipped', 'error']);

/** Parses one text frame; anything that is not a message we know is `null`. */
export function parseServerMessage(data: unknown): ServerMessage | null {
  if (typeof data !== 'string') return null;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const message = value as Record<string, unknown>;
  switch (message.type) {
    case 'status':
      return typeof message.document_id === 'string' &&
        Number.isInteger(message.block_idx) &&
        typeof message.status === 'string' &&
        STATUSES.has(message.status)
        ? (message as unknown as StatusMessage)
        : null;
    case 'segment':
      return typeof message.document_id === 'string' &&
        Number.isInteger(message.block_idx) &&
        Number.isInteger(message.index) &&
        typeof message.duration_ms === 'number' &&
        typeof message.audio_url === 'string'
        ? ({
            ...message,
            last: message.last === true,
            words: Array.isArray(message.words) ? message.words.filter(isWordTiming) : [],
          } as unknown as SegmentMessage)
        : null;
    case 'evicted':
      return typeof message.document_id === 'string' &&
        Array.isArray(message.block_indices) &&
        message.block_indices.every((i) => Number.isInteger(i))
        ? (message as unknown as EvictedMessage)
        : null;
    case 'error':
      return {
        type: 'error',
        error: String(message.error ?? 'the server refused a message'),
        code: typeof message.code === 'string' ? message.code : undefined,
        block_indices:
          Array.isArray(message.block_indices) && message.block_indices.every((i) => Number.isInteger(i))
            ? (message.block_indices as number[])
            : undefined,
      };
    default:
      return null;
  }
}

function isWordTiming(value: unknown): value is WordTiming {
  if (typeof value !== 'object' || value === null) return false;
  const w = value as Record<string, unknown>;
  return (
    typeof w.word === 'string' &&
    typeof w.start === 'number' &&
    typeof w.end === 'number' &&
    Number.isFinite(w.start) &&
    Number.isFinite(w.end)
  );
}
