// A dedicated module worker of the page. Import maps do not reach workers: the package is
// imported by its path.
import init, { DownloadManager } from './node_modules/resumable-downloads/resumable_downloads.js';
import { serveChecks } from './worker-check.js';

serveChecks(init, DownloadManager);
