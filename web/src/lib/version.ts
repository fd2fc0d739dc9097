// Notices a new deployment while the page is open: polls /api/version every minute and when the
// page comes back into view, and reports when the answer differs from the one at load.

import { useEffect, useState } from 'preact/hooks';

import { api, type Version } from '../api/client';

const POLL_MS = 60_000;

function key(version: Version): string {
  return `${version.version}|${version.commit}|${version.built_at}`;
}

export function useNewVersionAvailable(): boolean {
  const [changed, setChanged] = useState(false);
  useEffect(() => {
    let first: string | null = null;
    let stopped = false;
    const check = async () => {
      if (stopped || document.visibilityState === 'hidden') return;
      try {
        const now = key(await api.version());
        if (first === null) first = now;
        else if (now !== first) setChanged(true);
      } catch {
        // offline or restarting: ask again next time
      }
    };
    void check();
    const timer = setInterval(check, POLL_MS);
    const onVisible = () => void check();
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      stopped = true;
      clearInterval(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, []);
  return changed;
}
