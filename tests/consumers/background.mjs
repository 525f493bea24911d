// Background mode in real tabs, against the fixture server. In Chromium, the site's service
// worker (tests/consumers/plain/sw.js, which calls handleBackgroundFetch from the installed
// package's `resumable-downloads/sw`) stores what Background Fetch fetched, also with every
// tab of the site closed. In Firefox and WebKit (no Background Fetch), `background: true` runs
// in the page and says so.
// Usage: node background.mjs <consumer dir> <fixture URL> [--closed-only]
// `--closed-only` (the Vite-built site): the page run without a service worker, and the
// download that completes with its tab closed; not the resume, pause, cancel and failure cases.
import { forEachEngine, serve } from './browser.mjs';

const [dir, fixture, only] = process.argv.slice(2);
if (!dir || !fixture || (only !== undefined && only !== '--closed-only')) {
  console.error('usage: node background.mjs <consumer dir> <fixture URL> [--closed-only]');
  process.exit(2);
}
const everyCase = only === undefined;
// The page's own server also forwards /proxy/ to the fixture server: same-origin downloads.
const { origin, close } = await serve(dir, { proxy: fixture });
const gets = async (tag) => (await (await fetch(`${fixture}/log?tag=${tag}`)).json()).filter((e) => e.method === 'GET');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const stamp = Date.now();

