// What the one "new document" box holds: a link to fetch, or text to read.

export type SourceGuess = { kind: 'empty' } | { kind: 'url'; url: string } | { kind: 'text'; text: string };

/** A single line that parses as an http(s) URL is a link; anything else is text. A bare
 *  `example.org/page` counts too, read as https. */
export function guessSource(input: string): SourceGuess {
  const trimmed = input.trim();
  if (!trimmed) return { kind: 'empty' };
  if (/\s/.test(trimmed)) return { kind: 'text', text: input };
  const candidate = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : null;
  if (candidate) {
    try {
      const url = new URL(candidate);
      if (url.protocol === 'http:' || url.protocol === 'https:') return { kind: 'url', url: url.href };
    } catch {
      return { kind: 'text', text: input };
    }
    return { kind: 'text', text: input };
  }
  if (/^(www\.)?[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}(\/\S*)?$/i.test(trimmed)) {
    return { kind: 'url', url: new URL('https://' + trimmed).href };
  }
  return { kind: 'text', text: input };
}
