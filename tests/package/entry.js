// The installed package's entry points in a real page, before and after init(): what works
// before it, what says "call init() first", the constructors that are not public, `cause`, and
// the option names the parser accepts (reported for scripts/package-test.sh to compare with the
// .d.ts). The fixture server's URL comes in the `fixture` query parameter. The outcome is
// written to document.body.dataset.result: 'ok', or 'error' with the reason in the page text;
// the option names go to document.body.dataset.options as JSON.
import init, { Download, DownloadManager, isDownloadError, initSync } from 'resumable-downloads';

const results = [];
function expect(ok, what) {
  results.push(`${ok ? 'ok' : 'FAIL'}: ${what}`);
  if (!ok) throw new Error(`${what}\n${results.join('\n')}`);
}

/** The error `f()` throws (or the promise it returns rejects with); fails if there is none. */
async function failure(f, what) {
  let value;
  try {
    value = f();
  } catch (e) {
    return { error: e, sync: true };
  }
  try {
    await value;
  } catch (e) {
    return { error: e, sync: false };
  }
  throw new Error(`${what}: no error`);
}

function isMisuse(e, needle) {
  return isDownloadError(e) && e.code === 'INVALID_ARGUMENT' && e instanceof Error &&
    e.message.includes(needle);
}

async function beforeInit() {
  // isDownloadError only reads name and code.
  expect(isDownloadError({ name: 'DownloadError', code: 'NETWORK' }), 'isDownloadError before init()');
  expect(!isDownloadError(new Error('plain')), 'isDownloadError(plain Error) is false');
  for (const v of [undefined, null, 0, 'DownloadError', Symbol('x'), () => {}]) {
    expect(isDownloadError(v) === false, `isDownloadError(${String(v)}) is false`);
  }
  const hostile = new Proxy({}, { get() { throw new Error('trap'); } });
  expect(isDownloadError(hostile) === false, 'isDownloadError of an object whose getters throw');

  const open = await failure(() => DownloadManager.open(), 'open() before init()');
  expect(!open.sync, 'open() before init() rejects rather than throws');
  expect(isMisuse(open.error, 'call init() first'), `open() before init(): ${open.error}`);

  for (const [Class, needle] of [[DownloadManager, 'use DownloadManager.open()'],
    [Download, 'manager.add()']]) {
    const made = await failure(() => new Class(), `new ${Class.name}()`);
    expect(made.sync && isMisuse(made.error, needle), `new ${Class.name}(): ${made.error}`);
  }

  // A failing init() (HTML where the .wasm should be, as a misconfigured server sends it):
  // its own error comes out, and later calls say why the module is not ready.
  const bad = await failure(() => init({ module_or_path: new URL('./index.html', location.href) }),
    'init() with HTML for the .wasm');
  expect(!isDownloadError(bad.error) && /WebAssembly|magic|Compile/i.test(String(bad.error)),
    `init() with HTML rejects with the browser's own error: ${bad.error}`);
  const after = await failure(() => DownloadManager.open(), 'open() after a failed init()');
  expect(isMisuse(after.error, 'call init() first (init() failed: '),
    `open() after a failed init() says why: ${after.error.message}`);
  const sync = await failure(() => initSync(new Uint8Array([0, 1, 2])), 'initSync(garbage)');
  expect(sync.sync && !isDownloadError(sync.error), `initSync(garbage) throws: ${sync.error}`);
}

/** The option names a parser accepts, from its message for an unknown key. */
async function accepted(f) {
  const { error } = await failure(f, 'an unknown option');
  const m = /unknown option \(expected one of: ([^)]*)\)/.exec(error.message);
  expect(m !== null, `an unknown option names the accepted ones: ${error.message}`);
  return m[1].split(', ').sort();
}

async function afterInit(fixture) {
  await init();
  const manager = await DownloadManager.open({ name: `package-${Date.now()}`, retry: { limit: 0 } });
  expect(manager instanceof DownloadManager, 'a manager is instanceof DownloadManager');
  const made = await failure(() => new DownloadManager(), 'new DownloadManager() after init()');
  expect(made.sync && isMisuse(made.error, 'use DownloadManager.open()'),
    'new DownloadManager() still fails after init()');

  const options = {
    open: await accepted(() => DownloadManager.open({ bogus: 1 })),
    timeouts: await accepted(() => DownloadManager.open({ timeouts: { bogus: 1 } })),
    retry: await accepted(() => DownloadManager.open({ retry: { bogus: 1 } })),
    notifyWhenDone: await accepted(() => DownloadManager.open({ notifyWhenDone: { bogus: 1 } })),
    add: await accepted(() => manager.add(`${fixture}/file?size=1`, { bogus: 1 })),
  };
  document.body.dataset.options = JSON.stringify(options);

  const dl = manager.add(`${fixture}/file?size=1000&seed=3&tag=package-entry`);
  expect(dl instanceof Download, 'a download is instanceof Download');
  await dl.done;
  expect(dl.state === 'completed' && dl.finalUrl !== undefined, 'a download completes');

  // A DownloadError that wraps a JS error keeps it as cause: a request to a closed port fails
  // with fetch's TypeError.
  const port = new URL(fixture).port;
  const refused = manager.add(`http://127.0.0.1:${port === '9' ? '10' : '9'}/file`);
  const { error } = await failure(() => refused.done, 'a refused connection');
  expect(isDownloadError(error) && error.code === 'NETWORK', `a refused connection is NETWORK: ${error}`);
  expect(error.cause instanceof TypeError, `its cause is fetch's TypeError: ${error.cause}`);
  expect(refused.error?.cause instanceof TypeError, 'download.error has the same cause');
  expect(manager.storageError === undefined, 'storageError is undefined when storage works');
  expect(manager.get('no such id') === undefined, 'get() of an unknown id is undefined');
  await manager.remove(dl.id);
  await manager.close();
}

async function main() {
  const fixture = new URLSearchParams(location.search).get('fixture');
  if (!fixture) throw new Error('missing ?fixture=<fixture server URL>');
  await beforeInit();
  await afterInit(fixture);
  return `${results.length} checks`;
}

const status = document.getElementById('status');
main().then(
  (summary) => {
    status.textContent = `ok: ${summary}\n${results.join('\n')}`;
    document.body.dataset.result = 'ok';
  },
  (e) => {
    status.textContent = `error: ${e?.stack ?? e}`;
    document.body.dataset.result = 'error';
  },
);
