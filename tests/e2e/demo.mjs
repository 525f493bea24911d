// End-to-end tests of the tile-grid demo (www/) in each engine, clicking what a user clicks.
// The page imports the built package from pkg/, as `make demo` serves it. The mid-run
// screenshot is Chromium's at the given path, and grid-<engine>.png beside it for the others.
// Usage: node tests/e2e/demo.mjs <fixture URL> [screenshot path]
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { forEachEngine, serve } from '../consumers/browser.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const [fixture, shot = resolve(root, 'tests/artifacts/grid.png')] = process.argv.slice(2);
if (!fixture) {
  console.error('usage: node tests/e2e/demo.mjs <fixture URL> [screenshot path]');
  process.exit(2);
}
const { origin, close } = await serve(root);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sel = (id) => `li.tile[data-id="${id}"]`;

try {
  await forEachEngine(420_000, async (browser, check) => {
    const db = `e2e-${browser.engine}-${Date.now()}`;
    const url = `${origin}/www/?fixture=${encodeURIComponent(fixture)}&db=${db}`;
    async function open() {
      const page = await browser.newPage(url);
      await page.waitFor(() => document.body.dataset.ready === 'yes', null, 'the demo', { timeout: 30_000 });
      return page;
    }
    const attr = (page, id, name) => page.evaluate(([s, name]) => document.querySelector(s)?.getAttribute(name) ?? null, [sel(id), name]);
    const tileData = (page, id) => page.evaluate((s) => ({ ...document.querySelector(s)?.dataset }), sel(id));
    const click = (page, id, action) => page.click(`${sel(id)} button.${action}`);
    const waitTile = (page, id, attr, value, timeout = 30_000) =>
      page.until(([id, attr, value]) => document.querySelector(`li.tile[data-id="${id}"]`)?.dataset[attr] === value,
        [id, attr, value], { timeout, polling: 50 });
    const waitBytes = (page, id, n, timeout = 30_000) =>
      page.until(([id, n]) => Number(document.querySelector(`li.tile[data-id="${id}"]`)?.dataset.bytes) >= n,
        [id, n], { timeout, polling: 50 });
    // Polls the page's own IndexedDB until the download's stored record counts `n` bytes: what a
    // reload keeps is what is committed, not what the tile has seen arrive.
    const waitStored = (page, id, n, timeout = 30_000) =>
      page.until(async ([id, n]) => {
        const req = (r) => new Promise((res, rej) => { r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
        const db = await req(indexedDB.open('resumable-downloads/' + window.manager.name));
        try {
          const rec = await req(db.transaction('downloads').objectStore('downloads').get(id));
          return (rec?.offset ?? 0) >= n;
        } finally {
          db.close();
        }
      }, [id, n], { timeout, polling: 100 });
    // The completed download's bytes against the fixture's content.
    const exact = (page, id, seed, size) => page.evaluate(async ([id, seed, size, fixture]) => {
      const blob = await window.manager.get(id).blob();
      if (blob.size !== size) return false;
      const step = 8 * 1024 * 1024; // the fixture serves at most 16 MiB of /content at once
      for (let start = 0; start < size; start += step) {
        const len = Math.min(step, size - start);
        const got = new Uint8Array(await blob.slice(start, start + len).arrayBuffer());
        const want = new Uint8Array(await (await fetch(`${fixture}/content?seed=${seed}&start=${start}&len=${len}`)).arrayBuffer());
        if (!got.every((b, i) => b === want[i])) return false;
      }
      return true;
    }, [id, seed, size, fixture]);
    const MiB = 1024 * 1024;

    const page = await open();
    check(await attr(page, 'podcast.mp3', 'data-state') === 'idle', 'tiles start idle');

    // The failing and stalling tiles show their codes (they take a while: start them first).
    await click(page, 'missing.bin (404)', 'start');
    await click(page, 'stuck.bin (stalls)', 'start');

    // Click a tile and see it complete, byte-exact (this one is checked against its integrity).
    await click(page, 'weights.bin (integrity)', 'start');
    check(await waitTile(page, 'weights.bin (integrity)', 'state', 'completed'), 'a clicked tile completes');
    check(await exact(page, 'weights.bin (integrity)', 9, 2 * MiB), 'its bytes are exact');
    check(await page.evaluate((s) => document.querySelector(s).getAttribute('aria-valuenow'), `${sel('weights.bin (integrity)')} .bar`) === '100',
      'its progressbar says 100');

    // Pause and resume.
    await click(page, 'map-tiles.pack', 'start');
    await waitBytes(page, 'map-tiles.pack', 2 * MiB);
    await click(page, 'map-tiles.pack', 'pause');
    check(await waitTile(page, 'map-tiles.pack', 'state', 'paused'), 'pause: the tile says paused');
    const pausedAt = Number(await attr(page, 'map-tiles.pack', 'data-bytes'));
    await sleep(500);
    check(Number(await attr(page, 'map-tiles.pack', 'data-bytes')) === pausedAt, 'nothing moves while paused');
    await page.pressEnter(`${sel('map-tiles.pack')} button.resume`); // the actions work from the keyboard
    check(await waitTile(page, 'map-tiles.pack', 'state', 'completed', 60_000), 'resume: it completes');
    check(await exact(page, 'map-tiles.pack', 1, 24 * MiB), 'and its bytes are exact');

    // Cancel.
    await click(page, 'podcast.mp3', 'start');
    await waitBytes(page, 'podcast.mp3', 1);
    await click(page, 'podcast.mp3', 'cancel');
    check(await waitTile(page, 'podcast.mp3', 'state', 'cancelled'), 'cancel: the tile says cancelled');

    check(await waitTile(page, 'missing.bin (404)', 'code', 'HTTP_STATUS'),
      `the failing tile shows HTTP_STATUS (${JSON.stringify(await tileData(page, 'missing.bin (404)'))})`);
    // It stalls after 1 MiB, then its retries stall before their first byte. Firefox resolves
    // fetch() only with the first byte of the body, so there a retry ends as HEADERS_TIMEOUT,
    // after the default 30 s: the 4 s stall, two retries of 30 s and their backoff take about
    // 66 s from the stall.
    const stallCode = browser.engine === 'firefox' ? 'HEADERS_TIMEOUT' : 'STALLED';
    check(await waitTile(page, 'stuck.bin (stalls)', 'code', stallCode, 120_000),
      `the stalling tile shows ${stallCode} (${JSON.stringify(await tileData(page, 'stuck.bin (stalls)'))})`);

    // Hidden, the page does no DOM work while downloads go on; shown again, every tile equals
    // the manager's state in the first frame. (Headless Chromium keeps every tab visible, so the
    // hidden state is emulated, with a real visibilitychange.)
    await click(page, 'model-small.bin', 'start');
    await waitBytes(page, 'model-small.bin', MiB);
    await mkdir(dirname(shot), { recursive: true });
    const png = await page.screenshot();
    const file = browser.engine === 'chromium' ? shot : shot.replace(/\.png$/, `-${browser.engine}.png`);
    await writeFile(file, png);
    check(png.length > 20_000, `mid-run screenshot saved (${file}, ${png.length} bytes)`);
    const frozen = await page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      document.dispatchEvent(new Event('visibilitychange'));
      return Number(document.querySelector('li.tile[data-id="model-small.bin"]').dataset.bytes);
    });
    await sleep(1200);
    const whileHidden = await page.evaluate(() => ({
      painted: Number(document.querySelector('li.tile[data-id="model-small.bin"]').dataset.bytes),
      actual: window.manager.get('model-small.bin').progress.transferredBytes,
    }));
    check(whileHidden.painted === frozen && whileHidden.actual > frozen, `no painting while hidden (tile ${whileHidden.painted}, manager ${whileHidden.actual})`);
    const mismatches = await page.evaluate(async () => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
      // The demo repaints in its visibilitychange handler: compared in the same task, right
      // after it, before any frame (WebKit's frames on Xvfb come late, and the downloads go on).
      document.dispatchEvent(new Event('visibilitychange'));
      const bad = [];
      for (const el of document.querySelectorAll('li.tile')) {
        const d = window.manager.get(el.dataset.id);
        const state = d ? d.state : 'idle';
        const bytes = d ? d.progress.transferredBytes : 0;
        if (el.dataset.state !== state || Number(el.dataset.bytes) !== bytes) bad.push(`${el.dataset.id}: ${el.dataset.state}/${el.dataset.bytes} vs ${state}/${bytes}`);
    }
      return bad;
    });
    check(mismatches.length === 0, `every tile equals the manager in the first frame after the wake ${JSON.stringify(mismatches)}`);
    check(await attr(page, 'model-small.bin', 'data-code') === '' &&
    await attr(page, 'model-small.bin', 'data-state') === 'running', 'no false STALLED after the wake');

    // Reload mid-download: the tile comes back with its stored bytes and the download finishes.
    await click(page, 'offline-pack.zip (drops once)', 'start');
    await waitBytes(page, 'offline-pack.zip (drops once)', 1.3 * MiB); // past the first 1 MiB chunk
    // Reload once that chunk is committed (WebKit's ArrayBuffer mode commits a moment later).
    check(await waitStored(page, 'offline-pack.zip (drops once)', MiB), 'its first chunk is stored before the reload');
    await page.reload();
    await page.waitFor(() => document.body.dataset.ready === 'yes', null, 'the reloaded demo', { timeout: 30_000 });
    const restored = Number(await attr(page, 'offline-pack.zip (drops once)', 'data-bytes'));
    check(restored > 0, `after the reload the tile shows its stored bytes (${restored})`);
    check(await waitTile(page, 'offline-pack.zip (drops once)', 'state', 'completed', 60_000), 'and the download completes');
    check(await exact(page, 'offline-pack.zip (drops once)', 8, 4 * MiB), 'byte-exact, across the reload and a dropped connection');
    check(await attr(page, 'weights.bin (integrity)', 'data-state') === 'completed', 'completed tiles stay completed after the reload');

    // Two tabs: the second mirrors the first; closing the first, the second finishes the download
    // (the podcast download was cancelled above, so after the reload its tile starts afresh).
    const second = await open();
    check(await attr(page, 'podcast.mp3', 'data-state') === 'idle', 'a cancelled download is gone after a reload');
    await click(page, 'podcast.mp3', 'start');
    await waitBytes(second, 'podcast.mp3', 500_000);
    check(await attr(second, 'podcast.mp3', 'data-state') === 'running',
      `the second tab mirrors the download (${JSON.stringify(await tileData(second, 'podcast.mp3'))})`);
    await page.close();
    check(await waitTile(second, 'podcast.mp3', 'state', 'completed', 60_000), 'closing the owner, the other tab finishes it');
    check(await exact(second, 'podcast.mp3', 3, 3 * MiB), 'byte-exact');

    // The background tile: in Chromium, with the demo's service worker controlling the page,
    // its download goes to Background Fetch, goes on with the tab closed, and shows completed
    // when the demo is opened again. Elsewhere it runs in the page and says nothing more.
    const bg = 'offline-maps.pack (continues with the tab closed)';
    const chromium = browser.engine === 'chromium';
    if (chromium) {
      check(await second.until(() => !!navigator.serviceWorker.controller, null, { timeout: 20_000 }),
        'the demo\'s service worker controls the page');
    }
    await click(second, bg, 'start');
    const mode = chromium ? 'background' : 'page';
    check(await waitTile(second, bg, 'mode', mode), `the background tile runs in mode ${mode}`);
    if (chromium) {
      check((await attr(second, bg, 'data-state')) === 'running' &&
        /in the background/.test(await second.evaluate((s) => document.querySelector(s).textContent, `${sel(bg)} .state`)),
      'it says it runs in the background');
      await waitBytes(second, bg, 1);
      await second.close();
      await sleep(9000); // 6 MiB at 1 MiB/s, with every tab of the demo closed
      const back = await open();
      // Chromium delivers the success event to the service worker some time after the site
      // is open again.
      check(await waitTile(back, bg, 'state', 'completed', 120_000),
        `opened again, the tile shows it completed (${JSON.stringify(await tileData(back, bg))})`);
      check(await exact(back, bg, 10, 6 * MiB), 'byte-exact');
    } else {
      check(await waitTile(second, bg, 'state', 'completed', 60_000), 'it completes in the page');
      check(await exact(second, bg, 10, 6 * MiB), 'byte-exact');
    }
  });
} finally {
  close();
}
