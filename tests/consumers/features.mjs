// Drives tests/consumers/plain/features.html (served from the installed consumer project) in
// each engine: save() must hand the browser a file with exactly the downloaded bytes, a batch
// that finishes while the page is hidden must show one notification summing it up, and a
// download cut while the browser is offline waits for it to come back online.
// Usage: node features.mjs <consumer dir> <fixture URL>
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { forEachEngine, serve } from './browser.mjs';

const [dir, fixture] = process.argv.slice(2);
if (!dir || !fixture) {
  console.error('usage: node features.mjs <consumer dir> <fixture URL>');
  process.exit(2);
}
const { origin, close } = await serve(dir);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The file the browser saved in `downloads` as `name`, once complete (bounded wait).
async function savedFile(downloads, name, size, timeoutMs = 15_000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const names = await readdir(downloads).catch(() => []);
    if (names.includes(name) && (await stat(join(downloads, name))).size === size) return readFile(join(downloads, name));
    await sleep(100);
  }
  return null;
}

try {
  await forEachEngine(120_000, async (browser, check) => {
    const page = await browser.newPage(`${origin}/features.html?fixture=${encodeURIComponent(fixture)}`);
    await page.waitFor(() => document.body.dataset.ready === 'yes', null, 'the page', { timeout: 30_000 });

    // save(): the browser receives a file with the downloaded bytes and the given name.
    const want = Buffer.from(await (await fetch(`${fixture}/content?seed=9&start=0&len=100000`)).arrayBuffer());
    await page.click('#save');
    const saved = await savedFile(browser.downloads, 'saved.bin', want.length);
    check(saved !== null && saved.equals(want), `save() gave the browser saved.bin with the bytes (${saved?.length} bytes)`);
    check(await page.evaluate(() => document.getElementById('status').textContent) === 'ready', 'save() reported no error');

    // Chromium and Firefox grant notifications by their settings; WebKitGTK under automation
    // denies every permission request (and WebDriver has no way to grant one): there the check
    // is that nothing is shown without permission.
    const permission = await page.evaluate(() => window.requestPermission());
    const granted = browser.engine !== 'webkit';
    check(permission === (granted ? 'granted' : 'denied'), `requestNotificationPermission() (${permission})`);

    // Hide the page. A headless browser keeps every tab visible, so the visibility is
    // emulated: document.visibilityState reads 'hidden' and a visibilitychange is dispatched,
    // as when the user switches away.
    const setVisibility = (state) => page.evaluate((s) => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s });
      document.dispatchEvent(new Event('visibilitychange'));
    }, state);
    await setVisibility('hidden');
    const result = await page.evaluate(() => window.startBatch());
    check(result.completed.length === 2 && result.failed.length === 1 && result.failed[0].code === 'HTTP_STATUS',
      `whenAll while hidden: ${JSON.stringify(result)}`);
    await page.until(() => window.notifications.length > 0, null, { timeout: granted ? 10_000 : 1_000 });
    const notes = await page.evaluate(() => window.notifications);
    if (granted) {
      check(notes.length === 1 && notes[0].title === 'Batch done' && notes[0].body === '2 completed, 1 failed',
        `notification while hidden: ${JSON.stringify(notes)}`);
    } else {
      check(notes.length === 0, `no notification without permission: ${JSON.stringify(notes)}`);
    }

    // Visible again: a batch that finishes in front of the user shows no notification.
    await setVisibility('visible');
    const second = await page.evaluate(() => window.startBatch());
    check(second.completed.length === 2, 'second batch transferred');
    await sleep(300);
    check((await page.evaluate(() => window.notifications.length)) === notes.length, 'no notification while visible');

    // Offline: the connection drops (the server cuts it at 1.5 MB, while the browser is
    // offline), and the download waits for the browser to come back online instead of using up
    // retries (this manager allows none), then resumes and completes. Chromium goes offline for
    // real (DevTools network conditions); WebDriver cannot take Firefox or WebKit offline, so
    // there the page is told so (navigator.onLine false, then an `online` event).
    const offline = async (off) => {
      if (browser.engine === 'chromium') {
        await browser.exclusive(() => browser.driver.setNetworkConditions(
          { offline: off, latency: 0, download_throughput: -1, upload_throughput: -1 }));
        return;
      }
      await page.evaluate((o) => {
        Object.defineProperty(navigator, 'onLine', { configurable: true, get: () => !o });
        window.dispatchEvent(new Event(o ? 'offline' : 'online'));
      }, off);
    };
    await page.evaluate(() => window.startLong());
    await page.waitFor(() => window.progressOf() > 300_000, null, 'progress', { timeout: 15_000 });
    await offline(true);
    await page.waitFor(() => window.progressOf() >= 1_400_000, null, 'the bytes before the cut', { timeout: 15_000 });
    await sleep(1000);
    check(await page.evaluate(() => window.long.state) === 'running', 'still running while offline');
    await offline(false);
    check(await page.evaluate(() => window.longDone()), 'completed byte-exact after coming back online');
  });
} finally {
  close();
}
