//! Helpers for the browser tests: the fixture server's URL and request log, and calls into the
//! library through its JavaScript surface, exactly as a page would make them.
#![allow(dead_code)]

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Reflect, Uint8Array};
use resumable_downloads::api::DownloadManager;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[path = "../fixture-server/src/content.rs"]
mod content;

/// Base URL of the fixture server, fixed when the tests are built (`make test` sets it).
pub fn fixture() -> &'static str {
    match option_env!("FIXTURE_URL") {
        Some(u) if !u.is_empty() => u,
        _ => panic!("FIXTURE_URL was not set when the tests were built; run them with `make test`"),
    }
}

/// The engine the tests run in, from its user agent.
pub fn engine() -> &'static str {
    // `navigator.userAgent`, of a window or a worker.
    let ua = get_str(&get(&js_sys::global(), "navigator"), "userAgent");
    if ua.contains("Firefox/") {
        "firefox"
    } else if ua.contains("Chrome/") {
        "chromium"
    } else {
        "webkit"
    }
}

/// A tag unique to this test run, so request logs of different tests never mix.
pub fn tag(name: &str) -> String {
    format!("{name}-{}", (js_sys::Math::random() * 1e12) as u64)
}

/// `/file` on the fixture server with the given tag and knobs (`"size=10&seed=3"`).
pub fn file_url(tag: &str, knobs: &str) -> String {
    format!("{}/file?tag={tag}&{knobs}", fixture())
}

/// The bytes the fixture serves for `seed` at `start..start + len`.
pub fn expected(seed: u64, start: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0; len];
    content::fill(seed, start, &mut v);
    v
}

/// A plain JS object.
pub fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

/// `value[key]`.
pub fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap()
}

/// `value[key]` as a string.
pub fn get_str(value: &JsValue, key: &str) -> String {
    get(value, key)
        .as_string()
        .unwrap_or_else(|| panic!("{key} is not a string: {:?}", get(value, key)))
}

/// `value[key]` as a number, `None` for null/undefined.
pub fn get_num(value: &JsValue, key: &str) -> Option<f64> {
    let v = get(value, key);
    if v.is_null() || v.is_undefined() {
        None
    } else {
        Some(
            v.as_f64()
                .unwrap_or_else(|| panic!("{key} is not a number: {v:?}")),
        )
    }
}

/// `value[method](...args)`, with what it throws as `Err`.
pub fn call(value: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = get(value, method)
        .dyn_into()
        .unwrap_or_else(|_| panic!("{method} is not a function"));
    f.apply(value, &args.iter().collect())
}

/// Awaits a promise-returning method.
pub async fn call_async(
    value: &JsValue,
    method: &str,
    args: &[JsValue],
) -> Result<JsValue, JsValue> {
    let p = call(value, method, args)?;
    JsFuture::from(js_sys::Promise::from(p)).await
}

/// `DownloadManager.open(options)` as a JS object, on a database of its own unless the
/// options name one.
pub async fn open(options: JsValue) -> JsValue {
    let options = if options.is_undefined() {
        obj(&[])
    } else {
        options
    };
    if get(&options, "name").is_undefined() {
        Reflect::set(&options, &"name".into(), &tag("db").into()).unwrap();
    }
    // `make test` runs the suites once more with RD_TEST_STORAGE=indexeddb, so that they
    // cover both backends where OPFS is the default.
    if let Some(storage) = option_env!("RD_TEST_STORAGE") {
        if get(&options, "storage").is_undefined() && get(&options, "persist") != JsValue::FALSE {
            Reflect::set(&options, &"storage".into(), &storage.into()).unwrap();
        }
    }
    DownloadManager::open(Some(options.unchecked_into()))
        .await
        .expect("open")
}

/// Opens a manager on the database `name` with extra options.
pub async fn open_named(name: &str, mut pairs: Vec<(&str, JsValue)>) -> JsValue {
    pairs.push(("name", name.into()));
    open(obj(&pairs)).await
}

