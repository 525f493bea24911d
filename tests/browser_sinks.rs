//! Downloads written to the caller's `WritableStream` (`add(url, { sink })`), against the
//! fixture server in every engine: bytes in order with backpressure, nothing kept, a resume
//! after a dropped connection, and what a sink cannot do (rewind after a restart, keep a
//! failed write quiet).
#![cfg(target_arch = "wasm32")]

mod support;

use support::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A memory-only manager with fast retries.
async fn manager() -> JsValue {
    open(obj(&[
        ("persist", false.into()),
        ("chunkBytes", (64.0 * 1024.0).into()),
        (
            "retry",
            obj(&[("backoffMs", 20.into()), ("maxBackoffMs", 100.into())]),
        ),
    ]))
    .await
}

/// A sink that keeps what it is given in `state.chunks`, taking `delay` ms per write (a slow
/// disk: backpressure), and failing its write number `failAt` when set. `state.closed` and
/// `state.aborted` say how it ended.
async fn sink(delay: u32, fail_at: Option<u32>) -> (JsValue, JsValue) {
    let state = obj(&[
        ("chunks", js_sys::Array::new().into()),
        ("writes", 0.into()),
        ("closed", false.into()),
        ("aborted", false.into()),
        ("maxQueued", 0.into()),
    ]);
    let fail = fail_at.map_or(JsValue::NULL, JsValue::from);
    let stream = js(
        "state, delay, failAt",
        "let queued = 0; \
         return new WritableStream({ \
           async write(chunk) { \
             state.writes++; \
             if (state.writes === failAt) throw new TypeError('disk full'); \
             state.chunks.push(chunk.slice()); \
             if (delay) await new Promise((r) => setTimeout(r, delay)); \
           }, \
           close() { state.closed = true; }, \
           abort() { state.aborted = true; }, \
         }, { highWaterMark: 4 });",
        &[state.clone(), delay.into(), fail],
    )
    .await;
    (stream, state)
}

/// The bytes a sink received, concatenated.
async fn received(state: &JsValue) -> Vec<u8> {
    let all = js(
        "state",
        "const n = state.chunks.reduce((a, c) => a + c.length, 0); \
         const out = new Uint8Array(n); let at = 0; \
         for (const c of state.chunks) { out.set(c, at); at += c.length; } return out;",
        std::slice::from_ref(state),
    )
    .await;
    js_sys::Uint8Array::new(&all).to_vec()
}

/// A memory-only manager, and a download of `/file?knobs` (tag `t`) written to a new sink
/// (see [`sink`]); returns the manager, the download and the sink's state.
async fn streamed(
    t: &str,
    knobs: &str,
    delay: u32,
    fail_at: Option<u32>,
) -> (JsValue, JsValue, JsValue) {
    let m = manager().await;
    let (stream, state) = sink(delay, fail_at).await;
    let dl = add(&m, &file_url(t, knobs), obj(&[("sink", stream)]));
    (m, dl, state)
}

fn assert_same(got: &[u8], seed: u64) {
    let want = expected(seed, 0, got.len());
    assert!(
        got == want.as_slice(),
        "the sink's bytes differ from the resource"
    );
}

fn flag(state: &JsValue, key: &str) -> bool {
    get(state, key).as_bool().unwrap()
}

