//! The manager API in headless Chromium against the fixture server: the queue, retries with
//! Retry-After, group completion, pause/resume of everything, events, and argument checks.
#![cfg(target_arch = "wasm32")]

mod support;

use support::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn states(manager: &JsValue) -> Vec<String> {
    js_sys::Array::from(&call(manager, "list", &[]).unwrap())
        .iter()
        .map(|d| get_str(&d, "state"))
        .collect()
}

fn count(states: &[String], s: &str) -> usize {
    states.iter().filter(|x| *x == s).count()
}

#[wasm_bindgen_test]
async fn queue_runs_exactly_concurrency_in_fair_order() {
    let t = tag("queue");
    let m = open(obj(&[("concurrency", 2.into())])).await;
    let started = Recorder::new(&m, "statechange");
    let ids: Vec<String> = (0..5).map(|i| format!("q{i}")).collect();
    let mut downloads = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let url = file_url(&t, &format!("size=150000&seed={i}&throttle=500000"));
        // q4 is urgent: it jumps ahead of q2 and q3, which keep their order.
        let priority = if i == 4 { 10 } else { 0 };
        downloads.push(add(
            &m,
            &url,
            obj(&[("id", id.as_str().into()), ("priority", priority.into())]),
        ));
    }
    // Right after adding: two run, three wait and say so, and the server has seen two requests.
    sleep(100).await;
    let s = states(&m);
    assert_eq!((count(&s, "running"), count(&s, "queued")), (2, 3), "{s:?}");
    assert_eq!(
        gets(&t).await.len(),
        2,
        "only the running downloads have sent requests"
    );
    // Never more than two at once, sampled while the batch runs.
    for _ in 0..40 {
        let s = states(&m);
        assert!(count(&s, "running") <= 2, "{s:?}");
        if count(&s, "completed") == 5 {
            break;
        }
        sleep(25).await;
    }
    let result = call_async(&m, "whenAll", &[]).await.unwrap();
    assert_eq!(js_sys::Array::from(&get(&result, "completed")).length(), 5);
    for (i, d) in downloads.iter().enumerate() {
        assert_bytes(d, i as u64, 150_000).await;
    }
    let order: Vec<String> = started
        .all()
        .iter()
        .filter(|e| get_str(e, "state") == "running")
        .map(|e| get_str(e, "id"))
        .collect();
    assert_eq!(order, ["q0", "q1", "q4", "q2", "q3"]);
}

#[wasm_bindgen_test]
async fn pausing_frees_a_slot_and_pause_all_resume_all() {
    let t = tag("slots");
    let m = open(obj(&[("concurrency", 1.into())])).await;
    let a = add(
        &m,
        &file_url(&t, "size=400000&seed=1&throttle=400000"),
        JsValue::UNDEFINED,
    );
    let b = add(
        &m,
        &file_url(&t, "size=100000&seed=2&throttle=400000"),
        JsValue::UNDEFINED,
    );
    sleep(100).await;
    assert_eq!(
        (get_str(&a, "state"), get_str(&b, "state")),
        ("running".into(), "queued".into())
    );
    call(&a, "pause", &[]).unwrap();
    assert_eq!(get_str(&a, "state"), "paused");
    // b takes the freed slot.
    assert!(wait_until(3000, || get_str(&b, "state") == "running").await);
    call(&m, "pauseAll", &[]).unwrap();
    assert_eq!(states(&m), ["paused", "paused"]);
    call(&m, "resumeAll", &[]).unwrap();
    let result = call_async(&m, "whenAll", &[]).await.unwrap();
    assert_eq!(js_sys::Array::from(&get(&result, "completed")).length(), 2);
    assert_bytes(&a, 1, 400_000).await;
    assert_bytes(&b, 2, 100_000).await;
}

