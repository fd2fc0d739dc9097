import { describe, expect, it } from 'vitest';

import type { ModelInfo } from '../api/client';
import { pickVoice } from './voices';

const models: ModelInfo[] = [
  { slug: 'higgs', name: 'Higgs', sample_rate: 24000, available: true, voices: [{ slug: 'en_a', name: 'A', lang: 'en', available: true }] },
  {
    slug: 'kokoro',
    name: 'Kokoro',
    sample_rate: 24000,
    available: true,
    voices: [
      { slug: 'af_heart', name: 'Heart', lang: 'en-US', available: false },
      { slug: 'jf_alpha', name: 'Alpha', lang: 'ja', available: true },
    ],
  },
];

describe('pickVoice', () => {
  it('keeps a saved voice that is available', () => {
    expect(pickVoice(models, { model: 'higgs', voice: 'en_a' })).toEqual({ model: 'higgs', voice: 'en_a' });
  });

  it('prefers the first available kokoro voice over an unavailable saved one', () => {
    expect(pickVoice(models, { model: 'kokoro', voice: 'af_heart' })).toEqual({ model: 'kokoro', voice: 'jf_alpha' });
    expect(pickVoice(models, null)).toEqual({ model: 'kokoro', voice: 'jf_alpha' });
  });

  it('treats missing flags as available and finds nothing when nothing is', () => {
    const old = models.map((m) => ({ ...m, available: undefined, voices: m.voices.map((v) => ({ ...v, available: undefined })) }));
    expect(pickVoice(old, null)).toEqual({ model: 'kokoro', voice: 'af_heart' });
    const none = models.map((m) => ({ ...m, available: false }));
    expect(pickVoice(none, null)).toBeNull();
  });
});
