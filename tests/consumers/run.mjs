#!/usr/bin/env node
// Opens a consumer page in each engine (tests/consumers/browser.mjs) and waits for its verdict.
//
//   node tests/consumers/run.mjs --serve DIR [--query QUERY] [--timeout SECONDS]
//   node tests/consumers/run.mjs URL [--timeout SECONDS]
//
// With --serve, DIR is served on 127.0.0.1 (a free port) for the duration of the run and its
// index.html is opened, with QUERY appended (e.g. `fixture=http://127.0.0.1:1234`). When QUERY
// names the fixture server, its `/file` and `/log` are forwarded from the same origin as the
// page, for same-origin checks (no CORS in the way).
// The page reports by setting document.body.dataset.result to 'ok' or 'error', the reason in
// its text; uncaught errors after the page has loaded are printed. Exits 0 only for 'ok' in
// every engine ($ENGINES, or all three).

import { createReadStream, statSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { forEachEngine } from './browser.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    serve: { type: 'string' },
    query: { type: 'string', default: '' },
    timeout: { type: 'string', default: '60' },
  },
});
const timeoutMs = Number(values.timeout) * 1000;
if (!(timeoutMs > 0)) usage('--timeout must be a positive number of seconds');
if (values.serve ? positionals.length !== 0 : positionals.length !== 1) usage();

function usage(message) {
  if (message) console.error(message);
  console.error('usage: run.mjs --serve DIR [--query QUERY] [--timeout S] | run.mjs URL [--timeout S]');
  process.exit(2);
}

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
};

const fixture = new URLSearchParams(values.query).get('fixture');

// Forwards a request to the fixture server, as a same-origin reverse proxy would.
function forward(req, res) {
  const target = new URL(req.url, fixture);
  const upstream = request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (up) => {
    res.writeHead(up.statusCode, up.headers);
    up.pipe(res);
  });
  upstream.on('error', () => res.destroy());
  res.on('close', () => upstream.destroy());
  req.pipe(upstream);
}

// A static file server for one directory, bound to 127.0.0.1 on a free port.
function serve(dir) {
  const root = resolve(dir);
  const server = createServer((req, res) => {
    if (fixture && /^\/(file|log)(\?|$)/.test(req.url)) {
      forward(req, res);
      return;
    }
    let path;
    try {
      path = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (path.endsWith('/')) path += 'index.html';
    const file = normalize(join(root, path));
    let stat;
    if (file.startsWith(root + sep)) {
      try {
        stat = statSync(file);
      } catch {}
    }
    if (!stat || !stat.isFile() || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, {
      'content-type': MIME[extname(file)] ?? 'application/octet-stream',
      'content-length': stat.size,
      'cache-control': 'no-store',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok(server));
  });
}

let server;
async function main() {
  let url = positionals[0];
  if (values.serve) {
    server = await serve(values.serve);
    const query = values.query ? `?${values.query}` : '';
    url = `http://127.0.0.1:${server.address().port}/${query}`;
  }
  console.log(`opening ${url}`);
  await forEachEngine(timeoutMs + 60_000, async (browser, check) => {
    const page = await browser.newPage(url);
    await page.evaluate(() => {
      window.__problems = [];
      window.addEventListener('error', (e) => window.__problems.push(`uncaught: ${e.message}`));
      window.addEventListener('unhandledrejection', (e) => window.__problems.push(`unhandled rejection: ${e.reason}`));
    });
    const verdict = await page.until(() => document.body?.dataset.result, null, { timeout: timeoutMs, polling: 100 });
    const { result, text, problems } = await page.evaluate(() => ({
      result: document.body?.dataset.result ?? null,
      text: document.body?.innerText.trim() ?? '',
      problems: window.__problems ?? [],
    }));
    for (const p of problems) console.log(`  ${p}`);
    check(verdict && result === 'ok', `${result ?? 'no verdict'}: ${text}`);
  });
}

try {
  await main();
} finally {
  if (server) {
    const closed = new Promise((ok) => server.close(ok));
    server.closeAllConnections();
    await closed;
  }
}