try {
  await forEachEngine(240_000, async (browser, check) => {
    const engine = browser.engine;
    const page = async (sw = true) => {
      const p = await browser.newPage(`${origin}/background.html?fixture=${encodeURIComponent(fixture)}${sw ? '' : '&sw=0'}`);
      await p.waitFor(() => document.body.dataset.ready === 'yes', null, 'the page');
      return p;
    };
    const until = async (p, fn, arg, what, timeout = 20_000) => {
      if (await p.until(fn, arg, { timeout, polling: 50 })) return true;
      console.log(`   (waited ${timeout} ms for ${what}: ${JSON.stringify(await p.evaluate((id) => window.info(id), arg?.[0] ?? arg).catch(() => null))})`);
      const log = await p.evaluate(() => window.swLog()).catch(() => []);
      for (const line of log) console.log(`   service worker: ${line}`);
      return false;
    };
    const tag = (t) => `bg-${t}-${engine}-${stamp}`;
    // The SRI value of the fixture's content of `seed`, computed in page `p`.
    const sriOf = (p, seed, size) => p.evaluate(async ([f, seed, size]) => {
      const bytes = await (await fetch(`${f}/content?seed=${seed}&start=0&len=${size}`)).arrayBuffer();
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      return `sha256-${btoa(String.fromCharCode(...digest))}`;
    }, [fixture, seed, size]);

    // 1. No service worker controls the page (and, outside Chromium, no Background Fetch):
    // background: true runs in the page, and says why.
    const a = await page(false);
    const status = await a.evaluate((n) => window.open_(n), `bg-page-${stamp}`);
    check(status.default === 'never' && status.available === false && /service worker|Background Fetch/.test(status.reason),
      `manager.background without a controlling service worker: ${JSON.stringify(status)}`);
    await a.evaluate(([k]) => window.add(k, 'p'), [`size=300000&seed=81&throttle=600000&tag=${tag('page')}`]);
    const modes = new Set();
    for (let i = 0; i < 20 && (await a.evaluate(() => window.info('p').state)) !== 'completed'; i++) {
      modes.add(await a.evaluate(() => window.info('p').mode));
      await sleep(50);
    }
    check(await a.evaluate(() => window.verify('p', 81, 300000)) && [...modes].join() === 'page',
      `background: true ran in the page (mode ${[...modes].join()}) and completed byte-exact`);

    // A download with stored bytes from an in-page run, paused: continued in the background
    // below (Chromium), once a service worker controls the site.
    // (Same-origin: a cross-origin one is continued in the page, see 3.)
    const stored = { size: 2_000_000, seed: 82, tag: tag('stored') };
    const changed = { size: 1_500_000, seed: 83, seed2: 84, tag: tag('changed') };
    const cross = { size: 1_200_000, seed: 89, tag: tag('cross') };
    if (engine === 'chromium' && everyCase) {
      await a.evaluate((n) => window.open_(n), `bg-stored-${stamp}`);
      // With integrity: the hash state stored by the page is carried on by the service worker.
      const integrity = await sriOf(a, stored.seed, stored.size);
      await a.evaluate(([k, integrity]) => window.add(k, 's', true, true, { integrity }), [`size=${stored.size}&seed=${stored.seed}&throttle=800000&tag=${stored.tag}`, integrity]);
      await a.evaluate(([k]) => window.add(k, 'c', true, true), [`size=${changed.size}&seed=${changed.seed}&throttle=800000&change_after=1&seed2=${changed.seed2}&tag=${changed.tag}`]);
      await a.evaluate(([k]) => window.add(k, 'x'), [`size=${cross.size}&seed=${cross.seed}&throttle=800000&tag=${cross.tag}`]);
      await until(a, () => ['s', 'c', 'x'].every((id) => window.info(id).bytes > 300_000), null, 'in-page bytes');
      await a.evaluate(() => { window.pause('s'); window.pause('c'); window.pause('x'); });
      await until(a, () => ['s', 'c', 'x'].every((id) => window.info(id).state === 'paused'), null, 'paused');
    }
    await a.close();
    if (engine !== 'chromium') return;

    // 2. With the site's service worker: handed over, the tab closed mid-transfer, the site
    // opened again later: completed byte-exact, one request, integrity checked.
    const name = `bg-${stamp}`;
    const big = { size: 3_000_000, seed: 85, tag: tag('closed') };
    let b = await page();
    check(await until(b, () => !!navigator.serviceWorker.controller, null, 'the service worker to control the page'),
      'the site\'s service worker controls the page');
    // The icons and the title go to the browser's UI (its downloads list and notification);
    // headless Chromium shows none, but the registration must accept them (else the
    // download would run in the page, and the handover check below fails).
    const icons = [{ src: `${fixture}/file?size=64&seed=1`, sizes: '48x48', type: 'image/png' }];
    const on = await b.evaluate(([n, icons]) => window.open_(n, { backgroundIcons: icons }), [name, icons]);
    check(on.available === true && on.reason == null, `manager.background with the service worker: ${JSON.stringify(on)}`);
    const sri = await sriOf(b, big.seed, big.size);
    await b.evaluate(([k, sri]) => window.m.add(`${new URLSearchParams(location.search).get('fixture')}/file?${k}`, { id: 'big', background: true, integrity: sri, title: 'The big file' }).id,
      [`size=${big.size}&seed=${big.seed}&throttle=400000&tag=${big.tag}`, sri]);
    check(await until(b, () => window.info('big').mode === 'background' && window.info('big').state === 'running', null, 'the handover'),
      'the download is in Background Fetch (mode background, running)');
    check(await until(b, () => window.info('big').bytes > 200_000 && window.events.some((e) => e.type === 'progress' && e.id === 'big' && e.bytes > 0), null, 'progress from the registration'),
      'progress events come from the registration');
    await b.close();
    // No tab of the site is open now; the browser finishes the transfer.
    const sent = async (t) => (await gets(t)).reduce((n, e) => n + e.bytes_sent, 0);
    for (let i = 0; i < 200 && (await sent(big.tag)) < big.size; i++) await sleep(100);
    check((await sent(big.tag)) === big.size, `the transfer went on with the tab closed (${await sent(big.tag)} of ${big.size} bytes sent)`);
    await sleep(1500);
    b = await page();
    await b.evaluate((n) => window.open_(n), name);
    const first = await b.evaluate(() => window.info('big'));
    console.log(`   on return, the first read shows ${JSON.stringify(first)}`);
    // Chromium delivers the success event some time after the site is open again.
    check(await until(b, () => window.info('big').state === 'completed', 'big', 'completion on return', 90_000),
      'completed on return');
    check(await b.evaluate(() => window.verify('big', 85, 3000000)), 'byte-exact, integrity verified');
    const bigGets = await gets(big.tag);
    check(bigGets.length === 1 && [undefined, null, 'bytes=0-'].includes(bigGets[0].range), `one request for it: ${JSON.stringify(bigGets.map((g) => g.range))}`);
    check(await until(b, () => window.events.some((e) => e.type === 'complete' && e.id === 'big'), null, 'complete'),
      'its complete event fired on return');
    const settled = await b.evaluate(() => window.m.whenAll(['big']).then((r) => JSON.stringify(r), (e) => `rejected: ${e.code}`));
    check(settled === JSON.stringify({ completed: ['big'], failed: [], cancelled: [] }), `whenAll on return: ${settled}`);
    const rec = await b.evaluate((n) => window.stored(n, 'big'), name);
    check(rec.state === 'completed' && !rec.backgroundId && !rec.unseen && rec.title === 'The big file', `the record: ${JSON.stringify(rec)}`);
    await b.close();
    if (!everyCase) return;
    b = await page();

    // 3. Stored bytes from an in-page run: only the rest is fetched, in the background, with
    // If-Range (same origin). From another origin the service worker could not check the
    // rest (no Content-Range, no ETag, no If-Range without a preflight): it goes on in the page.
    await b.evaluate((n) => window.open_(n), `bg-stored-${stamp}`);
    await b.evaluate(() => window.resume('x'));
    check(await until(b, () => window.info('x').state === 'completed', 'x', 'the cross-origin resume'),
      'a cross-origin resume completed');
    const xInfo = await b.evaluate(() => window.info('x'));
    check(xInfo.mode === 'page' && /another origin/.test(xInfo.refused ?? '') && await b.evaluate(([s, n]) => window.verify('x', s, n), [cross.seed, cross.size]),
      `in the page, saying why, byte-exact: ${JSON.stringify(xInfo)}`);
    await b.evaluate((n) => window.open_(n), `bg-stored-${stamp}`);
    const offset = (await b.evaluate((n) => window.stored(n, 's'), `bg-stored-${stamp}`)).offset;
    await b.evaluate(() => window.resume('s'));
    const handed = await until(b, () => window.info('s').mode === 'background', 's', 'the handover of the stored download');
    if (!handed) console.log(`   the server saw: ${JSON.stringify(await (await fetch(`${fixture}/log?tag=${stored.tag}`)).json())}`);
    check(handed, `the stored download went to Background Fetch (${offset} bytes stored)`);
    await b.close();
    for (let i = 0; i < 200 && (await sent(stored.tag)) < stored.size; i++) await sleep(100);
    await sleep(1500);
    b = await page();
    await b.evaluate((n) => window.open_(n), `bg-stored-${stamp}`);
    check(await until(b, () => window.info('s').state === 'completed', 's', 'completion', 90_000), 'the stored download completed');
    check(await b.evaluate(([s, n]) => window.verify('s', s, n), [stored.seed, stored.size]), 'byte-exact');
    const sGets = await gets(stored.tag);
    check(sGets.length === 2 && sGets[1].range === `bytes=${offset}-` && !!sGets[1].if_range,
      `the remainder was fetched once, from the stored offset, with If-Range, and the hash carried over matched (no integrity restart): ${JSON.stringify(sGets.map((g) => [g.range, g.if_range]))}`);

    // 4. The resource changed before the background fetch ran: nothing spliced, restarted.
    await b.evaluate(() => window.resume('c'));
    check(await until(b, () => window.info('c').state === 'completed', 'c', 'the changed download', 40_000),
      'the changed download settled completed');
    check(await b.evaluate(([s, n]) => window.verify('c', s, n), [changed.seed2, changed.size]),
      'its bytes are the new resource\'s, whole (nothing spliced)');
    const cGets = await gets(changed.tag);
    check(cGets.length === 3 && [undefined, null, 'bytes=0-'].includes(cGets[2].range), `restarted from 0 after the changed answer: ${JSON.stringify(cGets.map((g) => g.range))}`);

    // 5. Pause and cancel in the background abort the registration.
    await b.evaluate((n) => window.open_(n), `bg-ops-${stamp}`);
    const pz = { size: 2_000_000, seed: 86, tag: tag('pause') };
    await b.evaluate(([k]) => window.add(k, 'pz'), [`size=${pz.size}&seed=${pz.seed}&throttle=500000&tag=${pz.tag}`]);
    await until(b, () => window.info('pz').mode === 'background' && window.info('pz').bytes > 100_000, 'pz', 'background bytes');
    await b.evaluate(() => window.pause('pz'));
    const regId = `resumable-downloads:${encodeURIComponent(`bg-ops-${stamp}`)}:pz`;
    check(await until(b, (id) => window.bgRegistration(id).then((r) => !r || r.result === 'failure'), regId, 'the abort'),
      'pause() aborted the registration');
    const pzRec = await b.evaluate((n) => window.stored(n, 'pz'), `bg-ops-${stamp}`);
    check(pzRec.state === 'paused' && !pzRec.backgroundId && (await b.evaluate(() => window.info('pz').mode)) === 'page',
      `paused, the record names no registration: ${JSON.stringify(pzRec)}`);
    // Resumed: handed over again, and stored by the service worker with the page open.
    await b.evaluate(() => window.resume('pz'));
    check(await until(b, () => window.info('pz').state === 'completed', 'pz', 'completion with the page open', 40_000),
      'resumed into the background, completed with the page open');
    check(await b.evaluate(([s, n]) => window.verify('pz', s, n), [pz.seed, pz.size]), 'byte-exact');

    const cx = { tag: tag('cancel') };
    await b.evaluate(([k]) => window.add(k, 'cx'), [`size=4000000&seed=87&throttle=400000&tag=${cx.tag}`]);
    await until(b, () => window.info('cx').mode === 'background', 'cx', 'background');
    await b.evaluate(() => window.cancel('cx'));
    await sleep(1500);
    const cxRec = await b.evaluate((n) => window.stored(n, 'cx'), `bg-ops-${stamp}`);
    const cxSent = await sent(cx.tag);
    check((await b.evaluate(() => window.info('cx').state)) === 'cancelled' && cxRec === null && cxSent < 4_000_000,
      `cancel() in the background: cancelled, nothing stored, the transfer stopped (${cxSent} bytes sent)`);

    // An abort that is not the library's (the user's, in the browser's downloads UI: here
    // the registration's abort() called by the page itself) cancels the download.
    const ua = { tag: tag('ui-abort') };
    await b.evaluate(([k]) => window.add(k, 'ua'), [`size=4000000&seed=90&throttle=400000&tag=${ua.tag}`]);
    await until(b, () => window.info('ua').mode === 'background', 'ua', 'background');
    await b.evaluate(async (id) => (await (await navigator.serviceWorker.ready).backgroundFetch.get(id))?.abort(),
      `resumable-downloads:${encodeURIComponent(`bg-ops-${stamp}`)}:ua`);
    check(await until(b, () => window.info('ua').state === 'cancelled', 'ua', 'the cancel'), 'an abort from outside cancels it');
    await sleep(500);
    const uaRec = await b.evaluate((n) => window.stored(n, 'ua'), `bg-ops-${stamp}`);
    const uaGets = await gets(ua.tag);
    check(uaRec === null && uaGets.length === 1, `nothing stored, no request from the page: ${JSON.stringify(uaGets.map((g) => g.range))}`);

    // 6. A failing server: Background Fetch fails (bad status); the page resumes it itself.
    const fl = { size: 600_000, seed: 88, tag: tag('fail') };
    await b.evaluate(([k]) => window.add(k, 'fl'), [`size=${fl.size}&seed=${fl.seed}&status=503&status_times=1&tag=${fl.tag}`]);
    check(await until(b, () => window.info('fl').state === 'completed', 'fl', 'the failed one', 30_000),
      'after backgroundfetchfail, the page fetched it and completed');
    const flInfo = await b.evaluate(() => window.info('fl'));
    check(flInfo.mode === 'page' && /failed/.test(flInfo.refused ?? ''), `it says why it runs in the page: ${JSON.stringify(flInfo)}`);
    check(await b.evaluate(([s, n]) => window.verify('fl', s, n), [fl.seed, fl.size]), 'byte-exact');

    // 7. Cancelled from the browser's downloads UI while no page has its manager open: the
    // service worker's backgroundfetchabort handler cancels it and deletes what is stored.
    // (A page of the site that opens no manager aborts the registration, as the UI would.)
    const sa = { tag: tag('sw-abort'), name: `bg-sw-abort-${stamp}` };
    await b.evaluate((n) => window.open_(n), sa.name);
    await b.evaluate(([k]) => window.add(k, 'sa'), [`size=4000000&seed=91&throttle=400000&tag=${sa.tag}`]);
    check(await until(b, () => window.info('sa').mode === 'background' && window.info('sa').bytes > 100_000, 'sa', 'background bytes'),
      'handed over before its page closed');
    await b.close();
    b = await page();
    const saBefore = await b.evaluate((n) => window.stored(n, 'sa'), sa.name);
    await b.evaluate(async (id) => (await (await navigator.serviceWorker.ready).backgroundFetch.get(id))?.abort(),
      `resumable-downloads:${encodeURIComponent(sa.name)}:sa`);
    await until(b, (n) => window.stored(n, 'sa').then((r) => r === null), sa.name, 'the service worker to delete it');
    const saRec = await b.evaluate((n) => window.stored(n, 'sa'), sa.name);
    const saSent = await sent(sa.tag);
    check(!!saBefore?.backgroundId && saRec === null && saSent < 4_000_000,
      `the service worker cancelled it: stored before ${JSON.stringify(saBefore)}, after ${JSON.stringify(saRec)}, ${saSent} bytes sent`);
    await b.close();
  });
} finally {
  close();
}
