// `make bench`, second part: the resident memory of whole browsers while one page downloads
// 256 MiB persisted with the library, engine by engine: every process the WebDriver server
// started (for WebKit: MiniBrowser, its web and network processes), summed from /proc and
// sampled every 50 ms. WebKit reads bodies with the default reader and stores ArrayBuffer
// chunks; Chromium and Firefox use a BYOB reader and Blob chunks.
// Beside it, in a fresh browser each, a plain reader loop that drops the bytes: what the
// engine itself holds for a body read at that speed.
// Usage: node tests/bench/rss.mjs <fixture URL>   (RSS_ENGINES="webkit chromium firefox")
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, serve } from '../consumers/browser.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const fixture = process.argv[2];
if (!fixture) {
  console.error('usage: node tests/bench/rss.mjs <fixture URL>');
  process.exit(2);
}
const SIZE = 256 * 1024 * 1024;
const MiB = 1024 * 1024;
const engines = (process.env.RSS_ENGINES ?? 'webkit chromium firefox').split(/\s+/).filter(Boolean);
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const hardStop = setTimeout(() => { console.error('rss: timed out after 10 minutes'); process.exit(1); }, 10 * 60_000);

// Every process below `root` in the process tree.
function descendants(root) {
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(name));
    } catch {}
  }
  const out = [];
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop();
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}
// Their summed resident memory, in bytes.
function rss(root) {
  let kb = 0;
  for (const pid of descendants(root)) {
    try {
      const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
      if (m) kb += Number(m[1]);
    } catch {}
  }
  return kb * 1024;
}

const { origin, close } = await serve(root);
const rows = [];
try {
  for (const engine of engines) {
    for (const [label, fn] of [['plain reader loop', 'plainLoop'], ['library, persisted', 'libPersisted']]) {
      const browser = await launch(engine);
      try {
        const page = await browser.newPage(`${origin}/tests/bench/bench.html?fixture=${encodeURIComponent(fixture)}`);
        await page.waitFor(() => document.body.dataset.ready === 'yes', null, 'the bench page', { timeout: 30_000 });
        await sleep(1000);
        const base = rss(browser.driverPid);
        let peak = base;
        const sampler = setInterval(() => { peak = Math.max(peak, rss(browser.driverPid)); }, 50);
        const ms = await page.evaluate(([fn, size]) => window[fn](size), [fn, SIZE]);
        clearInterval(sampler);
        await sleep(3000);
        const after = rss(browser.driverPid);
        const line = `+${((peak - base) / MiB).toFixed(0)} MiB at the peak, +${((after - base) / MiB).toFixed(0)} MiB 3 s after (${(SIZE / MiB / (ms / 1000)).toFixed(0)} MiB/s)`;
        console.log(`${engine} ${browser.version}, ${label}: ${line}`);
        rows.push([`${engine} ${browser.version}`, label, line]);
      } finally {
        await browser.close();
      }
    }
  }
} finally {
  clearTimeout(hardStop);
  await close();
}
console.log('\n| engine | pipeline | resident memory of the whole browser, 256 MiB |\n|---|---|---|');
for (const [e, p, l] of rows) console.log(`| ${e} | ${p} | ${l} |`);
