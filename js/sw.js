// resumable-downloads/sw: the service worker's part of background mode.
//
// A site's service worker calls `handleBackgroundFetch()` once, at its top level:
//
//   import { handleBackgroundFetch } from 'resumable-downloads/sw';
//   handleBackgroundFetch();
//
// It handles the Background Fetch events of the library's registrations (ids starting with
// `resumable-downloads:`) and leaves every other registration to the site's own handlers:
//
// - `backgroundfetchsuccess`: the response is given to the download (`resumeWith`) in a
//   manager opened here on the download's database. The same wasm core as in a page checks
//   it against what is stored (validators, range, total), appends its body to the stored
//   bytes with the same commits, checks `integrity`, and only then marks the download
//   completed. A page that is open follows it over the tabs' channel; one opened later finds
//   it completed and gets its `complete` event.
// - `backgroundfetchfail`: nothing is stored; the stored prefix stays, and the next page
//   continues the download itself with `Range` (a page that is open does so at once).
// - `backgroundfetchabort` (the user cancelled it in the browser's UI): the download is
//   cancelled and its stored bytes deleted, as `cancel()` would. A registration that a page
//   aborted itself (its `pause()` or `cancel()`) is not the download's any more and is left.
// - `backgroundfetchclick`: focuses a window of the site, or opens `clickUrl`.
//
// `onManager(manager, name)` is called with each manager opened here, before any download is
// given a response: to add listeners (a notification, logs).

import init, { DownloadManager } from './resumable_downloads.js';

const PREFIX = 'resumable-downloads:';

/**
 * The manager name and download id of one of the library's registration ids, else `null`.
 * @param {string} registrationId
 * @returns {{ name: string, id: string } | null}
 */
export function parseRegistrationId(registrationId) {
  if (typeof registrationId !== 'string' || !registrationId.startsWith(PREFIX)) return null;
  const rest = registrationId.slice(PREFIX.length);
  const at = rest.indexOf(':');
  if (at < 0) return null;
  try {
    return { name: decodeURIComponent(rest.slice(0, at)), id: decodeURIComponent(rest.slice(at + 1)) };
  } catch {
    return null;
  }
}

// Longest a success handler waits for its download to settle: the browser ends a service
// worker event that lasts much longer anyway, and a page continues what is left.
const SETTLE_MS = 4 * 60 * 1000;

/**
 * Installs the handlers. Call it once, at the top level of the service worker.
 * @param {object} [options]
 * @param {(name: string) => object} [options.managerOptions] The options a manager of this
 *   name is opened with here (its `name` is always the registration's). Give the same
 *   `integrity`-relevant and `prepareRequest` settings the pages use. Default: `{}`.
 * @param {string | ((info: { name: string, id: string }) => string)} [options.clickUrl]
 *   Where `backgroundfetchclick` goes when no window of the site is open. Default: the
 *   service worker's scope.
 * @param {string | URL | Response | BufferSource | WebAssembly.Module} [options.wasm] What
 *   `init()` loads (default: the package's .wasm beside this module).
 * @param {(manager: object, name: string) => void | Promise<void>} [options.onManager] Called
 *   with each manager opened here before its download gets the response (listeners, logs).
 * @param {(info: { name: string, id: string, download: object }) => string} [options.doneTitle]
 *   The title the browser's UI shows once the download is stored. Default: "<filename>
 *   downloaded".
 */
export function handleBackgroundFetch(options = {}) {
  const managers = new Map(); // name -> { opening: Promise<DownloadManager>, users: number }
  let ready = null;

  const start = () => {
    ready ??= init(options.wasm === undefined ? undefined : { module_or_path: options.wasm }).catch((err) => {
      ready = null;
      throw err;
    });
    return ready;
  };

  // One manager per database here, shared by the events that need it, closed after the last.
  const acquire = async (name) => {
    await start();
    let entry = managers.get(name);
    if (!entry) {
      const extra = options.managerOptions?.(name) ?? {};
      // Downloads of this database that were left running in a page are not started here:
      // a page continues them.
      const opening = DownloadManager.open({ ...extra, name, resumeOnOpen: false });
      entry = { opening: opening.then(async (m) => { await options.onManager?.(m, name); return m; }), users: 0 };
      managers.set(name, entry);
      entry.opening.catch(() => managers.delete(name));
    }
    entry.users += 1;
    return entry.opening;
  };
  const release = async (name) => {
    const entry = managers.get(name);
    if (!entry || --entry.users > 0) return;
    managers.delete(name);
    await (await entry.opening).close();
  };

  // Runs `work(manager, ids)` for one of the library's registrations, inside the event.
  const handle = (event, work) => {
    const ids = parseRegistrationId(event.registration?.id);
    if (!ids) return;
    event.waitUntil(
      (async () => {
        const manager = await acquire(ids.name);
        try {
          await work(manager, ids);
        } finally {
          await release(ids.name);
        }
      })().catch((err) => console.error('resumable-downloads: a Background Fetch event failed', err)),
    );
  };

  // The download, once its manager has had a turn to see what its record says.
  const find = async (manager, id) => {
    await new Promise((r) => setTimeout(r, 0));
    return manager.get(id);
  };

  self.addEventListener('backgroundfetchsuccess', (event) => {
    handle(event, async (manager, ids) => {
      const download = await find(manager, ids.id);
      // Cancelled, or paused (its registration no longer named): nothing to store.
      if (!download || download.mode !== 'background') return;
      const records = await event.registration.matchAll();
      const response = await records[0]?.responseReady;
      if (!response) throw new Error(`the Background Fetch of ${ids.id} has no response`);
      download.resumeWithBackgroundFetch(event.registration.id, response);
      let timer;
      const late = new Promise((r) => { timer = setTimeout(r, SETTLE_MS); });
      await Promise.race([download.done.catch(() => {}), late]);
      clearTimeout(timer);
      if (download.state === 'completed' && event.updateUI) {
        const title = options.doneTitle?.({ ...ids, download }) ?? `${download.filename} downloaded`;
        await event.updateUI({ title }).catch(() => {});
      }
    });
  });

  self.addEventListener('backgroundfetchfail', (event) => {
    // The stored prefix stays; the next page continues the download with Range.
    handle(event, async () => {});
  });

  self.addEventListener('backgroundfetchabort', (event) => {
    handle(event, async (manager, ids) => {
      const download = await find(manager, ids.id);
      // Only a download still in this registration: a page's pause forgot it first.
      if (download?.mode === 'background') await download.cancel();
    });
  });

  self.addEventListener('backgroundfetchclick', (event) => {
    const ids = parseRegistrationId(event.registration?.id);
    if (!ids) return;
    const url = typeof options.clickUrl === 'function' ? options.clickUrl(ids) : (options.clickUrl ?? self.registration.scope);
    event.waitUntil(
      (async () => {
        const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
        const open = windows.find((w) => w.url.startsWith(self.registration.scope));
        if (open) await open.focus();
        else await self.clients.openWindow(url);
      })().catch((err) => console.error('resumable-downloads: backgroundfetchclick failed', err)),
    );
  });
}
