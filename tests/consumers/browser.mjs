// Shared by the browser drivers of the consumer and end-to-end tests: a static server for a
// directory, the three engines driven over W3C WebDriver (selenium-webdriver from npm), pages
// with the few operations the tests use, and a list of named checks.
//
// Engines: `chromium` (Debian's, headless, chromedriver), `firefox` (Debian's Firefox ESR,
// headless, geckodriver) and `webkit` (WebKitGTK's MiniBrowser through WebKitWebDriver, on the
// X display in $DISPLAY: scripts/browsers.sh starts Xvfb). A missing engine is an error.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, request as httpRequest } from 'node:http';
import { createServer as netServer } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { Builder } from 'selenium-webdriver';

export const ENGINES = ['chromium', 'firefox', 'webkit'];
const MINIBROWSER = '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

/** The engines to run: `$ENGINES` (space-separated) or all three. */
export function engines() {
  const list = (process.env.ENGINES ?? ENGINES.join(' ')).split(/\s+/).filter(Boolean);
  for (const e of list) if (!ENGINES.includes(e)) throw new Error(`unknown engine ${e}`);
  return list;
}

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm', '.css': 'text/css',
  '.png': 'image/png', '.json': 'application/json', '.svg': 'image/svg+xml',
};

/**
 * Serves `dir` on 127.0.0.1; resolves with `{ origin, close }`. With `proxy` (a URL), requests
 * under `/proxy/` are forwarded to it as they are (method, headers, body, status), so that a
 * page has the fixture server on its own origin too.
 */
