//! Persistence and resume in headless Chromium against the fixture server, with real
//! IndexedDB: the release cases of RELIABILITY.md for ranges and validators, drops, reloads,
//! storage failures, damaged chunks and integrity. A reload is a `close()` and a new manager
//! on the same database in the same page.
#![cfg(target_arch = "wasm32")]

mod support;

use resumable_downloads::testing::{
    clear_faults, inject_blob_refusal, inject_open_failure, inject_write_failure,
};
use support::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// The smallest chunk size, so that small files span several chunks.
const CHUNK: u64 = 64 * 1024;

/// A manager on database `name` with small chunks and fast retries.
async fn manager(name: &str) -> JsValue {
    manager_with(name, vec![]).await
}

/// [`manager`] keeping its downloads in IndexedDB chunks, for tests of the chunks themselves.
async fn chunk_manager(name: &str) -> JsValue {
    manager_with(name, vec![("storage", "indexeddb".into())]).await
}

async fn manager_with(name: &str, extra: Vec<(&str, JsValue)>) -> JsValue {
    open_named(
        name,
        [
            ("chunkBytes", (CHUNK as f64).into()),
            ("progressIntervalMs", 0.into()),
            (
                "retry",
                obj(&[("backoffMs", 20.into()), ("maxBackoffMs", 100.into())]),
            ),
        ]
        .into_iter()
        .chain(extra)
        .collect(),
    )
    .await
}

/// The GETs of `tag` as `range:bytes_sent` pairs, for failure messages.
async fn log_text(tag: &str) -> String {
    let parts: Vec<String> = gets(tag)
        .await
        .iter()
        .map(|e| {
            let range = get(e, "range").as_string().unwrap_or_default();
            format!("{range}:{}", get_num(e, "bytes_sent").unwrap_or(-1.0))
        })
        .collect();
    parts.join(" ")
}

/// Closes the manager, as a reload does, and returns the bytes its page had received by then.
async fn reload_at(manager: &JsValue, download: &JsValue) -> f64 {
    let received = get_num(&get(download, "progress"), "transferredBytes").unwrap();
    call_async(manager, "close", &[]).await.unwrap();
    received
}

/// After a reload at `received` bytes, checked against the server's log: the page lost at
/// most `chunks` chunks of what it had received (the request after the reload starts there).
/// Chromium and Firefox hand the page what arrives, so there the server also sent at most that
/// much twice. WebKit's network process reads ahead of a page that is busy writing: what it
/// took from the server and never handed over is fetched again.
async fn assert_reload_waste(t: &str, size: u64, received: f64, chunks: u64) {
    let starts: Vec<u64> = ranges(t).await.iter().map(start_of).collect();
    let resumed_at = *starts.last().unwrap() as f64;
    let limit = (chunks * CHUNK) as f64;
    assert!(
        received - resumed_at <= limit,
        "resumed at {resumed_at} after a reload at {received}: {}",
        log_text(t).await
    );
    let twice = bytes_served(t).await - size as f64;
    assert!(
        engine() == "webkit" || twice <= limit,
        "{twice} bytes fetched twice: {}",
        log_text(t).await
    );
}

fn start_of(range: &Option<String>) -> u64 {
    range_start(range).expect("a Range header bytes=<start>-")
}

#[wasm_bindgen_test]
async fn case10_15_dropped_connection_resumes_with_exactly_the_remaining_bytes() {
    let (t, name, size) = (tag("cut"), tag("db"), 1_000_000u64);
    let m = manager(&name).await;
    let retries = Recorder::new(&m, "retry");
    let dl = add(
        &m,
        &file_url(
            &t,
            &format!("size={size}&seed=21&cut_at=300000&cut_times=1&throttle=2000000"),
        ),
        JsValue::UNDEFINED,
    );
    done(&dl).await.expect("completes");
    assert_bytes(&dl, 21, size as usize).await;
    let log = gets(&t).await;
    let r = ranges(&t).await;
    assert_eq!(log.len(), 2, "{r:?}");
    assert_eq!(r[0].as_deref(), Some("bytes=0-"));
    let resumed_at = start_of(&r[1]);
    assert!(
        resumed_at > 0 && resumed_at <= 300_000,
        "resumed at {resumed_at}"
    );
    assert!(
        300_000 - resumed_at < CHUNK,
        "at most one chunk is fetched twice"
    );
    assert_eq!(get_num(&log[1], "status"), Some(206.0));
    assert_eq!(
        get_num(&log[1], "bytes_sent"),
        Some((size - resumed_at) as f64),
        "exactly the rest"
    );
    let r = retries.all();
    assert_eq!(r.len(), 1);
    assert_eq!(code(&get(&r[0], "error")), "NETWORK");
    assert!(get(&dl, "resumable").as_bool().unwrap());
}

