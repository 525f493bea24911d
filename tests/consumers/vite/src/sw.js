// The site's service worker, built by Vite (vite.config.js emits it as dist/sw.js): the
// library's handlers, imported by the package's `resumable-downloads/sw` export (sw-setup.js,
// copied here from tests/consumers/shared, adds the tests' logging).
import { handleBackgroundFetch } from 'resumable-downloads/sw';
import { swOptions } from './sw-setup.js';

handleBackgroundFetch(swOptions);
