// Multi-tab behaviour in real tabs of one browser, in each engine: they share IndexedDB, Web
// Locks and BroadcastChannel, as tabs of one site do. Each page is tests/consumers/plain/
// tabs.html with the installed package.
// Usage: node tabs.mjs <consumer dir> <fixture URL>
import { forEachEngine, serve } from './browser.mjs';

const [dir, fixture] = process.argv.slice(2);
if (!dir || !fixture) {
  console.error('usage: node tabs.mjs <consumer dir> <fixture URL>');
  process.exit(2);
}
const CHUNK = 65536;
const { origin, close } = await serve(dir);
const log = async (tag) => (await (await fetch(`${fixture}/log?tag=${tag}`)).json()).filter((e) => e.method === 'GET');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const until = async (page, fn, arg, what, timeout = 15_000) => {
  if (await page.until(fn, arg, { timeout, polling: 20 })) return true;
  console.log(`   (waited ${timeout} ms for ${what})`);
  return false;
};
const bytes = (page, id) => page.evaluate((id) => window.info(id)?.bytes ?? 0, id);

try {
  await forEachEngine(150_000, async (browser, check) => {
    const tab = async () => {
      const page = await browser.newPage(`${origin}/tabs.html?fixture=${encodeURIComponent(fixture)}`);
      await page.waitFor(() => document.body.dataset.ready === 'yes', null, 'the tab');
      return page;
    };

    // 1. The owner's tab closes: the other tab takes over from the stored bytes, its own
    // prepareRequest hook serving the takeover.
    {
      const name = `tabs-takeover-${browser.engine}-${Date.now()}`;
      const tag = `tabs-takeover-${browser.engine}-${Date.now()}`;
      const size = 2_000_000;
      const [a, b] = [await tab(), await tab()];
      check(await a.evaluate((n) => window.open_(n, 'tab-a'), name), 'multiTab is true');
      await a.evaluate(([k]) => window.add(k, 'big'), [`size=${size}&seed=61&throttle=400000&tag=${tag}`]);
      await until(a, () => (window.info('big')?.bytes ?? 0) > 300_000, null, 'progress in the owner');
      await b.evaluate((n) => window.open_(n, 'tab-b'), name);
      // The observer mirrors the owner: running, with progress arriving over the channel.
      const seen = await until(b, () => window.info('big')?.state === 'running' && window.events.some((e) => e.type === 'progress'), null, 'mirrored progress');
      check(seen, 'the observer shows the download running, with mirrored progress');
      check((await log(tag)).length === 1, 'one transfer while both tabs are open');
      const beforeClose = await bytes(a, 'big');
      await a.close();
      check(await b.evaluate(([s]) => window.verify('big', 61, s), [size]), 'the other tab took over and finished byte-exact');
      const gets = await log(tag);
      const resumedAt = Number(gets[1]?.range?.match(/bytes=(\d+)-/)?.[1] ?? -1);
      // The owner keeps committing until its tab is gone: the resume point is bounded by what
      // it had received, from the server's log.
      check(gets.length === 2 && resumedAt > 0 && resumedAt <= gets[0].bytes_sent,
        `takeover resumed at ${resumedAt} (owner had ${beforeClose} when asked to close, ${gets[0].bytes_sent} sent to it)`);
      const tokens = gets.map((e) => e.authorization);
      const calls = await b.evaluate(() => window.hookCalls);
      check(tokens.join() === 'Bearer tab-a,Bearer tab-b' && calls.join() === 'resume',
        `each tab's hook served its requests: ${tokens.join()}; the new owner's hook was called for ${calls.join()}`);
      // A closing tab loses at most its uncommitted chunk, plus what was in flight.
      const twice = gets.reduce((n, e) => n + e.bytes_sent, 0) - size;
      check(twice <= 2 * CHUNK, `bytes fetched twice: ${twice}`);
      await b.close();
    }

    // 2. Two tabs open the same stored download at once: exactly one of them writes.
    {
      const name = `tabs-both-${browser.engine}-${Date.now()}`;
      const tag = `tabs-both-${browser.engine}-${Date.now()}`;
      const size = 1_500_000;
      const first = await tab();
      await first.evaluate((n) => window.open_(n), name);
      await first.evaluate(([k]) => window.add(k, 'd'), [`size=${size}&seed=62&throttle=500000&tag=${tag}`]);
      await until(first, () => (window.info('d')?.bytes ?? 0) > 200_000, null, 'progress');
      await first.evaluate(() => window.close_());
      await first.close();
      // The download is stored as running; two tabs now open the manager together.
      const [a, b] = [await tab(), await tab()];
      for (const p of [a, b]) await p.evaluate((n) => { window.opening = window.open_(n); }, name);
      await Promise.all([a, b].map((p) => p.evaluate(() => window.opening)));
      const results = await Promise.all([a, b].map((p) => p.evaluate(([s]) => window.verify('d', 62, s), [size])));
      check(results.every(Boolean), 'both tabs see the download complete byte-exact');
      const gets = await log(tag);
      check(gets.length === 2, `one transfer before, exactly one resume after: ${gets.length} requests`);
      const both = await Promise.all([a, b].map((p) => p.evaluate(() => window.events.filter((e) => e.type === 'restarted').length)));
      check(both.every((n) => n === 0), 'nothing restarted');
      await a.close();
      await b.close();
    }

    // 3. Cancel from the observer tab: the owner stops and deletes everything.
    {
      const name = `tabs-cancel-${browser.engine}-${Date.now()}`;
      const tag = `tabs-cancel-${browser.engine}-${Date.now()}`;
      const [a, b] = [await tab(), await tab()];
      await a.evaluate((n) => window.open_(n), name);
      await a.evaluate(([k]) => window.add(k, 'c'), [`size=3000000&seed=63&throttle=500000&tag=${tag}`]);
      await until(a, () => (window.info('c')?.bytes ?? 0) > 200_000, null, 'progress');
      await b.evaluate((n) => window.open_(n), name);
      await until(b, () => window.info('c')?.state === 'running', null, 'observer sees running');
      await b.evaluate(() => window.cancel('c'));
      check(await until(a, () => window.info('c')?.state === 'cancelled', null, 'owner cancelled'), 'the owner cancelled on the observer\'s request');
      check(await b.evaluate(() => window.info('c')?.state) === 'cancelled', 'the observer shows it cancelled');
      await sleep(300);
      const stored = await b.evaluate((n) => window.stored(n, 'c'), name);
      check(stored.record === null && stored.chunks === 0, `nothing stored: ${JSON.stringify(stored)}`);
      const gets = await log(tag);
      check(gets.length === 1 && gets[0].aborted, 'the transfer was stopped');
      await a.close();
      await b.close();
    }

    // 4. A newer page upgrades the database while an old tab holds it open.
    {
      const name = `tabs-upgrade-${browser.engine}-${Date.now()}`;
      const tag = `tabs-upgrade-${browser.engine}-${Date.now()}`;
      const [old, newer] = [await tab(), await tab()];
      await old.evaluate((n) => window.open_(n), name);
      await old.evaluate(([k]) => window.add(k, 'u'), [`size=3000000&seed=64&throttle=500000&tag=${tag}`]);
      await until(old, () => (window.info('u')?.bytes ?? 0) > 300_000, null, 'progress');
      // The old tab closes its connection on versionchange, so the upgrade is not held up.
      const upgraded = await newer.evaluate((n) => window.upgrade(n, 2), name);
      check(upgraded.records.length === 1, `the upgrade went through (reported blocked first: ${upgraded.blocked})`);
      const info = await old.evaluate(() => window.info('u'));
      check(info.state === 'paused' && info.code === 'STORAGE', `the old tab paused with STORAGE: ${JSON.stringify(info)}`);
      const rec = upgraded.records.find((r) => r.id === 'u');
      // What the old tab shows is what is stored (a short last chunk where the tab was hidden).
      check(rec && rec.offset > 0 && rec.offset === info.bytes, `nothing lost: ${rec?.offset} bytes stored, ${info.bytes} shown`);
      await old.close();
      await newer.close();
    }
  });
} finally {
  close();
}