#[wasm_bindgen_test]
async fn case1_range_ignored_on_resume_restarts_from_zero() {
    let (t, name, size) = (tag("ignored"), tag("db"), 800_000u64);
    let m = manager(&name).await;
    let restarted = Recorder::new(&m, "restarted");
    let url = file_url(
        &t,
        &format!(
            "size={size}&seed=22&cut_at=300000&cut_times=1&throttle=2000000&ignore_range_after=1"
        ),
    );
    let dl = add(&m, &url, JsValue::UNDEFINED);
    done(&dl).await.expect("completes");
    assert_bytes(&dl, 22, size as usize).await;
    let log = gets(&t).await;
    assert_eq!(log.len(), 2);
    assert_eq!(
        get_num(&log[1], "status"),
        Some(200.0),
        "the server ignored Range"
    );
    let ev = restarted.all();
    assert_eq!(ev.len(), 1);
    assert_eq!(get_str(&ev[0], "reason"), "range-ignored");
    let wasted = get_num(&ev[0], "wastedBytes").unwrap();
    assert!(wasted > 0.0 && wasted <= 300_000.0);
    assert_eq!(get_num(&dl, "wastedBytes"), Some(wasted));
}

#[wasm_bindgen_test]
async fn case2_3_4_bad_partial_responses_write_nothing_then_restart() {
    for knob in [
        "cr=missing",
        "cr=garbage",
        "cr=open",
        "cr=unit",
        "cr=backwards",
        "cr=wrongstart",
        "multipart=1",
    ] {
        let (t, name, size) = (tag("bad206"), tag("db"), 600_000u64);
        let m = manager(&name).await;
        let restarted = Recorder::new(&m, "restarted");
        // The refused 206 at 0 covers the cut offset too, so the cut is allowed twice.
        let url = file_url(
            &t,
            &format!("size={size}&seed=23&cut_at=200000&cut_times=2&throttle=2000000&{knob}"),
        );
        let dl = add(&m, &url, JsValue::UNDEFINED);
        done(&dl).await.unwrap_or_else(|e| panic!("{knob}: {e:?}"));
        assert_bytes(&dl, 23, size as usize).await;
        // bytes=0- gets a bad 206: ask without Range (nothing written); that 200 is cut; the
        // resume gets bad 206s twice (nothing written), then a restart without Range.
        let r = ranges(&t).await;
        assert_eq!(r.len(), 5, "{knob}: {r:?}");
        assert_eq!(
            (r[0].as_deref(), r[1].as_deref()),
            (Some("bytes=0-"), None),
            "{knob}"
        );
        assert_eq!(r[2], r[3], "{knob}: retried at the same offset");
        assert!(start_of(&r[2]) > 0, "{knob}");
        assert_eq!(r[4], None, "{knob}");
        let ev = restarted.all();
        assert_eq!(ev.len(), 1, "{knob}");
        assert_eq!(get_str(&ev[0], "reason"), "bad-partial", "{knob}");
    }
}

#[wasm_bindgen_test]
async fn case3_a_lying_total_is_never_stitched_into_a_completion() {
    // Every 206 declares a total one byte larger than the resource: the download can never
    // prove completion, so it must not claim it.
    let (t, name) = (tag("total"), tag("db"));
    let m = manager(&name).await;
    let dl = add(
        &m,
        &file_url(&t, "size=200000&seed=24&cr=total"),
        JsValue::UNDEFINED,
    );
    let err = done(&dl).await.expect_err("no completion without proof");
    assert_eq!(code(&err), "BAD_RESPONSE");
    assert_eq!(get_str(&dl, "state"), "failed");
}

#[wasm_bindgen_test]
async fn case5_changed_resource_is_never_spliced() {
    for ifrange in ["honour", "ignore"] {
        let (t, name, size) = (tag("changed"), tag("db"), 700_000u64);
        let m = manager(&name).await;
        let restarted = Recorder::new(&m, "restarted");
        let url = file_url(
            &t,
            &format!("size={size}&seed=25&change_after=1&seed2=26&cut_at=300000&cut_times=1&throttle=2000000&ifrange={ifrange}"),
        );
        let dl = add(&m, &url, JsValue::UNDEFINED);
        done(&dl).await.expect("completes");
        assert_bytes(&dl, 26, size as usize).await;
        let ev = restarted.all();
        assert_eq!(ev.len(), 1, "{ifrange}");
        assert_eq!(get_str(&ev[0], "reason"), "validator-changed");
        let log = gets(&t).await;
        assert!(
            log.iter().all(|e| get(e, "if_range").is_null()),
            "If-Range is never sent"
        );
        let r = ranges(&t).await;
        assert_eq!(r.len(), 3, "{r:?}");
        assert_eq!(r[2].as_deref(), Some("bytes=0-"), "restarted from 0");
        // The v2 206 at the stored offset was refused at its head: no body was used.
        assert_eq!(get(&log[1], "aborted").as_bool(), Some(true));
    }
}

