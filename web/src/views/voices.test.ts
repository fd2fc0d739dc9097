import { describe, expect, it } from 'vitest';

import type { ModelInfo } from '../api/client';
import { blendVoice, languageName, pickVoice, previewSentence, proposeVoice, sameLanguage, voiceInfo, voiceGroups } from './voices';

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

  it("prefers the model's default voice when it is available", () => {
    const kokoro: ModelInfo = {
      slug: 'kokoro',
      name: 'Kokoro',
      sample_rate: 24000,
      default_voice: 'af_heart',
      available: true,
      voices: [
        { slug: 'af_alloy', name: 'Alloy', lang: 'en-US', available: true },
        { slug: 'af_heart', name: 'Heart', lang: 'en-US', available: true },
      ],
    };
    expect(pickVoice([kokoro], null)).toEqual({ model: 'kokoro', voice: 'af_heart' });
    const heartDown = { ...kokoro, voices: kokoro.voices.map((v) => ({ ...v, available: v.slug !== 'af_heart' })) };
    expect(pickVoice([heartDown], null)).toEqual({ model: 'kokoro', voice: 'af_alloy' });
  });

  it('treats missing flags as available and finds nothing when nothing is', () => {
    const old = models.map((m) => ({ ...m, available: undefined, voices: m.voices.map((v) => ({ ...v, available: undefined })) }));
    expect(pickVoice(old, null)).toEqual({ model: 'kokoro', voice: 'af_heart' });
    const none = models.map((m) => ({ ...m, available: false }));
    expect(pickVoice(none, null)).toBeNull();
  });
});

describe('voiceGroups', () => {
  it('groups voices by model and language with readable names', () => {
    const groups = voiceGroups([
      {
        slug: 'kokoro',
        name: 'Kokoro',
        sample_rate: 24000,
        voices: [
          { slug: 'af_heart', name: 'Heart', lang: 'en-US' },
          { slug: 'bf_emma', name: 'Emma', lang: 'en-GB' },
          { slug: 'af_bella', name: 'Bella', lang: 'en-US' },
          { slug: 'ef_dora', name: 'Dora', lang: 'es' },
        ],
      },
    ]);
    expect(groups.map((g) => [g.label, g.voices.map((v) => v.slug)])).toEqual([
      ['Kokoro · American English', ['af_heart', 'af_bella']],
      ['Kokoro · British English', ['bf_emma']],
      ['Kokoro · Spanish', ['ef_dora']],
    ]);
    expect(languageName('zh')).toBe('Mandarin Chinese');
    expect(languageName('de')).toBe('German');
  });
});

describe('blendVoice', () => {
  const kokoro = models[1];
  it('canonicalises a blend of known voices of one language', () => {
    const english: ModelInfo = { ...kokoro, voices: [...kokoro.voices, { slug: 'af_sky', name: 'Sky', lang: 'en-US' }] };
    const blend = blendVoice(english, 'af_sky+af_heart(3)');
    expect(blend.ok && blend.voice).toEqual({ model: 'kokoro', voice: 'af_heart(0.75)+af_sky(0.25)' });
    // A saved blend is kept while its voices are available; af_heart is not, here.
    const saved = { model: 'kokoro', voice: 'af_heart(0.75)+af_sky(0.25)' };
    expect(pickVoice([english], saved)).toEqual({ model: 'kokoro', voice: 'jf_alpha' });
    const up = { ...english, voices: english.voices.map((v) => ({ ...v, available: true })) };
    expect(pickVoice([up], saved)).toEqual(saved);
  });

  it('refuses unknown voices and mixed languages', () => {
    expect(blendVoice(kokoro, 'af_heart+af_nobody')).toEqual({ ok: false, error: 'Kokoro has no voice "af_nobody"' });
    const mixed = blendVoice(kokoro, 'af_heart+jf_alpha');
    expect(mixed.ok).toBe(false);
    expect(!mixed.ok && mixed.error).toMatch(/one language \(af_heart is American English, jf_alpha is Japanese\)/);
  });
});

describe('proposeVoice', () => {
  const catalogue: ModelInfo[] = [
    {
      slug: 'kokoro',
      name: 'Kokoro',
      sample_rate: 24000,
      default_voice: 'af_heart',
      voices: [
        { slug: 'af_bella', name: 'Bella', lang: 'en-US', available: true },
        { slug: 'af_heart', name: 'Heart', lang: 'en-US', available: true },
        { slug: 'ef_dora', name: 'Dora', lang: 'es', available: true },
        { slug: 'em_alex', name: 'Alex', lang: 'es', available: true },
        { slug: 'ff_siwis', name: 'Siwis', lang: 'fr-FR', available: false },
      ],
    },
  ];

  it('offers a voice of the document language, the default one for English', () => {
    expect(proposeVoice(catalogue, 'en')).toEqual({ model: 'kokoro', voice: 'af_heart' });
    expect(proposeVoice(catalogue, 'es')).toEqual({ model: 'kokoro', voice: 'ef_dora' });
    expect(proposeVoice(catalogue, 'fr')).toBeNull();
    expect(proposeVoice(catalogue, 'de')).toBeNull();
  });

  it('knows the language of a voice or blend', () => {
    expect(voiceInfo(catalogue, { model: 'kokoro', voice: 'em_alex' })?.lang).toBe('es');
    expect(voiceInfo(catalogue, { model: 'kokoro', voice: 'ef_dora(0.5)+em_alex(0.5)' })?.lang).toBe('es');
    expect(sameLanguage('es', 'es')).toBe(true);
    expect(sameLanguage('en', 'en-GB')).toBe(true);
    expect(sameLanguage('es', 'en-US')).toBe(false);
  });
});

describe('previewSentence', () => {
  it('speaks the language of the voice', () => {
    expect(previewSentence('es')).toMatch(/^¡Hola!/);
    expect(previewSentence('en-GB')).toMatch(/^Hello!/);
    expect(previewSentence('pt-BR')).toMatch(/^Olá!/);
    expect(previewSentence('de')).toMatch(/^Hello!/);
  });
});
