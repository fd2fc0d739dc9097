import { useCallback, useState } from 'preact/hooks';

import { ApiError, api, type Pronunciation } from '../api/client';

/** The user's pronunciation lexicon: words the voices get wrong and what to say instead
 *  (docs/api.md, "Your pronunciations"). Folded away until opened; loaded when opened. */
export function Pronunciations({ onUnauthorized }: { onUnauthorized: () => void }) {
  const [entries, setEntries] = useState<Pronunciation[] | null>(null);
  const [word, setWord] = useState('');
  const [say, setSay] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const fail = useCallback(
    (e: unknown) => {
      if (e instanceof ApiError && e.status === 401) onUnauthorized();
      else setError(e instanceof Error ? e.message : String(e));
    },
    [onUnauthorized],
  );

  const load = async () => {
    try {
      setEntries((await api.pronunciations()).pronunciations);
      setError(null);
    } catch (e) {
      fail(e);
    }
  };

  const add = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      const stored = await api.setPronunciation(word, say);
      setEntries((old) =>
        [...(old ?? []).filter((e) => e.word !== stored.word), stored].sort((a, b) => a.word.localeCompare(b.word)),
      );
      setWord('');
      setSay('');
      setError(null);
    } catch (e) {
      fail(e);
    } finally {
      setBusy(false);
    }
  };

  const remove = async (entry: Pronunciation) => {
    try {
      await api.deletePronunciation(entry.word);
      setEntries((old) => (old ?? []).filter((e) => e.word !== entry.word));
    } catch (e) {
      fail(e);
    }
  };

  return (
    <details
      class="pronunciations"
      onToggle={(event) => {
        if ((event.currentTarget as HTMLDetailsElement).open && entries === null) void load();
      }}
    >
      <summary>Pronunciations</summary>
      <p class="muted small">
        Words the voices get wrong, and what to say instead. New readings use them (reopen a document that is
        playing).
      </p>
      {error && <p class="error" role="alert">{error}</p>}
      {entries?.length === 0 && <p class="muted small">None yet.</p>}
      <ul class="documents">
        {entries?.map((entry) => (
          <li key={entry.word} class="document-row">
            <div class="document-main">
              <strong>{entry.word}</strong> <span class="muted">→ {entry.say}</span>
            </div>
            <button type="button" class="quiet" aria-label={`Remove ${entry.word}`} onClick={() => void remove(entry)}>
              Remove
            </button>
          </li>
        ))}
      </ul>
      <form class="pronunciation-form" onSubmit={(event) => void add(event)}>
        <label>
          Word <input value={word} onInput={(e) => setWord(e.currentTarget.value)} required maxLength={48} />
        </label>
        <label>
          Say <input value={say} onInput={(e) => setSay(e.currentTarget.value)} required maxLength={200} />
        </label>
        <button type="submit" disabled={busy}>Save</button>
      </form>
    </details>
  );
}
