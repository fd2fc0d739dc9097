import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';

import { ApiError, api, type DocumentDetail, type ModelInfo } from '../api/client';
import { SynthesisConnection, browserSocketFactory } from '../engine/connection';
import { MAX_RATE, MIN_RATE, PlaybackEngine, type EngineSnapshot, type Voice } from '../engine/engine';
import { onLinkClick } from '../lib/router';
import { remembered } from '../lib/storage';
import { BlockList } from './BlockList';
import { PlayerBar } from './PlayerBar';
import { useWordHighlight } from './wordHighlight';
import { languageName, pickVoice, proposeVoice, sameLanguage, voiceInfo } from './voices';

const RATE_STEP = 0.25;

export function Player({ documentId, onUnauthorized }: { documentId: string; onUnauthorized: () => void }) {
  const [doc, setDoc] = useState<DocumentDetail | null>(null);
  const [models, setModels] = useState<ModelInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [snapshot, setSnapshot] = useState<EngineSnapshot | null>(null);
  const audioHost = useRef<HTMLDivElement>(null);
  const engineRef = useRef<PlaybackEngine | null>(null);

  useEffect(() => {
    let cancelled = false;
    Promise.all([api.document(documentId), api.models()])
      .then(([detail, catalogue]) => {
        if (cancelled) return;
        setDoc(detail);
        setModels(catalogue.models);
      })
      .catch((e: unknown) => {
        if (cancelled) return;
        if (e instanceof ApiError && e.status === 401) onUnauthorized();
        else setError(e instanceof Error ? e.message : String(e));
      });
    return () => {
      cancelled = true;
    };
  }, [documentId, onUnauthorized]);

  // One engine per open document; its audio elements live in the page (hidden) so that tests
  // and the browser's media controls see them.
  useEffect(() => {
    const host = audioHost.current;
    if (!doc || !host) return;
    const connection = new SynthesisConnection(browserSocketFactory());
    const engine = new PlaybackEngine({
      connection,
      createAudio: () => {
        const audio = document.createElement('audio');
        audio.preload = 'auto';
        host.appendChild(audio);
        return audio;
      },
      wholeBlocks: remembered.wholeBlocks(),
      headFirst: true,
    });
    engineRef.current = engine;
    engine.setRate(remembered.rate());
    engine.load(
      {
        id: doc.id,
        blocks: doc.blocks.map((b) => ({ idx: b.idx, speakable: b.speakable, chars: b.text.length })),
      },
      remembered.position(doc.id),
    );
    const unsubscribe = engine.subscribe(setSnapshot);
    const reconnect = () => connection.reconnectNow();
    const onVisible = () => document.visibilityState === 'visible' && reconnect();
    window.addEventListener('online', reconnect);
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      window.removeEventListener('online', reconnect);
      document.removeEventListener('visibilitychange', onVisible);
      unsubscribe();
      engine.destroy();
      engineRef.current = null;
      host.replaceChildren();
    };
    // `models` arrives with `doc`; it only gates the first render of the audio host.
  }, [doc, models !== null]);

  // The voice: the saved one if it is available, else the first available voice of kokoro.
  const voice = useMemo(() => (models ? pickVoice(models, remembered.voice()) : null), [models]);
  const [chosenVoice, setChosenVoice] = useState<Voice | null>(null);
  const activeVoice = chosenVoice ?? voice;
  useEffect(() => {
    if (activeVoice && snapshot) engineRef.current?.setVoice(activeVoice);
  }, [activeVoice, snapshot !== null]);

  useEffect(() => {
    if (!doc) return;
    document.title = `${doc.title} · yapit`;
    return () => {
      document.title = 'yapit';
    };
  }, [doc]);

  const cursor = snapshot?.cursor ?? 0;
  useEffect(() => {
    if (doc && snapshot) remembered.setPosition(doc.id, cursor);
  }, [doc, cursor, snapshot !== null]);

  useEffect(() => {
    if (snapshot?.connection === 'auth-failed') onUnauthorized();
  }, [snapshot?.connection, onUnauthorized]);

  const pickBlock = useCallback((idx: number) => engineRef.current?.seek(idx, { play: true }), []);
  const blockList = useCallback(() => document.querySelector<HTMLElement>('.blocks'), []);
  const pickWord = useWordHighlight(engineRef.current, snapshot, blockList);

  useMediaSession(doc, snapshot, engineRef);
  useKeyboard(engineRef);

  if (error) {
    return (
      <div class="panel" role="alert">
        <p>{error}</p>
        <p><a href="/" onClick={onLinkClick}>Back to your library</a></p>
      </div>
    );
  }
  if (!doc || !models) return <p class="muted center" role="status">Loading…</p>;

  const engine = engineRef.current;
  const setRate = (rate: number) => {
    engine?.setRate(rate);
    remembered.setRate(engine?.snapshot().rate ?? rate);
  };
  const setVoice = (next: Voice) => {
    remembered.setVoice(next);
    setChosenVoice(next);
  };

  return (
    <div class="player">
      <header class="document-header">
        <h1>{doc.title}</h1>
        {doc.source_url && (
          <p class="muted small">
            <a href={doc.source_url} target="_blank" rel="noopener noreferrer">{doc.source_url}</a>
          </p>
        )}
      </header>
      {models && activeVoice && doc.language && (
        <LanguageHint language={doc.language} models={models} voice={activeVoice} onVoice={setVoice} />
      )}
      {snapshot && (
        <BlockList
          blocks={doc.blocks}
          cursor={snapshot.cursor}
          states={snapshot.blocks}
          playing={snapshot.state === 'playing' || snapshot.state === 'buffering'}
          onPick={pickBlock}
          onPickWord={pickWord}
        />
      )}
      <div ref={audioHost} class="audio-host" hidden data-testid="audio-host" />
      {snapshot && engine && (
        <PlayerBar
          engine={engine}
          snapshot={snapshot}
          blockCount={doc.blocks.length}
          models={models}
          voice={activeVoice}
          onVoice={setVoice}
          onRate={setRate}
        />
      )}
    </div>
  );
}

