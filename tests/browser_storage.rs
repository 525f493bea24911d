//! The storage backends in every engine against the fixture server: OPFS files written by the
//! package's storage worker (the default where it works), IndexedDB chunks (the fallback, and
//! `storage: 'indexeddb'`), and what moves between them. A reload is a `close()` and a new
//! manager on the same name in the same page; what is stored is read back through the
//! origin's file system and IndexedDB directly, not through the library.
#![cfg(target_arch = "wasm32")]

mod support;

use resumable_downloads::testing::{
    clear_faults, crash_storage_workers, inject_opfs_failure, inject_streamed_files,
    inject_write_failure,
};
use support::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const FLUSH: u64 = 64 * 1024;

/// A manager on `name` flushing every 64 KiB, with fast retries and `extra` options.
async fn manager(name: &str, extra: Vec<(&str, JsValue)>) -> JsValue {
    let mut opts = vec![
        ("flushBytes", (FLUSH as f64).into()),
        ("progressIntervalMs", 0.into()),
        (
            "retry",
            obj(&[("backoffMs", 20.into()), ("maxBackoffMs", 100.into())]),
        ),
    ];
    opts.extend(extra);
    open_named(name, opts).await
}

/// `manager.storage.backend`.
fn backend(m: &JsValue) -> String {
    get_str(&get(m, "storage"), "backend")
}

/// The engines whose storage worker can write OPFS files here (WebKitGTK 2.50 has no
/// `navigator.storage` at all).
fn has_opfs() -> bool {
    matches!(engine(), "chromium" | "firefox")
}

