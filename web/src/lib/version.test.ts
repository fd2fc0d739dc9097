import { describe, expect, it } from 'vitest';

import type { Version } from '../api/client';
import { VersionWatcher } from './version';

describe('VersionWatcher', () => {
  it('reports a change of commit or build after the first answer, and ignores failures', async () => {
    const answers: Array<Version | Error> = [
      { version: '0.1.0', commit: 'aaa', built_at: '1' },
      new Error('offline'),
      { version: '0.1.0', commit: 'aaa', built_at: '1' },
      { version: '0.1.0', commit: 'bbb', built_at: '2' },
    ];
    const watcher = new VersionWatcher(async () => {
      const next = answers.shift()!;
      if (next instanceof Error) throw next;
      return next;
    });
    expect(await watcher.check()).toBe(false);
    expect(await watcher.check()).toBe(false);
    expect(await watcher.check()).toBe(false);
    expect(await watcher.check()).toBe(true);
  });
});