/// `{ limit: 0 }`: no automatic retries, for tests of a single failure.
pub fn no_retry() -> (&'static str, JsValue) {
    ("retry", obj(&[("limit", 0.into())]))
}

/// `manager.add(url, options)`; panics if it throws.
pub fn add(manager: &JsValue, url: &str, options: JsValue) -> JsValue {
    call(manager, "add", &[url.into(), options]).expect("add")
}

/// How long [`done`] waits before it reports a download that never settles.
const SETTLE_MS: i32 = 240_000;

/// Waits for `download.done`. A download that has not settled after four minutes fails the
/// test with what it was doing, instead of the whole test binary timing out unexplained.
pub async fn done(download: &JsValue) -> Result<JsValue, JsValue> {
    let settled = JsFuture::from(js_sys::Promise::from(get(download, "done")));
    let late = sleep(SETTLE_MS);
    futures::pin_mut!(settled, late);
    match futures::future::select(settled, late).await {
        futures::future::Either::Left((r, _)) => r,
        futures::future::Either::Right(_) => panic!(
            "{} did not settle in {} s: state {}, progress {:?}, error {:?}",
            get_str(download, "id"),
            SETTLE_MS / 1000,
            get_str(download, "state"),
            js_sys::JSON::stringify(&get(download, "progress")).ok(),
            get(download, "error"),
        ),
    }
}

/// The `code` of a `DownloadError`, after checking it is one.
pub fn code(err: &JsValue) -> String {
    assert!(
        resumable_downloads::api::is_download_error(err),
        "not a DownloadError: {err:?}"
    );
    assert!(
        err.is_instance_of::<js_sys::Error>(),
        "not an Error: {err:?}"
    );
    assert_eq!(get_str(err, "name"), "DownloadError");
    get_str(err, "code")
}

/// The completed download's bytes, read back from its Blob.
pub async fn blob_bytes(download: &JsValue) -> Vec<u8> {
    let blob = call_async(download, "blob", &[]).await.expect("blob");
    let buf = call_async(&blob, "arrayBuffer", &[])
        .await
        .expect("arrayBuffer");
    Uint8Array::new(&buf).to_vec()
}

/// Asserts the download's bytes equal the fixture's bytes for `seed` and `size`.
pub async fn assert_bytes(download: &JsValue, seed: u64, size: usize) {
    let got = blob_bytes(download).await;
    assert_eq!(got.len(), size, "length");
    let want = expected(seed, 0, size);
    if let Some(i) = got.iter().zip(&want).position(|(a, b)| a != b) {
        panic!("byte {i} differs: got {} want {}", got[i], want[i]);
    }
}

/// The fixture server's request log for `tag`.
pub async fn request_log(tag: &str) -> Vec<JsValue> {
    let url = format!("{}/log?tag={tag}", fixture());
    let fetch: Function = get(&js_sys::global(), "fetch").unchecked_into();
    let pending: js_sys::Promise = fetch
        .call1(&JsValue::NULL, &url.into())
        .unwrap()
        .unchecked_into();
    let resp: web_sys::Response = JsFuture::from(pending).await.unwrap().dyn_into().unwrap();
    let json = JsFuture::from(resp.json().unwrap()).await.unwrap();
    js_sys::Array::from(&json).iter().collect()
}

/// Log entries for GET requests only (preflights and HEADs left out).
pub async fn gets(tag: &str) -> Vec<JsValue> {
    request_log(tag)
        .await
        .into_iter()
        .filter(|e| get_str(e, "method") == "GET")
        .collect()
}

