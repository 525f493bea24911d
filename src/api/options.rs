//! Parsing and validation of the options objects passed from JS. Every problem is an
//! `INVALID_ARGUMENT` whose message names the field (`options.timeouts.stall: …`).

use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortSignal;

use crate::core::integrity::parse_integrity;
use crate::core::retry::RetryPolicy;
use crate::core::timeouts::Timeouts;
use crate::core::{DownloadError, ErrorCode, Quoted};
use crate::engine::config::{PrepareHook, Prepared, RequestCall, StorageChoice};
use crate::web::codec::object;
use crate::web::js::{describe, prop};

pub(crate) use crate::engine::config::{AddOptions, ManagerConfig};

/// Smallest and largest accepted `chunkBytes`.
pub(crate) const CHUNK_BYTES_RANGE: (u64, u64) = (64 * 1024, 256 * 1024 * 1024);

/// `INVALID_ARGUMENT` for `path` when reading it threw `e` (a getter, a proxy, an iterator),
/// with `e` as its `cause`.
fn thrown(path: &str, e: JsValue) -> DownloadError {
    DownloadError::invalid(path, describe(&e)).with_cause(e)
}

/// An object that can hold options: not a function, not an array.
fn is_options_object(value: &JsValue) -> bool {
    value.is_object() && !value.is_function() && !js_sys::Array::is_array(value)
}

/// A JS object being read field by field, with the path used in error messages.
struct Fields {
    obj: Object,
    path: String,
}

impl Fields {
    /// `undefined`/`null` give `None` (all defaults); anything but a plain object is an error.
    fn new(value: &JsValue, path: &str, allowed: &[&str]) -> Result<Option<Fields>, DownloadError> {
        if value.is_undefined() || value.is_null() {
            return Ok(None);
        }
        if !is_options_object(value) {
            return Err(DownloadError::invalid(
                path,
                format!("must be an object, got {}", shown(value)),
            ));
        }
        let obj: Object = value.clone().unchecked_into();
        for key in Object::keys(&obj).iter() {
            let key = key.as_string().unwrap_or_default();
            if !allowed.contains(&key.as_str()) {
                return Err(DownloadError::invalid(
                    &format!("{path}.{key}"),
                    format!("unknown option (expected one of: {})", allowed.join(", ")),
                ));
            }
        }
        Ok(Some(Fields {
            obj,
            path: path.to_owned(),
        }))
    }

