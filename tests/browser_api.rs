//! The option contract in headless Chromium against the fixture server: request headers in
//! every form `fetch` takes, integrity values as browsers parse them (several tokens, SHA-384
//! and SHA-512, the strongest algorithm wins, the hash state surviving a reload), and the
//! argument checks of these options.
#![cfg(target_arch = "wasm32")]

mod support;

use support::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const CHUNK: u64 = 64 * 1024;

/// A manager on database `name` with small chunks and no automatic retries.
async fn manager(name: &str) -> JsValue {
    open_named(
        name,
        vec![("chunkBytes", (CHUNK as f64).into()), no_retry()],
    )
    .await
}

/// `<alg>-<base64>` of `bytes` for `algorithm` (`"SHA-384"`), by the browser's SubtleCrypto.
async fn sri_of(algorithm: &str, bytes: &[u8]) -> String {
    js(
        "algorithm, bytes",
        "const d = await crypto.subtle.digest(algorithm, bytes); \
         return algorithm.replace('-', '').toLowerCase() + '-' + btoa(String.fromCharCode(...new Uint8Array(d)));",
        &[algorithm.into(), js_sys::Uint8Array::from(bytes).into()],
    )
    .await
    .as_string()
    .unwrap()
}

#[wasm_bindgen_test]
async fn sha384_and_sha512_are_verified_and_the_strongest_value_wins_across_a_reload() {
    let size = 300_000usize;
    for (algorithm, seed) in [("SHA-384", 50u64), ("SHA-512", 51)] {
        let content = expected(seed, 0, size);
        let mut other = content.clone();
        other[size / 3] ^= 1;
        // A wrong SHA-256 beside the right stronger value: only the stronger one is checked.
        let good = format!(
            "{}  {}?opt",
            sri(&other).await,
            sri_of(algorithm, &content).await
        );
        let (t, name) = (tag("sri2-ok"), tag("db"));
        let m = manager(&name).await;
        let dl = add(
            &m,
            &file_url(&t, &format!("size={size}&seed={seed}&throttle=100000")),
            obj(&[("integrity", good.as_str().into())]),
        );
        let id = get_str(&dl, "id");
        // A reload once some chunks are stored: the stored hash state continues.
        wait_bytes(&dl, 3.0 * CHUNK as f64, 10_000).await;
        // What a reload keeps is what is committed (WebKit's ArrayBuffer mode commits later).
        for _ in 0..200 {
            if get_num(&stored_record(&name, &id).await, "offset").unwrap_or(0.0)
                >= 2.0 * CHUNK as f64
            {
                break;
            }
            sleep(50).await;
        }
        let stored_at_close = get_num(&stored_record(&name, &id).await, "offset");
        call_async(&m, "close", &[]).await.unwrap();
        let m = manager(&name).await;
        let restarts = Recorder::new(&m, "restarted");
        let dl = call(&m, "get", &[id.as_str().into()]).unwrap();
        done(&dl)
            .await
            .unwrap_or_else(|e| panic!("{algorithm}: {e:?}"));
        assert_bytes(&dl, seed, size).await;
        let requests = gets(&t).await;
        assert!(requests.len() >= 2, "{algorithm}: resumed, not refetched");
        // The stored hash state continued: the resume started past what was stored (at most
        // one chunk lost by the reload), in every engine.
        let resumed_at = ranges(&t).await.last().and_then(range_start).unwrap_or(0);
        let why: Vec<String> = restarts
            .all()
            .iter()
            .map(|e| get_str(e, "reason"))
            .collect();
        assert!(
            resumed_at >= 2 * CHUNK,
            "{algorithm}: the hash state was restored, not the bytes refetched (resumed at \
             {resumed_at}; stored at close {stored_at_close:?}; requests {:?}; restarts {why:?})",
            ranges(&t).await
        );
        // Chromium and Firefox hand the page what arrives, so the server sent at most a chunk
        // twice; WebKit's network process reads ahead of the page (see browser_resume.rs).
        assert!(
            engine() == "webkit" || bytes_served(&t).await - (size as f64) <= CHUNK as f64,
            "{algorithm}: more than a chunk fetched twice"
        );

        // The right SHA-256 beside a wrong stronger value: the stronger one decides.
        let bad = format!(
            "{} {}",
            sri(&content).await,
            sri_of(algorithm, &other).await
        );
        let t = tag("sri2-bad");
        let restarted = Recorder::new(&m, "restarted");
        let dl = add(
            &m,
            &file_url(&t, &format!("size={size}&seed={seed}")),
            obj(&[("integrity", bad.as_str().into())]),
        );
        let err = done(&dl).await.expect_err("mismatch");
        assert_eq!(code(&err), "INTEGRITY", "{algorithm}");
        let message = get_str(&err, "message");
        assert!(
            message.starts_with(&format!("{algorithm} mismatch: expected ")),
            "{message}"
        );
        assert_eq!(gets(&t).await.len(), 2, "{algorithm}: restarted once");
        assert_eq!(get_str(&restarted.all()[0], "reason"), "integrity");
        call_async(&m, "close", &[]).await.unwrap();
    }
}