#[wasm_bindgen_test]
async fn case6_weak_etag_resumes_only_on_a_strong_last_modified() {
    let size = 700_000u64;
    // Weak ETag only: restart-only.
    let (t, name) = (tag("weak"), tag("db"));
    let m = manager(&name).await;
    let dl = add(
        &m,
        &file_url(
            &t,
            &format!("size={size}&seed=27&etag=weak&cut_at=300000&cut_times=1&throttle=2000000"),
        ),
        JsValue::UNDEFINED,
    );
    done(&dl).await.expect("completes");
    assert_bytes(&dl, 27, size as usize).await;
    assert_eq!(
        ranges(&t).await,
        [Some("bytes=0-".to_string()), Some("bytes=0-".to_string())]
    );
    assert_eq!(get(&dl, "resumable").as_bool(), Some(false));
    assert!(gets(&t).await.iter().all(|e| get(e, "if_range").is_null()));
    // Weak ETag plus a Last-Modified that Date proves strong: resumes.
    let (t, name) = (tag("weak-lm"), tag("db"));
    let m = manager(&name).await;
    let knobs = format!(
        "size={size}&seed=28&etag=weak&lm=1&cut_at=300000&cut_times=1&throttle=2000000\
         &expose=Content-Length,Content-Range,ETag,Last-Modified,Accept-Ranges,Date"
    );
    let dl = add(&m, &file_url(&t, &knobs), JsValue::UNDEFINED);
    done(&dl).await.expect("completes");
    assert_bytes(&dl, 28, size as usize).await;
    let r = ranges(&t).await;
    assert_eq!(r.len(), 2);
    assert!(start_of(&r[1]) > 0, "resumed: {r:?}");
    assert_eq!(get(&dl, "resumable").as_bool(), Some(true));
}

#[wasm_bindgen_test]
async fn case7_no_validators_means_not_resumable() {
    let (t, name, size) = (tag("novalid"), tag("db"), 500_000u64);
    let m = manager(&name).await;
    let restarted = Recorder::new(&m, "restarted");
    let dl = add(
        &m,
        &file_url(
            &t,
            &format!("size={size}&seed=29&etag=none&cut_at=200000&cut_times=1&throttle=2000000"),
        ),
        JsValue::UNDEFINED,
    );
    done(&dl).await.expect("completes");
    assert_bytes(&dl, 29, size as usize).await;
    assert_eq!(get(&dl, "resumable").as_bool(), Some(false));
    assert_eq!(
        ranges(&t).await,
        [Some("bytes=0-".to_string()), Some("bytes=0-".to_string())]
    );
    assert_eq!(get_str(&restarted.all()[0], "reason"), "not-resumable");
}

#[wasm_bindgen_test]
async fn case8_already_complete_needs_no_request() {
    let (t, name, size) = (tag("complete"), tag("db"), 300_000u64);
    let m = manager(&name).await;
    let dl = add(
        &m,
        &file_url(&t, &format!("size={size}&seed=30")),
        JsValue::UNDEFINED,
    );
    done(&dl).await.expect("completes");
    let id = get_str(&dl, "id");
    call_async(&m, "close", &[]).await.unwrap();
    // As if the page died after the last chunk was committed but before it was marked done.
    patch_record(&name, &id, obj(&[("state", "running".into())])).await;
    let m = manager(&name).await;
    let dl = call(&m, "get", &[id.as_str().into()]).unwrap();
    done(&dl).await.expect("finalized from storage");
    assert_bytes(&dl, 30, size as usize).await;
    assert_eq!(gets(&t).await.len(), 1, "no request at all");
}

