// The whole product in a real (headless) Chromium: sign up, add documents from text and from a
// URL, listen, seek, change speed, reload, delete, sign out. The stack comes from stack.ts.

import { createServer, type Server } from 'node:http';
import { join } from 'node:path';

import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchChromium } from './chromium';

const baseUrl = inject('baseUrl');
const shots = inject('artifactsDir');


// Three paragraphs: the first two long enough (several seconds of audio) for the test to act
// while they play, short enough to synthesize in a second or two on two cores.
const PARAGRAPHS = [
  'The lighthouse keeper climbed the stairs every evening at dusk. He lit the lamp, wound the clock, and watched the ships pass slowly in the dark.',
  'In winter the storms came from the north. Waves struck the rocks below, and the old tower hummed with the wind, but the light never failed.',
  'Spring brought calm water and long days.',
];

const ARTICLE = `<!doctype html><html><head><title>Notes on Tidal Pools</title></head><body>
<nav><a href="/">Home</a> <a href="/about">About</a></nav>
<article><h1>Notes on Tidal Pools</h1>
<p>Tidal pools form where the sea leaves water behind among the rocks at low tide. They are small worlds of their own.</p>
<p>Crabs, snails and anemones live in them, and each pool changes twice a day as the tide returns.</p>
<p>Visit them gently: turn stones back the way you found them, and leave every creature where it lives.</p>
</article><footer>Copyright nobody</footer></body></html>`;

let browser: Browser;
let page: Page;
let fixture: Server;
let fixtureUrl: string;

/** The audio element that is playing, as the page sees it. */
async function playingAudio(p: Page) {
  return p.evaluate(() => {
    const playing = [...document.querySelectorAll<HTMLAudioElement>('[data-testid="audio-host"] audio')].find((a) => !a.paused);
    return playing
      ? { src: playing.src, currentTime: playing.currentTime, rate: playing.playbackRate, preservesPitch: playing.preservesPitch }
      : null;
  });
}

async function currentBlock(p: Page): Promise<number> {
  return Number(await p.locator('.block.current').getAttribute('data-idx'));
}

async function waitForPlaybackPast(p: Page, seconds: number, timeout = 90_000) {
  await p.waitForFunction(
    (min) =>
      [...document.querySelectorAll<HTMLAudioElement>('[data-testid="audio-host"] audio')].some((a) => !a.paused && a.currentTime > min),
    seconds,
    { timeout, polling: 100 },
  );
}

// If the main Vitest process dies (an interrupted run), this worker must not live on with
// Chromium. Vitest replaces process.exit in its workers, so the worker ends itself by signal.
process.once('disconnect', () => {
  const die = () => process.kill(process.pid, 'SIGKILL');
  setTimeout(die, 3_000);
  void browser?.close().finally(die);
});

beforeAll(async () => {
  fixture = createServer((req, res) => {
    if (req.url === '/article.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(ARTICLE);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not here');
    }
  });
  await new Promise<void>((done) => fixture.listen(0, '127.0.0.1', done));
  const address = fixture.address();
  fixtureUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.on('pageerror', (error) => console.error('page error:', error.message));
});

afterAll(async () => {
  await browser?.close();
  await new Promise((done) => fixture?.close(done));
});

