// Features that need a real browser around the page: save() through the browser's download UI,
// and the batch notification shown while the page is hidden. Driven by features.mjs.
import init, { DownloadManager } from 'resumable-downloads';

const fixture = new URLSearchParams(location.search).get('fixture');
const status = document.getElementById('status');

// Observe notifications without replacing them: the real constructor still runs.
window.notifications = [];
const RealNotification = window.Notification;
window.Notification = new Proxy(RealNotification, {
  construct(target, args) {
    window.notifications.push({ title: args[0], body: args[1]?.body });
    return Reflect.construct(target, args);
  },
});

await init();
const manager = await DownloadManager.open({
  name: `features-${Date.now()}`,
  notifyWhenDone: { title: 'Batch done' },
  retry: { limit: 0 },
});

const toSave = manager.add(`${fixture}/file?size=100000&seed=9&tag=features`, { filename: 'from-option.bin' });
await toSave.done;
document.getElementById('save').addEventListener('click', () => {
  toSave.save('saved.bin').catch((e) => { status.textContent = `save failed: ${e.message}`; });
});

window.requestPermission = () => manager.requestNotificationPermission();
// Each batch uses new URLs (the fixture ignores `_` parameters), so every download transfers.
let batch = 0;
window.startBatch = async () => {
  batch += 1;
  const ids = [
    manager.add(`${fixture}/file?size=50000&seed=1&tag=features-batch&_b=${batch}`).id,
    manager.add(`${fixture}/file?size=50000&seed=2&tag=features-batch&_b=${batch}`).id,
    manager.add(`${fixture}/file?size=50&status=404&tag=features-batch&_b=${batch}`).id,
  ];
  return manager.whenAll(ids);
};
window.startLong = () => {
  const dl = manager.add(`${fixture}/file?size=3000000&seed=3&throttle=1000000&cut_at=1500000&cut_times=1&tag=features-offline`);
  window.long = dl;
  return dl.id;
};
window.progressOf = () => window.long.progress.transferredBytes;
window.longDone = async () => {
  const dl = await window.long.done.catch((e) => null);
  if (!dl) return false;
  const got = new Uint8Array(await (await dl.blob()).arrayBuffer());
  const want = new Uint8Array(await (await fetch(`${fixture}/content?seed=3&start=0&len=3000000`)).arrayBuffer());
  return got.length === want.length && got.every((b, i) => b === want[i]);
};
document.body.dataset.ready = 'yes';
status.textContent = 'ready';