    fn path(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    /// The value at `key`; `undefined` means absent.
    fn get(&self, key: &str) -> Result<Option<JsValue>, DownloadError> {
        let v = Reflect::get(&self.obj, &JsValue::from_str(key))
            .map_err(|e| thrown(&self.path(key), e))?;
        Ok((!v.is_undefined()).then_some(v))
    }

    /// An integer in `min..=max`.
    fn uint(&self, key: &str, min: u64, max: u64) -> Result<Option<u64>, DownloadError> {
        let Some(v) = self.get(key)? else {
            return Ok(None);
        };
        match v.as_f64() {
            Some(n) if n.fract() == 0.0 && n >= min as f64 && n <= max as f64 => Ok(Some(n as u64)),
            _ => Err(DownloadError::invalid(
                &self.path(key),
                format!("must be an integer from {min} to {max}, got {}", shown(&v)),
            )),
        }
    }

    /// A boolean.
    fn boolean(&self, key: &str) -> Result<Option<bool>, DownloadError> {
        let Some(v) = self.get(key)? else {
            return Ok(None);
        };
        v.as_bool()
            .map(Some)
            .ok_or_else(|| DownloadError::invalid(&self.path(key), "must be true or false"))
    }

    /// A string of 1..=`max_len` characters.
    fn string(&self, key: &str, max_len: usize) -> Result<Option<String>, DownloadError> {
        let Some(v) = self.get(key)? else {
            return Ok(None);
        };
        let s = v
            .as_string()
            .ok_or_else(|| DownloadError::invalid(&self.path(key), "must be a string"))?;
        if s.is_empty() || s.chars().count() > max_len {
            return Err(DownloadError::invalid(
                &self.path(key),
                format!("must be 1 to {max_len} characters long"),
            ));
        }
        Ok(Some(s))
    }
}

/// A short rendering of a rejected value for a message: a number as JS prints it (Rust's float
/// formatting would add kilobytes), a string quoted, anything else by its type.
fn shown(v: &JsValue) -> String {
    if let Some(n) = v.as_f64() {
        return String::from(
            js_sys::Number::from(n)
                .to_string_with_radix(10)
                .unwrap_or_default(),
        );
    }
    if let Some(s) = v.as_string() {
        return Quoted(&s).to_string();
    }
    if v.is_null() {
        return "null".into();
    }
    if js_sys::Array::is_array(v) {
        return "an array".into();
    }
    match v.js_typeof().as_string().as_deref() {
        Some("undefined") => "undefined".into(),
        Some(t @ "object") => format!("an {t}"),
        Some(t) => format!("a {t}"),
        None => "a value".into(),
    }
}

/// Largest timeout accepted: about 24.8 days, the largest `setTimeout` delay.
const MAX_TIMEOUT_MS: u64 = i32::MAX as u64;

/// The options `DownloadManager.open` takes, in the order an unknown one's message lists them.
const MANAGER_OPTIONS: &[&str] = &[
    "name",
    "concurrency",
    "timeouts",
    "retry",
    "chunkBytes",
    "progressIntervalMs",
    "expireAfterMs",
    "notifyWhenDone",
    "persist",
    "prepareRequest",
    "commitIntervalMs",
    "storage",
    "flushBytes",
    "background",
    "backgroundIcons",
    "resumeOnOpen",
];

/// Parses `DownloadManager.open(options)`. Each field is read once, in a fixed order, so the
/// first error reported for a bad object is always the same one.
pub(crate) fn parse_manager_options(value: &JsValue) -> Result<ManagerConfig, DownloadError> {
    let mut cfg = ManagerConfig::default();
    let Some(f) = Fields::new(value, "options", MANAGER_OPTIONS)? else {
        return Ok(cfg);
    };
    if let Some(hook) = read_prepare_request(&f)? {
        cfg.prepare_request = Some(hook);
    }
    if let Some(name) = f.string("name", 200)? {
        cfg.name = name;
    }
    read_timeouts(&f, &mut cfg.limits.timeouts)?;
    read_retry(&f, &mut cfg.limits.retry)?;
    cfg.expire_after_ms = f
        .uint("expireAfterMs", 0, u64::MAX >> 11)?
        .unwrap_or(cfg.expire_after_ms);
    cfg.concurrency = f
        .uint("concurrency", 1, 1000)?
        .map_or(cfg.concurrency, |n| n as usize);
    read_storage(&f, &mut cfg)?;
    cfg.resume_on_open = f.boolean("resumeOnOpen")?.unwrap_or(cfg.resume_on_open);
    read_background(&f, &mut cfg)?;
    if let Some(v) = f.get("notifyWhenDone")? {
        cfg.notify_title = parse_notify(&v)?;
    }
    read_chunk_sizes(&f, &mut cfg)?;
    cfg.limits.progress_interval_ms = f
        .uint("progressIntervalMs", 0, MAX_TIMEOUT_MS)?
        .unwrap_or(cfg.limits.progress_interval_ms);
    cfg.limits.commit_interval_ms = f
        .uint("commitIntervalMs", 0, MAX_TIMEOUT_MS)?
        .unwrap_or(cfg.limits.commit_interval_ms);
    Ok(cfg)
}

/// `prepareRequest`: a function, wrapped by [`prepare_hook`]. Default: `None` (no hook).
fn read_prepare_request(f: &Fields) -> Result<Option<PrepareHook>, DownloadError> {
    let Some(v) = f.get("prepareRequest")? else {
        return Ok(None);
    };
    let hook = v.dyn_into::<Function>().map_err(|v| {
        DownloadError::invalid(
            "options.prepareRequest",
            format!("must be a function, got {}", shown(&v)),
        )
    })?;
    Ok(Some(prepare_hook(hook)))
}

/// `timeouts: { headers?, stall?, total? }`, each in ms from 0 to [`MAX_TIMEOUT_MS`]; a field
/// left out keeps its value in `d` ([`Timeouts::default`]: headers and stall 30 s, total 0 =
/// none).
fn read_timeouts(f: &Fields, d: &mut Timeouts) -> Result<(), DownloadError> {
    let Some(t) = f.get("timeouts")? else {
        return Ok(());
    };
    let Some(t) = Fields::new(&t, "options.timeouts", &["headers", "stall", "total"])? else {
        return Ok(());
    };
    d.headers_ms = t
        .uint("headers", 0, MAX_TIMEOUT_MS)?
        .unwrap_or(d.headers_ms);
    d.stall_ms = t.uint("stall", 0, MAX_TIMEOUT_MS)?.unwrap_or(d.stall_ms);
    d.total_ms = t.uint("total", 0, MAX_TIMEOUT_MS)?.unwrap_or(d.total_ms);
    Ok(())
}

/// `retry: { limit?, backoffMs?, maxBackoffMs?, jitter?, maxRetryAfterMs? }`: `limit` from 0
/// to 1000, the delays in ms from 0 to [`MAX_TIMEOUT_MS`], `jitter` a boolean; a field left out
/// keeps its value in `p` ([`RetryPolicy::default`]: 5 retries, 1 s doubling up to 60 s, with
/// jitter, `Retry-After` honoured up to 5 minutes).
fn read_retry(f: &Fields, p: &mut RetryPolicy) -> Result<(), DownloadError> {
    let Some(r) = f.get("retry")? else {
        return Ok(());
    };
    let Some(r) = Fields::new(
        &r,
        "options.retry",
        &[
            "limit",
            "backoffMs",
            "maxBackoffMs",
            "jitter",
            "maxRetryAfterMs",
        ],
    )?
    else {
        return Ok(());
    };
    p.limit = r.uint("limit", 0, 1000)?.map_or(p.limit, |n| n as u32);
    p.backoff_ms = r
        .uint("backoffMs", 0, MAX_TIMEOUT_MS)?
        .unwrap_or(p.backoff_ms);
    p.max_backoff_ms = r
        .uint("maxBackoffMs", 0, MAX_TIMEOUT_MS)?
        .unwrap_or(p.max_backoff_ms);
    p.max_retry_after_ms = r
        .uint("maxRetryAfterMs", 0, MAX_TIMEOUT_MS)?
        .unwrap_or(p.max_retry_after_ms);
    p.jitter = r.boolean("jitter")?.unwrap_or(p.jitter);
    Ok(())
}

/// `persist: boolean` (default `true`), then `storage: 'auto' | 'opfs' | 'indexeddb' |
/// 'memory'` (default `'auto'`). With `persist: false` only `'auto'` and `'memory'` are
/// accepted; `'memory'` sets `persist` to false.
fn read_storage(f: &Fields, cfg: &mut ManagerConfig) -> Result<(), DownloadError> {
    cfg.persist = f.boolean("persist")?.unwrap_or(cfg.persist);
    if let Some(v) = f.get("storage")? {
        let text = v.as_string();
        cfg.storage = StorageChoice::ALL
            .into_iter()
            .find(|c| text.as_deref() == Some(c.as_str()))
            .ok_or_else(|| {
                DownloadError::invalid(
                    "options.storage",
                    format!(
                        "must be 'auto', 'opfs', 'indexeddb' or 'memory', got {}",
                        shown(&v)
                    ),
                )
            })?;
        if !cfg.persist && !matches!(cfg.storage, StorageChoice::Memory | StorageChoice::Auto) {
            return Err(DownloadError::invalid(
                "options.storage",
                format!(
                    "is '{}', but persist: false keeps downloads in memory",
                    cfg.storage.as_str()
                ),
            ));
        }
    }
    if cfg.storage == StorageChoice::Memory {
        cfg.persist = false;
    }
    Ok(())
}

/// `background: 'never' | 'auto'` (default `'never'`), then `backgroundIcons` (see
/// [`parse_icons`]; default `None`: no icons given).
fn read_background(f: &Fields, cfg: &mut ManagerConfig) -> Result<(), DownloadError> {
    if let Some(v) = f.get("background")? {
        cfg.background_auto = match v.as_string().as_deref() {
            Some("auto") => true,
            Some("never") => false,
            _ => {
                return Err(DownloadError::invalid(
                    "options.background",
                    format!("must be 'never' or 'auto', got {}", shown(&v)),
                ))
            }
        };
    }
    if let Some(v) = f.get("backgroundIcons")? {
        cfg.background_icons = Some(parse_icons(&v)?);
    }
    Ok(())
}

/// `chunkBytes` (default 4 MiB), then `flushBytes` (default 1 MiB, or `chunkBytes` when that
/// is smaller), both within [`CHUNK_BYTES_RANGE`].
fn read_chunk_sizes(f: &Fields, cfg: &mut ManagerConfig) -> Result<(), DownloadError> {
    let (lo, hi) = CHUNK_BYTES_RANGE;
    cfg.limits.chunk_bytes = f
        .uint("chunkBytes", lo, hi)?
        .unwrap_or(cfg.limits.chunk_bytes);
    cfg.limits.flush_bytes = f
        .uint("flushBytes", lo, hi)?
        .unwrap_or(cfg.limits.flush_bytes.min(cfg.limits.chunk_bytes));
    Ok(())
}

/// Most icons `backgroundIcons` takes.
const MAX_ICONS: u32 = 16;

/// `backgroundIcons: Array<{ src: string, sizes?: string, type?: string, label?: string }>`
/// (Background Fetch's `ImageResource`), copied: a later change to the page's array changes
/// nothing. `src` is resolved here as `fetch` resolves a URL (any scheme: `data:` too).
fn parse_icons(value: &JsValue) -> Result<js_sys::Array, DownloadError> {
    const PATH: &str = "options.backgroundIcons";
    let list = value
        .dyn_ref::<js_sys::Array>()
        .filter(|a| a.length() <= MAX_ICONS)
        .ok_or_else(|| {
            DownloadError::invalid(
                PATH,
                format!(
                    "must be an array of at most {MAX_ICONS} {{ src, sizes, type, label }}, got {}",
                    shown(value)
                ),
            )
        })?;
    let out = js_sys::Array::new();
    for (i, icon) in list.iter().enumerate() {
        let path = format!("{PATH}[{i}]");
        let f =
            Fields::new(&icon, &path, &["src", "sizes", "type", "label"])?.ok_or_else(|| {
                DownloadError::invalid(&path, "must be an object { src, sizes, type, label }")
            })?;
        let copy = Object::new();
        for (key, max_len, required) in [
            ("src", 4096, true),
            ("sizes", 200, false),
            ("type", 200, false),
            ("label", 200, false),
        ] {
            match f.string(key, max_len)? {
                Some(v) => {
                    let v = if key == "src" {
                        resolve(&v, &f.path(key))?.href()
                    } else {
                        v
                    };
                    let _ = Reflect::set(&copy, &key.into(), &v.into());
                }
                None if required => {
                    return Err(DownloadError::invalid(&f.path(key), "is required"))
                }
                None => {}
            }
        }
        out.push(&copy);
    }
    Ok(out)
}

/// `notifyWhenDone: boolean | { title?: string }`.
fn parse_notify(v: &JsValue) -> Result<Option<String>, DownloadError> {
    const DEFAULT_TITLE: &str = "Downloads finished";
    if let Some(b) = v.as_bool() {
        return Ok(b.then(|| DEFAULT_TITLE.to_owned()));
    }
    if !is_options_object(v) {
        return Err(DownloadError::invalid(
            "options.notifyWhenDone",
            format!(
                "must be true, false or an object {{ title }}, got {}",
                shown(v)
            ),
        ));
    }
    let Some(f) = Fields::new(v, "options.notifyWhenDone", &["title"])? else {
        return Ok(Some(DEFAULT_TITLE.to_owned()));
    };
    Ok(Some(
        f.string("title", 200)?
            .unwrap_or_else(|| DEFAULT_TITLE.to_owned()),
    ))
}

/// Request headers the library sets itself; a caller's value would break resume checks.
const RESERVED_HEADERS: [&str; 3] = ["range", "if-range", "accept-encoding"];

/// The options `manager.add` takes, in the order an unknown one's message lists them.
const ADD_OPTIONS: &[&str] = &[
    "id",
    "filename",
    "headers",
    "signal",
    "integrity",
    "priority",
    "sink",
    "file",
    "background",
    "title",
];

/// Parses `manager.add(url, options)`'s options. Each field is read once, in a fixed order, so
/// the first error reported for a bad object is always the same one.
pub(crate) fn parse_add_options(value: &JsValue) -> Result<AddOptions, DownloadError> {
    let mut out = AddOptions::default();
    let Some(f) = Fields::new(value, "options", ADD_OPTIONS)? else {
        return Ok(out);
    };
    if let Some(p) = read_priority(&f)? {
        out.priority = p;
    }
    out.integrity = read_integrity(&f)?;
    out.id = f.string("id", 256)?;
    out.filename = f.string("filename", 255)?;
    out.title = f.string("title", 200)?;
    if let Some(h) = f.get("headers")? {
        out.headers = parse_headers(&h, "options.headers")?;
    }
    out.sink = read_sink(&f)?;
    out.file = read_file_handle(&f)?;
    out.background = f.boolean("background")?;
    out.signal = read_signal(&f)?;
    Ok(out)
}

/// `priority`: an integer from -1000000 to 1000000. `None` when absent (priority 0).
fn read_priority(f: &Fields) -> Result<Option<i32>, DownloadError> {
    let Some(v) = f.get("priority")? else {
        return Ok(None);
    };
    let p = v
        .as_f64()
        .filter(|p| p.fract() == 0.0 && p.abs() <= 1e6)
        .ok_or_else(|| {
            DownloadError::invalid(
                "options.priority",
                "must be an integer from -1000000 to 1000000",
            )
        })?;
    Ok(Some(p as i32))
}

/// `integrity`: an SRI string, checked by [`parse_integrity`] and kept as given. Default:
/// `None` (no check).
fn read_integrity(f: &Fields) -> Result<Option<String>, DownloadError> {
    let Some(v) = f.get("integrity")? else {
        return Ok(None);
    };
    let s = v
        .as_string()
        .ok_or_else(|| DownloadError::invalid("options.integrity", "must be a string"))?;
    parse_integrity(&s)?;
    Ok(Some(s))
}

/// `sink`: a `WritableStream` the bytes are written to. Default: `None` (storage).
fn read_sink(f: &Fields) -> Result<Option<web_sys::WritableStream>, DownloadError> {
    let Some(s) = f.get("sink")? else {
        return Ok(None);
    };
    let sink = s.dyn_into::<web_sys::WritableStream>().map_err(|v| {
        DownloadError::invalid(
            "options.sink",
            format!("must be a WritableStream, got {}", shown(&v)),
        )
    })?;
    Ok(Some(sink))
}

/// `file`: a `FileSystemFileHandle` the bytes are written to, recognised by its `kind` of
/// `'file'` and its `getFile` method (web-sys does not bind the type here). Default: `None`
/// (the download's own file).
fn read_file_handle(f: &Fields) -> Result<Option<JsValue>, DownloadError> {
    let Some(h) = f.get("file")? else {
        return Ok(None);
    };
    let kind = prop(&h, "kind").and_then(|k| k.as_string());
    if kind.as_deref() != Some("file") || !prop(&h, "getFile").is_some_and(|f| f.is_function()) {
        return Err(DownloadError::invalid(
            "options.file",
            format!("must be a FileSystemFileHandle, got {}", shown(&h)),
        ));
    }
    Ok(Some(h))
}

/// `signal`: an `AbortSignal` that cancels the download. Default: `None`.
fn read_signal(f: &Fields) -> Result<Option<AbortSignal>, DownloadError> {
    let Some(s) = f.get("signal")? else {
        return Ok(None);
    };
    let signal = s
        .dyn_into::<AbortSignal>()
        .map_err(|_| DownloadError::invalid("options.signal", "must be an AbortSignal"))?;
    Ok(Some(signal))
}

/// Headers in any form `fetch` takes: a plain object of strings, a `Headers`, or an array (any
/// iterable) of `[name, value]` pairs. Names must be HTTP tokens and values must not contain
/// line breaks or NUL, so a bad header is refused here, naming it, rather than by `fetch`.
/// Every entry is read before any is checked.
fn parse_headers(value: &JsValue, field: &str) -> Result<Vec<(String, String)>, DownloadError> {
    if !value.is_object() || value.is_function() {
        return Err(DownloadError::invalid(
            field,
            format!(
                "must be an object, a Headers or an array of [name, value] pairs, got {}",
                shown(value)
            ),
        ));
    }
    let pairs = match js_sys::try_iter(value).map_err(|e| thrown(field, e))? {
        Some(iter) => header_pairs(iter, field)?,
        None => header_record(value, field)?,
    };
    for (name, val) in &pairs {
        check_header(name, val, field)?;
    }
    Ok(pairs)
}

/// The entries of an iterable (an array, a `Headers`), in order: each must be a `[name,
/// value]` array of two strings, named `field[i]` in errors.
fn header_pairs(
    iter: js_sys::IntoIter,
    field: &str,
) -> Result<Vec<(String, String)>, DownloadError> {
    let mut pairs = Vec::new();
    for (i, entry) in iter.enumerate() {
        let entry = entry.map_err(|e| thrown(field, e))?;
        let path = format!("{field}[{i}]");
        let pair = js_sys::Array::is_array(&entry)
            .then(|| js_sys::Array::from(&entry))
            .filter(|a| a.length() == 2)
            .and_then(|a| Some((a.get(0).as_string()?, a.get(1).as_string()?)))
            .ok_or_else(|| {
                DownloadError::invalid(
                    &path,
                    format!(
                        "must be a [name, value] pair of strings, got {}",
                        shown(&entry)
                    ),
                )
            })?;
        pairs.push(pair);
    }
    Ok(pairs)
}

/// The own enumerable properties of a plain object, in `Object.entries` order: each value must
/// be a string, named `field.name` in errors.
fn header_record(value: &JsValue, field: &str) -> Result<Vec<(String, String)>, DownloadError> {
    let mut pairs = Vec::new();
    for entry in Object::entries(value.unchecked_ref()).iter() {
        let entry: js_sys::Array = entry.unchecked_into();
        let name = entry.get(0).as_string().unwrap_or_default();
        let val = entry.get(1);
        let val = val.as_string().ok_or_else(|| {
            DownloadError::invalid(
                &format!("{field}.{name}"),
                format!("must be a string, got {}", shown(&val)),
            )
        })?;
        pairs.push((name, val));
    }
    Ok(pairs)
}

/// Checks one header of `field`, in this order: its name is an HTTP token, its value has no
/// line break, NUL or character above U+00FF, and its name is not one of [`RESERVED_HEADERS`].
fn check_header(name: &str, val: &str, field: &str) -> Result<(), DownloadError> {
    let at = || format!("{field}.{name}");
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(DownloadError::invalid(
            &format!("{field}[{}]", Quoted(name)),
            "is not a valid header name",
        ));
    }
    if val
        .chars()
        .any(|c| matches!(c, '\r' | '\n' | '\0') || c > '\u{ff}')
    {
        return Err(DownloadError::invalid(
            &at(),
            "must not contain line breaks, NUL or characters above U+00FF",
        ));
    }
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(DownloadError::invalid(
            &at(),
            "is set by the library and cannot be overridden",
        ));
    }
    Ok(())
}