#[wasm_bindgen_test]
async fn retry_honours_retry_after_as_the_request_log_shows() {
    let t = tag("503");
    let m = open(obj(&[("retry", obj(&[("backoffMs", 10.into())]))])).await;
    let retries = Recorder::new(&m, "retry");
    let dl = add(
        &m,
        &file_url(
            &t,
            "size=50000&seed=3&status=503&status_times=2&retry_after=1",
        ),
        JsValue::UNDEFINED,
    );
    done(&dl).await.expect("completes after two 503s");
    assert_bytes(&dl, 3, 50_000).await;
    let log = gets(&t).await;
    assert_eq!(log.len(), 3);
    let times: Vec<f64> = log.iter().map(|e| get_num(e, "t_ms").unwrap()).collect();
    for w in times.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            (950.0..2500.0).contains(&gap),
            "waited {gap} ms for Retry-After: 1"
        );
    }
    let r = retries.all();
    assert_eq!(r.len(), 2);
    assert_eq!(get_num(&r[0], "delayMs"), Some(1000.0));
    assert_eq!(get_num(&get(&r[0], "error"), "status"), Some(503.0));
}

#[wasm_bindgen_test]
async fn retries_are_bounded_and_4xx_is_never_retried() {
    let t = tag("500");
    let m = open(obj(&[(
        "retry",
        obj(&[
            ("limit", 2.into()),
            ("backoffMs", 10.into()),
            ("jitter", false.into()),
        ]),
    )]))
    .await;
    let dl = add(
        &m,
        &file_url(&t, "size=1000&status=500"),
        JsValue::UNDEFINED,
    );
    let e = done(&dl).await.unwrap_err();
    assert_eq!(
        (code(&e), get_num(&e, "status")),
        ("HTTP_STATUS".into(), Some(500.0))
    );
    assert_eq!(gets(&t).await.len(), 3, "one attempt and two retries");
    let times: Vec<f64> = gets(&t)
        .await
        .iter()
        .map(|e| get_num(e, "t_ms").unwrap())
        .collect();
    assert!(times[2] - times[1] >= times[1] - times[0], "backoff grows");
    for status in [401, 403, 404, 410] {
        let t = tag("4xx");
        let dl = add(
            &m,
            &file_url(&t, &format!("size=1000&status={status}")),
            JsValue::UNDEFINED,
        );
        assert_eq!(code(&done(&dl).await.unwrap_err()), "HTTP_STATUS");
        assert_eq!(gets(&t).await.len(), 1, "{status} is not retried");
    }
    // A Retry-After beyond what the policy accepts is RATE_LIMITED, not a long wait.
    let t = tag("429");
    let dl = add(
        &m,
        &file_url(&t, "size=1000&status=429&retry_after=86400"),
        JsValue::UNDEFINED,
    );
    let e = done(&dl).await.unwrap_err();
    assert_eq!(code(&e), "RATE_LIMITED");
    assert_eq!(get_num(&e, "retryAfterMs"), Some(86_400_000.0));
}