/// Records the headers of every request `fetch` is given whose URL contains `tag`, into
/// `globalThis.seenHeaders[tag]` (the real `fetch` still sends it).
async fn record_headers(tag: &str) {
    js(
        "tag",
        "globalThis.seenHeaders ??= {}; seenHeaders[tag] = []; \
         const original = globalThis.originalFetch ??= globalThis.fetch; \
         globalThis.fetch = function (input, init) { \
           const r = new Request(input, init); \
           for (const [t, list] of Object.entries(seenHeaders)) \
             if (r.url.includes(`tag=${t}&`)) list.push(Object.fromEntries(r.headers)); \
           return original.call(this, input, init); };",
        &[tag.into()],
    )
    .await;
}

#[wasm_bindgen_test]
async fn headers_in_every_form_fetch_takes_are_sent_on_every_request() {
    let m = manager(&tag("db")).await;
    let forms: [(&str, &str); 5] = [
        ("object", "({ 'X-Form': 'object', 'X-Second': 'two' })"),
        (
            "headers",
            "new Headers({ 'X-Form': 'headers', 'X-Second': 'two' })",
        ),
        ("pairs", "[['X-Form', 'pairs'], ['X-Second', 'two']]"),
        ("map", "new Map([['X-Form', 'map'], ['X-Second', 'two']])"),
        (
            "repeated",
            "[['X-Form', 'repeated'], ['X-Second', 'one'], ['x-second', 'two']]",
        ),
    ];
    for (form, expr) in forms {
        let t = tag(&format!("hdr-{form}"));
        record_headers(&t).await;
        let headers = js("", &format!("return {expr};"), &[]).await;
        // A connection cut at 100 kB: the resume request must carry the headers too.
        let dl = add(
            &m,
            &file_url(&t, "size=200000&seed=6&cut_at=100000&cut_times=1"),
            obj(&[
                ("headers", headers),
                ("id", t.as_str().into()),
                (
                    "priority",
                    // An integral float is an integer.
                    JsValue::from(1.0),
                ),
            ]),
        );
        if let Err(e) = done(&dl).await {
            // No automatic retries here: resume by hand after the cut.
            assert_eq!(code(&e), "NETWORK", "{form}: {e:?}");
            call(&dl, "resume", &[]).unwrap();
            done(&dl).await.unwrap_or_else(|e| panic!("{form}: {e:?}"));
        }
        assert_bytes(&dl, 6, 200_000).await;
        let seen = js(
            "tag",
            "return seenHeaders[tag].map(h => [h['x-form'], h['x-second']].join('/'));",
            &[t.as_str().into()],
        )
        .await;
        let seen: Vec<String> = js_sys::Array::from(&seen)
            .iter()
            .map(|s| s.as_string().unwrap())
            .collect();
        let want = if form == "repeated" {
            "repeated/one, two".to_owned()
        } else {
            format!("{form}/two")
        };
        assert!(seen.len() >= 2, "{form}: {seen:?}");
        assert!(seen.iter().all(|s| *s == want), "{form}: {seen:?}");
    }
}

/// `err` is an `INVALID_ARGUMENT` whose message starts with `field` and contains `needle`.
fn assert_invalid(err: &JsValue, field: &str, needle: &str) {
    assert_eq!(code(err), "INVALID_ARGUMENT", "{field}");
    let msg = get_str(err, "message");
    assert!(msg.starts_with(&format!("{field}: ")), "{field}: {msg}");
    assert!(msg.contains(needle), "{field}: {msg} lacks {needle}");
}

