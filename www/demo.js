// The demo page: imports the built package exactly as a user would.
import init, { DownloadManager, isDownloadError } from '../pkg/resumable_downloads.js';
import { FIXTURE_URL } from './config.js';

const MiB = 1024 * 1024;
const SAMPLES = [
  { name: 'map-tiles.pack', knobs: { size: 24 * MiB, seed: 1, throttle: 6 * MiB } },
  { name: 'model-small.bin', knobs: { size: 8 * MiB, seed: 2, throttle: 2 * MiB } },
  { name: 'podcast.mp3', knobs: { size: 3 * MiB, seed: 3, throttle: 400 * 1024 } },
  { name: 'stream.log (unknown size)', knobs: { size: 2 * MiB, seed: 4, chunked: 1, throttle: MiB } },
  { name: 'archive.gz (gzip)', knobs: { size: 4 * MiB, seed: 5, gzip: 1, throttle: MiB } },
  { name: 'missing.bin (404)', knobs: { size: MiB, seed: 6, status: 404 } },
  { name: 'stuck.bin (stalls)', knobs: { size: 4 * MiB, seed: 7, stall_at: MiB, throttle: MiB } },
];

function sampleUrl(sample) {
  const q = new URLSearchParams({ tag: 'demo', ...Object.fromEntries(
    Object.entries(sample.knobs).map(([k, v]) => [k, String(v)])) });
  return `${FIXTURE_URL}/file?${q}`;
}

function formatBytes(n) {
  if (n == null) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

await init();
const manager = await DownloadManager.open({ timeouts: { stall: 5000 } });
const grid = document.getElementById('grid');
const template = document.getElementById('tile');
const tiles = new Map(); // download id -> { el, sample, download }
const dirty = new Set();
let frame = 0;

function tileFor(sample) {
  const el = template.content.firstElementChild.cloneNode(true);
  el.querySelector('.name').textContent = sample.name;
  const entry = { el, sample, download: null };
  el.querySelector('.start').addEventListener('click', () => start(entry));
  el.querySelector('.cancel').addEventListener('click', () => entry.download?.cancel());
  el.querySelector('.save').addEventListener('click', () => entry.download?.save(sample.name));
  grid.append(el);
  paint(entry);
  return entry;
}

function attach(entry, download) {
  entry.download = download;
  tiles.set(download.id, entry);
  markDirty(download.id);
}

function start(entry) {
  const existing = entry.download;
  if (existing && (existing.state === 'failed' || existing.state === 'paused')) {
    existing.resume();
    return;
  }
  attach(entry, manager.add(sampleUrl(entry.sample), { id: entry.sample.name, filename: entry.sample.name }));
}

function markDirty(id) {
  dirty.add(id);
  if (!frame && document.visibilityState === 'visible') frame = requestAnimationFrame(flush);
}

function flush() {
  frame = 0;
  for (const id of dirty) { const e = tiles.get(id); if (e) paint(e); }
  dirty.clear();
  summarize();
}

function paint({ el, download }) {
  const state = download ? download.state : 'idle';
  const p = download ? download.progress : { transferredBytes: 0, totalBytes: null, percent: null, bytesPerSecond: 0, etaSeconds: null };
  el.dataset.state = state;
  el.dataset.indeterminate = String(state === 'running' && p.percent == null);
  const err = download?.error;
  el.querySelector('.state').textContent = state === 'failed' && isDownloadError(err) ? `failed · ${err.code}` : state;
  const bar = el.querySelector('.bar');
  el.querySelector('.fill').style.width = `${p.percent ?? 0}%`;
  if (p.percent == null) bar.removeAttribute('aria-valuenow');
  else bar.setAttribute('aria-valuenow', String(Math.round(p.percent)));
  el.querySelector('.bytes').textContent = `${formatBytes(p.transferredBytes)} / ${formatBytes(p.totalBytes)}`;
  el.querySelector('.rate').textContent = state === 'running' ? `${formatBytes(p.bytesPerSecond)}/s` : '';
  el.querySelector('.eta').textContent = state === 'running' && p.etaSeconds != null ? `${Math.ceil(p.etaSeconds)} s left` : '';
  el.querySelector('.start').disabled = state === 'running' || state === 'queued' || state === 'completed';
  el.querySelector('.start').textContent = state === 'paused' || state === 'failed' ? 'Resume' : 'Start';
  el.querySelector('.cancel').disabled = !(state === 'running' || state === 'queued');
  el.querySelector('.save').disabled = state !== 'completed';
}

function summarize() {
  const all = manager.list();
  const count = (s) => all.filter((d) => d.state === s).length;
  document.getElementById('summary').textContent = all.length
    ? `${count('completed')} completed · ${count('running')} running · ${count('failed')} failed · ${count('cancelled')} cancelled`
    : '';
}

for (const type of ['progress', 'statechange']) manager.on(type, (e) => markDirty(e.id));
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') { for (const id of tiles.keys()) markDirty(id); }
});

const entries = SAMPLES.map(tileFor);
// Downloads stored before a reload come back with their bytes; running ones continue.
for (const e of entries) {
  const restored = manager.get(e.sample.name);
  if (restored) attach(e, restored);
}
document.getElementById('start-all').addEventListener('click', () => {
  for (const e of entries) if (!e.download || ['failed', 'cancelled', 'paused'].includes(e.download.state)) start(e);
});
// Start the first sample right away so the page shows a download in progress.
if (!entries[0].download) start(entries[0]);