#[wasm_bindgen_test]
async fn when_all_reports_mixed_outcomes_and_never_rejects_for_a_failure() {
    let t = tag("whenall");
    let m = open(obj(&[("retry", obj(&[("limit", 0.into())]))])).await;
    let idle = Recorder::new(&m, "idle");
    let ok = add(
        &m,
        &file_url(&t, "size=20000&seed=1"),
        obj(&[("id", "ok".into())]),
    );
    add(
        &m,
        &file_url(&t, "size=20000&status=404"),
        obj(&[("id", "missing".into())]),
    );
    let slow = add(
        &m,
        &file_url(&t, "size=2000000&throttle=100000"),
        obj(&[("id", "slow".into())]),
    );
    let all = call(&m, "whenAll", &[]).unwrap();
    let subset = call(&m, "whenAll", &[js_sys::Array::of1(&"ok".into()).into()]).unwrap();
    let s = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(subset))
        .await
        .unwrap();
    assert_eq!(
        js_sys::Array::from(&get(&s, "completed")).to_vec(),
        [JsValue::from("ok")]
    );
    call_async(&slow, "cancel", &[]).await.unwrap();
    let r = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(all))
        .await
        .expect("never rejects");
    assert_eq!(
        js_sys::Array::from(&get(&r, "completed")).to_vec(),
        [JsValue::from("ok")]
    );
    assert_eq!(
        js_sys::Array::from(&get(&r, "cancelled")).to_vec(),
        [JsValue::from("slow")]
    );
    let failed = js_sys::Array::from(&get(&r, "failed"));
    assert_eq!(failed.length(), 1);
    assert_eq!(
        (
            get_str(&failed.get(0), "id"),
            get_str(&failed.get(0), "code")
        ),
        ("missing".into(), "HTTP_STATUS".into())
    );
    assert!(get_str(&ok, "state") == "completed");
    assert!(
        wait_until(1000, || idle.len() == 1).await,
        "idle once when the batch settled"
    );
    // Already settled: resolves at once.
    let again = call_async(
        &m,
        "whenAll",
        &[js_sys::Array::of1(&"missing".into()).into()],
    )
    .await
    .unwrap();
    assert_eq!(js_sys::Array::from(&get(&again, "failed")).length(), 1);
    // An unknown id rejects (the call itself does not throw).
    let e = call_async(&m, "whenAll", &[js_sys::Array::of1(&"nope".into()).into()])
        .await
        .unwrap_err();
    assert_eq!(code(&e), "INVALID_ARGUMENT");
    assert!(get_str(&e, "message").starts_with("ids[0]"));
}

#[wasm_bindgen_test]
async fn bad_manager_and_add_options_name_the_field() {
    for (options, field) in [
        (obj(&[("concurrency", 0.into())]), "options.concurrency"),
        (obj(&[("concurrency", "4".into())]), "options.concurrency"),
        (
            obj(&[("retry", obj(&[("limit", (-1).into())]))]),
            "options.retry.limit",
        ),
        (
            obj(&[("retry", obj(&[("jitter", "yes".into())]))]),
            "options.retry.jitter",
        ),
        (
            obj(&[("retry", obj(&[("backof", 1.into())]))]),
            "options.retry.backof",
        ),
        (
            obj(&[("expireAfterMs", (-5).into())]),
            "options.expireAfterMs",
        ),
        (
            obj(&[("notifyWhenDone", "x".into())]),
            "options.notifyWhenDone",
        ),
        (
            obj(&[("notifyWhenDone", obj(&[("titel", "x".into())]))]),
            "options.notifyWhenDone.titel",
        ),
        (
            obj(&[("progressIntervalMs", (-1).into())]),
            "options.progressIntervalMs",
        ),
        (obj(&[("name", "".into())]), "options.name"),
        (
            obj(&[("backgroundIcons", "icon.png".into())]),
            "options.backgroundIcons",
        ),
        (
            obj(&[(
                "backgroundIcons",
                js_sys::Array::of1(&obj(&[("sizes", "48x48".into())])).into(),
            )]),
            "options.backgroundIcons[0].src",
        ),
        (
            obj(&[(
                "backgroundIcons",
                js_sys::Array::of2(&obj(&[("src", "a.png".into())]), &"b.png".into()).into(),
            )]),
            "options.backgroundIcons[1]",
        ),
        (
            obj(&[(
                "backgroundIcons",
                js_sys::Array::of1(&obj(&[("src", "a.png".into()), ("purpose", "any".into())]))
                    .into(),
            )]),
            "options.backgroundIcons[0].purpose",
        ),
        (
            obj(&[(
                "backgroundIcons",
                js_sys::Array::of1(&obj(&[("src", "http://[::1".into())])).into(),
            )]),
            "options.backgroundIcons[0].src",
        ),
    ] {
        let err =
            match resumable_downloads::api::DownloadManager::open(Some(options.unchecked_into()))
                .await
            {
                Ok(_) => panic!("{field} accepted"),
                Err(e) => e,
            };
        assert_eq!(code(&err), "INVALID_ARGUMENT");
        let msg = get_str(&err, "message");
        assert!(msg.starts_with(&format!("{field}:")), "{msg}");
    }
    let m = open(JsValue::UNDEFINED).await;
    let url = file_url("unused", "size=1");
    for (options, field) in [
        (obj(&[("priority", 1.5.into())]), "options.priority"),
        (obj(&[("integrity", "md5-abc".into())]), "options.integrity"),
        (obj(&[("integrity", 5.into())]), "options.integrity"),
        (obj(&[("filename", "".into())]), "options.filename"),
        (obj(&[("title", 7.into())]), "options.title"),
        (
            obj(&[("headers", obj(&[("X-Token", 5.into())]))]),
            "options.headers.X-Token",
        ),
        (JsValue::from("fast"), "options"),
    ] {
        let err = call(&m, "add", &[url.as_str().into(), options]).unwrap_err();
        assert_eq!(code(&err), "INVALID_ARGUMENT");
        let msg = get_str(&err, "message");
        assert!(msg.starts_with(&format!("{field}:")), "{msg}");
    }
    // A URL object is accepted like its string.
    let u = web_sys::Url::new(&file_url(&tag("urlobj"), "size=10&seed=4")).unwrap();
    let d = call(&m, "add", &[u.into(), JsValue::UNDEFINED]).unwrap();
    done(&d).await.expect("completes");
    assert_bytes(&d, 4, 10).await;
}

