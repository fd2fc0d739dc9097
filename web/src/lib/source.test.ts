import { describe, expect, it } from 'vitest';

import { guessSource } from './source';

describe('guessSource', () => {
  it('reads a single http(s) URL as a link', () => {
    expect(guessSource('  https://example.org/a?b=1 \n')).toEqual({ kind: 'url', url: 'https://example.org/a?b=1' });
    expect(guessSource('http://127.0.0.1:8080/x')).toEqual({ kind: 'url', url: 'http://127.0.0.1:8080/x' });
  });

  it('reads a bare domain as an https link', () => {
    expect(guessSource('example.org/post')).toEqual({ kind: 'url', url: 'https://example.org/post' });
  });

  it('reads anything else as text', () => {
    expect(guessSource('Hello there. See https://example.org')).toMatchObject({ kind: 'text' });
    expect(guessSource('ftp://example.org/file')).toMatchObject({ kind: 'text' });
    expect(guessSource('word')).toMatchObject({ kind: 'text' });
    expect(guessSource('   ')).toEqual({ kind: 'empty' });
  });
});
