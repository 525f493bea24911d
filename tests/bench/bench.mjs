// `make bench`: the library against hand-written baselines, side by side in one headless
// Chromium against one unthrottled release fixture server. Pipelines that are compared run
// interleaved, one warm-up round then ROUNDS measured rounds, each round in a rotated order with
// a garbage collection before every run, so drift and order effects fall on both sides alike.
// Every figure prints its median and spread (min–max); the run ends with one summary table.
// Usage: node tests/bench/bench.mjs <fixture URL>
import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchCdpChromium, serve } from '../consumers/browser.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const fixture = process.argv[2];
if (!fixture) {
  console.error('usage: node tests/bench/bench.mjs <fixture URL>');
  process.exit(2);
}
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
// BENCH_ONLY="throughput memory resume restore small" picks sections (all by default).
const only = (process.env.BENCH_ONLY ?? '').split(/\s+/).filter(Boolean);
const section = (name) => only.length === 0 || only.includes(name);
const MiB = 1024 * 1024;
const FLUSH = MiB; // the default flushBytes
const CHUNK = 4 * MiB; // the default chunkBytes
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const spread = (xs, digits = 1) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
const fmt = (xs, unit = 'ms', digits = 1) => `${median(xs).toFixed(digits)} ${unit} (${spread(xs, digits)})`;
const mib = (bytes) => `${(bytes / MiB).toFixed(1)} MiB`;
const inChunks = (xs) => `${mib(median(xs))} = ${(median(xs) / CHUNK).toFixed(2)} × chunkBytes`;
const inFlushes = (xs) => `${mib(median(xs))} = ${(median(xs) / FLUSH).toFixed(2)} × flushBytes`;
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const started = Date.now();
// A bound on the whole run, so that a stuck page fails the command instead of hanging it.
const hardStop = setTimeout(() => { console.error('bench: timed out after 30 minutes'); process.exit(1); }, 30 * 60_000);