#[wasm_bindgen_test]
async fn every_method_refuses_after_close() {
    let m = open(JsValue::UNDEFINED).await;
    call_async(&m, "close", &[]).await.unwrap();
    let url: JsValue = file_url("closed", "size=1").into();
    for (method, args) in [
        ("add", vec![url.clone()]),
        (
            "on",
            vec!["progress".into(), js_sys::Function::new_no_args("").into()],
        ),
        ("pauseAll", vec![]),
        ("resumeAll", vec![]),
        ("get", vec!["x".into()]),
        ("list", vec![]),
    ] {
        let err = call(&m, method, &args).unwrap_err();
        assert_eq!(code(&err), "INVALID_ARGUMENT", "{method}");
        assert!(get_str(&err, "message").starts_with("manager:"), "{method}");
    }
    // Methods that return a promise reject, never throw.
    for (method, args) in [("remove", vec!["x".into()]), ("whenAll", vec![])] {
        let p = call(&m, method, &args).expect("a promise, not a throw");
        let err = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(p))
            .await
            .unwrap_err();
        assert_eq!(code(&err), "INVALID_ARGUMENT", "{method}");
    }
}

#[wasm_bindgen_test]
async fn is_download_error_checks_the_name() {
    use resumable_downloads::api::is_download_error;
    let e = js_sys::Error::new("x");
    assert!(!is_download_error(&e));
    e.set_name("DownloadError");
    js_sys::Reflect::set(&e, &"code".into(), &"NETWORK".into()).unwrap();
    assert!(
        is_download_error(&e),
        "works for errors from another copy of the library"
    );
    assert!(!is_download_error(&JsValue::from("DownloadError")));
    assert!(!is_download_error(&JsValue::NULL));
}

#[wasm_bindgen_test]
async fn remove_deletes_the_stored_bytes_and_forgets_the_download() {
    let (t, name) = (tag("remove"), tag("db"));
    let m = open_named(&name, vec![("chunkBytes", 65536.into())]).await;
    let done_one = add(
        &m,
        &file_url(&t, "size=200000&seed=5"),
        obj(&[("id", "a".into())]),
    );
    done(&done_one).await.unwrap();
    let running = add(
        &m,
        &file_url(&t, "size=2000000&seed=6&throttle=400000"),
        obj(&[("id", "b".into())]),
    );
    wait_bytes(&running, 100_000.0, 10_000).await;
    for id in ["a", "b"] {
        assert!(!stored_record(&name, id).await.is_undefined());
        assert_eq!(
            call_async(&m, "remove", &[id.into()]).await.unwrap(),
            JsValue::TRUE
        );
        assert!(
            call(&m, "get", &[id.into()]).unwrap().is_undefined(),
            "{id} forgotten"
        );
        assert!(
            stored_record(&name, id).await.is_undefined(),
            "{id} record deleted"
        );
        assert!(
            stored_chunks(&name, id).await.is_empty(),
            "{id} chunks deleted"
        );
    }
    assert_eq!(
        get_str(&running, "state"),
        "cancelled",
        "a running download is cancelled"
    );
    assert_eq!(
        call_async(&m, "remove", &["a".into()]).await.unwrap(),
        JsValue::FALSE
    );
    assert_eq!(
        js_sys::Array::from(&call(&m, "list", &[]).unwrap()).length(),
        0
    );
}

