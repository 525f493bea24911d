//! Lifetimes and the lifecycle (I14, I15), in headless Chromium with `gc()` exposed
//! (`--js-flags=--expose-gc` in webdriver.json): managers and handles the page drops, `free()`
//! and `using`, what a released manager gives back, detours followed by a reload or a
//! takeover, and `pause()`/`resume()` in the same tick.
//!
//! The scenarios are written in JavaScript, as a page would write them, so that the page's
//! own references are the only ones (Rust locals of the test would keep objects alive).
#![cfg(target_arch = "wasm32")]

mod support;

use resumable_downloads::api::DownloadManager;
use support::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// `DownloadManager.open` as a JS function.
fn open_fn() -> JsValue {
    Closure::<dyn FnMut(JsValue) -> js_sys::Promise>::new(|o: JsValue| {
        // As `support::open`: RD_TEST_STORAGE picks the backend.
        if let Some(storage) = option_env!("RD_TEST_STORAGE") {
            if get(&o, "storage").is_undefined() && get(&o, "persist") != JsValue::FALSE {
                js_sys::Reflect::set(&o, &"storage".into(), &storage.into()).unwrap();
            }
        }
        DownloadManager::open(Some(o.unchecked_into()))
    })
    .into_js_value()
}

/// `live()`: `[managers, connections, channels]` alive in the module now.
fn live_fn() -> JsValue {
    Closure::<dyn FnMut() -> js_sys::Array>::new(|| {
        resumable_downloads::testing::live()
            .iter()
            .map(|n| JsValue::from(*n))
            .collect()
    })
    .into_js_value()
}

/// JS helpers every scenario gets: `collect()` runs the garbage collector until finalizers
/// have had their turn, `bytes(d)` reads a completed download, `dbName(n)`, `blocked(n, v)`
/// opens the database at a higher version and says whether the open was blocked.
const PRELUDE: &str = "
  if (typeof gc !== 'function') throw new Error('gc() is not exposed: run Chromium with --js-flags=--expose-gc');
  const sleep = (ms) => new Promise(r => setTimeout(r, ms));
  const collect = async () => { for (let i = 0; i < 6; i++) { gc(); await sleep(40); } };
  const bytes = async (d) => new Uint8Array(await (await d.blob()).arrayBuffer());
  const dbName = (n) => 'resumable-downloads/' + n;
  const blocked = (n, v) => new Promise((res, rej) => {
    const r = indexedDB.open(dbName(n), v);
    r.onblocked = () => res(true);
    r.onsuccess = () => { r.result.close(); res(false); };
    r.onerror = () => rej(r.error);
  });
  const until = async (cond) => { for (let i = 0; i < 300 && !cond(); i++) await sleep(10); return cond(); };
  const untilBytes = async (d, n) => {
    for (let i = 0; i < 1000 && d.progress.transferredBytes < n; i++) await sleep(10);
    if (d.progress.transferredBytes < n) throw new Error('no ' + n + ' bytes: ' + JSON.stringify(d.progress));
  };
";

async fn scenario(args: &str, body: &str, values: &[JsValue]) -> JsValue {
    let mut all = vec![open_fn(), live_fn()];
    all.extend_from_slice(values);
    js(
        &format!("open, live, {args}"),
        &format!("{PRELUDE}{body}"),
        &all,
    )
    .await
}

fn check_bytes(got: &JsValue, seed: u64, size: usize) {
    let got = js_sys::Uint8Array::new(got).to_vec();
    assert_eq!(got.len(), size, "length");
    assert!(got == expected(seed, 0, size), "bytes differ");
}

/// The page's pattern: a manager made in a click handler and never kept.
#[wasm_bindgen_test]
async fn a_manager_the_page_does_not_keep_finishes_its_downloads() {
    for persist in [true, false] {
        let t = tag("unkept");
        let urls: js_sys::Array = (1..=3)
            .map(|s| {
                JsValue::from(file_url(
                    &t,
                    &format!("size=300000&seed={s}&throttle=600000"),
                ))
            })
            .collect();
        let out = scenario(
            "name, urls, persist",
            "async function start(url) { const m = await open({ name, persist, concurrency: 1 }); return m.add(url); }
             const first = await start(urls[0]);
             // The same manager name again: a second manager, not kept either.
             const others = await (async () => {
               const m = await open({ name: name + '-b', persist, concurrency: 1 });
               return [m.add(urls[1]), m.add(urls[2])];
             })();
             await collect();
             const all = [first, ...others];
             const states = all.map(d => d.state);
             await Promise.all(all.map(d => d.done));
             await collect();
             return { states, bytes: await Promise.all(all.map(bytes)) };",
            &[tag("db").into(), urls.into(), persist.into()],
        )
        .await;
        let bytes = js_sys::Array::from(&get(&out, "bytes"));
        for (i, b) in bytes.iter().enumerate() {
            check_bytes(&b, i as u64 + 1, 300_000);
        }
        let states: Vec<String> = js_sys::Array::from(&get(&out, "states"))
            .iter()
            .map(|s| s.as_string().unwrap())
            .collect();
        assert!(
            states.iter().all(|s| s == "running" || s == "queued"),
            "persist {persist}: {states:?}"
        );
    }
}