#[wasm_bindgen_test]
async fn case9_short_partial_responses_continue_from_the_new_offset() {
    let (t, name, size) = (tag("short206"), tag("db"), 1_000_000u64);
    let m = manager(&name).await;
    let dl = add(
        &m,
        &file_url(&t, &format!("size={size}&seed=31&range_max=300000")),
        JsValue::UNDEFINED,
    );
    done(&dl).await.expect("completes");
    assert_bytes(&dl, 31, size as usize).await;
    let r: Vec<u64> = ranges(&t).await.iter().map(start_of).collect();
    assert_eq!(r, [0, 300_000, 600_000, 900_000]);
    assert_eq!(bytes_served(&t).await, size as f64, "no byte fetched twice");
}

#[wasm_bindgen_test]
async fn case14_zero_byte_file() {
    let (t, name) = (tag("zero"), tag("db"));
    let m = manager(&name).await;
    let dl = add(&m, &file_url(&t, "size=0"), JsValue::UNDEFINED);
    done(&dl).await.expect("completes");
    assert_eq!(blob_bytes(&dl).await.len(), 0);
    // bytes=0- is unsatisfiable for an empty resource; the retry asks without Range.
    assert_eq!(ranges(&t).await, [Some("bytes=0-".to_string()), None]);
}