#[wasm_bindgen_test]
async fn get_finds_a_download_by_its_id_or_by_its_url() {
    let t = tag("get-url");
    let m = open(obj(&[("persist", false.into())])).await;
    let (plain, custom, shared) = (
        file_url(&t, "size=1000&seed=1"),
        file_url(&t, "size=1000&seed=2"),
        file_url(&t, "size=1000&seed=3"),
    );
    let by_default = add(&m, &plain, JsValue::UNDEFINED);
    let by_id = add(&m, &custom, obj(&[("id", "mine".into())]));
    let first = add(&m, &shared, obj(&[("id", "first".into())]));
    let own = add(&m, &shared, JsValue::UNDEFINED);
    for dl in [&by_default, &by_id, &first, &own] {
        done(dl).await.unwrap();
    }
    let found = |key: JsValue| call(&m, "get", &[key]).unwrap();
    let id_of = |key: JsValue| get_str(&found(key), "id");
    // The default id is `dl-` and 16 hex digits of the absolute URL's hash.
    let default_id = get_str(&by_default, "id");
    assert!(
        default_id.starts_with("dl-") && default_id.len() == 19,
        "{default_id}"
    );
    assert_eq!(id_of(default_id.as_str().into()), default_id);
    assert_eq!(id_of(plain.as_str().into()), default_id);
    let as_url: JsValue = web_sys::Url::new(&plain).unwrap().into();
    assert_eq!(id_of(as_url), default_id);
    // Added with an id: found by its URL too.
    assert_eq!(id_of(custom.as_str().into()), "mine");
    // Two downloads of one URL: the one `add(url)` made without an id.
    assert_eq!(id_of(shared.as_str().into()), get_str(&own, "id"));
    assert_eq!(id_of("first".into()), "first");
    // Relative URLs resolve against the page, as `add()` resolves them.
    let origin = get_str(&get(&js_sys::global(), "location"), "origin");
    let relative = add(&m, "/nothing-here?x=1", obj(&[("id", "rel".into())]));
    assert_eq!(id_of("/nothing-here?x=1".into()), "rel");
    assert_eq!(id_of(format!("{origin}/nothing-here?x=1").into()), "rel");
    let _ = call(&relative, "cancel", &[]);
    for unknown in ["nope", "https://example.com/other"] {
        assert!(found(unknown.into()).is_undefined(), "{unknown}");
    }
    let refused = call(&m, "get", &[JsValue::from(5)]).unwrap_err();
    assert_eq!(get_str(&refused, "code"), "INVALID_ARGUMENT");
}

#[wasm_bindgen_test]
async fn persist_false_keeps_downloads_in_memory() {
    let (t, name) = (tag("memory"), tag("db"));
    let m = open_named(&name, vec![("persist", false.into())]).await;
    assert_eq!(get(&m, "persistent").as_bool(), Some(false));
    assert!(get(&m, "storageError").is_undefined(), "persist: false");
    assert_eq!(get(&m, "multiTab").as_bool(), Some(false));
    let dl = add(
        &m,
        &file_url(
            &t,
            "size=300000&seed=8&cut_at=100000&cut_times=1&throttle=2000000",
        ),
        JsValue::UNDEFINED,
    );
    done(&dl).await.expect("completes");
    assert_bytes(&dl, 8, 300_000).await;
    assert!(
        ranges(&t).await[1]
            .as_deref()
            .is_some_and(|r| r != "bytes=0-"),
        "resumed from memory"
    );
    let dbs = js(
        "",
        "return (await indexedDB.databases()).map((d) => d.name);",
        &[],
    )
    .await;
    let db_name = resumable_downloads::testing::database_name(&name);
    assert!(
        !js_sys::Array::from(&dbs).includes(&db_name.as_str().into(), 0),
        "no database was created"
    );
    let e = match resumable_downloads::api::DownloadManager::open(Some(
        obj(&[("persist", "no".into())]).unchecked_into(),
    ))
    .await
    {
        Ok(_) => panic!("accepted"),
        Err(e) => e,
    };
    assert!(get_str(&e, "message").starts_with("options.persist:"));
}

