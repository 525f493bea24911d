/**
 * resumable-downloads/sw: the service worker's part of background mode. Call
 * `handleBackgroundFetch()` once at the top level of the site's service worker; it handles the
 * Background Fetch events of the library's registrations only (ids starting with
 * `resumable-downloads:`).
 */

export interface BackgroundFetchHandlerOptions {
  /**
   * The options a manager of this name is opened with in the service worker (its `name` is
   * always the registration's). Give the settings the pages use (`prepareRequest`, `retry`,
   * `timeouts`). Default: none.
   */
  managerOptions?: (name: string) => Record<string, unknown>;
  /**
   * Where `backgroundfetchclick` goes when no window of the site is open. Default: the service
   * worker's scope.
   */
  clickUrl?: string | ((info: { name: string; id: string }) => string);
  /**
   * Called with each manager opened in the service worker, before its download gets the
   * response: to add listeners (a notification, logs).
   */
  onManager?: (manager: import('./resumable_downloads.js').DownloadManager, name: string) => void | Promise<void>;
  /** What `init()` loads. Default: the package's .wasm beside this module. */
  wasm?: string | URL | Response | BufferSource | WebAssembly.Module;
  /** The title the browser's UI shows once the download is stored. Default: "<filename> downloaded". */
  doneTitle?: (info: { name: string; id: string; download: unknown }) => string;
}

/** Installs the Background Fetch handlers. */
export function handleBackgroundFetch(options?: BackgroundFetchHandlerOptions): void;

/** The manager name and download id of one of the library's registration ids, else `null`. */
export function parseRegistrationId(registrationId: string): { name: string; id: string } | null;
