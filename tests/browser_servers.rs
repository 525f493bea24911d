//! Real servers, against the fixture server in every engine: URLs and tokens that expire,
//! refreshed by the manager's `prepareRequest` hook (also for downloads restored after a
//! reload), the hook's failure modes, and file names and types from the response.
#![cfg(target_arch = "wasm32")]

mod support;

use js_sys::Array;
use support::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// The smallest chunk size, so that small files span several chunks.
const CHUNK: u64 = 64 * 1024;

/// A manager on database `name` with small chunks, fast retries and `prepareRequest: hook`.
async fn manager(name: &str, hook: JsValue, extra: Vec<(&str, JsValue)>) -> JsValue {
    let mut options = vec![
        ("chunkBytes", (CHUNK as f64).into()),
        ("progressIntervalMs", 0.into()),
        (
            "retry",
            obj(&[("backoffMs", 20.into()), ("maxBackoffMs", 100.into())]),
        ),
        ("prepareRequest", hook),
    ];
    options.extend(extra);
    open_named(name, options).await
}

/// The hook's shared state: a counter `n` (starting at `n`) and the reasons it was called with.
fn hook_state(n: u32) -> JsValue {
    obj(&[("n", n.into()), ("reasons", Array::new().into())])
}

/// A hook made of `body`, a JS function body over `info` (what the hook is given) and `state`.
async fn hook(state: &JsValue, body: &str) -> JsValue {
    js(
        "state",
        &format!("return (info) => {{ state.reasons.push(info.reason); {body} }};"),
        std::slice::from_ref(state),
    )
    .await
}

/// A page's presigned-URL cache: the URL is signed once (`sig` = the next counter value) and
/// signed again only when the server says it expired.
async fn signer(state: &JsValue) -> JsValue {
    hook(
        state,
        "if (info.reason === 'expired' || state.sig === undefined) state.sig = ++state.n; \
         return { url: info.url + '&sig=' + state.sig };",
    )
    .await
}

fn reasons(state: &JsValue) -> Vec<String> {
    Array::from(&get(state, "reasons"))
        .iter()
        .map(|r| r.as_string().unwrap())
        .collect()
}

/// The value of query parameter `key` in a logged request.
fn param(entry: &JsValue, key: &str) -> Option<String> {
    let query = get_str(entry, "query");
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")).map(str::to_owned))
}

/// `(status, range, sig)` of each GET of `tag`.
async fn requests(tag: &str) -> Vec<(u16, Option<String>, Option<String>)> {
    gets(tag)
        .await
        .iter()
        .map(|e| {
            (
                get_num(e, "status").unwrap_or(0.0) as u16,
                get(e, "range").as_string(),
                param(e, "sig"),
            )
        })
        .collect()
}

fn range_from(n: u64) -> Option<String> {
    Some(format!("bytes={n}-"))
}

/// The start of a logged `bytes=<n>-` range.
fn start(range: &Option<String>) -> u64 {
    let r = range.as_deref().expect("a Range header");
    r.trim_start_matches("bytes=")
        .trim_end_matches('-')
        .parse()
        .unwrap()
}

/// After a connection cut at `at`: the stored bytes end at most one chunk before it (what
/// was received and not yet stored may be lost with the connection, depending on the engine).
fn assert_kept_before(kept: u64, at: u64) {
    assert!(
        kept <= at && at - kept < CHUNK,
        "{kept} bytes kept after a cut at {at}"
    );
}

