// The demo's service worker: the library's Background Fetch handlers (one line), so that the
// background tile's download goes on with the tab closed and is stored when it ends.
import { handleBackgroundFetch } from '../pkg/sw.js';

handleBackgroundFetch({ clickUrl: './' });

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