/// Only the `whenAll` promise is kept: it still settles, with every download completed.
#[wasm_bindgen_test]
async fn when_all_of_a_dropped_manager_settles() {
    let t = tag("unkept-all");
    let urls: js_sys::Array = (1..=3)
        .map(|s| {
            JsValue::from(file_url(
                &t,
                &format!("size=200000&seed={s}&throttle=2000000"),
            ))
        })
        .collect();
    let out = scenario(
        "name, urls",
        "const all = await (async () => {
           const m = await open({ name, concurrency: 1 });
           for (const u of urls) m.add(u);
           return m.whenAll();
         })();
         await collect();
         const r = await all;
         return [r.completed.length, r.failed.length, r.cancelled.length];",
        &[tag("db").into(), urls.into()],
    )
    .await;
    let counts: Vec<f64> = js_sys::Array::from(&out)
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(counts, [3.0, 0.0, 0.0]);
}

/// A completed download whose manager the page dropped still gives its file; once nothing
/// refers to the manager any more, it is released with its connection and its channel, and
/// a newer page version upgrades the database without being blocked.
#[wasm_bindgen_test]
async fn a_released_manager_gives_back_its_connection_and_channel() {
    let t = tag("release");
    let url = file_url(&t, "size=150000&seed=4");
    let name = tag("db");
    let out = scenario(
        "name, url",
        "await collect();
         const before = live();
         const d = await (async () => { const m = await open({ name }); const d = m.add(url); await d.done; return d; })();
         await collect();
         const held = live();
         const kept = await bytes(d);
         return { before, held, kept };",
        &[name.clone().into(), url.into()],
    )
    .await;
    check_bytes(&get(&out, "kept"), 4, 150_000);
    let counts = |v: JsValue| -> Vec<i32> {
        js_sys::Array::from(&v)
            .iter()
            .map(|n| n.as_f64().unwrap() as i32)
            .collect()
    };
    let before = counts(get(&out, "before"));
    let held = counts(get(&out, "held"));
    assert_eq!(
        held[0],
        before[0] + 1,
        "a handle keeps its manager: {before:?} {held:?}"
    );
    assert_eq!(
        held[1],
        before[1] + 1,
        "and its connection: {before:?} {held:?}"
    );
    drop(out);
    let out = scenario(
        "name",
        "await collect(); await sleep(100); await collect();
         return [live(), await blocked(name, 3)];",
        &[name.into()],
    )
    .await;
    let out = js_sys::Array::from(&out);
    let after = counts(out.get(0));
    assert!(
        after[0] <= before[0] && after[1] <= before[1] && after[2] <= before[2],
        "the released manager keeps something: before {before:?}, after {after:?}"
    );
    assert_eq!(out.get(1), JsValue::FALSE, "the upgrade was blocked");
}

/// `free()` and `using` on a manager close it (its connection too); on a download they drop
/// only the handle: the download goes on and `get(id)` gives a fresh handle.
#[wasm_bindgen_test]
async fn free_and_using() {
    let t = tag("free");
    let slow = file_url(&t, "size=300000&seed=5&throttle=1500000");
    let out = scenario(
        "name, url",
        "// Managers earlier tests dropped are released first, so that they do not close
         // their connections in the middle of the count.
         await collect(); await sleep(100); await collect();
         const m = await open({ name });
         const d = m.add(url);
         const id = d.id;
         d.free();
         const fresh = m.get(id);
         if (!fresh || fresh === d) throw new Error('no fresh handle');
         await fresh.done;
         const got = await bytes(m.get(id));
         const open1 = live();
         m.free();
         // Its connection and channel close (the handles still hold the rest of it).
         await until(() => live()[1] < open1[1] && live()[2] < open1[2]);
         const afterFree = open1[1] - live()[1];
         let threw = false;
         try { m.list(); } catch (e) { threw = true; }
         const open2 = live();
         let during;
         {
           using u = await open({ name: name + '-using' });
           u.add(url + '&using=1');
           during = live();
         }
         // Its connection and channel close (others released meanwhile count too).
         const usingClosed = await until(() => live()[1] < during[1] && live()[2] < during[2]);
         return { got, afterFree, threw, usingClosed, counts: JSON.stringify([open2, during, live()]) };",
        &[tag("db").into(), slow.into()],
    )
    .await;
    check_bytes(&get(&out, "got"), 5, 300_000);
    assert_eq!(
        get_num(&out, "afterFree"),
        Some(1.0),
        "free() closes the connection"
    );
    assert_eq!(
        get(&out, "threw"),
        JsValue::TRUE,
        "a freed manager is not usable"
    );
    assert_eq!(
        get(&out, "usingClosed"),
        JsValue::TRUE,
        "using closes the manager: {}",
        get_str(&out, "counts")
    );
}