/// A `tchar` of RFC 9110: what an HTTP field name is made of.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Resolves `url` against the page (like `fetch` does) and checks it is http(s) without
/// credentials. Returns the absolute URL.
pub(crate) fn parse_url(value: &JsValue) -> Result<String, DownloadError> {
    parse_url_at(value, "url")
}

/// [`parse_url`] of the value at `field`, named so in errors.
fn parse_url_at(value: &JsValue, field: &str) -> Result<String, DownloadError> {
    let raw = match value.dyn_ref::<web_sys::Url>() {
        Some(u) => u.href(),
        None => value
            .as_string()
            .ok_or_else(|| DownloadError::invalid(field, "must be a string or a URL"))?,
    };
    if raw.trim().is_empty() {
        return Err(DownloadError::invalid(field, "must not be empty"));
    }
    let parsed = resolve(&raw, field)?;
    let protocol = parsed.protocol();
    if protocol != "http:" && protocol != "https:" {
        return Err(DownloadError::invalid(
            "url",
            format!("must be http or https, got {}", Quoted(&protocol)),
        ));
    }
    if !is_valid_host(&parsed.hostname()) {
        return Err(DownloadError::invalid(
            "url",
            format!("{} has no valid host", Quoted(&raw)),
        ));
    }
    if !parsed.username().is_empty() || !parsed.password().is_empty() {
        return Err(DownloadError::invalid(
            "url",
            "must not contain credentials",
        ));
    }
    let mut href = parsed.href();
    if let Some(i) = href.find('#') {
        href.truncate(i);
    }
    Ok(href)
}

