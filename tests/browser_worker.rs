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