describe('the web player', () => {
  const email = `e2e-${Date.now()}@example.org`;
  let documentPath = '';

  it('signs up', async () => {
    await page.goto(baseUrl);
    await page.waitForURL(/\/sign-in$/);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.screenshot({ path: join(shots, 'sign-in.png') });
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill('a long enough password');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Your library' }).waitFor();
    expect(await page.locator('.account .email').textContent()).toBe(email);
  });

  it('adds pasted text and opens it in the player', async () => {
    await page.getByLabel('Text or link').fill(PARAGRAPHS.join('\n\n'));
    expect(await page.locator('#source-hint').textContent()).toMatch(/Looks like text/);
    await page.getByLabel('Title (optional)').fill('The lighthouse');
    await page.getByRole('button', { name: 'Add and listen' }).click();
    await page.waitForURL(/\/d\/[0-9a-f-]+$/);
    documentPath = new URL(page.url()).pathname;
    await page.getByRole('heading', { name: 'The lighthouse' }).waitFor();
    expect(await page.locator('.block.speakable').count()).toBe(3);
    expect(await currentBlock(page)).toBe(0);
  });

  it('plays, and the highlight follows the reading on its own', async () => {
    await page.locator('select.voice').waitFor();
    // A new listener hears Kokoro's default voice, American English for an English article.
    expect(await page.locator('select.voice').inputValue()).toBe('kokoro/af_heart');
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    await waitForPlaybackPast(page, 0.3);
    const first = await playingAudio(page);
    expect(first?.src).toMatch(/\/v1\/audio\//);
    await page.waitForSelector('.block.current[data-idx="1"]', { timeout: 90_000 });
    await waitForPlaybackPast(page, 0.2);
    const second = await playingAudio(page);
    expect(second?.src).not.toBe(first?.src);
    await page.screenshot({ path: join(shots, 'player-desktop.png') });
  });

  it('lights each word as it is spoken, and a click on a word plays from it', async () => {
    const spoken = () => page.locator('.block.current').getAttribute('data-spoken-word');
    await page.waitForSelector('.block.current[data-idx="1"][data-spoken-word]', { timeout: 30_000 });
    const before = await spoken();
    // The highlight moves on by itself, forward.
    await page.waitForFunction(
      (was) => {
        const now = document.querySelector('.block.current')?.getAttribute('data-spoken-word');
        return !!now && now !== was && Number(now.split(':')[0]) > Number(String(was).split(':')[0]);
      },
      before,
      { timeout: 20_000, polling: 50 },
    );
    // The Custom Highlight API paints exactly that word of the page's text.
    const painted = await page.evaluate(() => {
      const highlight = CSS.highlights.get('spoken-word');
      return highlight ? [...highlight].map((r) => r.toString()) : [];
    });
    expect(painted).toHaveLength(1);
    expect((await spoken())?.endsWith(`:${painted[0]}`)).toBe(true);

    // Click "north", ahead in the paragraph being read: the audio jumps to it. The block may be
    // playing whole or still from its segments (its first sentence is its first segment, whose
    // words came with it).
    const { box, north, litBefore } = await page.evaluate(() => {
      const current = document.querySelector<HTMLElement>('.block.current')!;
      const block = current.querySelector<HTMLElement>('.block-content')!;
      const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
      let rect: DOMRect | null = null;
      for (let node = walker.nextNode(); node && !rect; node = walker.nextNode()) {
        const at = node.nodeValue?.indexOf('north') ?? -1;
        if (at >= 0) {
          const range = document.createRange();
          range.setStart(node, at);
          range.setEnd(node, at + 5);
          rect = range.getBoundingClientRect();
        }
      }
      // Every word lit from the click on, in order.
      const lit: string[] = [];
      (window as unknown as { litAfterClick: string[] }).litAfterClick = lit;
      let clicked = false;
      document.addEventListener('click', () => (clicked = true), { capture: true, once: true });
      new MutationObserver(() => {
        const now = current.getAttribute('data-spoken-word');
        if (clicked && now && lit[lit.length - 1] !== now) lit.push(now);
      }).observe(current, { attributes: true, attributeFilter: ['data-spoken-word'] });
      const words = block.textContent!.split(/\s+/).filter((w) => w.length > 0);
      return {
        box: rect && { x: rect.left + rect.width / 2, y: rect.top + rect.height / 2 },
        north: words.findIndex((w) => w === 'north.'),
        litBefore: Number(current.getAttribute('data-spoken-word')!.split(':')[0]),
      };
    });
    expect(box).not.toBeNull();
    // Far enough before "north" that reading on would light the words between first.
    expect(litBefore).toBeLessThan(north - 2);
    await page.mouse.click(box!.x, box!.y);
    await page.waitForSelector('.block.current[data-spoken-word$=":north"]', { timeout: 5_000 });
    const lit = await page.evaluate(() => (window as unknown as { litAfterClick: string[] }).litAfterClick);
    const jumped = lit.findIndex((w) => w.endsWith(':north'));
    const between = lit.slice(0, jumped).filter((w) => {
      const idx = Number(w.split(':')[0]);
      return idx > litBefore + 1 && idx < north;
    });
    expect(between, `lit after the click: ${lit.join(', ')}`).toEqual([]);
    expect(await currentBlock(page)).toBe(1);
  });

  it('changes speed, keeping the pitch', async () => {
    await page.locator('select.speed').selectOption('1.5');
    const audio = await playingAudio(page);
    expect(audio?.rate).toBe(1.5);
    expect(audio?.preservesPitch).toBe(true);
  });

  it('seeks to the last block and plays it', async () => {
    await page.getByLabel('Position in the document').fill('2');
    await page.waitForSelector('.block.current[data-idx="2"]');
    await page.waitForFunction(
      () => {
        const audio = [...document.querySelectorAll<HTMLAudioElement>('[data-testid="audio-host"] audio')].find((a) => !a.paused);
        return !!audio && audio.currentTime > 0.2 && document.querySelector('.block.current')?.getAttribute('data-idx') === '2';
      },
      null,
      { timeout: 60_000, polling: 100 },
    );
    expect((await playingAudio(page))?.rate).toBe(1.5);
  });

  it('remembers the position and the speed after a reload', async () => {
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.reload();
    await page.locator('.block.current').waitFor();
    expect(await currentBlock(page)).toBe(2);
    expect(await page.getByLabel('Position in the document').inputValue()).toBe('2');
    expect(await page.locator('select.speed').inputValue()).toBe('1.5');
  });

  it('takes keyboard controls', async () => {
    await page.locator('h1').click();
    await page.keyboard.press('k');
    expect(await currentBlock(page)).toBe(1);
    await page.keyboard.press('ArrowRight');
    expect(await currentBlock(page)).toBe(2);
    await page.keyboard.press('-');
    expect(await page.locator('select.speed').inputValue()).toBe('1.25');
  });

  it('fits a 360 px wide phone screen', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    const widths = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      bar: document.querySelector('.player-bar')!.scrollWidth,
      controls: document.querySelector('.bar-controls')!.getBoundingClientRect().right,
    }));
    expect(widths.page).toBeLessThanOrEqual(360);
    expect(widths.bar).toBeLessThanOrEqual(360);
    expect(widths.controls).toBeLessThanOrEqual(360);
    await page.screenshot({ path: join(shots, 'player-mobile.png') });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.waitForTimeout(400); // the highlight's colour transition
    await page.screenshot({ path: join(shots, 'player-mobile-dark.png') });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('adds a document from a URL', async () => {
    await page.getByRole('link', { name: /yapit/ }).click();
    await page.getByRole('heading', { name: 'Your library' }).waitFor();
    await page.getByLabel('Text or link').fill(`${fixtureUrl}/article.html`);
    expect(await page.locator('#source-hint').textContent()).toMatch(/Looks like a link/);
    await page.getByRole('button', { name: 'Add and listen' }).click();
    await page.waitForURL(/\/d\/[0-9a-f-]+$/);
    await page.getByRole('heading', { name: 'Notes on Tidal Pools' }).waitFor();
    expect(await page.locator('.blocks').textContent()).toContain('Crabs, snails and anemones');
    expect(await page.locator('.blocks').textContent()).not.toContain('Copyright nobody');
    await page.screenshot({ path: join(shots, 'player-article.png') });
  });

  it('shows the API message for a URL that cannot be fetched, and for a blocked address', async () => {
    await page.getByRole('link', { name: /yapit/ }).click();
    await page.getByLabel('Text or link').fill(`${fixtureUrl}/missing`);
    await page.getByRole('button', { name: 'Add and listen' }).click();
    const alert = page.locator('.new-document [role="alert"]');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/404/);
    await page.getByLabel('Text or link').fill('http://10.1.2.3/private');
    await page.getByRole('button', { name: 'Add and listen' }).click();
    await page.waitForFunction(() => /10\.1\.2\.3/.test(document.querySelector('.new-document [role="alert"]')?.textContent ?? ''));
    expect(page.url()).toBe(`${baseUrl}/`);
  });

  it('lists the documents newest first and deletes one after confirming', async () => {
    await page.reload();
    const titles = page.locator('.document-title');
    await titles.first().waitFor();
    expect(await titles.allTextContents()).toEqual(['Notes on Tidal Pools', 'The lighthouse']);
    await page.screenshot({ path: join(shots, 'library-desktop.png') });
    await page.setViewportSize({ width: 360, height: 740 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await page.screenshot({ path: join(shots, 'library-mobile.png') });
    await page.setViewportSize({ width: 1280, height: 800 });

    await page.getByRole('button', { name: 'Delete Notes on Tidal Pools' }).click();
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.waitForFunction(() => document.querySelectorAll('.document-title').length === 1);
    await page.reload();
    await titles.first().waitFor();
    expect(await titles.allTextContents()).toEqual(['The lighthouse']);
    expect(documentPath).toMatch(/^\/d\//);
  });

  it('keeps the pronunciations the user adds, until removed', async () => {
    const section = page.locator('details.pronunciations');
    await section.getByText('Pronunciations', { exact: true }).click();
    await section.getByText('None yet.').waitFor();
    await section.getByLabel('Word', { exact: true }).fill('Yapit');
    await section.getByLabel('Say', { exact: true }).fill('yap it');
    await section.getByRole('button', { name: 'Save' }).click();
    await section.locator('li').first().waitFor();
    await page.reload();
    await section.getByText('Pronunciations', { exact: true }).click();
    await section.locator('li').first().waitFor();
    expect(await section.locator('li').allTextContents()).toEqual([expect.stringMatching(/yapit\s*→ yap it/)]);
    await section.getByRole('button', { name: 'Remove yapit' }).click();
    await section.getByText('None yet.').waitFor();
  });

  it('offers a Spanish voice for a Spanish article and switches to it', async () => {
    await page.getByRole('link', { name: /yapit/ }).click();
    await page.getByRole('heading', { name: 'Your library' }).waitFor();
    await page
      .getByLabel('Text or link')
      .fill(
        '# El faro\n\nEl guardián subía las escaleras cada tarde para encender la lámpara, como le había enseñado su padre. Luego se sentaba junto a la ventana y miraba pasar los barcos.',
      );
    await page.getByRole('button', { name: 'Add and listen' }).click();
    await page.waitForURL(/\/d\/[0-9a-f-]+$/);
    await page.getByRole('heading', { name: 'El faro' }).first().waitFor();
    const hint = page.locator('.language-hint');
    await hint.waitFor();
    expect(await hint.textContent()).toMatch(/looks Spanish, but Heart speaks American English/);
    await hint.getByRole('button', { name: 'Read it with Dora (Spanish)' }).click();
    expect(await page.locator('select.voice').inputValue()).toBe('kokoro/ef_dora');
    await hint.waitFor({ state: 'detached' });
    // The voices are grouped by language.
    const groups = await page.locator('select.voice optgroup').evaluateAll((els) => els.map((e) => e.getAttribute('label')));
    expect(groups).toContain('Kokoro 82M · Spanish');
    expect(groups).toContain('Kokoro 82M · British English');
    // A preview: a sample sentence in Spanish, synthesised (and cached) by the server.
    const [sample] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/v1/audio/speech'), { timeout: 90_000 }),
      page.getByRole('button', { name: 'Preview', exact: true }).click(),
    ]);
    expect(sample.status()).toBe(200);
    expect(sample.headers()['content-type']).toBe('audio/wav');
    expect(JSON.parse(sample.request().postData() ?? '{}')).toMatchObject({ voice: 'ef_dora', input: expect.stringMatching(/^¡Hola!/) });
  });

  it('signs out', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/sign-in$/);
    await page.goto(`${baseUrl}${documentPath}`);
    await page.waitForURL(/\/sign-in$/);
  });
});

