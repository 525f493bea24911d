// The tile-grid demo. It imports the built package the way a page would, and keeps one tile per
// sample file truthful: events only mark tiles dirty, painting happens once per animation
// frame and never while the page is hidden, and when the page comes back (visibilitychange,
// pageshow from the back/forward cache) every tile is redrawn from the manager's state in the
// event itself, before the first frame.
import init, { DownloadManager, isDownloadError } from '../pkg/resumable_downloads.js';

const params = new URLSearchParams(location.search);
// `make demo` writes config.js; tests pass the fixture server in the query instead.
const FIXTURE_URL = params.get('fixture') ?? (await import('./config.js')).FIXTURE_URL;
const MiB = 1024 * 1024;

// Sample files from the fixture server: byte = f(seed, offset), with per-file server behaviour.
const SAMPLES = [
  { name: 'map-tiles.pack', knobs: { size: 24 * MiB, seed: 1, throttle: 6 * MiB } },
  { name: 'model-small.bin', knobs: { size: 8 * MiB, seed: 2, throttle: 2 * MiB } },
  { name: 'podcast.mp3', knobs: { size: 3 * MiB, seed: 3, throttle: 400 * 1024 } },
  { name: 'offline-pack.zip (drops once)', knobs: { size: 4 * MiB, seed: 8, throttle: MiB, cut_at: 2 * MiB, cut_times: 1 } },
  { name: 'weights.bin (integrity)', knobs: { size: 2 * MiB, seed: 9, throttle: MiB }, integrity: true },
  { name: 'stream.log (unknown size)', knobs: { size: 2 * MiB, seed: 4, chunked: 1, ranges: 0, throttle: MiB } },
  { name: 'missing.bin (404)', knobs: { size: MiB, seed: 6, status: 404 } },
  { name: 'stuck.bin (stalls)', knobs: { size: 4 * MiB, seed: 7, stall_at: MiB, throttle: MiB } },
  // Handed to Background Fetch where the browser has it (Chromium, with sw.js controlling the
  // page): it goes on with the tab closed, and the tile shows it completed on return.
  { name: 'offline-maps.pack (continues with the tab closed)', knobs: { size: 6 * MiB, seed: 10, throttle: MiB }, background: true },
];

function sampleUrl(sample) {
  const q = new URLSearchParams({ tag: 'demo' });
  for (const [k, v] of Object.entries(sample.knobs)) q.set(k, String(v));
  return `${FIXTURE_URL}/file?${q}`;
}

// The integrity value of a sample, computed from the fixture's content with SubtleCrypto.
async function integrityOf(sample) {
  const { seed, size } = sample.knobs;
  const bytes = await (await fetch(`${FIXTURE_URL}/content?seed=${seed}&start=0&len=${size}`)).arrayBuffer();
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return `sha256-${btoa(String.fromCharCode(...digest))}`;
}

