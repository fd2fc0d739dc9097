// Notices a new deployment while the page is open: polls /api/version every minute and when the
// page comes back into view, and reports when the answer differs from the one at load.

import { useEffect, useState } from 'preact/hooks';

import { api, type Version } from '../api/client';

const POLL_MS = 60_000;

/** Remembers the first version it sees; `check` is true once a later one differs. Failed
 *  fetches (offline, a restart in progress) change nothing. */
export class VersionWatcher {
  private first: string | null = null;

  constructor(private readonly fetchVersion: () => Promise<Version>) {}

  async check(): Promise<boolean> {
    let version: Version;
    try {
      version = await this.fetchVersion();
    } catch {
      return false;
    }
    const key = `${version.version}|${version.commit}|${version.built_at}`;
    if (this.first === null) this.first = key;
    return key !== this.first;
  }
}

export function useNewVersionAvailable(): boolean {
  const [changed, setChanged] = useState(false);
  useEffect(() => {
    const watcher = new VersionWatcher(api.version);
    let stopped = false;
    const check = async () => {
      if (stopped || document.visibilityState === 'hidden') return;
      if (await watcher.check()) setChanged(true);
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
