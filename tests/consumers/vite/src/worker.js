// A dedicated module worker of the app, bundled by Vite (`new Worker(new URL(...))` in check.js).
import init, { DownloadManager } from 'resumable-downloads';
import { serveChecks } from './worker-check.js';

serveChecks(init, DownloadManager);
