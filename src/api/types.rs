//! The TypeScript declarations of the options, progress, events and errors, shipped in the
//! package's `.d.ts` next to the classes wasm-bindgen declares. Interfaces named like a class
//! (`DownloadManager`) merge with it to type what `wasm-bindgen` cannot (generic `on`).

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** Lifecycle state of a download. */
export type DownloadState = 'queued' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';

/** Stable error codes of `DownloadError.code`. */
export type DownloadErrorCode =
  | 'NETWORK' | 'STALLED' | 'HEADERS_TIMEOUT' | 'DEADLINE' | 'HTTP_STATUS' | 'RATE_LIMITED'
  | 'BAD_RESPONSE' | 'INTEGRITY' | 'QUOTA' | 'STORAGE' | 'ABORTED' | 'INVALID_ARGUMENT';

/** Every failure: a real `Error` whose `name` is `'DownloadError'`. */
export interface DownloadError extends Error {
  name: 'DownloadError';
  code: DownloadErrorCode;
  /** The HTTP status, for `HTTP_STATUS` and `RATE_LIMITED`. */
  status?: number;
  /** The server's Retry-After, in milliseconds. */
  retryAfterMs?: number;
}

/** True when `value` is a `DownloadError` (checks `name`, so it works across bundles). */
export function isDownloadError(value: unknown): value is DownloadError;

/** A download's progress. `totalBytes` is null when unknown; `percent` never exceeds 100. */
export interface Progress {
  transferredBytes: number;
  totalBytes: number | null;
  percent: number | null;
  bytesPerSecond: number;
  etaSeconds: number | null;
}

/** Timeouts in milliseconds; 0 disables one. */
export interface TimeoutOptions {
  /** From the start of a request to its response head. Default 30000. */
  headers?: number;
  /** Longest time without a body byte. Default 30000. */
  stall?: number;
  /** The whole download, from when it starts running. Default 0 (none). */
  total?: number;
}

/** Automatic retries. */
export interface RetryOptions {
  /** Retries in a row without progress. Default 5. */
  limit?: number;
  /** First delay; it doubles each time. Default 1000. */
  backoffMs?: number;
  /** Cap on the delay. Default 60000. */
  maxBackoffMs?: number;
  /** Draw each delay from [delay/2, delay]. Default true. */
  jitter?: boolean;
  /** A longer Retry-After fails with RATE_LIMITED. Default 300000. */
  maxRetryAfterMs?: number;
}

/** Options of `DownloadManager.open`; every one is optional. */
export interface ManagerOptions {
  /** Database name; separate names never share data. Default 'default'. */
  name?: string;
  /** Downloads running at once. Default 4. */
  concurrency?: number;
  timeouts?: TimeoutOptions;
  retry?: RetryOptions;
  /** Bytes per stored chunk (64 KiB to 256 MiB). Default 4194304. */
  chunkBytes?: number;
  /** At most one progress event per download per interval. Default 100. */
  progressIntervalMs?: number;
  /** Unfinished downloads untouched this long are deleted on open; 0 = never. Default 7 days. */
  expireAfterMs?: number;
  /** Keep downloads in IndexedDB so they resume after a reload; false keeps them in memory. Default true. */
  persist?: boolean;
  /** Show a notification when a batch finishes while the page is hidden. Default false. */
  notifyWhenDone?: boolean | { title?: string };
}

/** Options of `manager.add`; every one is optional. */
export interface AddOptions {
  /** The download's id. Default: derived from the URL. */
  id?: string;
  /** Name used by `save()`. Default: the last URL path segment. */
  filename?: string;
  /** Extra request headers, sent again on resume. */
  headers?: Record<string, string> | Headers;
  /** Aborting it cancels the download. */
  signal?: AbortSignal;
  /** `'sha256-<base64>'`: checked when the download completes. */
  integrity?: string;
  /** Higher starts first; equal priorities start in the order added. Default 0. */
  priority?: number;
}

/** Why stored bytes were discarded. */
export type RestartReason =
  | 'range-ignored' | 'validator-changed' | 'total-changed' | 'source-changed'
  | 'bad-partial' | 'unsatisfiable' | 'not-resumable' | 'integrity';

interface DownloadEventBase<T extends string> { type: T; id: string; download: Download; }

/** Payloads of the manager's events, by type. */
export interface DownloadEventMap {
  progress: DownloadEventBase<'progress'> & { progress: Progress };
  statechange: DownloadEventBase<'statechange'> & { state: DownloadState; previousState: DownloadState };
  complete: DownloadEventBase<'complete'>;
  error: DownloadEventBase<'error'> & { error: DownloadError };
  restarted: DownloadEventBase<'restarted'> & { reason: RestartReason; wastedBytes: number };
  retry: DownloadEventBase<'retry'> & { error: DownloadError; attempt: number; delayMs: number };
  idle: { type: 'idle' };
}

/** What `whenAll` resolves with. */
export interface WhenAllResult {
  completed: string[];
  failed: { id: string; code: DownloadErrorCode }[];
  cancelled: string[];
}

export interface DownloadManager {
  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof DownloadEventMap>(type: K, listener: (event: DownloadEventMap[K]) => void): () => void;
}
"#;
