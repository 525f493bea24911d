// Shared by the Playwright drivers: a static server for a consumer directory, Debian's
// Chromium, and a list of named checks.
import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.png': 'image/png' };

/** Serves `dir` on 127.0.0.1; resolves with `{ origin, close }`. */
export async function serve(dir) {
  const server = createServer(async (req, res) => {
    let path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (path.endsWith('/')) path += 'index.html';
    try {
      const body = await readFile(join(dir, path));
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { origin: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

/** Launches Debian's headless Chromium, with `extra` flags. */
export function launch(extra = []) {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', ...extra],
  });
}

/** Named checks: `check(ok, what)` prints each; `done()` exits non-zero if any failed. */
export function checks(limitMs) {
  const failures = [];
  const hardStop = setTimeout(() => { console.error('FAIL: timed out'); process.exit(1); }, limitMs);
  return {
    check(ok, what) {
      console.log(`${ok ? 'ok' : 'FAIL'}: ${what}`);
      if (!ok) failures.push(what);
    },
    done() {
      clearTimeout(hardStop);
      if (failures.length) {
        console.error(`${failures.length} check(s) failed`);
        process.exit(1);
      }
    },
  };
}
