import { useCallback, useEffect, useState } from 'preact/hooks';

import { ApiError, api, type DocumentSummary } from '../api/client';
import { formatChars, formatDate, hostOf } from '../lib/format';
import { navigate, onLinkClick } from '../lib/router';
import { remembered } from '../lib/storage';
import { NewDocument } from './NewDocument';
import { Pronunciations } from './Pronunciations';

const PAGE = 50;

export function Library({ onUnauthorized }: { onUnauthorized: () => void }) {
  const [documents, setDocuments] = useState<DocumentSummary[] | null>(null);
  const [nextOffset, setNextOffset] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);

  const fail = useCallback(
    (e: unknown) => {
      if (e instanceof ApiError && e.status === 401) onUnauthorized();
      else setError(e instanceof Error ? e.message : String(e));
    },
    [onUnauthorized],
  );

  const load = useCallback(
    async (offset: number) => {
      try {
        const page = await api.documents(PAGE, offset);
        setDocuments((old) => (offset === 0 ? page.documents : [...(old ?? []), ...page.documents]));
        setNextOffset(page.next_offset);
        setError(null);
      } catch (e) {
        fail(e);
      }
    },
    [fail],
  );

  useEffect(() => {
    void load(0);
  }, [load]);

  const remove = async (doc: DocumentSummary) => {
    setConfirming(null);
    try {
      await api.deleteDocument(doc.id);
      remembered.forget(doc.id);
      setDocuments((old) => (old ?? []).filter((d) => d.id !== doc.id));
    } catch (e) {
      fail(e);
    }
  };

  return (
    <div class="library">
      <NewDocument onCreated={(doc) => navigate(`/d/${doc.id}`)} />
      <section aria-labelledby="library-title">
        <h1 id="library-title">Your library</h1>
        {error && <p class="error" role="alert">{error}</p>}
        {documents === null && !error && <p class="muted" role="status">Loading…</p>}
        {documents?.length === 0 && <p class="muted">Nothing here yet. Paste some text or a link above.</p>}
        <ul class="documents">
          {documents?.map((doc) => (
            <li key={doc.id} class="document-row">
              <div class="document-main">
                <a class="document-title" href={`/d/${doc.id}`} onClick={onLinkClick}>{doc.title}</a>
                <p class="muted small">
                  {doc.source_url ? <span title={doc.source_url}>{hostOf(doc.source_url)}</span> : <span>Pasted text</span>}
                  {' · '}
                  {formatChars(doc.char_count)}
                  {' · '}
                  <time dateTime={doc.created_at}>{formatDate(doc.created_at)}</time>
                </p>
              </div>
              {confirming === doc.id ? (
                <div class="confirm" role="group" aria-label={`Delete ${doc.title}?`}>
                  <span class="small">Delete?</span>
                  <button type="button" class="danger" onClick={() => void remove(doc)}>Delete</button>
                  <button type="button" onClick={() => setConfirming(null)}>Keep</button>
                </div>
              ) : (
                <button type="button" class="quiet" aria-label={`Delete ${doc.title}`} onClick={() => setConfirming(doc.id)}>
                  Delete
                </button>
              )}
            </li>
          ))}
        </ul>
        {nextOffset !== null && (
          <button type="button" onClick={() => void load(nextOffset)}>Show more</button>
        )}
      </section>
      <Pronunciations onUnauthorized={onUnauthorized} />
    </div>
  );
}
