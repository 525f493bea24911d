//! Names: the default id of a download (from its URL) and the default file name.

/// The default id: a stable hash of the absolute URL (FNV-1a, 64 bit), `dl-<16 hex digits>`.
pub fn id_for_url(url: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in url.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("dl-{h:016x}")
}

/// `%XX` escapes decoded as UTF-8, as `decodeURIComponent` does; `None` for a malformed escape
/// or bytes that are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    String::from_utf8(percent_decode_bytes(s)?).ok()
}

/// `%XX` escapes decoded to bytes, other bytes kept; `None` for a malformed escape.
pub(crate) fn percent_decode_bytes(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// The last non-empty path segment of an absolute `url`, percent-decoded, without control
/// characters or path separators; `"download"` when nothing usable is left.
pub fn default_filename(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let after_host = path.splitn(4, '/').nth(3).unwrap_or("");
    let seg = after_host.rsplit('/').find(|s| !s.is_empty()).unwrap_or("");
    let decoded = percent_decode(seg).unwrap_or_else(|| seg.to_owned());
    let clean: String = decoded
        .chars()
        .filter(|c| !c.is_control() && !"/\\".contains(*c))
        .collect();
    let clean = clean.trim();
    if clean.is_empty() || clean == "." || clean == ".." {
        "download".into()
    } else {
        clean.to_owned()
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(
            id_for_url("https://a.test/x"),
            id_for_url("https://a.test/x")
        );
        assert_ne!(
            id_for_url("https://a.test/x"),
            id_for_url("https://a.test/y")
        );
        // FNV-1a of the empty string is its offset basis.
        assert_eq!(id_for_url(""), "dl-cbf29ce484222325");
        assert_eq!(id_for_url("a"), "dl-af63dc4c8601ec8c");
    }

    #[test]
    fn filename_table() {
        let table = [
            ("https://h.test/files/model.bin", "model.bin"),
            ("https://h.test/files/model.bin?sig=1#frag", "model.bin"),
            ("https://h.test/files/dir/", "dir"),
            ("https://h.test/", "download"),
            ("https://h.test", "download"),
            ("https://h.test/a/%E2%82%AC%20rates.pdf", "€ rates.pdf"),
            ("https://h.test/a/..", "download"),
            ("https://h.test/a/%2E%2E", "download"),
            ("https://h.test/a/x%2Fy", "xy"),
            ("https://h.test/a/x%5Cy%00z", "xyz"),
            ("https://h.test/a/bad%zzname", "bad%zzname"),
            ("https://h.test/a/%FF", "%FF"),
            ("https://h.test/a/%20%20", "download"),
        ];
        for (url, name) in table {
            assert_eq!(default_filename(url), name, "{url}");
        }
    }

    #[test]
    fn percent_decode_table() {
        assert_eq!(percent_decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(percent_decode("%e2%82%ac").as_deref(), Some("€"));
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%C3"), None);
        assert_eq!(percent_decode("plain").as_deref(), Some("plain"));
    }

    proptest! {
        #[test]
        fn filenames_are_never_paths(url in "https://h\\.test/[a-zA-Z0-9%/._\\\\-]{0,40}") {
            let name = default_filename(&url);
            prop_assert!(!name.is_empty());
            prop_assert!(!name.contains('/') && !name.contains('\\'));
            prop_assert!(name != "." && name != "..");
            prop_assert!(!name.chars().any(char::is_control));
        }
    }
}
