// The worker side of the consumer check: a dedicated module worker that uses the package and
// has a message handler of its own, installed before the package is initialised, as a loader's
// worker does. It answers each message exactly once: the first with its text, the second by
// downloading a file with a manager opened in the worker and sending its bytes back. Nothing
// else may answer the page: the package's storage worker protocol belongs to the worker the
// package starts itself. Copied next to each consumer's worker.js by scripts/consumer-test.sh.

export function serveChecks(init, DownloadManager) {
  const ready = init();
  self.addEventListener('message', async (event) => {
    const { n, text, url, tag } = event.data ?? {};
    try {
      await ready;
      if (n === 1) {
        self.postMessage({ n, echo: text });
        return;
      }
      const manager = await DownloadManager.open({ name: `worker-${tag}-${Date.now()}` });
      const dl = manager.add(url);
      await dl.done;
      const bytes = await (await dl.blob()).arrayBuffer();
      const backend = manager.storage.backend;
      await manager.remove(dl.id);
      await manager.close();
      self.postMessage({ n, backend, bytes }, [bytes]);
    } catch (e) {
      const reason = e?.name === 'DownloadError' ? `${e.code}: ${e.message}` : String(e?.stack ?? e);
      self.postMessage({ n, failed: reason });
    }
  });
}
