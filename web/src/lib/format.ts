export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const mm = hours > 0 ? String(minutes).padStart(2, '0') : String(minutes);
  return `${hours > 0 ? hours + ':' : ''}${mm}:${String(seconds).padStart(2, '0')}`;
}

export function formatChars(chars: number): string {
  // About 15 characters a second at 1× (see the engine's estimate).
  const minutes = Math.round(chars / 15 / 60);
  return `${chars.toLocaleString()} characters · ${minutes < 1 ? 'under a minute' : `~${minutes} min`}`;
}

export function formatDate(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? ''
    : date.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

export function hostOf(url: string | null): string | null {
  if (!url) return null;
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