const { origin, close } = await serve(root);
const browser = await launchCdpChromium(['--js-flags=--expose-gc']);
const rows = [];
const row = (figure, compared, measured, target) => rows.push([figure, compared, measured, target]);
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  const benchPage = `${origin}/tests/bench/bench.html?fixture=${encodeURIComponent(fixture)}`;
  const ready = () => page.waitForFunction(() => document.body.dataset.ready === 'yes', null, { timeout: 30_000 });
  await page.goto(benchPage);
  await ready();
  const call = (fn, ...args) => page.evaluate(([fn, args]) => window[fn](...args), [fn, args]);
  const gc = () => page.evaluate(() => window.gc());

  // Runs the named pipelines interleaved; resolves with each one's times.
  const interleaved = async (title, runs) => {
    console.log(`\n${title}`);
    const times = runs.map(() => []);
    for (let round = -1; round < ROUNDS; round++) {
      for (let k = 0; k < runs.length; k++) {
        const i = (k + Math.max(round, 0)) % runs.length;
        await gc();
        const ms = await call(...runs[i].call);
        if (round >= 0) times[i].push(ms);
      }
    }
    runs.forEach((r, i) => console.log(`  ${r.label}: ${fmt(times[i])}`));
    return times;
  };
  // base/lib per round: above 1 the library is faster.
  const ratios = (base, lib) => base.map((b, i) => b / lib[i]);
  const ratio = (base, lib) => { const r = ratios(base, lib); return `${median(r).toFixed(2)}× (${spread(r, 2)})`; };

  // Throughput.
  const size = 256 * MiB;
  if (section('throughput')) {
  const [plain, keep, memory, sinked, handF, opfs, own, hand, idb] = await interleaved(`throughput, 256 MiB, ${ROUNDS} rounds`, [
    { label: 'plain fetch reader loop (bytes dropped)', call: ['plainLoop', size] },
    { label: 'plain fetch reader loop keeping 4 MiB Blobs', call: ['plainKeep', size] },
    { label: 'library, persist: false', call: ['libMemory', size] },
    { label: 'library, to a WritableStream sink that drops the bytes', call: ['libSink', size] },
    { label: 'hand-written reader loop + OPFS worker (SyncAccessHandle, flush every MiB)', call: ['handOpfs', size] },
    { label: "library, persisted, storage: 'opfs' (the default here)", call: ['libOpfs', size] },
    { label: "library, persisted into the page's own OPFS file (add(url, { file }))", call: ['libFile', size] },
    { label: 'hand-written reader loop + 4 MiB Blobs into IndexedDB', call: ['handIdb', size] },
    { label: "library, persisted, storage: 'indexeddb'", call: ['libIdb', size] },
  ]);
  const mbps = (xs) => `${(size / 1e6 / (median(xs) / 1000)).toFixed(0)} MB/s`;
  console.log(`  medians: plain ${mbps(plain)}, keeping ${mbps(keep)}, library in memory ${mbps(memory)}, library to a sink ${mbps(sinked)}, hand-written OPFS ${mbps(handF)}, library OPFS ${mbps(opfs)}, library into the page's file ${mbps(own)}, hand-written IndexedDB ${mbps(hand)}, library IndexedDB ${mbps(idb)}`);
  row('stream-through throughput', 'library to a `WritableStream` sink vs plain reader loop dropping the bytes', ratio(plain, sinked), '≥ 0.95×');
  row('', 'library (persist: false, keeping the file) vs plain reader loop dropping the bytes', ratio(plain, memory), 'report');
  row('', 'library (persist: false) vs plain reader loop keeping them as Blobs', ratio(keep, memory), 'report');
  row('persisted throughput', 'library, OPFS vs plain reader loop dropping the bytes', ratio(plain, opfs), '≥ 0.8×');
  row('', 'library, OPFS vs hand-written reader loop + OPFS worker', ratio(handF, opfs), 'report');
  row('', "library into the page's own OPFS file (`add(url, { file })`) vs plain reader loop dropping the bytes", ratio(plain, own), 'report');
  row('', 'library, IndexedDB vs hand-written reader loop + IndexedDB', ratio(hand, idb), '≥ 1.0×');
  row('', 'library, IndexedDB vs plain reader loop dropping the bytes', ratio(plain, idb), 'report');
  }

  // Memory: the peak of JS heap + ArrayBuffer backing stores (CDP Runtime.getHeapUsage) plus
  // wasm linear memory, above the idle page, sampled every 10 ms.
  // Each in a fresh page, so that earlier runs' memory (wasm memory never shrinks) is not
  // counted or hidden.
  const peakAbove = async (fn, ...args) => {
    const fresh = await browser.newPage();
    try {
      await fresh.goto(benchPage);
      await fresh.waitForFunction(() => document.body.dataset.ready === 'yes', null, { timeout: 30_000 });
      const session = await fresh.context().newCDPSession(fresh);
      const usage = async () => { const u = await session.send('Runtime.getHeapUsage'); return u.usedSize + (u.backingStorageSize ?? 0); };
      const wasmBytes = () => fresh.evaluate(() => window.wasmBytes());
      await fresh.evaluate(() => window.gc());
      const base = await usage();
      const wasm0 = await wasmBytes();
      let peak = base, sampling = true, samples = 0;
      const sampler = (async () => { while (sampling) { peak = Math.max(peak, await usage()); samples++; await sleep(10); } })();
      await fresh.evaluate(([fn, args]) => window[fn](...args), [fn, args]);
      peak = Math.max(peak, await usage());
      sampling = false;
      await sampler;
      if (samples < 20) throw new Error(`only ${samples} memory samples`);
      return peak - base + (await wasmBytes()) - wasm0;
    } finally {
      await fresh.close();
    }
  };
  const gib = 1024 * MiB;
  if (section('memory')) {
  // The file's SRI hash, computed here from one streamed copy, for the integrity variant.
  const hash = createHash('sha256');
  for await (const part of (await fetch(`${fixture}/file?size=${gib}&seed=9&tag=bench-hash`)).body) hash.update(part);
  const integrity = `sha256-${hash.digest('base64')}`;
  const memoryRounds = Math.min(ROUNDS, 3);
  console.log(`\nmemory, 1 GiB, ${memoryRounds} rounds (peak JS heap + backing stores + wasm memory, above idle)`);
  const libPeaks = [], sriPeaks = [], idbPeaks = [], idbSriPeaks = [], bufPeaks = [];
  for (let r = 0; r < memoryRounds; r++) {
    libPeaks.push(await peakAbove('libVerified', gib, 9, undefined, 'opfs'));
    sriPeaks.push(await peakAbove('libVerified', gib, 9, integrity, 'opfs'));
    idbPeaks.push(await peakAbove('libVerified', gib, 9, undefined, 'indexeddb'));
    idbSriPeaks.push(await peakAbove('libVerified', gib, 9, integrity, 'indexeddb'));
    bufPeaks.push(await peakAbove('wholeBuffer', gib));
  }
  console.log(`  library, OPFS: ${fmt(libPeaks.map((b) => b / MiB), 'MiB')}`);
  console.log(`  library, OPFS, with integrity: ${fmt(sriPeaks.map((b) => b / MiB), 'MiB')}`);
  console.log(`  library, IndexedDB: ${fmt(idbPeaks.map((b) => b / MiB), 'MiB')}`);
  console.log(`  library, IndexedDB, with integrity: ${fmt(idbSriPeaks.map((b) => b / MiB), 'MiB')}`);
  console.log(`  fetch().arrayBuffer(): ${fmt(bufPeaks.map((b) => b / MiB), 'MiB')}`);
  row('memory', `1 GiB, OPFS: peak JS heap + wasm memory (arrayBuffer(): ${mib(median(bufPeaks))})`, inFlushes(libPeaks), '≤ 3 × flushBytes');
  row('', '1 GiB, OPFS, with integrity (SHA-256 in wasm)', inFlushes(sriPeaks), '≤ 3 × flushBytes');
  row('', '1 GiB, IndexedDB', inChunks(idbPeaks), '≤ 3 × chunkBytes');
  row('', '1 GiB, IndexedDB, with integrity', inChunks(idbSriPeaks), '≤ 3 × chunkBytes');
  }

  // Resume waste: real page reloads at random points of a 256 MiB download. From the fixture
  // server's log: each reload wastes what the server had sent past the offset the next
  // request resumes from. Unthrottled, and paced at 100 MB/s (a fast real link), since on
  // loopback the socket and browser buffers alone hold several MB in flight.
  const reloads = 3;
  const resumeWaste = async (pace, storage) => {
    const waste = [];
    const query = `size=${size}${pace ? `&throttle=${pace}` : ''}`;
    for (let r = 0; r < ROUNDS; r++) {
      const tag = `bench-resume-${Date.now()}-${r}`;
      const name = tag;
      const href = `${fixture}/file?${query}&seed=${r + 20}&tag=${tag}`;
      const points = Array.from({ length: reloads }, () => 0.1 + 0.8 * Math.random()).sort();
      await call('resumeOpen', name, href, storage);
      for (const point of points) {
        const deadline = Date.now() + 60_000;
        while ((await call('resumeReceived')) < point * size && Date.now() < deadline) await sleep(2);
        await page.reload();
        await ready();
        await call('resumeOpen', name, href, storage);
      }
      const total = await call('resumeFinish', name, `${fixture}/file?size=${size}&seed=${r + 20}&tag=${tag}-check`);
      if (total !== size) throw new Error(`resumed download has ${total} bytes`);
      const gets = (await (await fetch(`${fixture}/log?tag=${tag}`)).json()).filter((e) => e.method === 'GET').sort((a, b) => a.seq - b.seq);
      const start = (e) => Number(/^bytes=(\d+)-/.exec(e.range ?? '')?.[1] ?? 0);
      const round = gets.slice(0, -1).map((e, i) => start(e) + e.bytes_sent - start(gets[i + 1]));
      waste.push(...round);
      console.log(`  round ${r + 1}: reloads at ${points.map((p) => `${Math.round(p * 100)}%`).join(', ')}; ${gets.length} requests; byte-exact; fetched twice ${round.map(mib).join(', ')}`);
    }
    return waste;
  };
  if (section('resume')) {
  let first = true;
  for (const storage of ['opfs', 'indexeddb']) {
    const fig = first ? 'resume waste' : '';
    first = false;
    console.log(`\nresume waste, storage: '${storage}', 256 MiB, ${reloads} reloads at random points per round, ${ROUNDS} rounds, unthrottled`);
    const twice = await resumeWaste(0, storage);
    console.log(`  per reload: ${fmt(twice.map((b) => b / MiB), 'MiB')}`);
    console.log(`resume waste, storage: '${storage}', paced at 100 MB/s`);
    const twicePaced = await resumeWaste(100_000_000, storage);
    console.log(`  per reload: ${fmt(twicePaced.map((b) => b / MiB), 'MiB')}`);
    row(fig, `${storage}: bytes fetched twice per reload, 256 MiB, unthrottled loopback`, inChunks(twice), '≤ 1 × chunkBytes');
    row('', `${storage}: the same, paced at 100 MB/s`, mib(median(twicePaced)), '≤ 1 MiB');
  }
  }

  // Restore latency.
  if (section('restore')) {
  const restore = await call('restoreLatency', 1000);
  console.log(`\nrestore, 1,000 downloads: visibilitychange to tiles painted and laid out ${fmt(restore.wake)}; to the start of the next frame ${fmt(restore.frame)}; the library's share (state and progress of all 1,000) ${fmt(restore.reads)}`);
  row('restore latency', '1,000 tiles: visibilitychange to painted and laid out', fmt(restore.wake), '≤ 16 ms (one frame)');
  row('', "the library's share: reading all 1,000 downloads' state", fmt(restore.reads), 'report');
  }

  // Many small.
  const count = 500, each = 256 * 1024;
  if (section('small')) {
  const [small, smallIdb, plainSmall, one] = await interleaved(`many small, ${ROUNDS} rounds`, [
    { label: `${count} × 256 KiB through the queue, OPFS`, call: ['manySmall', count, each, 'opfs'] },
    { label: `${count} × 256 KiB through the queue, IndexedDB`, call: ['manySmall', count, each, 'indexeddb'] },
    { label: `${count} × 256 KiB as plain fetches, 4 at a time`, call: ['plainMany', count, each] },
    { label: `one download of ${count * each / MiB} MiB`, call: ['libPersisted', count * each] },
  ]);
  row('many small', `OPFS: ${count} × 256 KiB through the queue vs the same as plain fetches, 4 at a time`, ratio(plainSmall, small), '≥ 0.8×');
  row('', `IndexedDB: the same`, ratio(plainSmall, smallIdb), '≥ 0.8×');
  row('', `OPFS: ${count} × 256 KiB vs one download of the same total`, ratio(one, small), 'report');
  row('', `plain fetches: ${count} × 256 KiB vs the one download`, ratio(one, plainSmall), 'report');
  }
} finally {
  await browser.close();
  close();
}

const wasm = await readFile(resolve(root, 'pkg/resumable_downloads_bg.wasm'));
const glue = await readFile(resolve(root, 'pkg/resumable_downloads.js'));
const gz = (b) => gzipSync(b, { level: 9 }).length;
row('size', 'gzipped .wasm + JS glue, release package', `${((gz(wasm) + gz(glue)) / 1000).toFixed(1)} KB (${(gz(wasm) / 1000).toFixed(1)} + ${(gz(glue) / 1000).toFixed(1)})`, '≤ 45 KB');

const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length), ['figure', 'compared', 'measured', 'target'][i].length));
const line = (r) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(`\n${ROUNDS} rounds each, ${((Date.now() - started) / 1000).toFixed(0)} s; ratios are per-round medians (spread), above 1 the library is faster`);
console.log(`${line(['figure', 'compared', 'measured', 'target'])}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
clearTimeout(hardStop);