#[wasm_bindgen_test]
async fn opfs_is_the_default_where_a_storage_worker_can_write_files() {
    let m = open(JsValue::UNDEFINED).await;
    let storage = get(&m, "storage");
    let reason = get_str(&storage, "reason");
    if has_opfs() {
        assert_eq!(backend(&m), "opfs", "{reason}");
    } else {
        assert_eq!(backend(&m), "indexeddb");
        assert!(reason.starts_with("OPFS is not used: "), "{reason}");
    }
    assert!(get(&m, "persistent").as_bool().unwrap());
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_reload_mid_download_resumes_from_the_file_byte_exact() {
    if !has_opfs() {
        return;
    }
    let (t, name, size) = (tag("reload"), tag("db"), 1_500_000u64);
    let url = file_url(&t, &format!("size={size}&seed=41&throttle=1000000"));
    let m = manager(&name, vec![]).await;
    let dl = add(&m, &url, JsValue::UNDEFINED);
    let id = get_str(&dl, "id");
    wait_bytes(&dl, 500_000.0, 20_000).await;
    let received = get_num(&get(&dl, "progress"), "transferredBytes").unwrap();
    call_async(&m, "close", &[]).await.unwrap();
    // What is stored: a record counting whole flushes of a file holding at least them, and
    // no chunks in IndexedDB.
    let rec = stored_record(&name, &id).await;
    assert_eq!(get(&rec, "opfs").as_bool(), Some(true));
    let offset = get_num(&rec, "offset").unwrap();
    assert!(offset > 0.0 && offset <= received, "{offset} of {received}");
    assert!(
        // At most two flushes being written and one pending are not counted yet.
        received - offset <= 3.0 * FLUSH as f64,
        "lost {}",
        received - offset
    );
    assert!(stored_chunks(&name, &id).await.is_empty());
    // The file was sized to the known total with its first write.
    let file = stored_file(&name, &id).await.expect("a file");
    assert_eq!(file.len() as u64, size, "sized to the total");
    assert_eq!(
        &file[..offset as usize],
        &expected(41, 0, offset as usize)[..]
    );

    let m = manager(&name, vec![]).await;
    let dl = call(&m, "get", &[id.as_str().into()]).unwrap();
    done(&dl).await.expect("completes after the reload");
    assert_bytes(&dl, 41, size as usize).await;
    let r = ranges(&t).await;
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(
        r[1],
        Some(format!("bytes={offset}-")),
        "resumed at the stored offset"
    );
    let file = stored_file(&name, &id).await.expect("a file");
    assert_eq!(file.len() as u64, size, "the file is exactly the download");
    // blob() is a view of the file, with the response's type.
    let blob = call_async(&dl, "blob", &[]).await.unwrap();
    assert_eq!(get_num(&blob, "size"), Some(size as f64));
    assert_eq!(get_str(&blob, "type"), "application/octet-stream");
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_file_grows_write_by_write_where_the_total_is_unknown() {
    if !has_opfs() {
        return;
    }
    let (t, name, size) = (tag("unsized"), tag("db"), 1_500_000u64);
    // No Content-Length and no ranges: the total is known only at the end of the body.
    let url = file_url(
        &t,
        &format!("size={size}&seed=42&throttle=1000000&chunked=1&ranges=0"),
    );
    let m = manager(&name, vec![]).await;
    let dl = add(&m, &url, JsValue::UNDEFINED);
    let id = get_str(&dl, "id");
    wait_bytes(&dl, 500_000.0, 20_000).await;
    call_async(&m, "close", &[]).await.unwrap();
    let offset = get_num(&stored_record(&name, &id).await, "offset").unwrap();
    let file = stored_file(&name, &id).await.expect("a file");
    assert!(
        (file.len() as f64) >= offset && (file.len() as u64) < size,
        "{} bytes in the file, {offset} counted",
        file.len()
    );
    // It starts over (no ranges) and ends exactly as long as the download.
    let m = manager(&name, vec![]).await;
    let dl = call(&m, "get", &[id.as_str().into()]).unwrap();
    done(&dl).await.expect("completes after the reload");
    assert_bytes(&dl, 42, size as usize).await;
    call_async(&m, "close", &[]).await.unwrap();
    let file = stored_file(&name, &id).await.expect("a file");
    assert_eq!(file.len() as u64, size);
}

#[wasm_bindgen_test]
async fn cancel_remove_and_a_restart_take_the_file_with_them() {
    if !has_opfs() {
        return;
    }
    let (t, name) = (tag("gone"), tag("db"));
    let m = manager(&name, vec![]).await;
    // A cancel mid-transfer deletes the file.
    let dl = add(
        &m,
        &file_url(&t, "size=2000000&seed=42&throttle=1000000"),
        JsValue::UNDEFINED,
    );
    let id = get_str(&dl, "id");
    wait_bytes(&dl, 300_000.0, 20_000).await;
    call_async(&dl, "cancel", &[]).await.unwrap();
    assert!(
        stored_file(&name, &id).await.is_none(),
        "cancel left the file"
    );
    assert!(stored_record(&name, &id).await.is_undefined());
    // remove() of a completed download deletes it too.
    let t2 = tag("removed");
    let dl = add(
        &m,
        &file_url(&t2, "size=300000&seed=43"),
        JsValue::UNDEFINED,
    );
    done(&dl).await.unwrap();
    let id2 = get_str(&dl, "id");
    assert_eq!(
        stored_file(&name, &id2).await.map(|f| f.len()),
        Some(300_000)
    );
    call_async(&m, "remove", &[id2.as_str().into()])
        .await
        .unwrap();
    assert!(
        stored_file(&name, &id2).await.is_none(),
        "remove left the file"
    );
    // A changed resource restarts from 0: the file is cut and rewritten, nothing spliced.
    let t3 = tag("changed");
    let size = 700_000usize;
    let dl = add(
        &m,
        &file_url(
            &t3,
            &format!("size={size}&seed=44&change_after=1&seed2=45&cut_at=300000&cut_times=1&throttle=2000000"),
        ),
        JsValue::UNDEFINED,
    );
    done(&dl).await.expect("completes");
    assert_bytes(&dl, 45, size).await;
    let file = stored_file(&name, &get_str(&dl, "id")).await.unwrap();
    assert_eq!(
        file,
        expected(45, 0, size),
        "the file is the new version only"
    );
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_full_disk_fails_with_quota_and_keeps_the_flushed_prefix() {
    if !has_opfs() {
        return;
    }
    let (t, name, size) = (tag("quota"), tag("db"), 600_000usize);
    let m = manager(&name, vec![no_retry()]).await;
    inject_write_failure(3, "QuotaExceededError");
    let dl = add(
        &m,
        &file_url(&t, &format!("size={size}&seed=46")),
        JsValue::UNDEFINED,
    );
    let err = done(&dl).await.expect_err("fails");
    clear_faults();
    assert_eq!(code(&err), "QUOTA");
    let id = get_str(&dl, "id");
    let rec = stored_record(&name, &id).await;
    assert_eq!(
        get_num(&rec, "offset"),
        Some((3 * FLUSH) as f64),
        "three flushes kept"
    );
    call(&dl, "resume", &[]).unwrap();
    done(&dl).await.expect("completes after resume");
    assert_bytes(&dl, 46, size).await;
    let r = ranges(&t).await;
    assert_eq!(r.last().unwrap(), &Some(format!("bytes={}-", 3 * FLUSH)));
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn integrity_holds_across_a_reload_in_the_file() {
    if !has_opfs() {
        return;
    }
    let (t, name, size) = (tag("sri"), tag("db"), 1_200_000usize);
    let integrity = sri(&expected(47, 0, size)).await;
    let url = file_url(&t, &format!("size={size}&seed=47&throttle=1000000"));
    let m = manager(&name, vec![]).await;
    let dl = add(&m, &url, obj(&[("integrity", integrity.as_str().into())]));
    let id = get_str(&dl, "id");
    wait_bytes(&dl, 400_000.0, 20_000).await;
    call_async(&m, "close", &[]).await.unwrap();
    let m = manager(&name, vec![]).await;
    let dl = call(&m, "get", &[id.as_str().into()]).unwrap();
    done(&dl).await.expect("verified after the reload");
    assert_bytes(&dl, 47, size).await;
    assert_eq!(ranges(&t).await.len(), 2, "resumed, not restarted");
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn without_opfs_downloads_go_to_indexeddb_chunks_and_say_why() {
    let (t, name, size) = (tag("fallback"), tag("db"), 400_000usize);
    inject_opfs_failure(true);
    let m = manager(&name, vec![]).await;
    inject_opfs_failure(false);
    assert_eq!(backend(&m), "indexeddb");
    let reason = get_str(&get(&m, "storage"), "reason");
    assert!(
        reason.contains("OPFS is unavailable (injected)"),
        "{reason}"
    );
    let dl = add(
        &m,
        &file_url(&t, &format!("size={size}&seed=48")),
        JsValue::UNDEFINED,
    );
    done(&dl).await.unwrap();
    assert_bytes(&dl, 48, size).await;
    let id = get_str(&dl, "id");
    assert_eq!(
        get(&stored_record(&name, &id).await, "opfs").as_bool(),
        Some(false)
    );
    assert!(!stored_chunks(&name, &id).await.is_empty());
    assert!(stored_file(&name, &id).await.is_none());
    call_async(&m, "close", &[]).await.unwrap();

    // `storage: 'indexeddb'` asks for the same.
    let m = manager(&tag("db"), vec![("storage", "indexeddb".into())]).await;
    assert_eq!(backend(&m), "indexeddb");
    assert_eq!(
        get_str(&get(&m, "storage"), "reason"),
        "storage: 'indexeddb' was asked for"
    );
    call_async(&m, "close", &[]).await.unwrap();
    let m = manager(&tag("db"), vec![("storage", "memory".into())]).await;
    assert_eq!(backend(&m), "memory");
    assert!(!get(&m, "persistent").as_bool().unwrap());
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_download_moves_between_backends_only_by_starting_over() {
    if !has_opfs() {
        return;
    }
    let (t, name, size) = (tag("move"), tag("db"), 1_000_000usize);
    let url = file_url(&t, &format!("size={size}&seed=49&throttle=1000000"));
    // Started in IndexedDB chunks, continued by a manager with OPFS: it stays in chunks.
    let m = manager(
        &name,
        vec![
            ("storage", "indexeddb".into()),
            ("chunkBytes", (FLUSH as f64).into()),
        ],
    )
    .await;
    let dl = add(&m, &url, JsValue::UNDEFINED);
    let id = get_str(&dl, "id");
    wait_bytes(&dl, 300_000.0, 20_000).await;
    call_async(&m, "close", &[]).await.unwrap();
    let m = manager(&name, vec![("chunkBytes", (FLUSH as f64).into())]).await;
    assert_eq!(backend(&m), "opfs");
    let dl = call(&m, "get", &[id.as_str().into()]).unwrap();
    done(&dl).await.unwrap();
    assert_bytes(&dl, 49, size).await;
    assert_eq!(ranges(&t).await.len(), 2, "resumed in its chunks");
    assert!(stored_file(&name, &id).await.is_none());
    call_async(&m, "remove", &[id.as_str().into()])
        .await
        .unwrap();

    // Started in an OPFS file, continued without OPFS: it starts over in chunks.
    let t2 = tag("move2");
    let url = file_url(&t2, &format!("size={size}&seed=50&throttle=1000000"));
    let dl = add(&m, &url, JsValue::UNDEFINED);
    let id = get_str(&dl, "id");
    wait_bytes(&dl, 300_000.0, 20_000).await;
    call_async(&m, "close", &[]).await.unwrap();
    let m = manager(&name, vec![("storage", "indexeddb".into())]).await;
    let restarted = Recorder::new(&m, "restarted");
    let dl = call(&m, "get", &[id.as_str().into()]).unwrap();
    done(&dl).await.unwrap();
    assert_bytes(&dl, 50, size).await;
    let r = ranges(&t2).await;
    assert_eq!(r.last().unwrap().as_deref(), Some("bytes=0-"), "{r:?}");
    assert!(restarted.len() <= 1);
    assert_eq!(
        get(&stored_record(&name, &id).await, "opfs").as_bool(),
        Some(false)
    );
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn storage_options_are_checked() {
    for (opts, needle) in [
        (obj(&[("storage", "disk".into())]), "options.storage"),
        (obj(&[("storage", 1.into())]), "options.storage"),
        (
            obj(&[("storage", "opfs".into()), ("persist", false.into())]),
            "persist: false",
        ),
        (obj(&[("flushBytes", 10.into())]), "options.flushBytes"),
    ] {
        let err = resumable_downloads::api::DownloadManager::open(Some(opts.into()))
            .await
            .expect_err("refused");
        assert_eq!(code(&err), "INVALID_ARGUMENT");
        let msg = get_str(&err, "message");
        assert!(msg.contains(needle), "{msg}");
    }
}

#[wasm_bindgen_test]
async fn a_failed_file_write_under_way_is_recounted_and_the_hash_stays_true() {
    if !has_opfs() {
        return;
    }
    // The third flush fails while the body is read on: the bytes after it are dropped, the
    // hash is rewound to the stored prefix, and the download resumes from there.
    let (t, name, size) = (tag("inflight"), tag("db"), 900_000usize);
    let integrity = sri(&expected(51, 0, size)).await;
    let m = manager(&name, vec![]).await;
    inject_write_failure(2, "UnknownError");
    let dl = add(
        &m,
        &file_url(&t, &format!("size={size}&seed=51")),
        obj(&[("integrity", integrity.as_str().into())]),
    );
    done(&dl).await.expect("verified after the failed write");
    clear_faults();
    assert_bytes(&dl, 51, size).await;
    let r = ranges(&t).await;
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(
        r[1],
        Some(format!("bytes={}-", 2 * FLUSH)),
        "resumed after two flushes"
    );
    assert_eq!(
        stored_file(&name, &get_str(&dl, "id")).await,
        Some(expected(51, 0, size))
    );
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn case43_a_storage_worker_that_dies_mid_write_costs_at_most_the_unflushed_bytes() {
    if !has_opfs() {
        return;
    }
    let (t, name, size) = (tag("crash"), tag("db"), 1_500_000usize);
    let integrity = sri(&expected(52, 0, size)).await;
    let m = manager(&name, vec![]).await;
    let dl = add(
        &m,
        &file_url(&t, &format!("size={size}&seed=52&throttle=1000000")),
        obj(&[("integrity", integrity.as_str().into())]),
    );
    wait_bytes(&dl, 500_000.0, 20_000).await;
    let received = get_num(&get(&dl, "progress"), "transferredBytes").unwrap();
    crash_storage_workers();
    // A commit under way fails, and the download resumes from what its record counts,
    // through a new worker; a crash between two writes costs nothing at all (the next write
    // starts the new worker, which opens the file again).
    done(&dl).await.expect("completes with a new worker");
    assert_bytes(&dl, 52, size).await;
    let r = ranges(&t).await;
    assert!(r.len() <= 2, "{r:?}");
    if let Some(resumed) = r.get(1) {
        let at = range_start(resumed).expect("a resume") as f64;
        assert!(
            at <= received && received - at <= 3.0 * FLUSH as f64,
            "resumed at {at} after the crash at {received}"
        );
    }
    // At most the bytes not yet counted by a record (two flushes being written, one
    // pending), and what was on its way from the server.
    let twice = bytes_served(&t).await - size as f64;
    assert!(twice <= 4.0 * FLUSH as f64, "{twice} bytes fetched twice");
    assert_eq!(
        stored_file(&name, &get_str(&dl, "id")).await,
        Some(expected(52, 0, size))
    );
    call_async(&m, "close", &[]).await.unwrap();
}

/// A file of the page's own in the origin's private file system (outside the library's
/// directory), created empty: what `add(url, { file })` is given.
async fn own_file(name: &str) -> JsValue {
    js(
        "name",
        "const root = await navigator.storage.getDirectory(); \
         return root.getFileHandle(name, { create: true });",
        &[name.into()],
    )
    .await
}

/// The bytes of the file `handle` (retrying while a worker still holds it).
async fn file_bytes(handle: &JsValue) -> Vec<u8> {
    let got = js(
        "h",
        "for (let i = 0; ; i++) { \
           try { return new Uint8Array(await (await h.getFile()).arrayBuffer()); } \
           catch (e) { if (i >= 20) throw e; await new Promise(r => setTimeout(r, 100)); } \
         }",
        std::slice::from_ref(handle),
    )
    .await;
    js_sys::Uint8Array::new(&got).to_vec()
}

/// Whether two handles are the same file.
async fn same_entry(a: &JsValue, b: &JsValue) -> bool {
    js("a, b", "return a.isSameEntry(b);", &[a.clone(), b.clone()])
        .await
        .as_bool()
        .unwrap_or(false)
}

/// A download into the caller's file, closed mid-transfer and restored by a new manager:
/// it resumes into the same file at its stored offset, and the file ends exactly the
/// download. `stream`: written as a file the user picked must be (through one
/// `createWritable()` stream, durable only at its syncs), not through an access handle.
async fn resumes_into_the_callers_file(stream: bool, seed: u64) {
    let (t, name, size) = (tag("mine"), tag("db"), 2_500_000usize);
    let url = file_url(&t, &format!("size={size}&seed={seed}&throttle=1000000"));
    let handle = own_file(&tag("own")).await;
    inject_streamed_files(stream);
    let m = manager(&name, vec![]).await;
    let dl = add(&m, &url, obj(&[("file", handle.clone())]));
    let id = get_str(&dl, "id");
    wait_bytes(&dl, 1_300_000.0, 20_000).await;
    call_async(&m, "close", &[]).await.unwrap();
    // The record keeps the handle; the library's own directory has no file for it.
    let rec = stored_record(&name, &id).await;
    assert!(same_entry(&get(&rec, "file"), &handle).await);
    assert!(stored_file(&name, &id).await.is_none());
    let offset = get_num(&rec, "offset").unwrap() as usize;
    assert!(offset >= 1_000_000, "{offset}");
    let bytes = file_bytes(&handle).await;
    assert!(bytes.len() >= offset, "{} < {offset}", bytes.len());
    assert_eq!(&bytes[..offset], &expected(seed, 0, offset)[..]);

    let m = manager(&name, vec![]).await;
    let dl = call(&m, "get", &[id.as_str().into()]).unwrap();
    done(&dl).await.expect("completes after the reload");
    clear_faults();
    let r = ranges(&t).await;
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(
        r[1],
        Some(format!("bytes={offset}-")),
        "resumed at the stored offset"
    );
    assert_eq!(
        file_bytes(&handle).await,
        expected(seed, 0, size),
        "the file is the download"
    );
    // blob() is the file.
    let blob = call_async(&dl, "blob", &[]).await.unwrap();
    assert_eq!(get_num(&blob, "size"), Some(size as f64));
    // remove() of a completed download forgets it and leaves the file.
    call_async(&m, "remove", &[id.as_str().into()])
        .await
        .unwrap();
    assert!(stored_record(&name, &id).await.is_undefined());
    assert_eq!(file_bytes(&handle).await.len(), size);
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_download_into_the_callers_opfs_file_resumes_into_it_after_a_reload() {
    if has_opfs() {
        resumes_into_the_callers_file(false, 53).await;
    }
}

#[wasm_bindgen_test]
async fn a_download_into_a_file_written_as_a_stream_resumes_into_it_after_a_reload() {
    if has_opfs() {
        resumes_into_the_callers_file(true, 54).await;
    }
}

#[wasm_bindgen_test]
async fn a_streamed_file_holds_only_what_its_record_counts_when_the_worker_dies() {
    if !has_opfs() {
        return;
    }
    // Written as a picked file is, its bytes are durable only at its syncs (1 MiB, 2 MiB
    // with 64 KiB flushes): a worker that dies loses what came after, the record never
    // counted it, and the download resumes from the last sync.
    let (t, name, size, seed) = (tag("streamcrash"), tag("db"), 2_500_000usize, 55);
    let integrity = sri(&expected(seed, 0, size)).await;
    let handle = own_file(&tag("own")).await;
    inject_streamed_files(true);
    let m = manager(&name, vec![]).await;
    let dl = add(
        &m,
        &file_url(&t, &format!("size={size}&seed={seed}&throttle=1000000")),
        obj(&[
            ("file", handle.clone()),
            ("integrity", integrity.as_str().into()),
        ]),
    );
    let id = get_str(&dl, "id");
    wait_bytes(&dl, 1_600_000.0, 20_000).await;
    crash_storage_workers();
    done(&dl).await.expect("completes with a new worker");
    clear_faults();
    assert_bytes(&dl, seed, size).await;
    let r = ranges(&t).await;
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(
        r[1].as_deref(),
        Some("bytes=1048576-"),
        "resumed at the first sync"
    );
    assert_eq!(file_bytes(&handle).await, expected(seed, 0, size));
    let rec = stored_record(&name, &id).await;
    assert_eq!(get_num(&rec, "offset"), Some(size as f64));
    assert_eq!(get_str(&rec, "state"), "completed");
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn cancel_empties_the_callers_file_and_bad_files_are_refused() {
    if !has_opfs() {
        return;
    }
    let (t, name) = (tag("minecancel"), tag("db"));
    let handle = own_file(&tag("own")).await;
    let m = manager(&name, vec![]).await;
    let url = file_url(&t, "size=2000000&seed=56&throttle=1000000");
    let dl = add(&m, &url, obj(&[("file", handle.clone())]));
    wait_bytes(&dl, 300_000.0, 20_000).await;
    // The same download again, with a file: refused (it writes where it was added to).
    let again = call(
        &m,
        "add",
        &[url.as_str().into(), obj(&[("file", handle.clone())])],
    )
    .expect_err("refused");
    assert_eq!(code(&again), "INVALID_ARGUMENT");
    call_async(&dl, "cancel", &[]).await.unwrap();
    let left = file_bytes(&handle).await.len();
    assert_eq!(left, 0, "cancel empties the file");
    assert!(
        same_entry(&handle, &own_file_again(&handle).await).await,
        "the file stays"
    );
    // The same for a file written as a stream, whose first bytes were made durable.
    inject_streamed_files(true);
    let dl = add(
        &m,
        &file_url(&tag("minecancel2"), "size=3000000&seed=57&throttle=1000000"),
        obj(&[("file", handle.clone())]),
    );
    wait_bytes(&dl, 1_200_000.0, 20_000).await;
    call_async(&dl, "cancel", &[]).await.unwrap();
    clear_faults();
    assert_eq!(
        file_bytes(&handle).await.len(),
        0,
        "cancel empties a streamed file"
    );
    for (opts, needle) in [
        (
            obj(&[("file", "a.bin".into())]),
            "must be a FileSystemFileHandle",
        ),
        (
            obj(&[
                ("file", handle.clone()),
                ("sink", js("", "return new WritableStream();", &[]).await),
            ]),
            "options.file",
        ),
    ] {
        let err = call(
            &m,
            "add",
            &[file_url(&tag("bad"), "size=10").as_str().into(), opts],
        )
        .expect_err("refused");
        assert_eq!(code(&err), "INVALID_ARGUMENT");
        let msg = get_str(&err, "message");
        assert!(msg.contains(needle), "{msg}");
    }
    call_async(&m, "close", &[]).await.unwrap();
    // A manager without the storage worker cannot write files.
    let m = manager(&tag("db"), vec![("storage", "indexeddb".into())]).await;
    let err = call(
        &m,
        "add",
        &[url.as_str().into(), obj(&[("file", handle.clone())])],
    )
    .expect_err("refused");
    assert_eq!(code(&err), "INVALID_ARGUMENT");
    assert!(get_str(&err, "message").contains("storage worker"));
    call_async(&m, "close", &[]).await.unwrap();
}

/// The handle of the same name in the origin's root, looked up again.
async fn own_file_again(handle: &JsValue) -> JsValue {
    own_file(&get_str(handle, "name")).await
}

#[wasm_bindgen_test]
async fn the_callers_file_is_cut_on_a_restart_and_keeps_its_prefix_when_the_disk_fills() {
    if !has_opfs() {
        return;
    }
    // A changed resource after a dropped connection: the file is cut and rewritten as the
    // new version, nothing spliced, through an access handle and as a stream.
    for (stream, seed) in [(false, 58u64), (true, 60)] {
        let (t, name, size) = (tag("minechanged"), tag("db"), 700_000usize);
        let handle = own_file(&tag("own")).await;
        inject_streamed_files(stream);
        let m = manager(&name, vec![]).await;
        let url = file_url(
            &t,
            &format!(
                "size={size}&seed={seed}&change_after=1&seed2={}&cut_at=300000&cut_times=1&throttle=2000000",
                seed + 1
            ),
        );
        let dl = add(&m, &url, obj(&[("file", handle.clone())]));
        done(&dl).await.expect("completes");
        clear_faults();
        assert_eq!(
            file_bytes(&handle).await,
            expected(seed + 1, 0, size),
            "the file is the new version only (stream: {stream})"
        );
        call_async(&m, "close", &[]).await.unwrap();
    }
    // A full disk fails with QUOTA and keeps the flushed prefix in the file; resume ends it.
    let (t, name, size) = (tag("minequota"), tag("db"), 600_000usize);
    let handle = own_file(&tag("own")).await;
    let m = manager(&name, vec![no_retry()]).await;
    inject_write_failure(3, "QuotaExceededError");
    let dl = add(
        &m,
        &file_url(&t, &format!("size={size}&seed=62")),
        obj(&[("file", handle.clone())]),
    );
    let err = done(&dl).await.expect_err("fails");
    clear_faults();
    assert_eq!(code(&err), "QUOTA");
    let rec = stored_record(&name, &get_str(&dl, "id")).await;
    assert_eq!(get_num(&rec, "offset"), Some((3 * FLUSH) as f64));
    let kept = file_bytes(&handle).await;
    assert!(kept.len() >= 3 * FLUSH as usize);
    assert_eq!(
        &kept[..3 * FLUSH as usize],
        &expected(62, 0, 3 * FLUSH as usize)[..]
    );
    call(&dl, "resume", &[]).unwrap();
    done(&dl).await.expect("completes after resume");
    assert_eq!(file_bytes(&handle).await, expected(62, 0, size));
    let r = ranges(&t).await;
    assert_eq!(r.last().unwrap(), &Some(format!("bytes={}-", 3 * FLUSH)));
    call_async(&m, "close", &[]).await.unwrap();
}
