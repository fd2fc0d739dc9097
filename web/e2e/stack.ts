// Starts the real stack for the end-to-end test and stops it afterwards, also when a test fails
// or the run is interrupted: Postgres and Redis (project-local, through scripts/), a database of
// its own, the Kokoro worker and the gateway binaries from target/debug, each on a free port.
// `make bench-listen` runs the same stack as `make dev` does: STACK_PROFILE=release (the release
// binaries) with KOKORO_REPLICAS workers of KOKORO_THREADS threads each.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    baseUrl: string;
    /** A second gateway on the same stack with AUTH_ENABLED=false (single-user mode). */
    singleUserUrl: string;
    artifactsDir: string;
  }
}

const web = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repo = resolve(web, '..');
export const artifactsDir = join(web, 'test-artifacts');
const logsDir = join(artifactsDir, 'logs');

const children: ChildProcess[] = [];
const cleanups: Array<() => void> = [];

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const result = spawnSync(command, args, { cwd: repo, env, encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr || result.stdout}`);
  }
  return result.stdout.trim();
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function start(name: string, binary: string, env: NodeJS.ProcessEnv): ChildProcess {
  if (!existsSync(binary)) {
    throw new Error(`${binary} is missing: build it first with \`cargo build --bins\` (--release for a bench)`);
  }
  const log = createWriteStream(join(logsDir, `${name}.log`));
  const child = spawn(binary, name.startsWith('worker') ? ['serve'] : [], {
    cwd: repo,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  child.on('exit', (code, signal) => {
    if (!stopping) console.error(`e2e: ${name} exited early (code ${code}, signal ${signal}); see ${log.path}`);
  });
  children.push(child);
  return child;
}

let stopping = false;

async function stopChildren(): Promise<void> {
  stopping = true;
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
          child.once('exit', () => {
            clearTimeout(force);
            done();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
  children.length = 0;
}

function killNow(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

async function waitFor(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const child of children) {
      if (child.exitCode !== null) throw new Error(`a process of the stack exited while waiting for ${what}; see ${logsDir}`);
    }
    try {
      if (await probe()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; see ${logsDir}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function ortLibrary(): string {
  if (process.env.ORT_DYLIB_PATH) return process.env.ORT_DYLIB_PATH;
  const lib = join(repo, '.venv', 'lib');
  for (const python of existsSync(lib) ? readdirSync(lib) : []) {
    const capi = join(lib, python, 'site-packages', 'onnxruntime', 'capi');
    const found = existsSync(capi) ? readdirSync(capi).find((f) => f.startsWith('libonnxruntime.so.')) : undefined;
    if (found) return join(capi, found);
  }
  throw new Error('ORT_DYLIB_PATH is not set and no onnxruntime wheel is in .venv (make setup installs it)');
}

/** A database of its own, dropped afterwards: the run never meets another checkout's migrations. */
function freshDatabase(serverUrl: string): string {
  const url = new URL(serverUrl);
  const name = `yapit_e2e_${randomBytes(4).toString('hex')}`;
  const bins = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b)) : [];
  const bin = bins.length ? join('/usr/lib/postgresql', bins[bins.length - 1], 'bin') : null;
  if (!bin) return serverUrl;
  const env = { ...process.env, PGPASSWORD: decodeURIComponent(url.password) };
  const common = ['-h', url.hostname, '-p', url.port, '-U', decodeURIComponent(url.username)];
  run(join(bin, 'createdb'), [...common, name], env);
  cleanups.push(() => {
    spawnSync(join(bin, 'dropdb'), [...common, '--if-exists', '--force', name], { env });
  });
  url.pathname = `/${name}`;
  return url.toString();
}

export default async function setup(project: TestProject) {
  mkdirSync(logsDir, { recursive: true });
  // An interrupted run (Ctrl-C, SIGTERM) never reaches the teardown: Vitest answers the signal
  // with process.exit(), and an exit inside an exit skips the remaining listeners, so ours goes
  // first and does everything synchronously.
  process.prependOnceListener('exit', () => {
    killNow();
    runCleanups();
  });
  try {
    const databaseUrl = freshDatabase(run(join(repo, 'scripts', 'postgres.sh'), ['start']));
    const redisUrl = run(join(repo, 'scripts', 'redis.sh'), ['start']);
    const audioDir = mkdtempSync(join(tmpdir(), 'yapit-e2e-audio-'));
    cleanups.push(() => rmSync(audioDir, { recursive: true, force: true }));
    const profile = process.env.STACK_PROFILE === 'release' ? 'release' : 'debug';
    // The end-to-end test runs one debug worker; a bench the replicas `make dev` runs.
    const replicas = profile === 'release' ? Math.max(1, Number(process.env.KOKORO_REPLICAS ?? '2') || 2) : 1;
    const gatewayPort = await freePort();
    const quiet = { RUST_LOG: process.env.RUST_LOG ?? 'info', LOG_FORMAT: 'text' };

    const workerUrls: string[] = [];
    for (let i = 0; i < replicas; i += 1) {
      const workerPort = await freePort();
      start(i === 0 ? 'worker' : `worker-${i + 1}`, join(repo, 'target', profile, 'tts-kokoro-worker'), {
        ...process.env,
        ...quiet,
        ORT_DYLIB_PATH: ortLibrary(),
        KOKORO_ADDR: `127.0.0.1:${workerPort}`,
        KOKORO_MODEL_DIR: join(repo, 'models'),
        KOKORO_THREADS: process.env.KOKORO_THREADS ?? '2',
      });
      workerUrls.push(`http://127.0.0.1:${workerPort}`);
    }
    const gatewayEnv = {
      ...process.env,
      ...quiet,
      GATEWAY_ADDR: `127.0.0.1:${gatewayPort}`,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: `e2e-${randomBytes(4).toString('hex')}:`,
      TTS_WORKERS: workerUrls.join(','),
      AUDIO_DIR: audioDir,
      WEB_DIR: join(web, 'dist'),
      FETCH_ALLOW: '127.0.0.1/32',
    };
    const gatewayBinary = join(repo, 'target', profile, 'gateway');
    start('gateway', gatewayBinary, gatewayEnv);

    const baseUrl = `http://127.0.0.1:${gatewayPort}`;
    await waitFor('the gateway (/api/health)', 120_000, async () => (await fetch(`${baseUrl}/api/health`)).ok);
    // Started once the first has applied the migrations, so the two never race for them.
    const singleUserPort = await freePort();
    start('gateway-single-user', gatewayBinary, {
      ...gatewayEnv,
      GATEWAY_ADDR: `127.0.0.1:${singleUserPort}`,
      AUTH_ENABLED: 'false',
      SEED_ON_START: 'false',
    });
    const singleUserUrl = `http://127.0.0.1:${singleUserPort}`;
    await waitFor('the single-user gateway', 120_000, async () => (await fetch(`${singleUserUrl}/api/health`)).ok);
    await waitFor('the kokoro model to be available (/v1/models)', 180_000, async () => {
      const body = (await (await fetch(`${baseUrl}/v1/models`)).json()) as {
        models: Array<{ slug: string; available?: boolean; voices: Array<{ available?: boolean }> }>;
      };
      const kokoro = body.models.find((m) => m.slug === 'kokoro');
      return !!kokoro && kokoro.available !== false && kokoro.voices.some((v) => v.available === true);
    });

    project.provide('baseUrl', baseUrl);
    project.provide('singleUserUrl', singleUserUrl);
    project.provide('artifactsDir', artifactsDir);
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}

function runCleanups(): void {
  for (const cleanup of cleanups.splice(0)) {
    try {
      cleanup();
    } catch {
      // best effort: a leftover temp folder is no reason to fail the run
    }
  }
}

async function teardown(): Promise<void> {
  await stopChildren();
  runCleanups();
}