#[wasm_bindgen_test]
async fn a_signed_url_that_expires_is_refreshed_and_a_reload_continues_with_a_fresh_one() {
    let (t, name, size) = (tag("signed"), tag("db"), 1_000_000u64);
    let url = file_url(
        &t,
        &format!("size={size}&seed=51&sig_uses=1&throttle=500000&cut_at=300000&cut_times=1"),
    );
    let first = hook_state(0);
    let m = manager(&name, signer(&first).await, vec![]).await;
    let dl = add(&m, &url, JsValue::UNDEFINED);
    let id = get_str(&dl, "id");
    // The cut at 300000, a retry refused (the signature was good for one request), a fresh
    // signature, and the rest streaming: then a reload.
    wait_bytes(&dl, 500_000.0, 15_000).await;
    call_async(&m, "close", &[]).await.unwrap();
    let stored = get_num(&stored_record(&name, &id).await, "offset").unwrap() as u64;
    assert!(stored >= 300_000, "stored {stored}");
    assert_eq!(reasons(&first), ["start", "retry", "expired"]);

    // The new page's hook serves the restored download.
    let second = hook_state(100);
    let m = manager(&name, signer(&second).await, vec![]).await;
    let dl = call(&m, "get", &[id.as_str().into()]).unwrap();
    done(&dl).await.expect("completes with a fresh URL");
    assert_bytes(&dl, 51, size as usize).await;
    assert_eq!(reasons(&second), ["resume"]);
    assert_eq!(get_str(&dl, "url"), url, "the stored URL is the one added");

    let log = requests(&t).await;
    let sig = |n: &str| Some(n.to_owned());
    assert_eq!(log.len(), 4, "{log:?}");
    assert_eq!(log[0], (206, range_from(0), sig("1")));
    let kept = start(&log[1].1);
    assert_kept_before(kept, 300_000);
    assert_eq!(log[1], (403, range_from(kept), sig("1")));
    assert_eq!(log[2], (206, range_from(kept), sig("2")));
    // After the reload: exactly the bytes that were not stored.
    assert_eq!(log[3], (206, range_from(stored), sig("101")));
    let last = gets(&t).await.pop().unwrap();
    assert_eq!(get_num(&last, "bytes_sent"), Some((size - stored) as f64));
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_fresh_url_that_serves_another_version_restarts_and_ends_as_that_version() {
    let (t, size) = (tag("version"), 400_000u64);
    let url = file_url(
        &t,
        &format!(
            "size={size}&seed=52&type=application%2Fx-v1&sig_uses=1&cut_at=150000&cut_times=1\
             &throttle=2000000"
        ),
    );
    let state = hook_state(0);
    // Every request gets a new signature; from the second on, the URL names version 53.
    let next = hook(
        &state,
        "const n = ++state.n; \
         const u = n === 1 ? info.url : info.url.replace('seed=52', 'seed=53').replace('x-v1', 'x-v2'); \
         return { url: u + '&sig=' + n };",
    )
    .await;
    let m = manager(&tag("db"), next, vec![]).await;
    let restarts = Recorder::new(&m, "restarted");
    let dl = add(&m, &url, JsValue::UNDEFINED);
    done(&dl).await.expect("completes");
    assert_bytes(&dl, 53, size as usize).await;
    let why: Vec<String> = restarts
        .all()
        .iter()
        .map(|e| get_str(e, "reason"))
        .collect();
    assert_eq!(why, ["validator-changed"]);
    assert_eq!(reasons(&state), ["start", "retry", "start"]);
    let wasted = get_num(&dl, "wastedBytes").unwrap() as u64;
    assert_kept_before(wasted, 150_000);
    assert_eq!(
        get_str(&dl, "mimeType"),
        "application/x-v2",
        "the new version's type"
    );
    // The new version's partial is judged by its validator, never spliced.
    let log = requests(&t).await;
    let (s52, s53) = (Some("1".to_owned()), Some("2".to_owned()));
    assert_eq!(log.len(), 3, "{log:?}");
    assert_eq!(log[0], (206, range_from(0), s52));
    assert_eq!(log[1], (206, range_from(wasted), s53));
    assert_eq!(log[2], (206, range_from(0), Some("3".to_owned())));
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_refreshed_token_is_sent_and_never_stored() {
    let (t, name, size) = (tag("token"), tag("db"), 500_000u64);
    let url = file_url(
        &t,
        &format!("size={size}&seed=54&auth_uses=1&throttle=400000&cut_at=200000&cut_times=1"),
    );
    let state = hook_state(0);
    let token = hook(
        &state,
        "if (info.reason === 'expired' || !state.token) state.token = 'tok-secret-' + (++state.n); \
         return { headers: { Authorization: 'Bearer ' + state.token } };",
    )
    .await;
    let m = manager(&name, token, vec![]).await;
    let headers = obj(&[
        ("Authorization", "Bearer stale-stored".into()),
        ("X-Client", "tiles".into()),
    ]);
    let dl = add(&m, &url, obj(&[("headers", headers)]));
    let id = get_str(&dl, "id");
    // Mid-transfer, with chunks stored, and at the end: no token in the database.
    wait_bytes(&dl, 2.0 * CHUNK as f64, 10_000).await;
    let dump = stored_text(&name).await;
    assert!(!dump.contains("tok-secret"), "{dump}");
    done(&dl).await.expect("completes");
    assert_bytes(&dl, 54, size as usize).await;
    assert_eq!(reasons(&state), ["start", "retry", "expired"]);
    let sent: Vec<Option<String>> = gets(&t)
        .await
        .iter()
        .map(|e| get(e, "authorization").as_string())
        .collect();
    let bearer = |n: u32| Some(format!("Bearer tok-secret-{n}"));
    // The hook's header replaces the stored one of the same name.
    assert_eq!(sent, [bearer(1), bearer(1), bearer(2)]);
    let dump = stored_text(&name).await;
    assert!(!dump.contains("tok-secret"), "{dump}");
    // add()'s headers are stored, as documented.
    let stored = js_sys::JSON::stringify(&get(&stored_record(&name, &id).await, "headers"))
        .unwrap()
        .as_string()
        .unwrap();
    assert!(
        stored.contains("X-Client") && stored.contains("stale-stored"),
        "{stored}"
    );
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_hook_that_throws_fails_the_download_with_its_partial_kept() {
    let (t, name, size) = (tag("throws"), tag("db"), 300_000u64);
    let url = file_url(
        &t,
        &format!("size={size}&seed=55&cut_at=200000&cut_times=1&throttle=2000000"),
    );
    let state = hook_state(0);
    let h = hook(
        &state,
        "if (state.reasons.length > 1 && !state.healed) throw new TypeError('no session'); \
         return undefined;",
    )
    .await;
    let m = manager(&name, h, vec![]).await;
    let dl = add(&m, &url, JsValue::UNDEFINED);
    let err = done(&dl).await.expect_err("the hook's failure fails it");
    assert_eq!(code(&err), "PREPARE_REQUEST");
    assert!(get_str(&err, "message").contains("no session"), "{err:?}");
    assert_eq!(get_str(&get(&err, "cause"), "name"), "TypeError");
    assert_eq!(get_str(&dl, "state"), "failed");
    let id = get_str(&dl, "id");
    let rec = stored_record(&name, &id).await;
    // The partial is kept.
    let kept = get_num(&rec, "offset").unwrap() as u64;
    assert_kept_before(kept, 200_000);
    assert!(!get(&rec, "error").is_null());
    // Once the hook works again, resume() continues from the stored bytes.
    js_sys::Reflect::set(&state, &"healed".into(), &true.into()).unwrap();
    call(&dl, "resume", &[]).unwrap();
    done(&dl).await.expect("completes");
    assert_bytes(&dl, 55, size as usize).await;
    let log = requests(&t).await;
    assert_eq!(log.len(), 2, "no request while the hook failed: {log:?}");
    assert_eq!(log[1].1, range_from(kept));
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_hook_that_answers_garbage_fails_before_any_request() {
    let t = tag("garbage");
    let answers = [
        "42",
        "'https://example.test/x'",
        "({ url: 'ftp://example.test/x' })",
        "({ url: 42 })",
        "({ headers: { Range: 'bytes=0-' } })",
        "({ headers: 5 })",
        "({ headers: { 'bad name': 'x' } })",
        "({ nope: 1 })",
    ];
    for answer in answers {
        let state = hook_state(0);
        let h = hook(&state, &format!("return {answer};")).await;
        let m = manager(&tag("db"), h, vec![no_retry()]).await;
        let dl = add(&m, &file_url(&t, "size=1000"), JsValue::UNDEFINED);
        let err = done(&dl).await.expect_err(answer);
        assert_eq!(code(&err), "PREPARE_REQUEST", "{answer}: {err:?}");
        let message = get_str(&err, "message");
        assert!(message.contains("bad value"), "{answer}: {message}");
        call_async(&m, "close", &[]).await.unwrap();
    }
    // An async hook's answer is awaited, and a rejection is the hook's failure too.
    let state = hook_state(0);
    let h = hook(&state, "return Promise.reject(new RangeError('later'));").await;
    let m = manager(&tag("db"), h, vec![no_retry()]).await;
    let dl = add(&m, &file_url(&t, "size=1000"), JsValue::UNDEFINED);
    let err = done(&dl).await.expect_err("rejected");
    assert_eq!(code(&err), "PREPARE_REQUEST");
    assert_eq!(get_str(&get(&err, "cause"), "name"), "RangeError");
    call_async(&m, "close", &[]).await.unwrap();
    assert!(gets(&t).await.is_empty(), "nothing was sent");
    // Not a function: refused by open().
    let refused = resumable_downloads::api::DownloadManager::open(Some(
        obj(&[("prepareRequest", "nope".into())]).into(),
    ))
    .await
    .expect_err("a string is no hook");
    assert_eq!(code(&refused), "INVALID_ARGUMENT");
}

#[wasm_bindgen_test]
async fn a_hook_that_never_settles_is_bounded_by_the_headers_timeout_and_a_pause_ends_the_wait() {
    let t = tag("never");
    let state = hook_state(0);
    let h = hook(&state, "return new Promise(() => {});").await;
    let timeouts = ("timeouts", obj(&[("headers", 300.into())]));
    let m = manager(&tag("db"), h, vec![timeouts, no_retry()]).await;
    let dl = add(&m, &file_url(&t, "size=1000"), JsValue::UNDEFINED);
    let err = done(&dl).await.expect_err("bounded");
    assert_eq!(code(&err), "PREPARE_REQUEST");
    assert!(
        get_str(&err, "message").contains("did not settle"),
        "{err:?}"
    );
    call_async(&m, "close", &[]).await.unwrap();

    // Without a timeout the wait is unbounded, but a pause ends it.
    let state = hook_state(0);
    let h = hook(&state, "return new Promise(() => {});").await;
    let timeouts = ("timeouts", obj(&[("headers", 0.into())]));
    let m = manager(&tag("db"), h, vec![timeouts]).await;
    let dl = add(&m, &file_url(&t, "size=1000"), JsValue::UNDEFINED);
    assert!(wait_until(5_000, || !reasons(&state).is_empty()).await);
    call(&dl, "pause", &[]).unwrap();
    assert!(
        wait_until(2_000, || get_str(&dl, "state") == "paused").await,
        "state {}",
        get_str(&dl, "state")
    );
    call_async(&m, "close", &[]).await.unwrap();
    assert!(gets(&t).await.is_empty(), "nothing was sent");
}

/// `value` percent-encoded for a query string.
fn encoded(value: &str) -> String {
    String::from(js_sys::encode_uri_component(value))
}

#[wasm_bindgen_test]
async fn filenames_and_types_come_from_the_response_cross_origin() {
    let t = tag("names");
    let disposition =
        encoded("attachment; filename=\"fallback.bin\"; filename*=UTF-8''%E2%82%AC%20rates.pdf");
    let name = tag("db");
    let m = open_named(&name, vec![no_retry()]).await;
    let knobs = |expose: &str| {
        format!(
            "size=2000&seed=56&type=application%2Fpdf&disposition={disposition}&expose={expose}"
        )
    };
    // Exposed (`*`, or by name): the header's name, RFC 8187 form preferred.
    let mut exposed_id = String::new();
    for expose in ["all", "Content-Disposition"] {
        let dl = add(&m, &file_url(&t, &knobs(expose)), JsValue::UNDEFINED);
        exposed_id = get_str(&dl, "id");
        assert_eq!(
            get_str(&dl, "filename"),
            "file",
            "before a response: the URL's"
        );
        assert!(get(&dl, "mimeType").is_undefined());
        done(&dl).await.expect("completes");
        assert_eq!(get_str(&dl, "filename"), "€ rates.pdf", "{expose}");
        assert_eq!(get_str(&dl, "mimeType"), "application/pdf");
        let blob = call_async(&dl, "blob", &[]).await.unwrap();
        assert_eq!(get_str(&blob, "type"), "application/pdf");
    }
    // Hidden by CORS: the URL's last segment.
    let hidden = add(&m, &file_url(&t, &knobs("none")), JsValue::UNDEFINED);
    done(&hidden).await.expect("completes");
    assert_eq!(get_str(&hidden, "filename"), "file");
    // The add() option wins, sanitized.
    let named = add(
        &m,
        &file_url(&t, &format!("{}&_n=1", knobs("all"))),
        obj(&[("filename", "../mine.bin".into())]),
    );
    done(&named).await.expect("completes");
    assert_eq!(get_str(&named, "filename"), "mine.bin");
    // A hostile server name is sanitized.
    let hostile = encoded("attachment; filename=\"..\\\\..\\\\CON.txt \"");
    let bad = add(
        &m,
        &file_url(&t, &format!("size=10&disposition={hostile}")),
        JsValue::UNDEFINED,
    );
    done(&bad).await.expect("completes");
    assert_eq!(get_str(&bad, "filename"), "_CON.txt");
    // After a reload, name and type are there again.
    let id = get_str(&hidden, "id");
    call_async(&m, "close", &[]).await.unwrap();
    let m = open_named(&name, vec![]).await;
    let again = call(&m, "get", &[exposed_id.as_str().into()]).unwrap();
    assert_eq!(get_str(&again, "filename"), "€ rates.pdf");
    assert_eq!(get_str(&again, "mimeType"), "application/pdf");
    let again = call(&m, "get", &[id.as_str().into()]).unwrap();
    assert_eq!(get_str(&again, "filename"), "file");
    call_async(&m, "close", &[]).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_redirect_names_the_file_by_where_it_ends() {
    let t = tag("renamed");
    let m = open(obj(&[no_retry()])).await;
    let url = format!(
        "{}/file/a.bin?tag={t}&size=1000&seed=57&redirects=1&redirect_name=b%20v2.bin",
        fixture()
    );
    let dl = add(&m, &url, JsValue::UNDEFINED);
    assert_eq!(
        get_str(&dl, "filename"),
        "a.bin",
        "before a response: the URL's"
    );
    done(&dl).await.expect("completes");
    assert_eq!(
        get_str(&dl, "filename"),
        "b v2.bin",
        "the final URL's, decoded"
    );
    assert!(get_str(&dl, "finalUrl").contains("/file/b%20v2.bin?"));
    assert_bytes(&dl, 57, 1000).await;
    call_async(&m, "close", &[]).await.unwrap();
}
