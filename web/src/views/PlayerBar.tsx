import { useState } from 'preact/hooks';

import type { ModelInfo } from '../api/client';
import { MAX_RATE, MIN_RATE, waitingMessage, type EngineSnapshot, type PlaybackEngine, type Voice } from '../engine/engine';
import { formatDuration } from '../lib/format';
import { api } from '../api/client';
import { blendVoice, isAvailable, previewSentence, voiceGroups, voiceInfo } from './voices';

const RATES = Array.from({ length: (MAX_RATE - MIN_RATE) / 0.25 + 1 }, (_, i) => MIN_RATE + i * 0.25);

interface PlayerBarProps {
  engine: PlaybackEngine;
  snapshot: EngineSnapshot;
  blockCount: number;
  models: ModelInfo[];
  voice: Voice | null;
  onVoice: (voice: Voice) => void;
  onRate: (rate: number) => void;
}

export function PlayerBar({ engine, snapshot, blockCount, models, voice, onVoice, onRate }: PlayerBarProps) {
  const [dragging, setDragging] = useState<number | null>(null);
  const [mixing, setMixing] = useState(false);
  const [mixError, setMixError] = useState<string | null>(null);
  const [previewing, setPreviewing] = useState<string | null>(null);
  const preview = async () => {
    if (!voice) return;
    const lang = voiceInfo(models, voice)?.lang ?? 'en';
    setPreviewing('Preparing a sample…');
    try {
      const blob = await api.speech(voice.model, voice.voice, previewSentence(lang));
      const url = URL.createObjectURL(blob);
      const audio = new Audio(url);
      audio.onended = () => URL.revokeObjectURL(url);
      await audio.play();
      setPreviewing(null);
    } catch (e) {
      setPreviewing(e instanceof Error ? e.message : String(e));
    }
  };
  const listed = voice !== null && models.some((m) => m.slug === voice.model && m.voices.some((v) => v.slug === voice.voice));
  const applyMix = (spec: string) => {
    const model = models.find((m) => m.slug === (voice?.model ?? 'kokoro'));
    const result = model ? blendVoice(model, spec) : { ok: false as const, error: 'no model to blend voices of' };
    if (!result.ok) {
      setMixError(result.error);
      return;
    }
    setMixError(null);
    setMixing(false);
    onVoice(result.voice);
  };
  const active = snapshot.state === 'playing' || snapshot.state === 'buffering';
  const { elapsedMs, totalMs } = engine.timing();
  const rate = snapshot.rate;
  const position = dragging ?? snapshot.cursor;
  const rates = RATES.includes(rate) ? RATES : [...RATES, rate].sort((a, b) => a - b);

  let status: string | null = null;
  if (!voice) status = 'No voice is available right now: no synthesis worker is running.';
  else if (snapshot.connection === 'reconnecting') status = 'Connection lost — reconnecting…';
  else if (snapshot.state === 'buffering') status = waitingMessage(snapshot);
  else if (snapshot.state === 'ended') status = 'Finished.';

  return (
    <section class="player-bar" aria-label="Player">
      <div class="bar-progress">
        <span class="time" data-testid="elapsed">{formatDuration(elapsedMs / rate)}</span>
        <input
          type="range"
          class="seek"
          min={0}
          max={Math.max(0, blockCount - 1)}
          step={1}
          value={position}
          aria-label="Position in the document"
          aria-valuetext={`Passage ${position + 1} of ${blockCount}`}
          onInput={(e) => setDragging(Number(e.currentTarget.value))}
          onChange={(e) => {
            setDragging(null);
            engine.seek(Number(e.currentTarget.value));
          }}
        />
        <span class="time" data-testid="total" title="Estimated total at this speed">~{formatDuration(totalMs / rate)}</span>
      </div>
      <div class="bar-controls">
        <button type="button" class="icon" aria-label="Previous passage" title="Previous passage (← or k)" onClick={() => engine.previous()}>
          <Icon path="M6 5h2v14H6zM20 5v14L9 12z" />
        </button>
        <button
          type="button"
          class="icon play"
          aria-label={active ? 'Pause' : 'Play'}
          title={active ? 'Pause (space)' : 'Play (space)'}
          data-state={snapshot.state}
          disabled={!voice}
          onClick={() => engine.toggle()}
        >
          {active ? <Icon path="M7 5h4v14H7zM13 5h4v14h-4z" /> : <Icon path="M8 5v14l11-7z" />}
        </button>
        <button type="button" class="icon" aria-label="Next passage" title="Next passage (→ or j)" onClick={() => engine.next()}>
          <Icon path="M16 5h2v14h-2zM4 5v14l11-7z" />
        </button>
        <label class="select-label">
          <span class="visually-hidden">Speed</span>
          <select class="speed" value={String(rate)} title="Speed (+ and -)" onChange={(e) => onRate(Number(e.currentTarget.value))}>
            {rates.map((r) => (
              <option key={r} value={String(r)}>{r}×</option>
            ))}
          </select>
        </label>
        <label class="select-label voice-label">
          <span class="visually-hidden">Voice</span>
          <select
            class="voice"
            value={voice ? `${voice.model}/${voice.voice}` : ''}
            onChange={(e) => {
              const [model, slug] = e.currentTarget.value.split('/');
              onVoice({ model, voice: slug });
            }}
          >
            {!voice && <option value="">No voice available</option>}
            {voice && !listed && <option value={`${voice.model}/${voice.voice}`}>Mix: {voice.voice}</option>}
            {voiceGroups(models).map(({ model, label, voices }) => (
              <optgroup key={label} label={label}>
                {voices.map((v) => {
                  const available = isAvailable(model, v);
                  return (
                    <option key={v.slug} value={`${model.slug}/${v.slug}`} disabled={!available}>
                      {v.name}{v.slug === model.default_voice ? ' (default)' : ''}{available ? '' : ' — unavailable'}
                    </option>
                  );
                })}
              </optgroup>
            ))}
          </select>
        </label>
        <button type="button" class="link-button mix-toggle" disabled={!voice} title="Hear a sample sentence in this voice" onClick={() => void preview()}>
          Preview
        </button>
        <button type="button" class="link-button mix-toggle" aria-expanded={mixing} onClick={() => setMixing(!mixing)}>
          Mix
        </button>
      </div>
      {mixing && (
        <form
          class="mix"
          onSubmit={(e) => {
            e.preventDefault();
            applyMix(String(new FormData(e.currentTarget).get('blend') ?? ''));
          }}
        >
          <label>
            Blend voices of one language, e.g. <code>af_bella(2)+af_sky(1)</code>{' '}
            <input name="blend" class="blend" defaultValue={voice?.voice ?? ''} spellcheck={false} />
          </label>{' '}
          <button type="submit">Use this mix</button>
          {mixError && <p class="error small" role="alert">{mixError}</p>}
        </form>
      )}
      <p class="bar-status small" role="status" aria-live="polite">
        {previewing ? (
          previewing
        ) : snapshot.notice ? (
          <>
            {snapshot.notice}{' '}
            <button type="button" class="link-button" onClick={() => engine.dismissNotice()}>Dismiss</button>
          </>
        ) : (
          status
        )}
      </p>
    </section>
  );
}

function Icon({ path }: { path: string }) {
  return (
    <svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" focusable="false">
      <path d={path} fill="currentColor" />
    </svg>
  );
}