#[wasm_bindgen_test]
async fn a_sink_gets_every_byte_in_order_and_nothing_is_kept() {
    let (t, size) = (tag("sink"), 700_000usize);
    let m = manager().await;
    let (stream, state) = sink(2, None).await;
    let dl = add(
        &m,
        &file_url(&t, &format!("size={size}&seed=71")),
        obj(&[("sink", stream.clone())]),
    );
    assert!(
        get(&stream, "locked").as_bool().unwrap(),
        "locked from add() on"
    );
    done(&dl).await.expect("completes");
    let got = received(&state).await;
    assert_eq!(got.len(), size);
    assert_same(&got, 71);
    assert!(flag(&state, "closed") && !flag(&state, "aborted"));
    assert_eq!(
        get_num(&get(&dl, "progress"), "transferredBytes"),
        Some(size as f64)
    );
    let err = call_async(&dl, "blob", &[])
        .await
        .expect_err("nothing kept");
    assert_eq!(code(&err), "INVALID_ARGUMENT");
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_dropped_connection_resumes_into_the_same_sink() {
    let (t, size) = (tag("sink-cut"), 600_000usize);
    let knobs = format!("size={size}&seed=72&cut_at=250000&cut_times=1&throttle=2000000");
    let (m, dl, state) = streamed(&t, &knobs, 0, None).await;
    done(&dl).await.expect("completes");
    let got = received(&state).await;
    assert_eq!(got.len(), size, "every byte exactly once");
    assert_same(&got, 72);
    let r = ranges(&t).await;
    assert_eq!(r.len(), 2, "{r:?}");
    let resumed = r[1].as_deref().unwrap();
    assert_ne!(resumed, "bytes=0-", "resumed, not restarted");
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_restart_after_bytes_were_written_fails_with_sink_and_never_splices() {
    let (t, size) = (tag("sink-change"), 400_000usize);
    // The connection drops, and the resource changes before the resume.
    let knobs = format!(
        "size={size}&seed=73&change_after=1&seed2=74&cut_at=150000&cut_times=1&throttle=2000000"
    );
    let (m, dl, state) = streamed(&t, &knobs, 0, None).await;
    let err = done(&dl).await.expect_err("cannot rewind the sink");
    assert_eq!(code(&err), "SINK", "{err:?}");
    // The sink holds a prefix of the first version only.
    let got = received(&state).await;
    assert!(
        !got.is_empty() && got.len() <= 150_000,
        "{} bytes",
        got.len()
    );
    assert_same(&got, 73);
    assert!(!flag(&state, "closed"), "never closed as if complete");
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_write_the_sink_refuses_fails_the_download_with_its_error() {
    let t = tag("sink-fail");
    let (m, dl, state) = streamed(&t, "size=500000&seed=75&throttle=2000000", 0, Some(2)).await;
    let err = done(&dl).await.expect_err("the sink failed");
    assert_eq!(code(&err), "SINK", "{err:?}");
    assert!(get_str(&err, "message").contains("disk full"), "{err:?}");
    assert_eq!(get_str(&get(&err, "cause"), "name"), "TypeError");
    assert_eq!(
        get_num(&state, "writes"),
        Some(2.0),
        "no write after the failure"
    );
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn cancel_aborts_the_sink_and_a_persisted_manager_refuses_one() {
    let t = tag("sink-cancel");
    let (m, dl, state) = streamed(&t, "size=2000000&seed=76&throttle=500000", 0, None).await;
    wait_bytes(&dl, 100_000.0, 10_000).await;
    call_async(&dl, "cancel", &[]).await.unwrap();
    assert!(
        wait_until(2_000, || flag(&state, "aborted")).await,
        "the sink is aborted"
    );
    assert!(!flag(&state, "closed"));
    call_async(&m, "close", &[]).await.unwrap();

    let persisted = open(JsValue::UNDEFINED).await;
    let (stream, _) = sink(0, None).await;
    let refused = call(
        &persisted,
        "add",
        &[
            file_url(&t, "size=10").into(),
            obj(&[("sink", stream.clone())]),
        ],
    )
    .expect_err("persisted managers keep files, not streams");
    assert_eq!(code(&refused), "INVALID_ARGUMENT");
    assert!(
        !get(&stream, "locked").as_bool().unwrap(),
        "a refused sink stays unlocked"
    );
    // A sink with the id of a download that exists is refused too, left unlocked.
    let m = manager().await;
    let (first, _) = sink(0, None).await;
    let url = file_url(&t, "size=100000&seed=78&throttle=200000");
    let dl = add(&m, &url, obj(&[("sink", first), ("id", "one".into())]));
    let (second, _) = sink(0, None).await;
    let options = obj(&[("sink", second.clone()), ("id", "one".into())]);
    let again = call(&m, "add", &[url.as_str().into(), options]).expect_err("one sink each");
    assert_eq!(code(&again), "INVALID_ARGUMENT");
    assert!(!get(&second, "locked").as_bool().unwrap());
    done(&dl).await.expect("the first goes on");
    call_async(&m, "close", &[]).await.unwrap();
    let not_a_stream = call(
        &persisted,
        "add",
        &[file_url(&t, "size=10").into(), obj(&[("sink", obj(&[]))])],
    )
    .expect_err("not a WritableStream");
    assert_eq!(code(&not_a_stream), "INVALID_ARGUMENT");
    call_async(&persisted, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn integrity_is_checked_and_a_mismatch_fails_without_a_restart() {
    let (t, size) = (tag("sink-sri"), 300_000usize);
    let m = manager().await;
    let right = sri(&expected(77, 0, size)).await;
    let (stream, state) = sink(0, None).await;
    let url = file_url(&t, &format!("size={size}&seed=77"));
    let dl = add(
        &m,
        &url,
        obj(&[("sink", stream), ("integrity", right.as_str().into())]),
    );
    if let Err(e) = done(&dl).await {
        // Whether the bytes or their hash went wrong.
        let got = received(&state).await;
        let want = expected(77, 0, size);
        let first_diff = got.iter().zip(&want).position(|(a, b)| a != b);
        panic!(
            "the right hash failed: {} ({}); the sink got {} bytes, first difference at {:?}, \
             their hash {}; requests {:?}",
            code(&e),
            get_str(&e, "message"),
            got.len(),
            first_diff,
            if sri(&got).await == right {
                "right"
            } else {
                "wrong"
            },
            ranges(&t).await
        );
    }
    assert!(flag(&state, "closed"));

    let wrong = sri(b"something else").await;
    let (stream, state) = sink(0, None).await;
    let dl = add(
        &m,
        &format!("{url}&_n=2"),
        obj(&[("sink", stream), ("integrity", wrong.as_str().into())]),
    );
    let err = done(&dl).await.expect_err("a mismatch fails");
    assert_eq!(code(&err), "INTEGRITY");
    assert_eq!(gets(&t).await.len(), 2, "no restart: one request each");
    assert_eq!(received(&state).await.len(), size);
    assert!(!flag(&state, "closed"), "not closed as if it were good");
    call_async(&m, "close", &[]).await.unwrap();
}
