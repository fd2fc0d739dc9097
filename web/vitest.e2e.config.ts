import { defineConfig } from 'vitest/config';

// The end-to-end run: real Chromium against the real stack, which globalSetup starts and stops.
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.ts'],
    globalSetup: ['e2e/stack.ts'],
    testTimeout: 180_000,
    hookTimeout: 240_000,
    fileParallelism: false,
  },
});
