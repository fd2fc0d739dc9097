import { useState } from 'preact/hooks';

import { ApiError, api, type DocumentSummary } from '../api/client';
import { guessSource } from '../lib/source';

export function NewDocument({ onCreated }: { onCreated: (doc: DocumentSummary) => void }) {
  const [input, setInput] = useState('');
  const [title, setTitle] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const guess = guessSource(input);

  const submit = async (event: Event) => {
    event.preventDefault();
    if (guess.kind === 'empty') {
      setError('Paste some text or a link first.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const source = guess.kind === 'url' ? { url: guess.url } : { text: guess.text };
      const doc = await api.createDocument(source, title.trim() || undefined);
      setInput('');
      setTitle('');
      onCreated(doc);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : 'Something went wrong. Try again.');
    } finally {
      setBusy(false);
    }
  };

  const hint =
    guess.kind === 'url'
      ? "Looks like a link — we'll fetch the page and read its article."
      : guess.kind === 'text'
        ? `Looks like text — ${guess.text.trim().length.toLocaleString()} characters, read as Markdown.`
        : 'Paste text (Markdown works) or a link to a web page.';

  return (
    <form class="panel new-document" onSubmit={submit} aria-labelledby="new-title">
      <h2 id="new-title">Add a document</h2>
      <label for="source">Text or link</label>
      <textarea
        id="source"
        name="source"
        rows={5}
        value={input}
        onInput={(e) => setInput(e.currentTarget.value)}
        placeholder="Paste text or a link"
        aria-describedby="source-hint"
      />
      <p id="source-hint" class="muted small" aria-live="polite" data-kind={guess.kind}>{hint}</p>
      <label>
        <span>
          Title <span class="muted">(optional)</span>
        </span>
        <input type="text" name="title" maxLength={300} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
      </label>
      {error && <p class="error" role="alert">{error}</p>}
      <button type="submit" class="primary" disabled={busy || guess.kind === 'empty'}>
        {busy ? (guess.kind === 'url' ? 'Fetching the page…' : 'Adding…') : 'Add and listen'}
      </button>
    </form>
  );
}