#[wasm_bindgen_test]
async fn bad_header_entries_and_non_integers_name_the_field() {
    let m = manager(&tag("db")).await;
    let url = file_url("unused", "size=1");
    for (expr, field, needle) in [
        (
            "[['X-A']]",
            "options.headers[0]",
            "[name, value] pair of strings",
        ),
        ("[['X-A', 5]]", "options.headers[0]", "got an array"),
        ("['X-A: 1']", "options.headers[0]", "got \"X-A: 1\""),
        (
            "({ 'X-A': 5 })",
            "options.headers.X-A",
            "must be a string, got 5",
        ),
        (
            "({ 'Bad Name': 'v' })",
            "options.headers[\"Bad Name\"]",
            "not a valid header name",
        ),
        (
            "[['', 'v']]",
            "options.headers[\"\"]",
            "not a valid header name",
        ),
        ("({ 'X-A': 'a\\nb' })", "options.headers.X-A", "line breaks"),
        ("({ 'X-A': '\u{263a}' })", "options.headers.X-A", "U+00FF"),
        (
            "new Map([['Range', 'bytes=0-']])",
            "options.headers.Range",
            "set by the library",
        ),
        ("'X-A: 1'", "options.headers", "got \"X-A: 1\""),
        ("5", "options.headers", "got 5"),
        ("(() => 1)", "options.headers", "got a function"),
        ("null", "options.headers", "got null"),
    ] {
        let headers = js("", &format!("return {expr};"), &[]).await;
        let err = call(
            &m,
            "add",
            &[url.as_str().into(), obj(&[("headers", headers)])],
        )
        .expect_err(expr);
        assert_invalid(&err, field, needle);
    }
    for (options, field, needle) in [
        (
            obj(&[("concurrency", 2.5.into())]),
            "options.concurrency",
            "must be an integer from 1 to 1000, got 2.5",
        ),
        (
            obj(&[("timeouts", obj(&[("stall", 1.5.into())]))]),
            "options.timeouts.stall",
            "must be an integer",
        ),
        (
            obj(&[("retry", obj(&[("limit", 0.5.into())]))]),
            "options.retry.limit",
            "got 0.5",
        ),
        (
            obj(&[("chunkBytes", 65536.5.into())]),
            "options.chunkBytes",
            "must be an integer",
        ),
        (
            obj(&[("expireAfterMs", f64::NAN.into())]),
            "options.expireAfterMs",
            "got NaN",
        ),
        (
            obj(&[("progressIntervalMs", "100".into())]),
            "options.progressIntervalMs",
            "got \"100\"",
        ),
        (
            obj(&[("notifyWhenDone", "yes".into())]),
            "options.notifyWhenDone",
            "must be true, false or an object { title }, got \"yes\"",
        ),
        (
            obj(&[("notifyWhenDone", 1.into())]),
            "options.notifyWhenDone",
            "got 1",
        ),
        (
            obj(&[("persist", "yes".into())]),
            "options.persist",
            "must be true or false",
        ),
        (
            obj(&[("retry", obj(&[("jitter", 0.into())]))]),
            "options.retry.jitter",
            "must be true or false",
        ),
        (
            obj(&[("timeouts", JsValue::from(30000))]),
            "options.timeouts",
            "must be an object, got 30000",
        ),
    ] {
        let err = match resumable_downloads::api::DownloadManager::open(Some(
            wasm_bindgen::JsCast::unchecked_into(options),
        ))
        .await
        {
            Ok(_) => panic!("{field} accepted"),
            Err(e) => e,
        };
        assert_invalid(&err, field, needle);
    }
    // What a getter or an iterator throws is kept as the error's cause.
    let pair = js(
        "",
        "const e = new RangeError('from a getter'); \
         return [e, { get concurrency() { throw e; } }, { *[Symbol.iterator]() { throw e; } }];",
        &[],
    )
    .await;
    let pair = js_sys::Array::from(&pair);
    let thrown = pair.get(0);
    let err = match resumable_downloads::api::DownloadManager::open(Some(
        wasm_bindgen::JsCast::unchecked_into(pair.get(1)),
    ))
    .await
    {
        Ok(_) => panic!("a throwing getter accepted"),
        Err(e) => e,
    };
    assert_invalid(&err, "options.concurrency", "RangeError: from a getter");
    assert!(js_sys::Object::is(&get(&err, "cause"), &thrown), "cause");
    let err = call(
        &m,
        "add",
        &[url.as_str().into(), obj(&[("headers", pair.get(2))])],
    )
    .expect_err("a throwing iterator");
    assert_invalid(&err, "options.headers", "RangeError: from a getter");
    assert!(js_sys::Object::is(&get(&err, "cause"), &thrown), "cause");

    // Integral numbers are integers, whatever their JS spelling; notifyWhenDone: {} is true.
    let m = open(obj(&[
        ("concurrency", 2.0.into()),
        ("chunkBytes", 65536.0.into()),
        ("notifyWhenDone", obj(&[])),
    ]))
    .await;
    call_async(&m, "close", &[]).await.unwrap();
}