/// Sleeps `ms` milliseconds.
pub async fn sleep(ms: i32) {
    // The global `setTimeout`: a window's or a worker's.
    let set_timeout: Function = get(&js_sys::global(), "setTimeout").unchecked_into();
    let p = js_sys::Promise::new(&mut |resolve, _| {
        set_timeout
            .call2(&JsValue::NULL, &resolve, &ms.into())
            .unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

/// Polls `cond` every 10 ms for up to `ms` milliseconds.
pub async fn wait_until(ms: i32, mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..(ms / 10).max(1) {
        if cond() {
            return true;
        }
        sleep(10).await;
    }
    cond()
}

/// Collects the events of one type from a manager.
pub struct Recorder {
    pub events: Rc<RefCell<Vec<JsValue>>>,
    pub unsubscribe: Function,
    _listener: Closure<dyn FnMut(JsValue)>,
}

impl Recorder {
    pub fn new(manager: &JsValue, kind: &str) -> Recorder {
        let events = Rc::new(RefCell::new(Vec::new()));
        let sink = events.clone();
        let listener = Closure::<dyn FnMut(JsValue)>::new(move |e| sink.borrow_mut().push(e));
        let unsubscribe = call(manager, "on", &[kind.into(), listener.as_ref().clone()])
            .expect("on")
            .into();
        Recorder {
            events,
            unsubscribe,
            _listener: listener,
        }
    }

    pub fn len(&self) -> usize {
        self.events.borrow().len()
    }

    pub fn all(&self) -> Vec<JsValue> {
        self.events.borrow().clone()
    }

    /// Events of one download.
    pub fn of(&self, id: &str) -> Vec<JsValue> {
        self.events
            .borrow()
            .iter()
            .filter(|e| get_str(e, "id") == id)
            .cloned()
            .collect()
    }
}

/// Runs an async JS function `(args) => { body }` with `values`; returns what it resolves to.
pub async fn js(args: &str, body: &str, values: &[JsValue]) -> JsValue {
    let make = Function::new_no_args(&format!("return (async ({args}) => {{ {body} }});"));
    let f: Function = make.call0(&JsValue::NULL).unwrap().into();
    let p = f.apply(&JsValue::NULL, &values.iter().collect()).unwrap();
    JsFuture::from(js_sys::Promise::from(p))
        .await
        .unwrap_or_else(|e| panic!("js failed: {e:?}"))
}

/// Opens the manager's database directly, as the tests' independent view of what is stored.
const OPEN_DB: &str = "const db = await new Promise((res, rej) => { \
    const r = indexedDB.open(name); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); }); \
    const done = (tx) => new Promise((res, rej) => { tx.oncomplete = res; tx.onabort = () => rej(tx.error); }); \
    const req = (r) => new Promise((res, rej) => { r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });";

fn db_name(manager: &str) -> JsValue {
    resumable_downloads::testing::database_name(manager).into()
}

/// The stored record of `id` (or `undefined`).
pub async fn stored_record(manager: &str, id: &str) -> JsValue {
    js(
        "name, id",
        &format!("{OPEN_DB} const r = await req(db.transaction('downloads').objectStore('downloads').get(id)); db.close(); return r;"),
        &[db_name(manager), id.into()],
    )
    .await
}

/// Everything stored in the manager's database (every object store), as JSON text.
pub async fn stored_text(manager: &str) -> String {
    js(
        "name",
        &format!("{OPEN_DB} const out = {{}}; \
          for (const s of db.objectStoreNames) out[s] = await req(db.transaction(s).objectStore(s).getAll()); \
          db.close(); return JSON.stringify(out);"),
        &[db_name(manager)],
    )
    .await
    .as_string()
    .unwrap()
}

/// Every stored chunk of `id`, whatever its epoch.
pub async fn stored_chunks(manager: &str, id: &str) -> Vec<JsValue> {
    let all = js(
        "name, id",
        &format!("{OPEN_DB} const r = await req(db.transaction('chunks').objectStore('chunks').getAll(IDBKeyRange.bound([id], [id, []]))); db.close(); return r;"),
        &[db_name(manager), id.into()],
    )
    .await;
    js_sys::Array::from(&all).iter().collect()
}

/// Changes fields of the stored record of `id`.
pub async fn patch_record(manager: &str, id: &str, patch: JsValue) {
    js(
        "name, id, patch",
        &format!("{OPEN_DB} const tx = db.transaction('downloads', 'readwrite'); const s = tx.objectStore('downloads'); \
          const r = await req(s.get(id)); Object.assign(r, patch); s.put(r); await done(tx); db.close();"),
        &[db_name(manager), id.into(), patch],
    )
    .await;
}

/// Damages stored chunk `index` of `id`: `"delete"` removes it, `"shrink"` replaces its Blob
/// by a shorter one.
pub async fn damage_chunk(manager: &str, id: &str, index: u32, how: &str) {
    js(
        "name, id, index, how",
        &format!("{OPEN_DB} const tx = db.transaction('chunks', 'readwrite'); const s = tx.objectStore('chunks'); \
          const all = await req(s.getAll(IDBKeyRange.bound([id], [id, []]))); const c = all.find(c => c.index === index); \
          if (!c) throw new Error('no chunk ' + index); \
          if (how === 'delete') s.delete([c.id, c.epoch, c.index]); else {{ c.blob = c.blob.slice(0, 10); s.put(c); }} \
          await done(tx); db.close();"),
        &[db_name(manager), id.into(), index.into(), how.into()],
    )
    .await;
}

/// `sha256-<base64>` of `bytes`, computed by the browser's own SubtleCrypto.
pub async fn sri(bytes: &[u8]) -> String {
    js(
        "bytes",
        "const d = await crypto.subtle.digest('SHA-256', bytes); \
         return 'sha256-' + btoa(String.fromCharCode(...new Uint8Array(d)));",
        &[Uint8Array::from(bytes).into()],
    )
    .await
    .as_string()
    .unwrap()
}

/// Waits until the download has at least `bytes` transferred (up to `ms`).
pub async fn wait_bytes(download: &JsValue, bytes: f64, ms: i32) {
    let ok = wait_until(ms, || {
        get_num(&get(download, "progress"), "transferredBytes").unwrap_or(0.0) >= bytes
    })
    .await;
    assert!(
        ok,
        "no {bytes} bytes within {ms} ms: {:?}",
        get(download, "progress")
    );
}

/// Sum of body bytes the server sent for GETs of `tag`.
pub async fn bytes_served(tag: &str) -> f64 {
    gets(tag)
        .await
        .iter()
        .map(|e| get_num(e, "bytes_sent").unwrap_or(0.0))
        .sum()
}

/// Where a `Range: bytes=<start>-` header asks to start; `None` for no header or another
/// form.
pub fn range_start(range: &Option<String>) -> Option<u64> {
    range
        .as_deref()?
        .strip_prefix("bytes=")?
        .strip_suffix('-')?
        .parse()
        .ok()
}

/// The Range headers of the GETs of `tag`, `None` for a request without one.
pub async fn ranges(tag: &str) -> Vec<Option<String>> {
    gets(tag)
        .await
        .iter()
        .map(|e| get(e, "range").as_string())
        .collect()
}

/// The bytes of download `id`'s OPFS file of manager `manager`, read by the page through the
/// origin's file system (not through the library); `None` when there is no such file. The
/// library's worker closes a file's handle when its run ends: a read that finds it still open
/// is tried again for up to two seconds.
pub async fn stored_file(manager: &str, id: &str) -> Option<Vec<u8>> {
    use resumable_downloads::testing::{storage_name, Files};
    let got = js(
        "dir, name",
        "if (!navigator.storage?.getDirectory) return null; \
         const top = await (await navigator.storage.getDirectory()).getDirectoryHandle('resumable-downloads', { create: true }); \
         let d; try { d = await top.getDirectoryHandle(dir); } catch (e) { if (e.name === 'NotFoundError') return null; throw e; } \
         for (let i = 0; ; i++) { \
           try { const f = await (await d.getFileHandle(name)).getFile(); return new Uint8Array(await f.arrayBuffer()); } \
           catch (e) { if (e.name === 'NotFoundError') return null; if (i >= 20) throw e; await new Promise(r => setTimeout(r, 100)); } \
         }",
        &[storage_name(manager).into(), Files::name(id).into()],
    )
    .await;
    (!got.is_null()).then(|| Uint8Array::new(&got).to_vec())
}
