// Drives tests/consumers/plain/features.html (served from the installed consumer project) in
// headless Chromium: save() must hand the browser a file with exactly the downloaded bytes, and
// a batch that finishes while the page is hidden must show one notification summing it up.
// Usage: node features.mjs <consumer dir> <fixture URL>
import { readFile } from 'node:fs/promises';
import { checks, launch, serve } from './browser.mjs';

const [dir, fixture] = process.argv.slice(2);
if (!dir || !fixture) {
  console.error('usage: node features.mjs <consumer dir> <fixture URL>');
  process.exit(2);
}
const { origin, close } = await serve(dir);
const { check, done } = checks(90_000);
const browser = await launch();
try {
  const context = await browser.newContext({ acceptDownloads: true });
  await context.grantPermissions(['notifications'], { origin });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  await page.goto(`${origin}/features.html?fixture=${encodeURIComponent(fixture)}`);
  await page.waitForFunction(() => document.body.dataset.ready === 'yes', null, { timeout: 30_000 });

  // save(): the browser receives a file with the downloaded bytes and the given name.
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 15_000 }), page.click('#save')]);
  const saved = await readFile(await download.path());
  const want = Buffer.from(await (await fetch(`${fixture}/content?seed=9&start=0&len=100000`)).arrayBuffer());
  check(download.suggestedFilename() === 'saved.bin', `save() file name (${download.suggestedFilename()})`);
  check(saved.equals(want), `save() bytes (${saved.length} bytes)`);

  check(await page.evaluate(() => window.requestPermission()) === 'granted', 'requestNotificationPermission() with permission granted');

  // Hide the page. Headless Chromium keeps every tab visible (another tab in front or a
  // minimized window change nothing), so the visibility is emulated: document.visibilityState
  // reads 'hidden' and a visibilitychange is dispatched, as when the user switches away.
  const setVisibility = (state) => page.evaluate((s) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s });
    document.dispatchEvent(new Event('visibilitychange'));
  }, state);
  await setVisibility('hidden');
  const result = await page.evaluate(() => window.startBatch());
  check(result.completed.length === 2 && result.failed.length === 1 && result.failed[0].code === 'HTTP_STATUS',
    `whenAll while hidden: ${JSON.stringify(result)}`);
  await page.waitForFunction(() => window.notifications.length > 0, null, { timeout: 10_000 });
  const notes = await page.evaluate(() => window.notifications);
  check(notes.length === 1 && notes[0].title === 'Batch done' && notes[0].body === '2 completed, 1 failed',
    `notification while hidden: ${JSON.stringify(notes)}`);

  // Visible again: a batch that finishes in front of the user shows no notification.
  await setVisibility('visible');
  const second = await page.evaluate(() => window.startBatch());
  check(second.completed.length === 2, 'second batch transferred');
  await page.waitForTimeout(300);
  check((await page.evaluate(() => window.notifications.length)) === 1, 'no notification while visible');

  // Offline: the connection drops (the server cuts it at 1.5 MB, while the browser is offline),
  // and the download waits for the browser to come back online instead of using up retries
  // (this manager allows none), then resumes and completes.
  await page.evaluate(() => window.startLong());
  await page.waitForFunction(() => window.progressOf() > 300_000, null, { timeout: 15_000 });
  await context.setOffline(true);
  await page.waitForFunction(() => window.progressOf() >= 1_400_000, null, { timeout: 15_000 });
  await page.waitForTimeout(1000);
  check(await page.evaluate(() => window.long.state) === 'running', 'still running while offline');
  await context.setOffline(false);
  check(await page.evaluate(() => window.longDone()), 'completed byte-exact after coming back online');
} finally {
  await browser.close();
  close();
}
done();