#[wasm_bindgen_test]
async fn case19_cancel_at_any_moment_leaves_nothing_stored() {
    // 50 rounds with random timing: before the first request, during reads, during writes.
    for i in 0..50 {
        let (t, name) = (tag("cancel"), tag("db"));
        let m = manager(&name).await;
        let dl = add(
            &m,
            &file_url(&t, "size=3000000&seed=32&throttle=3000000"),
            JsValue::UNDEFINED,
        );
        let id = get_str(&dl, "id");
        // From before the first request to the middle of the body, writes included.
        sleep((js_sys::Math::random() * 300.0) as i32).await;
        call_async(&dl, "cancel", &[]).await.unwrap();
        assert_eq!(get_str(&dl, "state"), "cancelled");
        assert!(
            stored_record(&name, &id).await.is_undefined(),
            "record survived (round {i})"
        );
        assert!(
            stored_chunks(&name, &id).await.is_empty(),
            "chunks survived (round {i})"
        );
        // No late write resurrects anything.
        sleep(100).await;
        assert!(
            stored_record(&name, &id).await.is_undefined(),
            "record resurrected (round {i})"
        );
        assert!(
            stored_chunks(&name, &id).await.is_empty(),
            "chunks resurrected (round {i})"
        );
        call_async(&m, "close", &[]).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn case20_pause_and_resume_join_exactly() {
    let (t, name, size) = (tag("pause"), tag("db"), 1_200_000u64);
    let m = manager(&name).await;
    let dl = add(
        &m,
        &file_url(&t, &format!("size={size}&seed=33&throttle=600000")),
        JsValue::UNDEFINED,
    );
    let id = get_str(&dl, "id");
    wait_bytes(&dl, 200_000.0, 10_000).await;
    call(&dl, "pause", &[]).unwrap();
    assert_eq!(get_str(&dl, "state"), "paused");
    sleep(300).await;
    let rec = stored_record(&name, &id).await;
    assert_eq!(get_str(&rec, "state"), "paused");
    let stored = get_num(&rec, "offset").unwrap();
    assert!(
        stored >= 200_000.0,
        "the bytes received before the pause are kept: {stored}"
    );
    call(&dl, "resume", &[]).unwrap();
    done(&dl).await.expect("completes");
    assert_bytes(&dl, 33, size as usize).await;
    let r = ranges(&t).await;
    assert_eq!(
        start_of(&r[1]),
        stored as u64,
        "resumed exactly at the stored offset"
    );
    assert_eq!(
        bytes_served(&t).await,
        size as f64 + (get_num(&gets(&t).await[0], "bytes_sent").unwrap() - stored)
    );
}

#[wasm_bindgen_test]
async fn case20_28_pause_reload_resume() {
    let (t, name, size) = (tag("pause-reload"), tag("db"), 1_000_000u64);
    let m = manager(&name).await;
    let dl = add(
        &m,
        &file_url(&t, &format!("size={size}&seed=34&throttle=500000")),
        obj(&[("filename", "map.pack".into())]),
    );
    let id = get_str(&dl, "id");
    wait_bytes(&dl, 200_000.0, 10_000).await;
    call(&dl, "pause", &[]).unwrap();
    sleep(200).await;
    call_async(&m, "close", &[]).await.unwrap();
    let m = manager(&name).await;
    let dl = call(&m, "get", &[id.as_str().into()]).unwrap();
    assert_eq!(
        get_str(&dl, "state"),
        "paused",
        "a paused download stays paused"
    );
    assert_eq!(get_str(&dl, "filename"), "map.pack");
    let stored = get_num(&get(&dl, "progress"), "transferredBytes").unwrap();
    assert!(stored >= 200_000.0);
    assert_eq!(
        get_num(&get(&dl, "progress"), "totalBytes"),
        Some(size as f64)
    );
    sleep(200).await;
    assert_eq!(gets(&t).await.len(), 1, "nothing fetched while paused");
    call(&dl, "resume", &[]).unwrap();
    done(&dl).await.expect("completes");
    assert_bytes(&dl, 34, size as usize).await;
    assert_eq!(start_of(&ranges(&t).await[1]), stored as u64);
}

#[wasm_bindgen_test]
async fn case28_reload_mid_download_restores_and_continues() {
    let (t, name, size) = (tag("reload"), tag("db"), 1_500_000u64);
    let m = manager(&name).await;
    let dl = add(
        &m,
        &file_url(&t, &format!("size={size}&seed=35&throttle=600000")),
        obj(&[("id", "tile-7".into())]),
    );
    wait_bytes(&dl, 400_000.0, 10_000).await;
    let received = reload_at(&m, &dl).await;
    let m = manager(&name).await;
    let states = Recorder::new(&m, "statechange");
    let completes = Recorder::new(&m, "complete");
    let list = js_sys::Array::from(&call(&m, "list", &[]).unwrap());
    assert_eq!(list.length(), 1);
    let dl = list.get(0);
    assert_eq!(get_str(&dl, "id"), "tile-7");
    let restored = get_num(&get(&dl, "progress"), "transferredBytes").unwrap();
    assert!(
        restored >= 300_000.0,
        "the tile comes back with its stored bytes: {restored}"
    );
    done(&dl).await.expect("continues by itself and completes");
    assert_bytes(&dl, 35, size as usize).await;
    // Listeners added after open() see the restored download's events.
    let seq: Vec<String> = states.all().iter().map(|e| get_str(e, "state")).collect();
    assert_eq!(seq, ["running", "completed"]);
    assert_eq!(completes.len(), 1);
    assert_reload_waste(&t, size, received, 1).await;
}

#[wasm_bindgen_test]
async fn case24_quota_exceeded_keeps_a_whole_partial() {
    let (t, name, size) = (tag("quota"), tag("db"), 800_000u64);
    let m = chunk_manager(&name).await;
    inject_write_failure(2, "QuotaExceededError");
    let dl = add(
        &m,
        &file_url(&t, &format!("size={size}&seed=36")),
        JsValue::UNDEFINED,
    );
    let err = done(&dl).await.expect_err("quota");
    clear_faults();
    assert_eq!(code(&err), "QUOTA");
    let id = get_str(&dl, "id");
    let rec = stored_record(&name, &id).await;
    assert_eq!(get_str(&rec, "state"), "failed");
    assert_eq!(
        get_num(&rec, "offset"),
        Some(2.0 * CHUNK as f64),
        "two whole chunks, nothing half-written"
    );
    let chunks = stored_chunks(&name, &id).await;
    assert_eq!(chunks.len(), 2);
    let sizes: f64 = chunks.iter().map(|c| stored_len(&get(c, "blob"))).sum();
    assert_eq!(sizes, 2.0 * CHUNK as f64);
    // The partial is kept: resuming continues from it.
    call(&dl, "resume", &[]).unwrap();
    done(&dl).await.expect("completes after resume");
    assert_bytes(&dl, 36, size as usize).await;
    assert_eq!(start_of(&ranges(&t).await[1]), 2 * CHUNK);
}

#[wasm_bindgen_test]
async fn case25_failed_write_recounts_from_storage() {
    let (t, name, size) = (tag("txfail"), tag("db"), 800_000u64);
    let m = manager(&name).await;
    inject_write_failure(3, "UnknownError");
    let dl = add(
        &m,
        &file_url(&t, &format!("size={size}&seed=37")),
        JsValue::UNDEFINED,
    );
    done(&dl).await.expect("completes");
    clear_faults();
    assert_bytes(&dl, 37, size as usize).await;
    let r = ranges(&t).await;
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(
        start_of(&r[1]),
        3 * CHUNK,
        "resumed from the recounted offset"
    );
}

#[wasm_bindgen_test]
async fn case29_missing_or_damaged_chunks_cut_back_to_a_good_prefix() {
    for (how, index) in [("delete", 1u32), ("shrink", 2u32)] {
        let (t, name, size) = (tag("damaged"), tag("db"), 900_000u64);
        let m = chunk_manager(&name).await;
        let dl = add(
            &m,
            &file_url(&t, &format!("size={size}&seed=38&throttle=700000")),
            JsValue::UNDEFINED,
        );
        let id = get_str(&dl, "id");
        wait_bytes(&dl, 5.0 * CHUNK as f64, 10_000).await;
        call(&dl, "pause", &[]).unwrap();
        sleep(200).await;
        call_async(&m, "close", &[]).await.unwrap();
        damage_chunk(&name, &id, index, how).await;
        let m = chunk_manager(&name).await;
        let dl = call(&m, "get", &[id.as_str().into()]).unwrap();
        call(&dl, "resume", &[]).unwrap();
        done(&dl).await.expect("completes");
        assert_bytes(&dl, 38, size as usize).await;
        let r = ranges(&t).await;
        assert_eq!(
            start_of(&r[1]),
            u64::from(index) * CHUNK,
            "{how}: cut back before chunk {index}"
        );
    }
}

#[wasm_bindgen_test]
async fn case30_without_indexeddb_downloads_still_work() {
    let t = tag("noidb");
    inject_open_failure(true);
    let m = manager(&tag("db")).await;
    clear_faults();
    assert_eq!(get(&m, "persistent").as_bool(), Some(false));
    assert_eq!(code(&get(&m, "storageError")), "STORAGE");
    let dl = add(
        &m,
        &file_url(
            &t,
            "size=500000&seed=39&cut_at=200000&cut_times=1&throttle=2000000",
        ),
        JsValue::UNDEFINED,
    );
    done(&dl).await.expect("completes in memory");
    assert_bytes(&dl, 39, 500_000).await;
    // Resume within the page still works from memory.
    assert!(start_of(&ranges(&t).await[1]) > 0);
}

#[wasm_bindgen_test]
async fn case32_integrity_is_verified_and_covers_bytes_stored_before_a_reload() {
    let size = 600_000usize;
    let good = sri(&expected(40, 0, size)).await;
    // Correct hash, with a reload in the middle: the hash state is restored, not recomputed
    // from the network.
    let (t, name) = (tag("sri-ok"), tag("db"));
    let m = manager(&name).await;
    let dl = add(
        &m,
        &file_url(&t, &format!("size={size}&seed=40&throttle=400000")),
        obj(&[("integrity", good.as_str().into())]),
    );
    let id = get_str(&dl, "id");
    wait_bytes(&dl, 250_000.0, 10_000).await;
    let received = reload_at(&m, &dl).await;
    let m = manager(&name).await;
    let dl = call(&m, "get", &[id.as_str().into()]).unwrap();
    done(&dl).await.expect("hash matches");
    assert_bytes(&dl, 40, size).await;
    assert_reload_waste(&t, size as u64, received, 1).await;
    // One flipped byte in the expected content: restart once, then INTEGRITY.
    let mut flipped = expected(41, 0, size);
    flipped[size / 2] ^= 1;
    let bad = sri(&flipped).await;
    let (t, name) = (tag("sri-bad"), tag("db"));
    let m = manager(&name).await;
    let restarted = Recorder::new(&m, "restarted");
    let dl = add(
        &m,
        &file_url(&t, &format!("size={size}&seed=41")),
        obj(&[("integrity", bad.as_str().into())]),
    );
    let err = done(&dl).await.expect_err("mismatch");
    assert_eq!(code(&err), "INTEGRITY");
    assert_eq!(gets(&t).await.len(), 2, "restarted once");
    assert_eq!(get_str(&restarted.all()[0], "reason"), "integrity");
    // A malformed integrity string is refused up front.
    let e = call(
        &m,
        "add",
        &[
            file_url(&t, "size=1").into(),
            obj(&[("integrity", "sha256-nope".into())]),
        ],
    )
    .unwrap_err();
    assert_eq!(code(&e), "INVALID_ARGUMENT");
    assert!(get_str(&e, "message").starts_with("options.integrity"));
}

#[wasm_bindgen_test]
async fn case33_totals_and_offsets_beyond_4_gib() {
    // A 5 GiB resource: the total and the resume offsets are 64-bit all the way through.
    let (t, name) = (tag("big"), tag("db"));
    let total = 5u64 << 30;
    let m = manager(&name).await;
    let dl = add(
        &m,
        &file_url(
            &t,
            &format!("size={total}&seed=42&cut_at=300000&cut_times=1&throttle=4000000"),
        ),
        JsValue::UNDEFINED,
    );
    wait_bytes(&dl, 500_000.0, 10_000).await;
    let p = get(&dl, "progress");
    assert_eq!(get_num(&p, "totalBytes"), Some(total as f64));
    assert!(get_num(&p, "percent").unwrap() < 0.1);
    let log = gets(&t).await;
    assert_eq!(
        get_num(&log[1], "status"),
        Some(206.0),
        "resumed inside a 5 GiB resource"
    );
    call_async(&dl, "cancel", &[]).await.unwrap();
}

/// Whether this browser's IndexedDB stores a Blob value, asked directly (a database of its own).
async fn engine_stores_blobs() -> bool {
    js(
        "name",
        "const db = await new Promise((res, rej) => { const r = indexedDB.open(name); \
           r.onupgradeneeded = () => r.result.createObjectStore('s'); \
           r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); }); \
         const ok = await new Promise((res) => { try { const tx = db.transaction('s', 'readwrite'); \
           tx.objectStore('s').put(new Blob([new Uint8Array(4)]), 1); \
           tx.oncomplete = () => res(true); tx.onabort = () => res(false); } catch { res(false); } }); \
         db.close(); indexedDB.deleteDatabase(name); return ok;",
        &[tag("probe").into()],
    )
    .await
    .as_bool()
    .unwrap()
}

/// The length of stored chunk bytes, a Blob or an ArrayBuffer.
fn stored_len(bytes: &JsValue) -> f64 {
    get_num(bytes, "size")
        .or_else(|| get_num(bytes, "byteLength"))
        .unwrap_or_else(|| panic!("stored chunk bytes of no length: {bytes:?}"))
}

/// `manager.storage.chunks`.
fn chunk_form(manager: &JsValue) -> String {
    let storage = get(manager, "storage");
    assert_eq!(get_str(&storage, "backend"), "indexeddb");
    get_str(&storage, "chunks")
}

/// The forms of the stored chunks of `id`: "blob" or "arraybuffer" for each.
async fn stored_forms(name: &str, id: &str) -> Vec<String> {
    stored_chunks(name, id)
        .await
        .iter()
        .map(|c| {
            let bytes = get(c, "blob");
            if bytes.is_instance_of::<web_sys::Blob>() {
                "blob".to_owned()
            } else if bytes.is_instance_of::<js_sys::ArrayBuffer>() {
                "arraybuffer".to_owned()
            } else {
                panic!("a chunk stored as neither: {bytes:?}")
            }
        })
        .collect()
}

#[wasm_bindgen_test]
async fn case39_the_chunk_form_is_what_the_engine_stores() {
    let want = if engine_stores_blobs().await {
        "blob"
    } else {
        "arraybuffer"
    };
    let m = chunk_manager(&tag("db")).await;
    assert_eq!(chunk_form(&m), want);
    let m = open(obj(&[("persist", false.into())])).await;
    let storage = get(&m, "storage");
    assert_eq!(get_str(&storage, "backend"), "memory");
    assert!(get(&storage, "chunks").is_null());
}

#[wasm_bindgen_test]
async fn case39_blobs_refused_chunks_are_stored_as_arraybuffers() {
    let (t, name, size) = (tag("ab"), tag("db"), 700_000u64);
    inject_blob_refusal(true);
    let m = chunk_manager(&name).await;
    clear_faults();
    assert_eq!(chunk_form(&m), "arraybuffer");
    // A dropped connection and a reload: resume and restore work the same way.
    let dl = add(
        &m,
        &file_url(
            &t,
            &format!("size={size}&seed=71&cut_at=250000&cut_times=1&throttle=1000000"),
        ),
        obj(&[("id", "ab".into())]),
    );
    wait_bytes(&dl, 400_000.0, 10_000).await;
    let received = reload_at(&m, &dl).await;
    let forms = stored_forms(&name, "ab").await;
    assert!(
        !forms.is_empty() && forms.iter().all(|f| f == "arraybuffer"),
        "{forms:?}"
    );
    inject_blob_refusal(true);
    let m = chunk_manager(&name).await;
    clear_faults();
    let dl = call(&m, "get", &["ab".into()]).unwrap();
    done(&dl).await.expect("completes");
    assert_bytes(&dl, 71, size as usize).await;
    let r = ranges(&t).await;
    assert_eq!(r.len(), 3, "{r:?}");
    assert!(
        start_of(&r[1]) > 0 && start_of(&r[2]) > start_of(&r[1]),
        "{r:?}"
    );
    assert_reload_waste(&t, size, received, 2).await;
}

#[wasm_bindgen_test]
async fn case39_a_database_stays_readable_when_the_chunk_form_changes() {
    let (t, name, size) = (tag("forms"), tag("db"), 900_000u64);
    let url = file_url(&t, &format!("size={size}&seed=72&throttle=1000000"));
    // Written in this engine's own form, then where Blobs are refused, then in its own again.
    let m = chunk_manager(&name).await;
    let natural = chunk_form(&m);
    let dl = add(&m, &url, obj(&[("id", "f".into())]));
    wait_bytes(&dl, 200_000.0, 10_000).await;
    call(&dl, "pause", &[]).unwrap();
    call_async(&m, "close", &[]).await.unwrap();
    inject_blob_refusal(true);
    let m = chunk_manager(&name).await;
    clear_faults();
    let dl = call(&m, "get", &["f".into()]).unwrap();
    let before = get_num(&get(&dl, "progress"), "transferredBytes").unwrap();
    call(&dl, "resume", &[]).unwrap();
    wait_bytes(&dl, before + 200_000.0, 10_000).await;
    call(&dl, "pause", &[]).unwrap();
    call_async(&m, "close", &[]).await.unwrap();
    let m = chunk_manager(&name).await;
    let dl = call(&m, "get", &["f".into()]).unwrap();
    call(&dl, "resume", &[]).unwrap();
    done(&dl).await.expect("completes");
    assert_bytes(&dl, 72, size as usize).await;
    let forms = stored_forms(&name, "f").await;
    assert!(
        forms.contains(&natural) && forms.iter().any(|f| f == "arraybuffer"),
        "{forms:?}"
    );
    assert_eq!(
        gets(&t).await.len(),
        3,
        "no restart: both forms were read back"
    );
}

/// The stored offset of `id` once it is above 0 (polled every 100 ms, up to `ms`).
async fn stored_offset_once_positive(name: &str, id: &str, ms: i32) -> f64 {
    for _ in 0..ms / 100 {
        let offset = get_num(&stored_record(name, id).await, "offset").unwrap_or(0.0);
        if offset > 0.0 {
            return offset;
        }
        sleep(100).await;
    }
    0.0
}

/// A manager with the default chunks in IndexedDB (which the case reads back) and
/// `commitIntervalMs: interval`.
async fn interval_manager(name: &str, interval: u32) -> JsValue {
    open_named(
        name,
        vec![
            ("storage", "indexeddb".into()),
            ("commitIntervalMs", interval.into()),
        ],
    )
    .await
}

#[wasm_bindgen_test]
async fn case40_bytes_that_fill_no_chunk_are_committed_after_the_interval() {
    // The default 4 MiB chunks and a file smaller than one: without the interval nothing
    // would be stored before the end, and a reload would start it over from 0.
    let (t, name, size) = (tag("interval"), tag("db"), 1_500_000u64);
    let m = interval_manager(&name, 300).await;
    let dl = add(
        &m,
        &file_url(&t, &format!("size={size}&seed=37&throttle=500000")),
        JsValue::UNDEFINED,
    );
    let id = get_str(&dl, "id");
    let stored = stored_offset_once_positive(&name, &id, 2_000).await;
    assert!(
        stored > 0.0 && stored < size as f64,
        "stored {stored} while running"
    );
    assert_eq!(get_str(&dl, "state"), "running");
    // A reload now continues from what is stored.
    call_async(&m, "close", &[]).await.unwrap();
    let m = interval_manager(&name, 300).await;
    let dl = call(&m, "get", &[id.as_str().into()]).unwrap();
    done(&dl).await.expect("completes");
    assert_bytes(&dl, 37, size as usize).await;
    assert!(start_of(&ranges(&t).await[1]) > 0, "resumed, not restarted");
    // Short chunks, each whole, that add up to the file.
    let chunks = stored_chunks(&name, &id).await;
    let lens: Vec<f64> = chunks.iter().map(|c| get_num(c, "len").unwrap()).collect();
    assert!(lens.len() >= 3, "{lens:?}");
    assert_eq!(lens.iter().sum::<f64>(), size as f64);
    call_async(&m, "close", &[]).await.unwrap();

    // With the interval off, only whole chunks (and the end) are committed.
    let (t, name) = (tag("no-interval"), tag("db"));
    let m = interval_manager(&name, 0).await;
    let dl = add(
        &m,
        &file_url(&t, &format!("size={size}&seed=37&throttle=500000")),
        JsValue::UNDEFINED,
    );
    let id = get_str(&dl, "id");
    wait_bytes(&dl, 400_000.0, 10_000).await;
    let offset = get_num(&stored_record(&name, &id).await, "offset");
    assert_eq!(offset, Some(0.0));
    call_async(&dl, "cancel", &[]).await.unwrap();
    call_async(&m, "close", &[]).await.unwrap();
}