/** Warns when the voice speaks another language than the document and offers one that
 *  speaks it (the document's language is detected by the gateway). */
function LanguageHint({
  language,
  models,
  voice,
  onVoice,
}: {
  language: string;
  models: ModelInfo[];
  voice: Voice;
  onVoice: (voice: Voice) => void;
}) {
  const current = voiceInfo(models, voice);
  if (!current || sameLanguage(language, current.lang)) return null;
  const proposal = proposeVoice(models, language);
  const proposed = proposal ? voiceInfo(models, proposal) : null;
  return (
    <p class="language-hint small" role="note">
      This document looks {languageName(language)}, but {current.name} speaks {languageName(current.lang)}.{' '}
      {proposal && proposed ? (
        <button type="button" class="link-button" onClick={() => onVoice(proposal)}>
          Read it with {proposed.name} ({languageName(proposed.lang)})
        </button>
      ) : (
        'No voice here speaks it.'
      )}
    </p>
  );
}

function useMediaSession(
  doc: DocumentDetail | null,
  snapshot: EngineSnapshot | null,
  engineRef: { current: PlaybackEngine | null },
) {
  const supported = typeof navigator !== 'undefined' && 'mediaSession' in navigator;
  useEffect(() => {
    if (!supported || !doc) return;
    const session = navigator.mediaSession;
    session.metadata = new MediaMetadata({ title: doc.title, artist: 'yapit', album: doc.source_url ?? 'Pasted text' });
    const actions: Array<[MediaSessionAction, MediaSessionActionHandler]> = [
      ['play', () => engineRef.current?.play()],
      ['pause', () => engineRef.current?.pause()],
      ['stop', () => engineRef.current?.pause()],
      ['previoustrack', () => engineRef.current?.previous()],
      ['nexttrack', () => engineRef.current?.next()],
    ];
    for (const [action, handler] of actions) {
      try {
        session.setActionHandler(action, handler);
      } catch {
        // an action this browser does not know
      }
    }
    return () => {
      for (const [action] of actions) {
        try {
          session.setActionHandler(action, null);
        } catch {
          // as above
        }
      }
      session.metadata = null;
      session.playbackState = 'none';
    };
  }, [doc, supported]);
  const state = snapshot?.state;
  useEffect(() => {
    if (!supported || !state) return;
    navigator.mediaSession.playbackState = state === 'playing' || state === 'buffering' ? 'playing' : 'paused';
  }, [state, supported]);
}

function useKeyboard(engineRef: { current: PlaybackEngine | null }) {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const engine = engineRef.current;
      if (!engine || event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target as HTMLElement | null;
      const tag = target?.tagName;
      // Typing, choosing and dragging keep their keys; a focused button keeps space and Enter.
      const onSeekBar = target instanceof HTMLInputElement && target.type === 'range';
      if (onSeekBar && event.key === ' ') {
        // The seek bar has no use for space: play/pause as everywhere else.
      } else if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || target?.isContentEditable) {
        return;
      }
      if (event.key === ' ' && (tag === 'BUTTON' || tag === 'A')) return;
      const rate = engine.snapshot().rate;
      switch (event.key) {
        case ' ':
          engine.toggle();
          break;
        case 'ArrowRight':
        case 'j':
          engine.next();
          break;
        case 'ArrowLeft':
        case 'k':
          engine.previous();
          break;
        case '+':
        case '=':
          engine.setRate(Math.min(MAX_RATE, rate + RATE_STEP));
          remembered.setRate(engine.snapshot().rate);
          break;
        case '-':
        case '_':
          engine.setRate(Math.max(MIN_RATE, rate - RATE_STEP));
          remembered.setRate(engine.snapshot().rate);
          break;
        default:
          return;
      }
      event.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [engineRef]);
}
