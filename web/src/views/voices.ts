import type { ModelInfo, VoiceInfo } from '../api/client';
import type { Voice } from '../engine/engine';

export const DEFAULT_MODEL = 'kokoro';

/** A voice is usable when neither it nor its model is marked unavailable (older gateways send
 *  no flags: then every voice counts as available). */
export function isAvailable(model: ModelInfo, voice: VoiceInfo): boolean {
  return model.available !== false && voice.available !== false;
}

/** The saved voice while it is still available; else the default model's first available voice;
 *  else any available voice; else null (nothing can be played). */
export function pickVoice(models: ModelInfo[], saved: Voice | null): Voice | null {
  if (saved) {
    const model = models.find((m) => m.slug === saved.model);
    const voice = model?.voices.find((v) => v.slug === saved.voice);
    if (model && voice && isAvailable(model, voice)) return saved;
  }
  const ordered = [...models].sort((a, b) => Number(b.slug === DEFAULT_MODEL) - Number(a.slug === DEFAULT_MODEL));
  for (const model of ordered) {
    const voice = model.voices.find((v) => isAvailable(model, v));
    if (voice) return { model: model.slug, voice: voice.slug };
  }
  return null;
}
