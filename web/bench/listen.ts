// `make bench-listen`: what a listener waits for. In headless Chromium against the real stack,
// on an article nobody has heard (its words are new each run, so nothing is cached): the time
// from the click on Play to the first audible progress of the audio, and the time playback
// stood still over the next BENCH_SECONDS (default 60) at 1× and 2×, once with segments (the
// player's default) and once with whole-block playback (`?playback=whole`, the player before
// segments). A benchmark, not a test: it prints a table and asserts nothing about times.

import { type Browser } from 'playwright-core';
import { afterAll, beforeAll, inject, it } from 'vitest';
import { launchChromium } from '../e2e/chromium';

const baseUrl = inject('singleUserUrl');
const SECONDS = Number(process.env.BENCH_SECONDS ?? '60') || 60;
/** Between runs: the previous run's block in the worker finishes, so runs do not share it. */
const SETTLE_MS = 10_000;
/** BENCH_TRACE=1: print what played when, and each stall with what the player said. */
const TRACE = process.env.BENCH_TRACE === '1';
/** Only some runs, e.g. BENCH_RUNS=segments@1 (default: segments and whole at 1 and 2). */
const RUNS = (process.env.BENCH_RUNS ?? 'segments@1,whole@1,segments@2,whole@2').split(',').map((r) => {
  const [mode, rate] = r.split('@');
  return { mode: mode === 'whole' ? ('whole' as const) : ('segments' as const), rate: Number(rate) || 1 };
});


const ANIMALS = ['heron', 'otter', 'badger', 'falcon', 'marten', 'plover', 'weasel', 'curlew'];

/** Six paragraphs (about 2,600 characters, some three minutes at 1×), new words per run. */
function article(run: number): string {
  const who = `${ANIMALS[run % ANIMALS.length]} number ${run + 1} of ${new Date().toISOString().slice(11, 19)}`;
  return [
    `The ${who} lived by a slow river that wound through meadows and old woods. Every morning it went down to the water before the sun was up, when the mist still lay over the reeds and the only sound was the river itself, moving quietly over the stones.`,
    `In spring the river rose with the melting snow from the hills. The ${who} watched the water climb the banks, carry branches past at speed, and spread into the fields, where for a few weeks the meadows became a shallow lake full of birds.`,
    `Summer was the easy season. The water was warm and clear, fish were everywhere, and the long evenings gave time to explore. Walkers sometimes stopped on the wooden bridge to look down, and children threw sticks into the current to see which would come out first on the other side.`,
    `When autumn came, the leaves turned yellow and red and fell onto the water, drifting in slow circles. The nights grew colder. The ${who} gathered what it needed and found a dry place under the roots of a great alder, where the wind could not reach.`,
    `Winter was quiet and hard. Ice formed at the edges of the river, thin at first and then thick enough to hold the snow. Food was scarce, and the days were short, but the river never froze all the way across, and under the ice the water kept moving.`,
    `And then, one morning, the light was different. The ice began to crack, birds returned to the bushes, and the first green shoots pushed up through the mud. The ${who} went down to the water as it always had, and the year began again.`,
  ].join('\n\n');
}

interface Result {
  mode: 'segments' | 'whole';
  rate: number;
  firstSoundMs: number | null;
  /** From the page's navigation start (the player asks for blocks as soon as it opens). */
  fromOpenMs: number | null;
  stallMs: number;
  stalls: number;
  playedS: number;
  trace?: string[];
}

let browser: Browser;
const results: Result[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  // Both replicas probed and warm: a short block through each before the runs.
  await new Promise((r) => setTimeout(r, 3_000));
});

afterAll(async () => {
  await browser?.close();
  if (results.length === 0) return;
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const rows = [
    line(['playback', 'speed', 'play → first sound', 'page open → first sound', `stall over ${SECONDS} s`, 'stalls ≥ 250 ms', 'audio played']),
    line(['---', '---', '---', '---', '---', '---', '---']),
    ...results.map((r) =>
      line([
        r.mode === 'segments' ? 'segments (default)' : 'whole blocks',
        `${r.rate}×`,
        r.firstSoundMs === null ? 'none' : `${(r.firstSoundMs / 1000).toFixed(2)} s`,
        r.fromOpenMs === null ? 'none' : `${(r.fromOpenMs / 1000).toFixed(2)} s`,
        `${(r.stallMs / 1000).toFixed(2)} s`,
        String(r.stalls),
        `${r.playedS.toFixed(1)} s`,
      ]),
    ),
  ];
  for (const rate of [1, 2]) {
    const seg = results.find((r) => r.mode === 'segments' && r.rate === rate);
    const whole = results.find((r) => r.mode === 'whole' && r.rate === rate);
    if (seg?.firstSoundMs && whole?.firstSoundMs) {
      rows.push('', `first sound at ${rate}×: whole blocks take ${(whole.firstSoundMs / seg.firstSoundMs).toFixed(1)}× as long as segments`);
    }
  }
  console.log(`\nbench-listen (${SECONDS} s windows)\n${rows.join('\n')}\n`);
});

