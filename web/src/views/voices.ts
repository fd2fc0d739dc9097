import type { ModelInfo, VoiceInfo } from '../api/client';
import type { Voice } from '../engine/engine';
import { canonicalBlend } from '../lib/blend';

export const DEFAULT_MODEL = 'kokoro';

/** A voice is usable when neither it nor its model is marked unavailable (older gateways send
 *  no flags: then every voice counts as available). */
export function isAvailable(model: ModelInfo, voice: VoiceInfo): boolean {
  return model.available !== false && voice.available !== false;
}

/** The saved voice while it is still available; else the default model's default voice; else
 *  its first available voice; else any available voice; else null (nothing can be played). */
export function pickVoice(models: ModelInfo[], saved: Voice | null): Voice | null {
  if (saved) {
    const model = models.find((m) => m.slug === saved.model);
    const voice = model?.voices.find((v) => v.slug === saved.voice);
    if (model && voice && isAvailable(model, voice)) return saved;
    // A saved blend stays while every voice in it is available.
    const blend = model && !voice ? blendVoice(model, saved.voice) : null;
    if (model && blend?.ok && blend.parts.every((v) => isAvailable(model, v))) return blend.voice;
  }
  const ordered = [...models].sort((a, b) => Number(b.slug === DEFAULT_MODEL) - Number(a.slug === DEFAULT_MODEL));
  for (const model of ordered) {
    const voice =
      model.voices.find((v) => v.slug === model.default_voice && isAvailable(model, v)) ??
      model.voices.find((v) => isAvailable(model, v));
    if (voice) return { model: model.slug, voice: voice.slug };
  }
  return null;
}

/** Names for the languages of the catalogue; other tags fall back to the browser's names. */
const LANGUAGE_NAMES: Record<string, string> = {
  'en-US': 'American English',
  'en-GB': 'British English',
  es: 'Spanish',
  fr: 'French',
  'fr-FR': 'French',
  hi: 'Hindi',
  it: 'Italian',
  ja: 'Japanese',
  pt: 'Portuguese',
  'pt-BR': 'Brazilian Portuguese',
  zh: 'Mandarin Chinese',
};

export function languageName(tag: string): string {
  if (LANGUAGE_NAMES[tag]) return LANGUAGE_NAMES[tag];
  try {
    return new Intl.DisplayNames(['en'], { type: 'language' }).of(tag) ?? tag;
  } catch {
    return tag;
  }
}

export interface VoiceGroup {
  model: ModelInfo;
  /** e.g. "Kokoro 82M · American English". */
  label: string;
  voices: VoiceInfo[];
}

/** The picker's groups: one per model and language, in the catalogue's order of first
 *  appearance, so a listener finds the voices of their language together. */
export function voiceGroups(models: ModelInfo[]): VoiceGroup[] {
  const groups: VoiceGroup[] = [];
  for (const model of models) {
    const byLang = new Map<string, VoiceGroup>();
    for (const voice of model.voices) {
      let group = byLang.get(voice.lang);
      if (!group) {
        const unavailable = model.available === false ? ' (unavailable)' : '';
        group = { model, label: `${model.name} · ${languageName(voice.lang)}${unavailable}`, voices: [] };
        byLang.set(voice.lang, group);
        groups.push(group);
      }
      group.voices.push(voice);
    }
  }
  return groups;
}

/** A blend the listener typed (`af_bella(2)+af_sky(1)`), checked against the model's voices
 *  as the gateway checks it: known voices of one language. */
export function blendVoice(
  model: ModelInfo,
  spec: string,
): { ok: true; voice: Voice; parts: VoiceInfo[] } | { ok: false; error: string } {
  const blend = canonicalBlend(spec);
  if (!blend.ok) return blend;
  const voices: VoiceInfo[] = [];
  for (const slug of blend.voices) {
    const voice = model.voices.find((v) => v.slug === slug);
    if (!voice) return { ok: false, error: `${model.name} has no voice "${slug}"` };
    voices.push(voice);
  }
  if (voices.some((v) => v.lang !== voices[0].lang)) {
    const languages = voices.map((v) => `${v.slug} is ${languageName(v.lang)}`).join(', ');
    return { ok: false, error: `a blend mixes voices of one language (${languages})` };
  }
  return { ok: true, voice: { model: model.slug, voice: blend.voice }, parts: voices };
}

/** The catalogue entry of a voice, or of a blend's first voice (a blend speaks one language). */
export function voiceInfo(models: ModelInfo[], voice: Voice): VoiceInfo | null {
  const model = models.find((m) => m.slug === voice.model);
  if (!model) return null;
  const first = canonicalBlend(voice.voice);
  const slug = first.ok ? first.voices[0] : voice.voice;
  return model.voices.find((v) => v.slug === slug) ?? null;
}

/** Whether a document language (`es`) and a voice language (`es`, `en-US`) are the same. */
export function sameLanguage(documentLang: string, voiceLang: string): boolean {
  const primary = (tag: string) => tag.toLowerCase().split('-')[0];
  return primary(documentLang) === primary(voiceLang);
}

/** A voice for a document in `language`: the default model's default voice when it speaks it,
 *  else the first available voice that does (the default model's first); null if none. */
export function proposeVoice(models: ModelInfo[], language: string): Voice | null {
  const ordered = [...models].sort((a, b) => Number(b.slug === DEFAULT_MODEL) - Number(a.slug === DEFAULT_MODEL));
  for (const model of ordered) {
    const speaks = model.voices.filter((v) => isAvailable(model, v) && sameLanguage(language, v.lang));
    const voice = speaks.find((v) => v.slug === model.default_voice) ?? speaks[0];
    if (voice) return { model: model.slug, voice: voice.slug };
  }
  return null;
}

/** The sentence a voice's preview says, in the voice's language. */
const SAMPLES: Record<string, string> = {
  en: 'Hello! This is how I sound when I read to you.',
  es: '¡Hola! Así sueno cuando te leo en voz alta.',
  fr: 'Bonjour ! Voici ma voix quand je vous fais la lecture.',
  hi: 'नमस्ते! जब मैं आपको पढ़कर सुनाती हूँ, तो मेरी आवाज़ ऐसी लगती है।',
  it: 'Ciao! Ecco come suono quando ti leggo ad alta voce.',
  pt: 'Olá! É assim que eu soo quando leio para você.',
  ja: 'こんにちは。これが、あなたに読み聞かせるときの私の声です。',
  zh: '你好！这就是我为你朗读时的声音。',
};

export function previewSentence(lang: string): string {
  return SAMPLES[lang.toLowerCase().split('-')[0]] ?? SAMPLES.en;
}
