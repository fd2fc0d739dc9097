import { describe, expect, it } from 'vitest';

import { canonicalBlend } from './blend';

const canonical = (spec: string) => {
  const result = canonicalBlend(spec);
  return result.ok ? result.voice : `error: ${result.error}`;
};

describe('canonicalBlend', () => {
  it('spells a blend as the gateway does', () => {
    expect(canonical('af_heart')).toBe('af_heart');
    expect(canonical(' af_heart(3) ')).toBe('af_heart');
    expect(canonical('af_bella(2)+af_sky(1)')).toBe('af_bella(0.667)+af_sky(0.333)');
    expect(canonical('af_sky + af_bella(2)')).toBe('af_bella(0.667)+af_sky(0.333)');
    expect(canonical('af_bella+af_sky')).toBe('af_bella(0.5)+af_sky(0.5)');
    expect(canonical('af_bella(1)+af_sky(15)')).toBe('af_bella(0.063)+af_sky(0.938)');
    expect(canonical('af_bella(0.667)+af_sky(0.333)')).toBe('af_bella(0.667)+af_sky(0.333)');
  });

  it('says what is wrong with a bad blend', () => {
    expect(canonical('af_bella(0)+af_sky')).toMatch(/weight of af_bella must be a number above 0/);
    expect(canonical('af_bella(two)')).toMatch(/weight of af_bella/);
    expect(canonical('af_bella(2+af_sky')).toMatch(/not a voice with an optional weight/);
    expect(canonical('AF_Bella')).toMatch(/not a voice/);
    expect(canonical(Array(9).fill('af_heart').join('+'))).toMatch(/at most 8/);
    expect(canonical('af_bella(1)+af_sky(5000)')).toMatch(/less than a thousandth/);
    expect(canonical(' ')).toMatch(/empty/);
  });
});