async function listen(run: number, mode: Result['mode'], rate: number): Promise<Result> {
  const created = await fetch(`${baseUrl}/v1/documents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: article(run), title: `Bench ${run + 1}` }),
  });
  if (!created.ok) throw new Error(`cannot create the article: ${created.status} ${await created.text()}`);
  const { id } = (await created.json()) as { id: string };
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(`${baseUrl}/d/${id}?playback=${mode}`);
    await page.locator('select.voice').waitFor();
    await page.locator('select.speed').selectOption(String(rate));
    const play = await page.getByRole('button', { name: 'Play', exact: true }).elementHandle();
    const measured = await page.evaluate(
      ([button, windowMs, tracing]) =>
        new Promise<{ firstSoundMs: number | null; fromOpenMs: number | null; stallMs: number; stalls: number; playedS: number; trace: string[] }>((resolve) => {
          const trace: string[] = [];
          let lastSrc = '';
          const audios = () => [...document.querySelectorAll<HTMLAudioElement>('[data-testid="audio-host"] audio')];
          const seen = new Map<HTMLAudioElement, number>();
          const started = performance.now();
          let first: number | null = null;
          let previous = started;
          let stallMs = 0;
          let stall = 0;
          let stalls = 0;
          let playedS = 0;
          (button as HTMLElement).click();
          const timer = setInterval(() => {
            const now = performance.now();
            let progressed = false;
            for (const audio of audios()) {
              const before = seen.get(audio);
              const at = audio.currentTime;
              if (!audio.paused && at > 0 && at !== before) {
                progressed = true;
                if (before !== undefined && at > before) playedS += at - before;
              }
              seen.set(audio, at);
            }
            if (first === null && progressed) first = now - started;
            if (tracing) {
              const playing = audios().find((a) => !a.paused);
              const src = playing ? playing.src.replace(/^.*\/v1\/audio\/(.{8}).*?(\/segments\/\d+)?\?.*$/, '$1$2') : '';
              if (src !== lastSrc) {
                trace.push(`${((now - started) / 1000).toFixed(2)} s: ${src || 'nothing'} (${document.querySelector('.bar-status')?.textContent ?? ''})`);
                lastSrc = src;
              }
            }
            if (first !== null) {
              if (progressed) {
                if (stall >= 250) stalls += 1;
                if (tracing && stall >= 250) trace.push(`${((now - started) / 1000).toFixed(2)} s: stall of ${(stall / 1000).toFixed(2)} s ends`);
                stall = 0;
              } else {
                stallMs += now - previous;
                stall += now - previous;
              }
            }
            previous = now;
            const over = first === null ? now - started > windowMs : now - started - first >= windowMs;
            if (over) {
              clearInterval(timer);
              if (stall >= 250) stalls += 1;
              // performance.now() counts from the page's navigation start.
              resolve({ firstSoundMs: first, fromOpenMs: first === null ? null : started + first, stallMs, stalls, playedS, trace });
            }
          }, 50);
        }),
      [play, SECONDS * 1000, TRACE] as const,
    );
    return { mode, rate, ...measured, trace: TRACE ? measured.trace : undefined };
  } finally {
    await context.close();
  }
}

it(
  'measures first sound and stalls, segments beside whole blocks, at 1× and 2×',
  async () => {
    let run = 0;
    for (const { mode, rate } of RUNS) {
      const result = await listen(run, mode, rate);
      results.push(result);
      const { trace, ...numbers } = result;
      console.log(JSON.stringify(numbers));
      if (trace) console.log(trace.join('\n'));
      run += 1;
      await new Promise((r) => setTimeout(r, SETTLE_MS));
    }
  },
);
