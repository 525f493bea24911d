//! The `/file` query string, parsed into a typed description of the response.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hyper::header::HeaderValue;

use crate::query;

pub(crate) const DEFAULT_SIZE: u64 = 1024 * 1024;
pub(crate) const DEFAULT_STALL_MS: u64 = 600_000;
/// `gzip=1` compresses the body up front, so it is limited to small resources.
pub(crate) const MAX_GZIP_SIZE: u64 = 64 * 1024 * 1024;
/// `lm=1` dates are `2024-01-01T00:00:00Z + seed` hours and must stay before
/// the year 10000, which HTTP dates cannot express.
pub(crate) const MAX_LM_SEED: u64 = 69_000_000;
const MAX_REDIRECTS: u64 = 1000;

const KNOWN: &[&str] = &[
    "size",
    "seed",
    "tag",
    "change_after",
    "seed2",
    "etag",
    "lm",
    "ranges",
    "ifrange",
    "range_max",
    "ignore_range_after",
    "cr",
    "multipart",
    "throttle",
    "delay_headers_ms",
    "stall_at",
    "stall_ms",
    "stall_times",
    "cut_at",
    "cut_times",
    "status",
    "status_times",
    "retry_after",
    "gzip",
    "chunked",
    "cl",
    "redirects",
    "cors",
    "preflight",
    "corp",
    "expose",
    "disposition",
    "sig",
    "sig_uses",
    "expires",
    "auth_uses",
    "type",
    "redirect_name",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KnobError(pub String);

impl fmt::Display for KnobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KnobError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EtagMode {
    Strong,
    Weak,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IfRangeMode {
    Honour,
    Ignore,
}

/// Ways to corrupt the `Content-Range` header of a 206.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CrMode {
    Missing,
    Garbage,
    Open,
    Unit,
    Backwards,
    Total,
    WrongStart,
}

/// Invalid or wrong `Content-Length` framings, written without hyper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClMode {
    Garbage,
    Conflict,
    Short,
    Long,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expose {
    All,
    None,
    List(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Change {
    pub after: u64,
    pub seed2: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stall {
    pub at: u64,
    pub duration: Duration,
    pub times: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cut {
    pub at: u64,
    pub times: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ForcedStatus {
    pub code: u16,
    pub times: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileKnobs {
    pub size: u64,
    pub seed: u64,
    pub tag: String,
    pub change: Option<Change>,
    pub etag: EtagMode,
    pub last_modified: bool,
    pub ranges: bool,
    pub if_range: IfRangeMode,
    pub range_max: Option<u64>,
    /// Requests served after this many (per tag) ignore Range and get the whole resource.
    pub ignore_range_after: Option<u64>,
    pub cr: Option<CrMode>,
    pub multipart: bool,
    pub throttle: Option<u64>,
    pub delay_headers: Option<Duration>,
    pub stall: Option<Stall>,
    pub cut: Option<Cut>,
    pub status: Option<ForcedStatus>,
    pub retry_after: Option<String>,
    pub gzip: bool,
    pub chunked: bool,
    pub cl: Option<ClMode>,
    pub redirects: u64,
    pub cors: bool,
    /// `Cross-Origin-Resource-Policy: cross-origin` on every response.
    pub corp: bool,
    pub expose: Expose,
    pub disposition: Option<String>,
    /// A signed URL: the `sig` value of the request (required when `sig_uses` is set).
    pub sig: Option<String>,
    /// Each distinct `sig` of the tag is valid for this many requests; later ones get 403.
    pub sig_uses: Option<u64>,
    /// Requests after this wall-clock time (ms since the Unix epoch) get 403.
    pub expires: Option<u64>,
    /// Each distinct `Authorization` value of the tag is valid for this many requests; later
    /// ones, and requests without one, get 401.
    pub auth_uses: Option<u64>,
    /// The `Content-Type` of the resource.
    pub content_type: Option<String>,
    /// Redirects go to `/file/<name>` instead of `/file`.
    pub redirect_name: Option<String>,
}

impl Default for FileKnobs {
    fn default() -> Self {
        FileKnobs {
            size: DEFAULT_SIZE,
            seed: 1,
            tag: String::new(),
            change: None,
            etag: EtagMode::Strong,
            last_modified: false,
            ranges: true,
            if_range: IfRangeMode::Honour,
            range_max: None,
            ignore_range_after: None,
            cr: None,
            multipart: false,
            throttle: None,
            delay_headers: None,
            stall: None,
            cut: None,
            status: None,
            retry_after: None,
            gzip: false,
            chunked: false,
            cl: None,
            redirects: 0,
            cors: true,
            corp: true,
            expose: Expose::All,
            disposition: None,
            sig: None,
            sig_uses: None,
            expires: None,
            auth_uses: None,
            content_type: None,
            redirect_name: None,
        }
    }
}

impl FileKnobs {
    /// Parses a raw (still percent-encoded) query string.
    ///
    /// Unknown parameters are rejected so that a misspelt knob fails loudly;
    /// parameters whose name starts with `_` are ignored (cache busters).
    pub(crate) fn parse(raw: &str) -> Result<Self, KnobError> {
        let mut p = Params::new(raw)?;
        let d = FileKnobs::default();

        let size = p.u64("size")?.unwrap_or(d.size);
        let seed = p.u64("seed")?.unwrap_or(d.seed);
        let tag = p.take("tag").unwrap_or_default();

        let change = match (p.u64("change_after")?, p.u64("seed2")?) {
            (Some(after), Some(seed2)) => Some(Change { after, seed2 }),
            (None, None) => None,
            _ => return Err(err("change_after and seed2 must be given together")),
        };

        let etag = p
            .choice(
                "etag",
                &[
                    ("strong", EtagMode::Strong),
                    ("weak", EtagMode::Weak),
                    ("none", EtagMode::None),
                ],
            )?
            .unwrap_or(d.etag);
        let last_modified = p.flag("lm")?.unwrap_or(d.last_modified);
        let ranges = p.flag("ranges")?.unwrap_or(d.ranges);
        let if_range = p
            .choice(
                "ifrange",
                &[
                    ("honour", IfRangeMode::Honour),
                    ("honor", IfRangeMode::Honour),
                    ("ignore", IfRangeMode::Ignore),
                ],
            )?
            .unwrap_or(d.if_range);
        let range_max = p.positive("range_max")?;
        let ignore_range_after = p.u64("ignore_range_after")?;
        let cr = p.choice(
            "cr",
            &[
                ("missing", CrMode::Missing),
                ("garbage", CrMode::Garbage),
                ("open", CrMode::Open),
                ("unit", CrMode::Unit),
                ("backwards", CrMode::Backwards),
                ("total", CrMode::Total),
                ("wrongstart", CrMode::WrongStart),
            ],
        )?;
        let multipart = p.flag("multipart")?.unwrap_or(d.multipart);
        let throttle = p.positive("throttle")?;
        let delay_headers = p.u64("delay_headers_ms")?.map(Duration::from_millis);

        let stall_at = p.u64("stall_at")?;
        let stall_ms = p.u64("stall_ms")?;
        let stall_times = p.u64("stall_times")?;
        let stall = match stall_at {
            Some(at) => Some(Stall {
                at,
                duration: Duration::from_millis(stall_ms.unwrap_or(DEFAULT_STALL_MS)),
                times: stall_times,
            }),
            None if stall_ms.is_some() || stall_times.is_some() => {
                return Err(err("stall_ms and stall_times need stall_at"))
            }
            None => None,
        };

        let cut_at = p.u64("cut_at")?;
        let cut_times = p.u64("cut_times")?;
        let cut = match cut_at {
            Some(at) => Some(Cut {
                at,
                times: cut_times,
            }),
            None if cut_times.is_some() => return Err(err("cut_times needs cut_at")),
            None => None,
        };

        let status_code = p.u64("status")?;
        let status_times = p.u64("status_times")?;
        let status = match status_code {
            Some(code @ 200..=599) => Some(ForcedStatus {
                code: code as u16,
                times: status_times,
            }),
            Some(code) => {
                return Err(err(format!(
                    "status must be between 200 and 599, got {code}"
                )))
            }
            None if status_times.is_some() => return Err(err("status_times needs status")),
            None => None,
        };

        let retry_after = p.header_value("retry_after")?;
        let gzip = p.flag("gzip")?.unwrap_or(d.gzip);
        let chunked = p.flag("chunked")?.unwrap_or(d.chunked);
        let cl = p.choice(
            "cl",
            &[
                ("garbage", ClMode::Garbage),
                ("conflict", ClMode::Conflict),
                ("short", ClMode::Short),
                ("long", ClMode::Long),
            ],
        )?;
        let redirects = p.u64("redirects")?.unwrap_or(d.redirects);
        let cors = p.flag("cors")?.unwrap_or(d.cors);
        p.flag("preflight")?;
        let corp = p.flag("corp")?.unwrap_or(d.corp);
        let expose = match p.header_value("expose")? {
            None => d.expose,
            Some(v) if v == "all" => Expose::All,
            Some(v) if v == "none" => Expose::None,
            Some(v) => Expose::List(v),
        };
        let disposition = p.header_value("disposition")?;
        let sig = p.take("sig");
        let sig_uses = p.positive("sig_uses")?;
        let expires = p.u64("expires")?;
        let auth_uses = p.positive("auth_uses")?;
        let content_type = p.header_value("type")?;
        let redirect_name = p.take("redirect_name");
        if redirect_name.as_deref().is_some_and(|n| {
            n.is_empty()
                || !n
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._- ".contains(&b))
        }) {
            return Err(err(
                "redirect_name must be letters, digits, spaces, '.', '_' or '-'",
            ));
        }

        if gzip && size > MAX_GZIP_SIZE {
            return Err(err(format!(
                "gzip=1 is limited to size <= {MAX_GZIP_SIZE} (the body is compressed up front)"
            )));
        }
        if cl.is_some() && chunked {
            return Err(err("cl and chunked=1 cannot be combined"));
        }
        if redirects > MAX_REDIRECTS {
            return Err(err(format!("redirects must be <= {MAX_REDIRECTS}")));
        }
        if last_modified {
            let too_large = seed > MAX_LM_SEED || change.is_some_and(|c| c.seed2 > MAX_LM_SEED);
            if too_large {
                return Err(err(format!(
                    "lm=1 needs seed and seed2 <= {MAX_LM_SEED} (the date must be before year 10000)"
                )));
            }
        }

        Ok(FileKnobs {
            size,
            seed,
            tag,
            change,
            etag,
            last_modified,
            ranges,
            if_range,
            range_max,
            ignore_range_after,
            cr,
            multipart,
            throttle,
            delay_headers,
            stall,
            cut,
            status,
            retry_after,
            gzip,
            chunked,
            cl,
            redirects,
            cors,
            corp,
            expose,
            disposition,
            sig,
            sig_uses,
            expires,
            auth_uses,
            content_type,
            redirect_name,
        })
    }
}

/// The tag of a query string that may not parse, for the request log.
pub(crate) fn lenient_tag(raw: &str) -> String {
    query::lenient_get(raw, "tag").unwrap_or_default()
}

/// Whether CORS headers are wanted, for responses to queries that may not parse.
pub(crate) fn lenient_cors(raw: &str) -> bool {
    query::lenient_get(raw, "cors").as_deref() != Some("0")
}

/// Whether a preflight is answered with CORS headers (`preflight=0`: it is not, while other
/// requests are, as a server that does not allow the request's headers).
pub(crate) fn lenient_preflight(raw: &str) -> bool {
    lenient_cors(raw) && query::lenient_get(raw, "preflight").as_deref() != Some("0")
}

fn err(msg: impl Into<String>) -> KnobError {
    KnobError(msg.into())
}

struct Params(BTreeMap<String, String>);

impl Params {
    fn new(raw: &str) -> Result<Self, KnobError> {
        let mut map = BTreeMap::new();
        for (key, value) in query::parse_query(raw).map_err(KnobError)? {
            if key.starts_with('_') {
                continue;
            }
            if !KNOWN.contains(&key.as_str()) {
                return Err(err(format!("unknown parameter {key:?}")));
            }
            if map.contains_key(&key) {
                return Err(err(format!("parameter {key:?} given more than once")));
            }
            map.insert(key, value);
        }
        Ok(Params(map))
    }

    fn take(&mut self, key: &str) -> Option<String> {
        self.0.remove(key)
    }

    fn u64(&mut self, key: &str) -> Result<Option<u64>, KnobError> {
        self.take(key)
            .map(|v| {
                let digits = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
                digits
                    .then(|| v.parse::<u64>().ok())
                    .flatten()
                    .ok_or_else(|| {
                        err(format!(
                            "{key} must be an unsigned 64-bit integer, got {v:?}"
                        ))
                    })
            })
            .transpose()
    }

    fn positive(&mut self, key: &str) -> Result<Option<u64>, KnobError> {
        match self.u64(key)? {
            Some(0) => Err(err(format!("{key} must be at least 1"))),
            other => Ok(other),
        }
    }

    fn flag(&mut self, key: &str) -> Result<Option<bool>, KnobError> {
        self.choice(key, &[("1", true), ("0", false)])
    }

    fn choice<T: Copy>(
        &mut self,
        key: &str,
        options: &[(&str, T)],
    ) -> Result<Option<T>, KnobError> {
        self.take(key)
            .map(|v| {
                options
                    .iter()
                    .find(|(name, _)| *name == v)
                    .map(|(_, value)| *value)
                    .ok_or_else(|| {
                        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                        err(format!(
                            "{key} must be one of {}, got {v:?}",
                            names.join("|")
                        ))
                    })
            })
            .transpose()
    }

    fn header_value(&mut self, key: &str) -> Result<Option<String>, KnobError> {
        self.take(key)
            .map(|v| match HeaderValue::from_str(&v) {
                Ok(_) => Ok(v),
                Err(_) => Err(err(format!("{key} is not a valid header value: {v:?}"))),
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_query_gives_defaults() {
        assert_eq!(FileKnobs::parse("").unwrap(), FileKnobs::default());
    }

    #[test]
    fn parses_every_knob() {
        let k = FileKnobs::parse(
            "size=100&seed=7&tag=t%201&change_after=2&seed2=9&etag=weak&lm=1&ranges=0\
             &ifrange=ignore&range_max=10&cr=wrongstart&multipart=1&throttle=1000\
             &delay_headers_ms=5&stall_at=50&stall_ms=20&stall_times=1&cut_at=60&cut_times=2\
             &status=503&status_times=3&retry_after=7&gzip=1&cl=short&redirects=2&cors=0\
             &expose=ETag%2C%20Content-Range&disposition=attachment&_=123",
        )
        .unwrap();
        assert_eq!(k.size, 100);
        assert_eq!(k.seed, 7);
        assert_eq!(k.tag, "t 1");
        assert_eq!(k.change, Some(Change { after: 2, seed2: 9 }));
        assert_eq!(k.etag, EtagMode::Weak);
        assert!(k.last_modified);
        assert!(!k.ranges);
        assert_eq!(k.if_range, IfRangeMode::Ignore);
        assert_eq!(k.range_max, Some(10));
        assert_eq!(k.cr, Some(CrMode::WrongStart));
        assert!(k.multipart);
        assert_eq!(k.throttle, Some(1000));
        assert_eq!(k.delay_headers, Some(Duration::from_millis(5)));
        assert_eq!(
            k.stall,
            Some(Stall {
                at: 50,
                duration: Duration::from_millis(20),
                times: Some(1)
            })
        );
        assert_eq!(
            k.cut,
            Some(Cut {
                at: 60,
                times: Some(2)
            })
        );
        assert_eq!(
            k.status,
            Some(ForcedStatus {
                code: 503,
                times: Some(3)
            })
        );
        assert_eq!(k.retry_after.as_deref(), Some("7"));
        assert!(k.gzip);
        assert_eq!(k.cl, Some(ClMode::Short));
        assert_eq!(k.redirects, 2);
        assert!(!k.cors);
        assert_eq!(k.expose, Expose::List("ETag, Content-Range".into()));
        assert_eq!(k.disposition.as_deref(), Some("attachment"));
    }

    #[test]
    fn stall_ms_defaults_to_ten_minutes() {
        let k = FileKnobs::parse("stall_at=5").unwrap();
        assert_eq!(k.stall.unwrap().duration, Duration::from_secs(600));
        assert_eq!(k.stall.unwrap().times, None);
    }

    #[test]
    fn expose_keywords() {
        assert_eq!(
            FileKnobs::parse("expose=none").unwrap().expose,
            Expose::None
        );
        assert_eq!(FileKnobs::parse("expose=all").unwrap().expose, Expose::All);
    }

    #[test]
    fn rejects_bad_values() {
        for q in [
            "size=abc",
            "size=-1",
            "size=+1",
            "size=",
            "size=18446744073709551616",
            "seed=1.5",
            "etag=medium",
            "lm=yes",
            "ranges=2",
            "ifrange=maybe",
            "range_max=0",
            "throttle=0",
            "cr=bogus",
            "cl=bogus",
            "status=99",
            "status=600",
            "status=abc",
            "change_after=1",
            "seed2=3",
            "stall_ms=5",
            "stall_times=1",
            "cut_times=1",
            "status_times=1",
            "gzip=1&size=999999999",
            "cl=short&chunked=1",
            "redirects=5000",
            "lm=1&seed=100000000",
            "retry_after=a%0Ab",
            "bogus=1",
            "size=1&size=2",
            "tag=%zz",
        ] {
            let e = FileKnobs::parse(q).expect_err(q);
            assert!(!e.0.is_empty());
        }
    }

    #[test]
    fn lenient_lookups() {
        assert_eq!(lenient_tag("size=abc&tag=x"), "x");
        assert_eq!(lenient_tag("size=abc"), "");
        assert!(!lenient_cors("cors=0&size=abc"));
        assert!(lenient_cors("size=abc"));
        assert!(!lenient_preflight("preflight=0&size=1"));
        assert!(!lenient_preflight("cors=0"));
        assert!(lenient_preflight("size=1"));
        assert!(FileKnobs::parse("size=1&preflight=0").is_ok());
        assert!(FileKnobs::parse("size=1&preflight=x").is_err());
    }
}