#[wasm_bindgen_test]
async fn adds_in_one_task_share_one_transaction_and_a_stored_id_fails_alone() {
    let (t, name) = (tag("batch"), tag("db"));
    // This manager opens first; then another one on the same database (as another tab)
    // stores "taken", paused part way, and closes.
    // In IndexedDB chunks, which the test reads back.
    let m = open_named(&name, vec![("storage", "indexeddb".into())]).await;
    let other = open_named(
        &name,
        vec![
            ("storage", "indexeddb".into()),
            ("chunkBytes", (64 * 1024).into()),
        ],
    )
    .await;
    let taken_url = file_url(&t, "size=400000&seed=81&throttle=1000000");
    let first = add(&other, &taken_url, obj(&[("id", "taken".into())]));
    wait_bytes(&first, 200_000.0, 10_000).await;
    call(&first, "pause", &[]).unwrap();
    assert!(wait_until(5_000, || get_str(&first, "state") == "paused").await);
    call_async(&other, "close", &[]).await.unwrap();
    let chunks_before = stored_chunks(&name, "taken").await.len();
    assert!(chunks_before >= 3, "{chunks_before} chunks");

    // The first manager, which never saw "taken", adds it again among 30 others in one loop:
    // the records share one transaction, and the stored one fails alone and is adopted.
    js(
        "",
        "const orig = IDBDatabase.prototype.transaction; globalThis.__orig = orig; \
         globalThis.__tx = 0; \
         IDBDatabase.prototype.transaction = function (s, mode) { \
           if (mode === 'readwrite') globalThis.__tx++; return orig.call(this, s, mode); };",
        &[],
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..30 {
        let url = file_url(&t, &format!("size=1000&seed={i}"));
        ids.push(get_str(&add(&m, &url, JsValue::UNDEFINED), "id"));
    }
    let taken = add(&m, &taken_url, obj(&[("id", "taken".into())]));
    let creating = js("", "return globalThis.__tx;", &[]).await.as_f64();
    js(
        "",
        "IDBDatabase.prototype.transaction = globalThis.__orig;",
        &[],
    )
    .await;
    assert_eq!(creating, Some(1.0), "31 adds in one task: one transaction");
    let all = js_sys::Array::new();
    for id in &ids {
        all.push(&id.as_str().into());
    }
    let result = call_async(&m, "whenAll", &[all.into()]).await.unwrap();
    assert_eq!(js_sys::Array::from(&get(&result, "completed")).length(), 30);
    for i in [0usize, 29] {
        let dl = call(&m, "get", &[ids[i].as_str().into()]).unwrap();
        assert_bytes(&dl, i as u64, 1000).await;
    }
    // The stored download was adopted as it is (paused), its chunks kept; resumed, it
    // continues from them.
    assert!(
        wait_until(5_000, || get_str(&taken, "state") == "paused").await,
        "adopted as {}",
        get_str(&taken, "state")
    );
    assert_eq!(stored_chunks(&name, "taken").await.len(), chunks_before);
    call(&taken, "resume", &[]).unwrap();
    done(&taken).await.expect("the adopted download completes");
    assert_bytes(&taken, 81, 400_000).await;
    let starts = ranges(&t).await;
    let resumed = starts
        .iter()
        .flatten()
        .filter(|r| r.as_str() != "bytes=0-")
        .count();
    assert_eq!(resumed, 1, "resumed from its stored bytes: {starts:?}");
    call_async(&m, "close", &[]).await.unwrap();
}
