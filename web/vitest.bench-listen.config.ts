import { defineConfig } from 'vitest/config';

// `make bench-listen`: real Chromium against the real stack as `make dev` runs it (release
// binaries, two Kokoro replicas of two threads; see Makefile), which globalSetup starts and stops.
export default defineConfig({
  test: {
    include: ['bench/listen.ts'],
    globalSetup: ['e2e/stack.ts'],
    testTimeout: 900_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
});
