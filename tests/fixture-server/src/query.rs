//! Query-string parsing and percent-decoding.

/// Decodes `%XX` escapes (and `+` as a space when `plus_as_space`).
pub(crate) fn percent_decode(input: &str, plus_as_space: bool) -> Result<String, String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("invalid percent escape in {input:?}"))?;
                out.push(hex);
                i += 3;
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("{input:?} does not decode to UTF-8"))
}

/// Splits a raw query string into decoded `(key, value)` pairs, in order.
///
/// Empty pieces (`a=1&&b=2`) are skipped; a piece without `=` has an empty value.
pub(crate) fn parse_query(raw: &str) -> Result<Vec<(String, String)>, String> {
    raw.split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            Ok((percent_decode(key, true)?, percent_decode(value, true)?))
        })
        .collect()
}

/// The decoded value of the first `key` in `raw`, skipping pieces that do not decode.
pub(crate) fn lenient_get(raw: &str, key: &str) -> Option<String> {
    raw.split('&').find_map(|piece| {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        match percent_decode(k, true) {
            Ok(k) if k == key => percent_decode(v, true).ok(),
            _ => None,
        }
    })
}

/// `raw` with the value of every `key` piece replaced by `value`; other pieces are
/// kept verbatim and in order.
pub(crate) fn replace_param(raw: &str, key: &str, value: &str) -> String {
    raw.split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let k = piece.split_once('=').map_or(piece, |(k, _)| k);
            if percent_decode(k, true).is_ok_and(|k| k == key) {
                format!("{k}={value}")
            } else {
                piece.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_plus() {
        assert_eq!(percent_decode("a%20b+c", true).unwrap(), "a b c");
        assert_eq!(percent_decode("a+b", false).unwrap(), "a+b");
        assert_eq!(percent_decode("%2C%2c", true).unwrap(), ",,");
        assert!(percent_decode("%2", true).is_err());
        assert!(percent_decode("%zz", true).is_err());
        assert!(percent_decode("%ff", true).is_err());
    }

    #[test]
    fn splits_pairs() {
        assert_eq!(
            parse_query("a=1&&b&c=x%3Dy").unwrap(),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), String::new()),
                ("c".into(), "x=y".into())
            ]
        );
        assert!(parse_query("").unwrap().is_empty());
    }

    #[test]
    fn lenient_lookup_skips_garbage() {
        assert_eq!(
            lenient_get("x=%zz&tag=t%201", "tag").as_deref(),
            Some("t 1")
        );
        assert_eq!(lenient_get("tag=%zz", "tag"), None);
        assert_eq!(lenient_get("", "tag"), None);
    }

    #[test]
    fn replaces_only_the_named_param() {
        assert_eq!(
            replace_param("size=10&redirects=3&tag=a%20b", "redirects", "2"),
            "size=10&redirects=2&tag=a%20b"
        );
    }
}