/// Every exported method with arguments of the wrong type (numbers, objects, `undefined`,
/// `null`, symbols, arrays, functions): each gives `INVALID_ARGUMENT`, thrown by the methods
/// that return a value and rejected by those that return a promise, and the module still
/// works afterwards.
#[wasm_bindgen_test]
async fn wrong_argument_types_are_invalid_argument_and_harmless() {
    let t = tag("types");
    let m = manager(&tag("db")).await;
    let open_fn = wasm_bindgen::closure::Closure::<dyn FnMut(JsValue) -> js_sys::Promise>::new(
        |o: JsValue| {
            resumable_downloads::api::DownloadManager::open(Some(
                wasm_bindgen::JsCast::unchecked_into(o),
            ))
        },
    )
    .into_js_value();
    let out = js(
        "m, open, url, url2, url3",
        "const d = m.add(url); await d.done;
         const problems = [];
         const invalid = (e) => e && e.name === 'DownloadError' && e.code === 'INVALID_ARGUMENT';
         const sync = (label, f) => {
           try { const r = f(); problems.push(label + ': returned ' + typeof r); }
           catch (e) { if (!invalid(e)) problems.push(label + ': threw ' + e); }
         };
         const rejects = async (label, f) => {
           let p;
           try { p = f(); } catch (e) { problems.push(label + ': threw instead of rejecting: ' + e); return; }
           if (!(p instanceof Promise)) { problems.push(label + ': no promise'); return; }
           try { await p; problems.push(label + ': resolved'); } catch (e) { if (!invalid(e)) problems.push(label + ': rejected with ' + e); }
         };
         const values = [42, 2.5, {}, [], undefined, null, Symbol('s'), () => 1, true];
         for (const v of values) {
           const t = typeof v === 'symbol' ? 'symbol' : typeof v === 'function' ? 'function' : JSON.stringify(v) ?? 'undefined';
           const isObj = v !== null && typeof v === 'object' && !Array.isArray(v);
           sync('get(' + t + ')', () => m.get(v));
           sync('on(' + t + ')', () => m.on(v, () => {}));
           if (typeof v !== 'function') sync('on(progress, ' + t + ')', () => m.on('progress', v));
           sync('add(' + t + ')', () => m.add(v));
           if (!isObj && v !== undefined && v !== null) sync('add(url, ' + t + ')', () => m.add(url2, v));
           await rejects('remove(' + t + ')', () => m.remove(v));
           if (!Array.isArray(v) && v !== undefined && v !== null) await rejects('whenAll(' + t + ')', () => m.whenAll(v));
           if (v !== undefined && v !== null) await rejects('save(' + t + ')', () => d.save(v));
           if (!isObj && v !== undefined && v !== null) await rejects('open(' + t + ')', () => open(v));
         }
         if (m.get('no such id') !== undefined) problems.push('get(unknown) is not undefined');
         if ((await m.remove('no such id')) !== false) problems.push('remove(unknown) is not false');
         const after = m.add(url3);
         await after.done;
         return { problems, size: (await after.blob()).size };",
        &[
            m.clone(),
            open_fn,
            file_url(&t, "size=1000&seed=1").into(),
            file_url(&t, "size=1000&seed=2").into(),
            file_url(&t, "size=5000&seed=3").into(),
        ],
    )
    .await;
    let problems: Vec<String> = js_sys::Array::from(&get(&out, "problems"))
        .iter()
        .map(|p| p.as_string().unwrap())
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(get_num(&out, "size"), Some(5000.0));
}

/// A download cancelled by its `AbortSignal` keeps the signal's `reason` as the error's
/// `cause` (and says it in the message), whether the signal aborts before `add()` or during
/// the transfer.
#[wasm_bindgen_test]
async fn a_signal_reason_is_the_cause() {
    let t = tag("reason");
    let m = manager(&tag("db")).await;
    let out = js(
        "m, slow, quick",
        "const early = new AbortController();
         const why = new Error('already');
         early.abort(why);
         const a = m.add(quick, { signal: early.signal });
         const ea = await a.done.then(() => null, (e) => e);
         const late = new AbortController();
         const b = m.add(slow, { signal: late.signal });
         for (let i = 0; i < 300 && b.progress.transferredBytes === 0; i++) await new Promise(r => setTimeout(r, 10));
         const reason = new Error('user left');
         late.abort(reason);
         const eb = await b.done.then(() => null, (e) => e);
         return [
           ea && ea.code, ea && ea.cause === why, ea && ea.message.includes('already'),
           eb && eb.code, eb && eb.cause === reason, eb && eb.message.includes('user left'),
           b.state,
         ];",
        &[
            m.clone(),
            file_url(&t, "size=2000000&seed=1&throttle=400000").into(),
            file_url(&t, "size=1000&seed=2").into(),
        ],
    )
    .await;
    let got: Vec<String> = js_sys::Array::from(&out)
        .iter()
        .map(|v| {
            v.as_string()
                .unwrap_or_else(|| format!("{}", v.as_bool().unwrap_or(false)))
        })
        .collect();
    assert_eq!(
        got,
        [
            "ABORTED",
            "true",
            "true",
            "ABORTED",
            "true",
            "true",
            "cancelled"
        ],
        "[code, cause, message] before add(), then during the transfer, then the state"
    );
}
