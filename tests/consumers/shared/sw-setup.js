// What the site's service worker of the background-mode tests adds around the library's
// handlers (shared by the plain consumer's sw.js and the Vite consumer's src/sw.js): it
// takes control at once, and keeps what it logs (the library's warnings and errors, each
// Background Fetch event, the manager's events) in the Cache API, so that the driver
// (tests/consumers/background.mjs) can show it when a check fails.
const keep = (level, args) => {
  const text = `${new Date().toISOString()} ${level}: ${args.map((a) => (a instanceof Error ? a.stack : String(a))).join(' ')}`;
  caches.open('sw-log').then((c) => c.put(`/sw-log/${Date.now()}-${Math.random()}`, new Response(text))).catch(() => {});
};
for (const level of ['warn', 'error']) {
  const original = console[level].bind(console);
  console[level] = (...args) => { keep(level, args); original(...args); };
}
for (const type of ['backgroundfetchsuccess', 'backgroundfetchfail', 'backgroundfetchabort', 'backgroundfetchclick']) {
  self.addEventListener(type, (e) => keep('event', [type, e.registration.id, e.registration.result, e.registration.failureReason]));
}
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

/** The options the tests' service workers give `handleBackgroundFetch`. */
export const swOptions = {
  managerOptions: () => ({ chunkBytes: 65536 }),
  onManager: (manager, name) => {
    let last = 0;
    manager.on('progress', (e) => {
      if (last && e.progress.transferredBytes - last < 500_000) return;
      last = e.progress.transferredBytes;
      keep('manager', [name, 'progress', e.id, last]);
    });
    for (const type of ['statechange', 'restarted', 'retry', 'error', 'complete']) {
      manager.on(type, (e) => keep('manager', [name, type, e.id, e.previousState ?? '', '->', e.state ?? '', e.reason ?? '', e.error?.code ?? '', e.error?.message ?? '']));
    }
  },
};
