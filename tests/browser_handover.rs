//! `download.resumeWith(response)`: a response the page fetched itself (as a service worker
//! gets one from Background Fetch) answers a download's next request instead of a fetch. It
//! is judged by the same core as a fetched one against what is stored: the remainder is
//! appended and hashed, a changed resource is never spliced, a wrong range is refetched.
#![cfg(target_arch = "wasm32")]

mod support;

use support::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A manager on a name of its own, committing every 64 KiB, with fast retries.
async fn manager(name: &str) -> JsValue {
    open_named(
        name,
        vec![
            ("flushBytes", (64 * 1024).into()),
            ("chunkBytes", (64 * 1024).into()),
            (
                "retry",
                obj(&[("backoffMs", 20.into()), ("maxBackoffMs", 100.into())]),
            ),
        ],
    )
    .await
}

/// `fetch(url, { headers: { Range: range } })`, made by the page.
async fn fetched(url: &str, range: &str) -> JsValue {
    js(
        "u, r",
        "return fetch(u, { headers: { Range: r }, cache: 'no-store' });",
        &[url.into(), range.into()],
    )
    .await
}

/// Starts `url` on manager `name`, lets `bytes` arrive, pauses it, and returns the download
/// with the offset its record stores.
async fn paused_after(
    m: &JsValue,
    name: &str,
    url: &str,
    bytes: f64,
    opts: JsValue,
) -> (JsValue, u64) {
    let dl = add(m, url, opts);
    wait_bytes(&dl, bytes, 20_000).await;
    call(&dl, "pause", &[]).unwrap();
    let id = get_str(&dl, "id");
    // The pause commits what arrived; wait until the record says paused.
    let mut offset = 0;
    for _ in 0..200 {
        let rec = stored_record(name, &id).await;
        if get_str(&rec, "state") == "paused" {
            offset = get_num(&rec, "offset").unwrap() as u64;
            break;
        }
        sleep(10).await;
    }
    assert!(offset > 0, "paused with nothing stored");
    (dl, offset)
}

#[wasm_bindgen_test]
async fn a_response_the_page_fetched_continues_the_stored_bytes_with_integrity() {
    let (t, name, size, seed) = (tag("given"), tag("db"), 1_200_000usize, 81);
    let integrity = sri(&expected(seed, 0, size)).await;
    let url = file_url(&t, &format!("size={size}&seed={seed}&throttle=2000000"));
    let m = manager(&name).await;
    let opts = obj(&[("integrity", integrity.as_str().into())]);
    let (dl, offset) = paused_after(&m, &name, &url, 300_000.0, opts).await;
    let response = fetched(&url, &format!("bytes={offset}-")).await;
    call(&dl, "resumeWith", &[response]).unwrap();
    done(&dl).await.expect("verified");
    assert_bytes(&dl, seed, size).await;
    // The server saw the library's first request and the page's: nothing else.
    let r = ranges(&t).await;
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[1], Some(format!("bytes={offset}-")));
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_response_of_a_changed_resource_is_not_spliced() {
    let (t, name, size) = (tag("given-changed"), tag("db"), 600_000usize);
    // The resource changes after its first response: the page's fetch gets the new one.
    let url = file_url(
        &t,
        &format!("size={size}&seed=82&change_after=1&seed2=83&throttle=2000000"),
    );
    let m = manager(&name).await;
    let restarted = Recorder::new(&m, "restarted");
    let (dl, offset) = paused_after(&m, &name, &url, 200_000.0, JsValue::UNDEFINED).await;
    let response = fetched(&url, &format!("bytes={offset}-")).await;
    call(&dl, "resumeWith", &[response]).unwrap();
    done(&dl).await.expect("completes");
    assert_bytes(&dl, 83, size).await;
    assert_eq!(restarted.len(), 1, "one restart");
    let r = ranges(&t).await;
    assert_eq!(r.len(), 3, "{r:?}");
    assert_eq!(r[2].as_deref(), Some("bytes=0-"), "refetched from 0: {r:?}");
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_response_for_another_range_is_refetched_by_the_download() {
    let (t, name, size, seed) = (tag("given-range"), tag("db"), 600_000usize, 84);
    let url = file_url(&t, &format!("size={size}&seed={seed}&throttle=2000000"));
    let m = manager(&name).await;
    let (dl, offset) = paused_after(&m, &name, &url, 200_000.0, JsValue::UNDEFINED).await;
    let response = fetched(&url, &format!("bytes={}-", offset + 1000)).await;
    call(&dl, "resumeWith", &[response]).unwrap();
    done(&dl).await.expect("completes");
    assert_bytes(&dl, seed, size).await;
    let r = ranges(&t).await;
    assert_eq!(
        r.last().unwrap(),
        &Some(format!("bytes={offset}-")),
        "{r:?}"
    );
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn resume_with_takes_an_unread_response_and_stops_a_run_under_way() {
    let (t, name) = (tag("given-bad"), tag("db"));
    let url = file_url(&t, "size=400000&seed=85&throttle=1000000");
    let m = manager(&name).await;
    let dl = add(&m, &url, JsValue::UNDEFINED);
    wait_bytes(&dl, 50_000.0, 20_000).await;
    let err = call(&dl, "resumeWith", &[42.into()]).expect_err("refused");
    assert_eq!(code(&err), "INVALID_ARGUMENT");
    assert!(get_str(&err, "message").contains("must be a Response"));
    // A running download stops its run as a pause does and continues with the response,
    // which here starts at 0, before what was kept: judged a bad partial, and the download
    // fetches the rest itself.
    let response = fetched(&url, "bytes=0-").await;
    call(&dl, "resumeWith", std::slice::from_ref(&response)).unwrap();
    done(&dl).await.unwrap();
    assert_bytes(&dl, 85, 400_000).await;
    let r = ranges(&t).await;
    assert_eq!(r.len(), 3, "{r:?}");
    assert_eq!(r[1].as_deref(), Some("bytes=0-"));
    assert_ne!(
        r[2].as_deref(),
        Some("bytes=0-"),
        "resumed after what was kept"
    );
    let err = call(&dl, "resumeWith", &[response]).expect_err("refused");
    assert!(get_str(&err, "message").contains("has settled"));
    let response = fetched(&url, "bytes=0-").await;
    js(
        "r",
        "await r.arrayBuffer();",
        std::slice::from_ref(&response),
    )
    .await;
    let other = add(
        &m,
        &file_url(&tag("given-bad2"), "size=1000"),
        obj(&[("id", "x".into())]),
    );
    call(&other, "pause", &[]).unwrap();
    let err = call(&other, "resumeWith", &[response]).expect_err("refused");
    assert!(get_str(&err, "message").contains("read already"));
    call_async(&m, "close", &[]).await.unwrap();
}
