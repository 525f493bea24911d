// The site's service worker of the background-mode tests: the library's handlers, one line
// (sw-setup.js, copied here from tests/consumers/shared, adds the tests' logging).
import { handleBackgroundFetch } from './node_modules/resumable-downloads/sw.js';
import { swOptions } from './sw-setup.js';

handleBackgroundFetch(swOptions);