function formatBytes(n) {
  if (n == null) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

await init();
// The service worker that stores what Background Fetch fetched (not awaited: the demo works
// without it, and the background tile then runs in the page, as it says).
navigator.serviceWorker?.register('./sw.js', { type: 'module' }).catch(() => {});
const manager = await DownloadManager.open({
  name: params.get('db') ?? 'demo',
  concurrency: 4,
  chunkBytes: MiB, // the sample files are small: commit often, so a reload keeps more
  timeouts: { stall: 4000 },
  retry: { limit: 2, backoffMs: 500 },
  notifyWhenDone: true,
});
window.manager = manager; // for the end-to-end tests and the curious

const grid = document.getElementById('grid');
const template = document.getElementById('tile');
const summary = document.getElementById('summary');
const tiles = new Map(); // download id (the sample name) -> tile entry
const dirty = new Set();
let frame = 0;

function tileFor(sample) {
  const el = template.content.firstElementChild.cloneNode(true);
  el.querySelector('.name').textContent = sample.name;
  el.dataset.id = sample.name;
  el.querySelector('.bar').setAttribute('aria-label', `${sample.name} progress`);
  // The manager is the source of truth: a tile looks its download up every time, so downloads
  // restored after a reload or added in another tab show up by themselves.
  const entry = { el, sample, get download() { return manager.get(sample.name) ?? null; } };
  const on = (cls, fn) => el.querySelector(cls).addEventListener('click', fn);
  on('.start', () => start(entry));
  on('.pause', () => entry.download?.pause());
  on('.resume', () => entry.download?.resume());
  on('.cancel', () => entry.download?.cancel());
  on('.retry', () => retry(entry));
  on('.save', () => entry.download?.save());
  grid.append(el);
  tiles.set(sample.name, entry);
  return entry;
}

async function start(entry) {
  const options = { id: entry.sample.name, filename: entry.sample.name.split(' ')[0] };
  if (entry.sample.integrity) options.integrity = await integrityOf(entry.sample);
  if (entry.sample.background) options.background = true;
  manager.add(sampleUrl(entry.sample), options);
  markDirty(entry.sample.name);
}

async function retry(entry) {
  const d = entry.download;
  if (d?.state === 'failed') d.resume();
  else if (d?.state === 'cancelled') await start(entry);
  markDirty(entry.sample.name);
}

function markDirty(id) {
  dirty.add(id);
  // Hidden pages do no DOM work; the visibilitychange handler repaints everything.
  if (!frame && document.visibilityState === 'visible') frame = requestAnimationFrame(flush);
}

// Coming back into view: repaint now, in the event, so that the first frame the user sees
// already shows the current state.
function repaintNow() {
  if (frame) cancelAnimationFrame(frame);
  for (const id of tiles.keys()) dirty.add(id);
  flush();
}

function flush() {
  frame = 0;
  // A frame requested before the page was hidden: keep the tiles dirty for the wake.
  if (document.visibilityState !== 'visible') return;
  for (const id of dirty) {
    const entry = tiles.get(id);
    if (entry) paint(entry);
  }
  dirty.clear();
  summarize();
}

const LABELS = { idle: 'not started', queued: 'queued', running: 'running', paused: 'paused', completed: 'completed', failed: 'failed', cancelled: 'cancelled' };

function paint(entry) {
  const { el, download } = entry;
  const state = download ? download.state : 'idle';
  const p = download ? download.progress : { transferredBytes: 0, totalBytes: null, percent: null, bytesPerSecond: 0, etaSeconds: null };
  const err = download?.error;
  const code = state === 'failed' && isDownloadError(err) ? err.code : '';
  el.dataset.state = state;
  el.dataset.bytes = String(p.transferredBytes);
  el.dataset.code = code;
  el.dataset.mode = download?.mode ?? '';
  el.dataset.indeterminate = String(state === 'running' && p.percent == null);
  const where = state === 'running' && download.mode === 'background' ? ' · in the background' : '';
  el.querySelector('.state').textContent = code ? `failed · ${code}` : `${LABELS[state]}${where}`;
  const bar = el.querySelector('.bar');
  el.querySelector('.fill').style.width = `${p.percent ?? (state === 'completed' ? 100 : 0)}%`;
  if (p.percent == null) bar.removeAttribute('aria-valuenow');
  else bar.setAttribute('aria-valuenow', String(Math.round(p.percent)));
  bar.setAttribute('aria-valuetext', p.percent == null ? `${formatBytes(p.transferredBytes)} received` : `${Math.round(p.percent)}%`);
  el.querySelector('.percent').textContent = p.percent == null ? '' : `${Math.floor(p.percent)}%`;
  el.querySelector('.bytes').textContent = `${formatBytes(p.transferredBytes)} / ${formatBytes(p.totalBytes)}`;
  el.querySelector('.rate').textContent = state === 'running' ? `${formatBytes(p.bytesPerSecond)}/s` : '';
  el.querySelector('.eta').textContent = state === 'running' && p.etaSeconds != null ? `${Math.ceil(p.etaSeconds)} s left` : '';
  const show = { start: state === 'idle', pause: state === 'running' || state === 'queued', resume: state === 'paused',
    cancel: ['running', 'queued', 'paused'].includes(state), retry: state === 'failed' || state === 'cancelled', save: state === 'completed' };
  for (const [cls, visible] of Object.entries(show)) el.querySelector(`.${cls}`).hidden = !visible;
}

function summarize() {
  const all = manager.list();
  const count = (s) => all.filter((d) => d.state === s).length;
  summary.textContent = all.length
    ? `${count('completed')} completed · ${count('running')} running · ${count('queued')} queued · ${count('failed')} failed`
    : '';
}

for (const type of ['progress', 'statechange', 'restarted']) manager.on(type, (e) => markDirty(e.id));
document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') repaintNow(); });
addEventListener('pageshow', (e) => { if (e.persisted) repaintNow(); });

const entries = SAMPLES.map(tileFor);
// Downloads stored before a reload come back with their bytes; running ones continue. They
// are painted now, so the first frame already shows them.
repaintNow();

document.getElementById('start-all').addEventListener('click', async () => {
  manager.requestNotificationPermission(); // a user gesture: the only time to ask
  const batch = document.getElementById('batch');
  batch.textContent = '';
  for (const e of entries) {
    if (!e.download) await start(e);
    else if (e.download.state === 'paused') e.download.resume();
    else if (['failed', 'cancelled'].includes(e.download.state)) await retry(e);
  }
  const { completed, failed, cancelled } = await manager.whenAll(entries.map((e) => e.sample.name));
  batch.textContent = `Batch finished: ${completed.length} completed, ${failed.length} failed` +
    `${failed.length ? ` (${failed.map((f) => `${f.id}: ${f.code}`).join(', ')})` : ''}, ${cancelled.length} cancelled.`;
});
document.body.dataset.ready = 'yes';