describe('single-user mode', () => {
  it('skips the sign-in screens and offers no sign-out', async () => {
    await page.goto(inject('singleUserUrl'));
    await page.getByRole('heading', { name: 'Your library' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/');
    expect(await page.getByRole('button', { name: 'Sign out' }).count()).toBe(0);
  });

  it('starts a new long passage on its first segment, before the passage is complete, its words lit', async () => {
    await page.getByLabel('Text or link').fill(
      'The cartographer spread the old map across the table and weighed its corners with stones. ' +
        'Rivers that no longer ran were drawn in faded blue, villages long abandoned still had their names, ' +
        'and a road that the forest had swallowed a century ago crossed the mountains as if nothing had changed. ' +
        'She traced it with a finger, slowly, and began to plan the journey north.',
    );
    await page.getByRole('button', { name: 'Add and listen' }).click();
    await page.waitForURL(/\/d\/[0-9a-f-]+$/);
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    await waitForPlaybackPast(page, 0.2);
    // The passage is rendered piece by piece: the first piece plays while the rest is made.
    expect((await playingAudio(page))?.src).toMatch(/\/v1\/audio\/[0-9a-f]{64}\/segments\/0\?/);
    // Its words are lit as they are spoken, from the first segment on: the lit word moves forward
    // while a segment (not the whole passage) plays.
    await page.waitForSelector('.block.current[data-spoken-word]', { timeout: 10_000 });
    const lit = await page.locator('.block.current').getAttribute('data-spoken-word');
    await page.waitForFunction(
      (was) => {
        const now = document.querySelector('.block.current')?.getAttribute('data-spoken-word');
        const audio = [...document.querySelectorAll<HTMLAudioElement>('[data-testid="audio-host"] audio')].find(
          (a) => !a.paused,
        );
        return (
          !!now &&
          Number(now.split(':')[0]) > Number(String(was).split(':')[0]) &&
          !!audio &&
          /\/segments\/\d+\?/.test(audio.src)
        );
      },
      lit,
      { timeout: 20_000, polling: 50 },
    );
    // And the next piece follows on its own.
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll<HTMLAudioElement>('[data-testid="audio-host"] audio')].some(
          (a) => !a.paused && /\/segments\/1\?/.test(a.src) && a.currentTime > 0,
        ),
      undefined,
      { timeout: 90_000, polling: 100 },
    );
  });
});
