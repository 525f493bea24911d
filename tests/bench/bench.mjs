// `make bench`: the library against hand-written baselines, side by side in one headless
// Chromium against one unthrottled release fixture server. Each figure: one warm-up round, then
// ROUNDS measured rounds; prints the median and the spread (min–max), then one summary table.
// Usage: node tests/bench/bench.mjs <fixture URL>
import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, serve } from '../consumers/browser.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const fixture = process.argv[2];
if (!fixture) {
  console.error('usage: node tests/bench/bench.mjs <fixture URL>');
  process.exit(2);
}
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const MiB = 1024 * 1024;
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const fmt = (xs, unit = 'ms') => `${median(xs).toFixed(1)} ${unit} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;

const { origin, close } = await serve(root);
const browser = await launch();
const rows = [];
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  await page.goto(`${origin}/tests/bench/bench.html?fixture=${encodeURIComponent(fixture)}`);
  await page.waitForFunction(() => document.body.dataset.ready === 'yes', null, { timeout: 30_000 });
  const measure = async (label, fn, ...args) => {
    await page.evaluate(([fn, args]) => window[fn](...args), [fn, args]); // warm-up
    const xs = [];
    for (let i = 0; i < ROUNDS; i++) xs.push(await page.evaluate(([fn, args]) => window[fn](...args), [fn, args]));
    console.log(`${label}: ${fmt(xs)}`);
    return xs;
  };

  const size = 256 * MiB;
  const plain = await measure('plain fetch reader loop, 256 MiB', 'plainLoop', size);
  const memory = await measure('library, persist: false, 256 MiB', 'libMemory', size);
  const hand = await measure('hand-written reader loop + 4 MiB Blobs into IndexedDB, 256 MiB', 'handIdb', size);
  const persisted = await measure('library, persisted, 256 MiB', 'libPersisted', size);
  const ratio = (base, lib) => median(base) / median(lib);
  rows.push(['stream-through throughput', 'library (persist: false) vs plain fetch reader loop', `${ratio(plain, memory).toFixed(2)}×`, '≥ 0.95×']);
  rows.push(['persisted throughput', 'library vs hand-written reader loop + IndexedDB', `${ratio(hand, persisted).toFixed(2)}×`, '≥ 1.0×']);
  rows.push(['', 'library persisted vs plain fetch reader loop', `${ratio(plain, persisted).toFixed(2)}×`, 'report']);

  const small = await measure('500 × 256 KiB through the queue', 'manySmall', 500, 256 * 1024);
  const one = await measure('one download of 125 MiB', 'libPersisted', 500 * 256 * 1024);
  rows.push(['many small', '500 × 256 KiB vs one download of the same total', `${ratio(one, small).toFixed(2)}×`, 'report; ≥ 0.8×']);

  const restore = await page.evaluate(() => window.restoreLatency(1000));
  console.log(`restore, 1,000 downloads: wake to painted ${fmt(restore.wake)}, paint work ${fmt(restore.paint)}`);
  rows.push(['restore latency', '1,000 tiles: visibilitychange to painted (paint work in the frame)', `${median(restore.wake).toFixed(1)} ms (${median(restore.paint).toFixed(1)} ms)`, '≤ 16 ms (one frame)']);
} finally {
  await browser.close();
  close();
}

const wasm = await readFile(resolve(root, 'pkg/resumable_downloads_bg.wasm'));
const glue = await readFile(resolve(root, 'pkg/resumable_downloads.js'));
const gz = (b) => gzipSync(b, { level: 9 }).length;
rows.push(['size', 'gzipped .wasm + JS glue, release package', `${((gz(wasm) + gz(glue)) / 1000).toFixed(1)} KB (${(gz(wasm) / 1000).toFixed(1)} + ${(gz(glue) / 1000).toFixed(1)})`, '≤ 45 KB']);
rows.push(['memory', 'peak JS heap + wasm memory, 1 GiB persisted vs arrayBuffer()', 'not measured yet', '≤ 3 × chunkBytes']);
rows.push(['resume waste', 'bytes fetched twice per reload, 256 MiB', 'not measured yet', '≤ 1 × chunkBytes']);

const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length), ['figure', 'compared', 'measured', 'target'][i].length));
const line = (r) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(`\n${line(['figure', 'compared', 'measured', 'target'])}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