/// No completed download leaks after `remove()` or `close()`.
#[wasm_bindgen_test]
async fn completed_downloads_are_freed_after_remove_and_close() {
    let t = tag("leak");
    let out = scenario(
        "name, a, b",
        "const m = await open({ name });
         const removed = await (async () => { const d = m.add(a); await d.done; await m.remove(d.id); return new WeakRef(d); })();
         const closed = await (async () => { const d = m.add(b); await d.done; return new WeakRef(d); })();
         await m.close();
         await collect();
         return [removed.deref() === undefined, closed.deref() === undefined];",
        &[
            tag("db").into(),
            file_url(&t, "size=70000&seed=6").into(),
            file_url(&t, "size=70000&seed=7").into(),
        ],
    )
    .await;
    let freed: Vec<bool> = js_sys::Array::from(&out)
        .iter()
        .map(|v| v.as_bool().unwrap())
        .collect();
    assert_eq!(freed, [true, true], "[after remove(), after close()]");
}

/// Every detour (pause then resume, failure then resume) followed by a reload: the download
/// continues by itself, byte-exact.
#[wasm_bindgen_test]
async fn detours_then_a_reload_continue_by_themselves() {
    for detour in ["pause", "failure"] {
        let t = tag(detour);
        let knobs = if detour == "failure" {
            "size=1500000&seed=8&throttle=1500000&status=500&status_times=1"
        } else {
            "size=1500000&seed=8&throttle=1500000"
        };
        let out = scenario(
            "name, url, detour",
            "const opts = { name, chunkBytes: 65536, retry: { limit: 0 } };
             let m = await open(opts);
             let d = m.add(url);
             if (detour === 'pause') {
               await untilBytes(d, 200000);
               d.pause();
               await sleep(50);
             } else {
               await d.done.catch(() => {});
               if (d.state !== 'failed') throw new Error('expected a failure, got ' + d.state);
             }
             d.resume();
             await untilBytes(d, 400000);
             const id = d.id;
             await m.close();
             m = await open(opts);
             d = m.get(id);
             if (!d) throw new Error('not restored');
             const restored = d.state;
             await d.done;
             return { restored, got: await bytes(d) };",
            &[tag("db").into(), file_url(&t, knobs).into(), detour.into()],
        )
        .await;
        let restored = get_str(&out, "restored");
        assert!(
            restored == "queued" || restored == "running",
            "{detour}: restored as {restored}"
        );
        check_bytes(&get(&out, "got"), 8, 1_500_000);
    }
}

/// A tab that runs a download after a detour closes: the other tab takes it over.
#[wasm_bindgen_test]
async fn a_takeover_after_a_detour() {
    let t = tag("takeover");
    let out = scenario(
        "name, url",
        "const opts = { name, chunkBytes: 65536 };
         const a = await open(opts);
         const d = a.add(url);
         await untilBytes(d, 100000);
         const b = await open(opts);
         d.pause();
         await sleep(30);
         d.resume();
         const trace = [];
         for (let i = 0; i < 400 && d.progress.transferredBytes < 300000; i++) {
           trace.push(d.state + '/' + (b.get(d.id) || {}).state + '@' + d.progress.transferredBytes);
           await sleep(25);
         }
         if (d.progress.transferredBytes < 300000) throw new Error('stuck after pause/resume: ' + trace.join(' '));
         let mirrored;
         for (let i = 0; i < 300 && !(mirrored = b.get(d.id)); i++) await sleep(10);
         if (!mirrored) throw new Error('the other tab does not see the download');
         await a.close();
         await mirrored.done;
         return await bytes(mirrored);",
        &[
            tag("db").into(),
            file_url(&t, "size=1200000&seed=9&throttle=1500000").into(),
        ],
    )
    .await;
    check_bytes(&out, 9, 1_200_000);
}