export async function serve(dir, { proxy } = {}) {
  const server = createServer(async (req, res) => {
    if (proxy && req.url.startsWith('/proxy/')) {
      const target = new URL(req.url.slice('/proxy'.length), proxy);
      const headers = { ...req.headers, host: target.host };
      const upstream = httpRequest(target, { method: req.method, headers }, (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      res.on('close', () => upstream.destroy());
      req.pipe(upstream);
      return;
    }
    let path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (path.endsWith('/')) path += 'index.html';
    try {
      const body = await readFile(join(dir, path));
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    close: () => { server.closeAllConnections(); server.close(); },
  };
}

const freePort = () => new Promise((ok, fail) => {
  const s = netServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
  s.once('error', fail);
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts the engine's WebDriver server on a free port; resolves once it answers. */
async function startDriver(engine, downloads) {
  const port = await freePort();
  const [cmd, args] = {
    chromium: ['chromedriver', [`--port=${port}`]],
    firefox: ['geckodriver', ['--host', '127.0.0.1', '--port', String(port)]],
    webkit: ['WebKitWebDriver', ['--host=127.0.0.1', `--port=${port}`]],
  }[engine];
  if (engine === 'webkit' && !process.env.DISPLAY) throw new Error('webkit needs an X display: DISPLAY is not set');
  // MiniBrowser saves downloads in the user's download directory, which is $HOME where
  // none is configured: a home of its own puts them in `downloads` (and its profile beside).
  const env = engine === 'webkit' ? { ...process.env, HOME: downloads } : process.env;
  const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  let failed = null;
  proc.once('error', (e) => { failed = e; });
  let err = '';
  proc.stderr.on('data', (d) => { err = (err + d).slice(-2000); });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100 && !failed; i++) {
    try {
      if ((await fetch(`${url}/status`)).ok) return { url, proc };
    } catch {}
    await sleep(100);
  }
  proc.kill();
  throw new Error(`${cmd} did not start: ${failed?.message ?? err}`);
}

function capabilities(engine, downloads) {
  if (engine === 'chromium') {
    return {
      browserName: 'chrome',
      'goog:chromeOptions': {
        binary: '/usr/bin/chromium',
        args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
          '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', '--window-size=1200,760'],
        prefs: {
          'download.default_directory': downloads, 'download.prompt_for_download': false,
          'profile.default_content_setting_values.notifications': 1,
          // Background Fetch counts as automatic downloads: a second one would need the
          // "download multiple files" permission, which headless Chromium cannot ask for.
          'profile.default_content_setting_values.automatic_downloads': 1,
        },
      },
    };
  }
  if (engine === 'firefox') {
    return {
      browserName: 'firefox',
      'moz:firefoxOptions': {
        binary: '/usr/bin/firefox-esr',
        args: ['-headless', '-width', '1200', '-height', '760'],
        prefs: {
          'browser.download.dir': downloads, 'browser.download.folderList': 2,
          'browser.download.useDownloadDir': true, 'browser.download.always_ask_before_handling_new_types': false,
          'browser.helperApps.neverAsk.saveToDisk': 'application/octet-stream',
          'permissions.default.desktop-notification': 1,
          'browser.shell.checkDefaultBrowser': false, 'app.update.enabled': false,
          'datareporting.policy.dataSubmissionEnabled': false,
        },
      },
    };
  }
  if (!existsSync(MINIBROWSER)) throw new Error(`${MINIBROWSER} is missing (Debian's webkit2gtk-driver)`);
  return {
    browserName: 'MiniBrowser',
    'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
  };
}

/**
 * Launches `engine` in a browser of its own. Every page of it shares one profile (IndexedDB,
 * Web Locks, BroadcastChannel), as tabs of one site do. `browser.downloads` is the directory
 * files saved by the page land in (Chromium and Firefox).
 */
export async function launch(engine) {
  const downloads = mkdtempSync(join(tmpdir(), `downloads-${engine}-`));
  const { url, proc } = await startDriver(engine, downloads);
  let driver;
  try {
    driver = await new Builder().usingServer(url).withCapabilities(capabilities(engine, downloads)).build();
    await driver.manage().setTimeouts({ script: 180_000, pageLoad: 60_000 });
  } catch (e) {
    proc.kill();
    throw new Error(`${engine}: no WebDriver session: ${e.message}`);
  }
  const caps = await driver.getCapabilities();
  const version = caps.get('browserVersion') ?? caps.get('version') ?? '?';
  // One command at a time: each page operation selects its window first.
  let queue = Promise.resolve();
  const exclusive = (fn) => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  };
  const browser = {
    // A blank tab the next newPage() uses: the first one, or the one opened so that closing
    // a page never closes the last window (which would end the session).
    spare: await driver.getWindowHandle(),
    engine, version, driver, downloads, exclusive, driverUrl: url,
    /** The WebDriver server's process id: the browser's processes descend from it. */
    driverPid: proc.pid,
    /** Opens `url` in a new tab, or window (the first call uses the initial one). */
    async newPage(pageUrl) {
      const handle = await exclusive(async () => {
        let h = browser.spare;
        browser.spare = null;
        if (!h) {
          // MiniBrowser keeps a tab that WebDriver switches to hidden (visibilityState): there
          // each page gets a window of its own, visible side by side, as in a user's session.
          await driver.switchTo().newWindow(engine === 'webkit' ? 'window' : 'tab');
          h = await driver.getWindowHandle();
        }
        await driver.switchTo().window(h);
        return h;
      });
      const page = makePage(browser, handle);
      if (pageUrl) await page.goto(pageUrl);
      return page;
    },
    async close() {
      await driver.quit().catch(() => {});
      proc.kill();
    },
  };
  return browser;
}

function makePage(browser, handle) {
  const { driver, exclusive } = browser;
  const on = (fn) => exclusive(async () => { await driver.switchTo().window(handle); return fn(); });
  const page = {
    goto: (url) => on(() => driver.get(url)),
    reload: () => on(() => driver.navigate().refresh()),
    /** Runs `fn(arg)` in the page (it may return a promise) and returns its JSON value. */
    evaluate: (fn, arg) => on(async () => {
      const r = await driver.executeAsyncScript(
        `const done = arguments[arguments.length - 1];
         Promise.resolve().then(() => (${fn})(arguments[0]))
           .then((value) => done({ value: value === undefined ? null : value }), (e) => done({ error: String(e && e.stack || e) }));`,
        arg === undefined ? null : arg).catch((e) => {
        throw new Error(`${e.name} in ${String(fn).slice(0, 80)}: ${e.message}`);
      });
      if (r && 'error' in r) throw new Error(`in the page: ${r.error}`);
      return r?.value;
    }),
    /** Polls `fn(arg)` every `polling` ms until it is truthy; false after `timeout` ms. */
    async until(fn, arg, { timeout = 15_000, polling = 50 } = {}) {
      const end = Date.now() + timeout;
      for (;;) {
        if (await page.evaluate(fn, arg)) return true;
        if (Date.now() >= end) return false;
        await sleep(polling);
      }
    },
    /** Like `until`, but a timeout throws, naming `what`. */
    async waitFor(fn, arg, what, options) {
      if (!(await page.until(fn, arg, options))) throw new Error(`timed out waiting for ${what}`);
    },
    /** Clicks the element matching `selector` as a user would. */
    click: (selector) => on(async () => (await driver.findElement({ css: selector })).click()),
    /** Focuses the element and presses Enter. */
    pressEnter: (selector) => on(async () => {
      const el = await driver.findElement({ css: selector });
      await driver.executeScript('arguments[0].focus()', el);
      await el.sendKeys('\uE007');
    }),
    screenshot: () => on(async () => Buffer.from(await driver.takeScreenshot(), 'base64')),
    /** Closes this tab (its page unloads as when a user closes it). */
    close: () => on(async () => {
      if ((await driver.getAllWindowHandles()).length === 1) {
        await driver.switchTo().newWindow('tab');
        browser.spare = await driver.getWindowHandle();
        await driver.switchTo().window(handle);
      }
      await driver.close();
      await driver.switchTo().window((await driver.getAllWindowHandles())[0]);
    }),
  };
  return page;
}

/**
 * Debian's headless Chromium driven by playwright-core, for what needs the DevTools protocol
 * (`make bench`: heap figures, garbage collection), with `extra` flags.
 */
export async function launchCdpChromium(extra = []) {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', ...extra],
  });
}

/** Named checks: `check(ok, what)` prints each; `done()` exits non-zero if any failed. */
export function checks(limitMs, prefix = '') {
  const failures = [];
  const hardStop = setTimeout(() => { console.error(`FAIL: ${prefix}timed out`); process.exit(1); }, limitMs);
  return {
    check(ok, what) {
      console.log(`${ok ? 'ok' : 'FAIL'}: ${prefix}${what}`);
      if (!ok) failures.push(what);
    },
    failures,
    done() {
      clearTimeout(hardStop);
      if (failures.length) {
        console.error(`${failures.length} check(s) failed`);
        process.exit(1);
      }
    },
  };
}

/**
 * Runs `body(engine, check)` for every engine in turn, each in a browser of its own, and
 * exits non-zero if a check failed or an engine could not be driven.
 */
export async function forEachEngine(limitMs, body) {
  const all = checks(limitMs * engines().length);
  for (const engine of engines()) {
    console.log(`-- ${engine}`);
    let browser;
    try {
      browser = await launch(engine);
      console.log(`   ${engine} ${browser.version}`);
      await body(browser, (ok, what) => all.check(ok, `[${engine}] ${what}`));
    } catch (e) {
      all.check(false, `[${engine}] ${e.stack ?? e}`);
    } finally {
      await browser?.close();
    }
  }
  all.done();
}
