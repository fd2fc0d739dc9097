/** Voice blends as the gateway reads them (proto crate, `blend`): `af_bella(2)+af_sky(1)`.
 *  The player sends the canonical spelling, because the server reports a blend's audio under
 *  that spelling and the engine matches statuses by voice. */

export const MAX_BLEND_VOICES = 8;

export type BlendResult = { ok: true; voice: string; voices: string[] } | { ok: false; error: string };

const SLUG = /^[a-z0-9_-]+$/;

/** Parses and canonicalises a blend: voices in slug order, shares summing to 1 with at most
 *  three decimals (halves rounded up), a single voice as its bare slug. */
export function canonicalBlend(spec: string): BlendResult {
  if (!spec.trim()) return { ok: false, error: 'the voice is empty' };
  const terms = spec.split('+').map((t) => t.trim());
  if (terms.length > MAX_BLEND_VOICES) {
    return { ok: false, error: `a blend may mix at most ${MAX_BLEND_VOICES} voices, not ${terms.length}` };
  }
  const weights = new Map<string, number>();
  for (const term of terms) {
    const match = /^([^()]*)(?:\(([^()]*)\))?$/.exec(term);
    const slug = match?.[1].trim() ?? '';
    if (!match || !SLUG.test(slug)) {
      return { ok: false, error: `"${term}" is not a voice with an optional weight, like af_bella(2)` };
    }
    const weight = match[2] === undefined ? 1 : Number(match[2].trim());
    if (!Number.isFinite(weight) || weight <= 0 || match[2]?.trim() === '') {
      return { ok: false, error: `the weight of ${slug} must be a number above 0` };
    }
    weights.set(slug, (weights.get(slug) ?? 0) + weight);
  }
  const slugs = [...weights.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (slugs.length === 1) return { ok: true, voice: slugs[0], voices: slugs };
  const total = [...weights.values()].reduce((a, b) => a + b, 0);
  const parts: string[] = [];
  for (const slug of slugs) {
    const thousandths = Math.round(((weights.get(slug) ?? 0) / total) * 1000);
    if (thousandths === 0) {
      return { ok: false, error: `${slug} would make up less than a thousandth of the mix` };
    }
    const share = thousandths === 1000 ? '1' : `0.${String(thousandths).padStart(3, '0')}`.replace(/0+$/, '');
    parts.push(`${slug}(${share})`);
  }
  return { ok: true, voice: parts.join('+'), voices: slugs };
}
