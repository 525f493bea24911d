//! Measures persisted throughput for `chunkBytes` of 1, 2, 4 and 8 MiB (256 MiB each, side by
//! side in one run) and prints the figures. Runs with `make test-big`.
#![cfg(target_arch = "wasm32")]

mod support;

use support::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn persisted_throughput_by_chunk_size() {
    let size: u64 = 256 << 20;
    let mut lines = Vec::new();
    for round in 0..2 {
        for mib in [1u64, 2, 4, 8] {
            let (t, name) = (tag("chunks"), tag("db"));
            // IndexedDB chunks: OPFS commits every `flushBytes` instead.
            let m = open_named(
                &name,
                vec![
                    ("storage", "indexeddb".into()),
                    ("chunkBytes", ((mib << 20) as f64).into()),
                ],
            )
            .await;
            let started = js_sys::Date::now();
            let dl = add(
                &m,
                &file_url(&t, &format!("size={size}&seed=5")),
                JsValue::UNDEFINED,
            );
            done(&dl).await.expect("completes");
            let ms = js_sys::Date::now() - started;
            let blob = call_async(&dl, "blob", &[]).await.unwrap();
            assert_eq!(get_num(&blob, "size"), Some(size as f64));
            call(&m, "remove", &[get(&dl, "id")]).unwrap();
            if round == 1 {
                lines.push(format!(
                    "chunkBytes {mib} MiB: {:.0} MB/s",
                    size as f64 / ms / 1000.0
                ));
            }
        }
    }
    console_log!("256 MiB persisted (second round):\n{}", lines.join("\n"));
}
