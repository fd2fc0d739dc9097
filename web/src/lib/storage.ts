// What the page remembers in localStorage: position per document, speed, voice.

import type { Voice } from '../engine/engine';

const PREFIX = 'yapit:';

function read<T>(key: string): T | null {
  try {
    const raw = localStorage.getItem(PREFIX + key);
    return raw === null ? null : (JSON.parse(raw) as T);
  } catch {
    return null;
  }
}

function write(key: string, value: unknown): void {
  try {
    localStorage.setItem(PREFIX + key, JSON.stringify(value));
  } catch {
    // private mode or a full quota: remembering is a convenience
  }
}

export const remembered = {
  position: (documentId: string): number => {
    const value = read<number>(`position:${documentId}`);
    return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 0;
  },
  setPosition: (documentId: string, idx: number) => write(`position:${documentId}`, idx),
  forget: (documentId: string) => {
    try {
      localStorage.removeItem(`${PREFIX}position:${documentId}`);
    } catch {
      // nothing to forget
    }
  },
  rate: (): number => {
    const value = read<number>('rate');
    return typeof value === 'number' && value >= 0.5 && value <= 3 ? value : 1;
  },
  setRate: (rate: number) => write('rate', rate),
  voice: (): Voice | null => {
    const value = read<Voice>('voice');
    return value && typeof value.model === 'string' && typeof value.voice === 'string' ? value : null;
  },
  setVoice: (voice: Voice) => write('voice', voice),
  /** Play whole blocks only, once each is rendered (the player before segments; for
   *  comparison). Set with `?playback=whole` in the address (`?playback=segments` undoes it). */
  wholeBlocks: (): boolean => {
    const asked = new URLSearchParams(globalThis.location?.search ?? '').get('playback');
    if (asked === 'whole' || asked === 'segments') write('wholeBlocks', asked === 'whole');
    return read<boolean>('wholeBlocks') === true;
  },
};
