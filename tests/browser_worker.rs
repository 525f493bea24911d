//! The engine in a service worker, where a site's Background Fetch handlers run: a manager
//! opens there without a window (no storage worker: `Worker` does not exist in a service
//! worker, so IndexedDB chunks), downloads against the fixture server, and a download
//! interrupted there resumes with `Range` under the next manager.
#![cfg(target_arch = "wasm32")]

mod support;

use support::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_service_worker);

#[wasm_bindgen_test]
async fn a_manager_downloads_and_resumes_in_a_service_worker() {
    let (t, name, size) = (tag("sw"), tag("db"), 1_500_000usize);
    let chunk = ("chunkBytes", JsValue::from(256 * 1024));
    let m = open_named(&name, vec![chunk.clone()]).await;
    let storage = get(&m, "storage");
    let reason = get_str(&storage, "reason");
    assert_eq!(get_str(&storage, "backend"), "indexeddb", "{reason}");
    assert!(reason.contains("Worker"), "{reason}");
    assert!(get(&m, "persistent").as_bool().unwrap());

    let url = file_url(&t, &format!("size={size}&seed=61&throttle=1000000"));
    let dl = add(&m, &url, JsValue::UNDEFINED);
    let id = get_str(&dl, "id");
    wait_bytes(&dl, 600_000.0, 20_000).await;
    call_async(&m, "close", &[]).await.unwrap();
    let stored = get_num(&stored_record(&name, &id).await, "offset").unwrap();
    assert!(stored >= 512.0 * 1024.0, "{stored}");

    let m = open_named(&name, vec![chunk]).await;
    let dl = call(&m, "get", &[id.as_str().into()]).unwrap();
    done(&dl).await.expect("completes after the reopen");
    assert_bytes(&dl, 61, size).await;
    let r = ranges(&t).await;
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(
        r[1],
        Some(format!("bytes={stored}-")),
        "resumed at the stored offset"
    );
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_response_handed_over_in_a_service_worker_completes_the_stored_bytes() {
    // What a service worker does with a response it got for a download that has stored
    // bytes: it hands the response to the download, which validates, appends and hashes it.
    let (t, name, size, seed) = (tag("sw-given"), tag("db"), 900_000usize, 62);
    let integrity = sri(&expected(seed, 0, size)).await;
    let url = file_url(&t, &format!("size={size}&seed={seed}&throttle=2000000"));
    let m = open_named(&name, vec![("chunkBytes", JsValue::from(64 * 1024))]).await;
    let dl = add(&m, &url, obj(&[("integrity", integrity.as_str().into())]));
    let id = get_str(&dl, "id");
    wait_bytes(&dl, 300_000.0, 20_000).await;
    call_async(&m, "close", &[]).await.unwrap();
    let offset = get_num(&stored_record(&name, &id).await, "offset").unwrap();
    let m = open_named(&name, vec![("chunkBytes", JsValue::from(64 * 1024))]).await;
    let dl = call(&m, "get", &[id.as_str().into()]).unwrap();
    call(&dl, "pause", &[]).unwrap();
    let response = js(
        "u, r",
        "return fetch(u, { headers: { Range: r } });",
        &[url.as_str().into(), format!("bytes={offset}-").into()],
    )
    .await;
    call(&dl, "resumeWith", &[response]).unwrap();
    done(&dl).await.expect("verified");
    assert_bytes(&dl, seed, size).await;
    // The restored download starts at once, so its own request for the rest may go out
    // before the pause stops it (and keep a few bytes, after which the handed-over response
    // no longer fits and the rest is fetched again); nothing is ever fetched from 0 again.
    let r = ranges(&t).await;
    assert!((2..=4).contains(&r.len()), "{r:?}");
    let starts: Vec<u64> = r[1..].iter().filter_map(range_start).collect();
    assert_eq!(starts.len(), r.len() - 1, "{r:?}");
    assert!(starts.iter().all(|s| *s as f64 >= offset), "{r:?}");
    assert!(
        r.contains(&Some(format!("bytes={offset}-"))),
        "the handed-over request: {r:?}"
    );
    call_async(&m, "close", &[]).await.unwrap();
}