/// A parsed host: a DNS name or IPv4 address (ASCII after IDNA processing) or a bracketed IPv6
/// literal. Some URL parsers let characters such as spaces through, percent-encoded; such a
/// host can never resolve.
fn is_valid_host(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !v6.is_empty()
            && v6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    }
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// `raw` resolved against the page, as `fetch` resolves a URL (any scheme).
///
/// # Errors
/// `INVALID_ARGUMENT` for `field` when it is not a valid URL.
fn resolve(raw: &str, field: &str) -> Result<web_sys::Url, DownloadError> {
    match base_url() {
        Some(base) => web_sys::Url::new_with_base(raw, &base),
        None => web_sys::Url::new(raw),
    }
    .map_err(|_| DownloadError::invalid(field, format!("{} is not a valid URL", Quoted(raw))))
}

/// The base for relative URLs: the document's base URI in a window, the script's location in
/// a worker.
fn base_url() -> Option<String> {
    let global = js_sys::global();
    if let Some(doc) = prop(&global, "document") {
        if let Some(b) = prop(&doc, "baseURI").and_then(|v| v.as_string()) {
            return Some(b);
        }
    }
    prop(&global, "location")
        .and_then(|l| prop(&l, "href"))
        .and_then(|v| v.as_string())
}

/// Wraps the page's `prepareRequest` function: calls it with `{ id, url, attempt, reason,
/// download }`, awaits what it returns, and checks the answer. A throw, a rejection or a bad
/// answer is a `PREPARE_REQUEST` error with the page's error as its `cause`.
fn prepare_hook(hook: Function) -> PrepareHook {
    PrepareHook(Rc::new(move |call: RequestCall| {
        let hook = hook.clone();
        Box::pin(async move {
            let failed = |how: &str, e: JsValue| {
                DownloadError::new(
                    ErrorCode::PrepareRequest,
                    format!("prepareRequest {how}: {}", describe(&e)),
                )
                .with_cause(e)
            };
            let arg = object(&[
                ("id", call.id.into()),
                ("url", call.url.into()),
                ("attempt", call.attempt.into()),
                ("reason", call.reason.as_str().into()),
                ("download", call.download),
            ]);
            let answer = hook
                .call1(&JsValue::UNDEFINED, &arg)
                .map_err(|e| failed("threw", e))?;
            let answer = JsFuture::from(Promise::resolve(&answer))
                .await
                .map_err(|e| failed("rejected", e))?;
            parse_prepared(&answer).map_err(|e| {
                DownloadError::new(
                    ErrorCode::PrepareRequest,
                    format!("prepareRequest returned a bad value: {}", e.message),
                )
            })
        })
    }))
}

/// `prepareRequest`'s answer: `{ url?, headers? }`; `undefined` (or `{}`) keeps the stored URL
/// and headers.
fn parse_prepared(value: &JsValue) -> Result<Prepared, DownloadError> {
    let Some(f) = Fields::new(value, "result", &["url", "headers"])? else {
        return Ok(Prepared::default());
    };
    let url = f
        .get("url")?
        .map(|u| parse_url_at(&u, &f.path("url")))
        .transpose()?;
    let headers = f
        .get("headers")?
        .map(|h| parse_headers(&h, &f.path("headers")))
        .transpose()?
        .unwrap_or_default();
    Ok(Prepared { url, headers })
}
