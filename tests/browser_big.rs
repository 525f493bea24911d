//! A 1 GiB download interrupted by three reloads completes byte-exact, fetching no more than
//! 3 × `chunkBytes` twice. Slow on purpose (about half a minute), so it runs with
//! `make test-big` rather than `make test`.
//!
//! The link is paced at 50 MB/s. Unpaced on loopback (about 1 GB/s) the kernel's socket
//! buffers and the browser's network buffers hold several MB that the server has sent but the
//! page has not yet read; no client can keep those across an abrupt stop, so they would be
//! counted as fetched twice whatever the library does.
#![cfg(target_arch = "wasm32")]

mod support;

use js_sys::Uint8Array;
use support::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const GIB: u64 = 1 << 30;
const CHUNK: u64 = 4 << 20;

async fn manager(name: &str) -> JsValue {
    open_named(name, vec![("chunkBytes", (CHUNK as f64).into())]).await
}

#[wasm_bindgen_test]
async fn one_gib_interrupted_three_times_is_byte_exact() {
    let (t, name) = (tag("gib"), tag("db"));
    let mut m = manager(&name).await;
    let mut dl = add(
        &m,
        &file_url(&t, &format!("size={GIB}&seed=77&throttle=50000000")),
        obj(&[("id", "big".into())]),
    );
    for quarter in 1..=3u64 {
        wait_bytes(&dl, (quarter * GIB / 4) as f64, 120_000).await;
        call_async(&m, "close", &[]).await.unwrap();
        m = manager(&name).await;
        dl = call(&m, "get", &["big".into()]).unwrap();
    }
    done(&dl).await.expect("completes");
    // Verify in 16 MiB slices, never holding the whole file.
    let blob = call_async(&dl, "blob", &[]).await.unwrap();
    assert_eq!(get_num(&blob, "size"), Some(GIB as f64));
    let slice = 16u64 << 20;
    let mut start = 0;
    while start < GIB {
        let part = call(
            &blob,
            "slice",
            &[(start as f64).into(), ((start + slice) as f64).into()],
        )
        .unwrap();
        let buf = call_async(&part, "arrayBuffer", &[]).await.unwrap();
        let got = Uint8Array::new(&buf).to_vec();
        assert!(
            got == expected(77, start, slice as usize),
            "bytes differ in [{start}, {})",
            start + slice
        );
        start += slice;
    }
    let twice = bytes_served(&t).await - GIB as f64;
    console_log!(
        "1 GiB, 3 reloads: {twice} bytes fetched twice ({:.2} chunks)",
        twice / CHUNK as f64
    );
    assert!(twice <= 3.0 * CHUNK as f64, "{twice} bytes fetched twice");
    assert_eq!(gets(&t).await.len(), 4, "one request per interruption");
}