/// `pause()` and `resume()` back to back, with no gap and with a microtask between them, and
/// `pauseAll()`/`resumeAll()`: the download completes byte-exact and a later `cancel()` of
/// another one settles.
#[wasm_bindgen_test]
async fn pause_and_resume_in_the_same_tick() {
    let t = tag("toggle");
    let out = scenario(
        "name, url, other",
        "const m = await open({ name, chunkBytes: 65536 });
         const d = m.add(url);
         await untilBytes(d, 100000);
         d.pause(); d.resume();
         await untilBytes(d, 250000);
         d.pause(); await Promise.resolve(); d.resume();
         await untilBytes(d, 400000);
         m.pauseAll(); m.resumeAll();
         await untilBytes(d, 550000);
         d.pause(); d.resume(); d.pause(); d.resume();
         await d.done;
         const o = m.add(other);
         await untilBytes(o, 50000);
         o.pause(); o.resume();
         const cancelled = await Promise.race([o.cancel().then(() => true), sleep(5000).then(() => false)]);
         return { got: await bytes(d), cancelled, state: o.state };",
        &[
            tag("db").into(),
            file_url(&t, "size=800000&seed=10&throttle=1000000").into(),
            file_url(&t, "size=800000&seed=11&throttle=500000").into(),
        ],
    )
    .await;
    check_bytes(&get(&out, "got"), 10, 800_000);
    assert_eq!(get(&out, "cancelled"), JsValue::TRUE, "cancel() settles");
    assert_eq!(get_str(&out, "state"), "cancelled");
}

/// Progress does not lie when nothing arrives: a paused download's rate is 0 and its ETA
/// `null`; a stalled one's rate decays.
#[wasm_bindgen_test]
async fn rates_reach_zero_when_nothing_arrives() {
    let t = tag("rate");
    let out = scenario(
        "name, url, stall",
        "const m = await open({ name, timeouts: { stall: 20000 } });
         const d = m.add(url);
         await untilBytes(d, 150000);
         const running = d.progress.bytesPerSecond;
         d.pause();
         const paused = d.progress;
         const s = m.add(stall);
         let stalledReports = 0;
         await untilBytes(s, 300000);
         await sleep(300);
         const before = s.progress.bytesPerSecond;
         const off = m.on('progress', (e) => { if (e.id === s.id && e.progress.transferredBytes === 300000) stalledReports++; });
         await sleep(3000);
         off();
         const after = s.progress.bytesPerSecond;
         s.cancel();
         return { running, pausedRate: paused.bytesPerSecond, pausedEta: paused.etaSeconds, before, after, reports: stalledReports };",
        &[
            tag("db").into(),
            file_url(&t, "size=2000000&seed=12&throttle=500000").into(),
            file_url(&t, "size=2000000&seed=13&throttle=400000&stall_at=300000&stall_ms=20000").into(),
        ],
    )
    .await;
    assert!(get_num(&out, "running").unwrap() > 0.0);
    assert_eq!(get_num(&out, "pausedRate"), Some(0.0));
    assert_eq!(get_num(&out, "pausedEta"), None);
    let (before, after) = (
        get_num(&out, "before").unwrap(),
        get_num(&out, "after").unwrap(),
    );
    assert!(
        before > 0.0 && after < before / 2.0,
        "a stall decays the rate: {before} -> {after}"
    );
    let reports = get_num(&out, "reports").unwrap();
    assert!(
        reports >= 2.0,
        "progress is reported during a stall: {reports} reports in 3 s"
    );
}

/// Stored downloads that cannot be read are not shown as none: the manager says why, works
/// in memory, and the next manager finds what was stored.
#[wasm_bindgen_test]
async fn an_unreadable_store_is_said_not_hidden() {
    let t = tag("unreadable");
    let name = tag("db");
    let url = file_url(&t, "size=90000&seed=14");
    let m = open_named(&name, vec![]).await;
    let d = add(&m, &url, JsValue::UNDEFINED);
    done(&d).await.unwrap();
    let id = get_str(&d, "id");
    call_async(&m, "close", &[]).await.unwrap();
    resumable_downloads::testing::inject_read_all_failure(true);
    let m = open_named(&name, vec![]).await;
    resumable_downloads::testing::clear_faults();
    assert_eq!(get(&m, "persistent"), JsValue::FALSE);
    let e = get(&m, "storageError");
    assert_eq!(code(&e), "STORAGE");
    assert!(
        get_str(&e, "message").contains("could not be read"),
        "{e:?}"
    );
    // Still works, in memory.
    let other = add(&m, &file_url(&t, "size=5000&seed=15"), JsValue::UNDEFINED);
    done(&other).await.unwrap();
    assert_bytes(&other, 15, 5000).await;
    call_async(&m, "close", &[]).await.unwrap();
    // Nothing stored was lost.
    let m = open_named(&name, vec![]).await;
    let again = call(&m, "get", &[id.into()]).unwrap();
    assert_eq!(get_str(&again, "state"), "completed");
    assert_bytes(&again, 14, 90_000).await;
}
