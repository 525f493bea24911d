//! The file name a `Content-Disposition` value gives (RFC 6266), with the extended `filename*`
//! parameter (RFC 8187).
//!
//! Lenient where browsers are and the meaning stays plain (any disposition type, a missing
//! type, spaces in an unquoted name); a parameter that cannot be read, or is given twice, is
//! `None`, never a guess. The name is returned as sent: [`super::naming::sanitize_filename`]
//! makes it safe.

/// The file name in a `Content-Disposition` value, decoded but not sanitized; `None` when it
/// names no file, or no readable one.
///
/// The type (`attachment`, `inline` or any other token) may be left out when the value starts
/// with a parameter. Parameter names are case-insensitive. `filename*` (RFC 8187:
/// `charset'language'%-encoded`, charset `UTF-8` or `ISO-8859-1`) wins over `filename`; one
/// that does not decode, or is quoted (RFC 8187 §3.2 forbids that), is ignored. `filename` is a
/// token, a quoted-string, or leniently anything up to the next `;` without `"` or `,` (a comma
/// is how `Headers.get()` joins repeated header lines).
pub fn disposition_filename(value: &str) -> Option<String> {
    let b = value.as_bytes();
    let start = skip_ws(b, 0);
    let after_type = skip_ws(b, token_end(b, start));
    let mut at = match b.get(after_type) {
        // No type: the value starts with a parameter.
        Some(b'=') => start,
        Some(b';') => after_type + 1,
        _ => return None,
    };
    // Per parameter: unseen (`None`), seen once (`Some(Some(name))`), or unusable because
    // malformed, empty or repeated (`Some(None)`).
    let (mut plain, mut ext) = (None, None);
    while at <= b.len() {
        let (param, next) = parameter(value, at);
        at = next;
        let Some((name, v)) = param else { continue };
        let (slot, v) = if name.eq_ignore_ascii_case("filename") {
            // Not %-decoded: RFC 6266 §4.3 and Appendix C.2 say that is not interoperable
            // (Chrome decodes, Firefox does not); `filename*` is the way to send other chars.
            (&mut plain, v.map(|(s, _)| raw_utf8(s)))
        } else if name.eq_ignore_ascii_case("filename*") {
            (&mut ext, v.and_then(|(s, quoted)| ext_value(&s, quoted)))
        } else {
            continue;
        };
        let v = v.filter(|s| !s.is_empty());
        *slot = Some(if slot.is_some() { None } else { v });
    }
    ext.flatten().or(plain.flatten())
}

/// A parameter's name, and its value (`None` when malformed) with whether it was quoted.
type Param<'a> = (&'a str, Option<(String, bool)>);

/// The parameter at `at`, none when it has no name or no `=`, and where the next one starts
/// (past the end when there is none).
fn parameter(s: &str, at: usize) -> (Option<Param<'_>>, usize) {
    let b = s.as_bytes();
    let name_at = skip_ws(b, at);
    let name_end = token_end(b, name_at);
    let eq = skip_ws(b, name_end);
    let name = s.get(name_at..name_end).filter(|n| !n.is_empty());
    let (Some(name), Some(b'=')) = (name, b.get(eq)) else {
        return (None, semicolon(b, eq) + 1);
    };
    let v_at = skip_ws(b, eq + 1);
    if b.get(v_at) == Some(&b'"') {
        let Some((text, end)) = quoted(s, v_at + 1) else {
            return (Some((name, None)), usize::MAX);
        };
        let end = skip_ws(b, end);
        let ok = matches!(b.get(end), None | Some(b';'));
        return (
            Some((name, ok.then_some((text, true)))),
            semicolon(b, end) + 1,
        );
    }
    let v_end = semicolon(b, v_at);
    let text = s.get(v_at..v_end).unwrap_or("").trim_ascii_end();
    let ok = !text.bytes().any(|c| c == b'"' || c == b',');
    (
        Some((name, ok.then(|| (text.to_owned(), false)))),
        v_end + 1,
    )
}

/// The content of the quoted-string whose opening quote is just before `from`, with `\x` read
/// as `x`, and the index after its closing quote; `None` when it is not closed.
fn quoted(s: &str, from: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = s.get(from..)?.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, from + i + 1)),
            '\\' => out.push(chars.next()?.1),
            c => out.push(c),
        }
    }
    None
}

/// An RFC 8187 ext-value decoded; `None` when quoted, not ASCII, of another charset than
/// UTF-8 or ISO-8859-1, with a bad escape, or not UTF-8 when it says so. The language is
/// ignored.
fn ext_value(v: &str, quoted: bool) -> Option<String> {
    if quoted || !v.bytes().all(|c| c.is_ascii_graphic()) {
        return None;
    }
    let (charset, rest) = v.split_once('\'')?;
    let (_language, encoded) = rest.split_once('\'')?;
    let bytes = percent_decode_bytes(encoded)?;
    if charset.eq_ignore_ascii_case("UTF-8") {
        String::from_utf8(bytes).ok()
    } else if charset.eq_ignore_ascii_case("ISO-8859-1") {
        let mut s = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            s.push(char::from(b));
        }
        Some(s)
    } else {
        None
    }
}

/// `Headers.get()` gives a header's bytes one char each (U+0000 to U+00FF). Many servers send a
/// name as raw UTF-8, which browsers accept: when every char is such a byte and the bytes are
/// UTF-8, they are read as UTF-8; otherwise `s` is kept (ISO-8859-1, or already decoded).
fn raw_utf8(s: String) -> String {
    let mut bytes = Vec::with_capacity(s.len());
    for c in s.chars() {
        match u8::try_from(c) {
            Ok(b) => bytes.push(b),
            Err(_) => return s,
        }
    }
    String::from_utf8(bytes).unwrap_or(s)
}

/// The index of the first byte from `i` on that is not a space or tab.
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    i
}

/// The index just after the token (RFC 9110 §5.6.2) starting at `i`; `i` when there is none.
fn token_end(b: &[u8], mut i: usize) -> usize {
    while b
        .get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(c))
    {
        i += 1;
    }
    i
}

/// The index of the first `;` from `i` on, or the length.
fn semicolon(b: &[u8], i: usize) -> usize {
    b.get(i..)
        .and_then(|rest| rest.iter().position(|&c| c == b';'))
        .map_or(b.len(), |p| i + p)
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

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn filename_table() {
        let table = [
            // RFC 6266 Appendix D.
            ("Attachment; filename=example.html", "example.html"),
            ("INLINE; FILENAME= \"an example.html\"", "an example.html"),
            ("attachment; filename*= UTF-8''%e2%82%ac%20rates", "€ rates"),
            (
                "attachment; filename=\"EURO rates\"; filename*=utf-8''%e2%82%ac%20rates",
                "€ rates",
            ),
            // RFC 8187 §3.2.2 examples, as `filename*`.
            ("attachment; filename*=iso-8859-1'en'%A3%20rates", "£ rates"),
            (
                "attachment; filename*=UTF-8''%c2%a3%20and%20%e2%82%ac%20rates",
                "£ and € rates",
            ),
            ("attachment; filename*=UTF-8'de-DE'%C3%A4.txt", "ä.txt"),
            (
                "attachment; filename=\"fallback.bin\"; filename*=UTF-8''%E2%82%AC%20rates.pdf",
                "€ rates.pdf",
            ),
            // `filename*` wins wherever it stands.
            (
                "attachment; filename*=UTF-8''a.txt; filename=b.txt",
                "a.txt",
            ),
            // Any type, or none.
            ("inline; filename=page.html", "page.html"),
            ("x-unknown; filename=x.bin", "x.bin"),
            ("form-data; name=\"f\"; filename=\"up.bin\"", "up.bin"),
            ("filename=no-type.txt", "no-type.txt"),
            ("; filename=x.txt", "x.txt"),
            // Whitespace around `;` and `=`.
            ("attachment ; filename = \"a.txt\" ; size=3", "a.txt"),
            ("attachment;filename=a.txt;size=3", "a.txt"),
            ("\tattachment;\tfilename\t=\ta.txt\t", "a.txt"),
            // Quoted `;`, escapes; other parameters' quoted text is not a parameter.
            ("attachment; filename=\"a;b.txt\"", "a;b.txt"),
            (
                "attachment; filename=\"say \\\"hi\\\" \\\\o.txt\"",
                "say \"hi\" \\o.txt",
            ),
            ("attachment; filename=\"x\\y\"", "xy"),
            (
                "attachment; foo=\"x; filename=evil\"; filename=good.txt",
                "good.txt",
            ),
            ("attachment; filename=\"a,b.txt\"", "a,b.txt"),
            // Lenient unquoted names; a plain `filename` is not %-decoded.
            ("attachment; filename=my file.pdf ; size=3", "my file.pdf"),
            ("attachment; filename=%E2%82%AC.pdf", "%E2%82%AC.pdf"),
            ("attachment; filename=foo[1](2).html", "foo[1](2).html"),
            // Raw UTF-8 bytes as `Headers.get()` gives them; ISO-8859-1 stays as it is.
            ("attachment; filename=\"\u{e2}\u{82}\u{ac}.pdf\"", "€.pdf"),
            ("attachment; filename=\"caf\u{e9}.txt\"", "café.txt"),
            ("attachment; filename=\"€.pdf\"", "€.pdf"),
            // A broken parameter elsewhere does not hide the name.
            ("attachment; junk; filename=x.txt", "x.txt"),
            ("attachment; a=\"b\"c; filename=x.txt", "x.txt"),
            ("attachment; filename=x.txt;", "x.txt"),
        ];
        for (value, name) in table {
            assert_eq!(
                disposition_filename(value).as_deref(),
                Some(name),
                "{value:?}"
            );
        }
    }

    #[test]
    fn undecodable_ext_values_fall_back() {
        let ext_values = [
            "x-bogus''a.txt",
            "UTF-8''%zz.txt",
            "UTF-8''%FF.txt",
            "UTF-8''%E2%82",
            "UTF-8'%41.txt",
            "''a.txt",
            "UTF-8''",
            "UTF-8''a b",
            "UTF-8''\u{e9}",
            "\"UTF-8''quoted.txt\"",
        ];
        for ext in ext_values {
            let value = format!("attachment; filename*={ext}; filename=ok.txt");
            assert_eq!(
                disposition_filename(&value).as_deref(),
                Some("ok.txt"),
                "{value:?}"
            );
            let alone = format!("attachment; filename*={ext}");
            assert_eq!(disposition_filename(&alone), None, "{alone:?}");
        }
    }

    #[test]
    fn malformed_empty_or_ambiguous_values_name_nothing() {
        let values = [
            "",
            "   ",
            "attachment",
            "inline;",
            "attachment; filename",
            "attachment; filename=",
            "attachment; filename=\"\"",
            "attachment; filename=\"unterminated",
            "attachment; filename=\"ends in escape\\\"",
            "attachment; filename=\"x.txt; filename*=UTF-8''y.txt",
            "attachment; filename=\"a\"b",
            "attachment; filename=a\"b",
            "attachment; =x.txt",
            "attachment filename=x.txt",
            "\"attachment\"; filename=x.txt",
            "attachment, inline; filename=x.txt",
            ";;;",
            "attachment; filename=a.txt; filename=b.txt",
            "attachment; filename=\"a.pdf\", attachment; filename=\"b.pdf\"",
            "attachment; filename=a,b.txt",
            "\u{0}\u{ff}=;\"",
        ];
        for value in values {
            assert_eq!(disposition_filename(value), None, "{value:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in any::<String>()) {
            if let Some(name) = disposition_filename(&s) {
                prop_assert!(!name.is_empty());
            }
        }

        #[test]
        fn never_panics_on_near_misses(
            s in "(attachment|inline|)( ?; ?(filename\\*?|FileName|x) ?= ?(\"[^\"]{0,8}\"?|[a-zA-Z0-9%'\\\\\" .,;-]{0,12}))*"
        ) {
            if let Some(name) = disposition_filename(&s) {
                prop_assert!(!name.is_empty());
            }
        }

        #[test]
        fn quoted_names_come_back(name in "[ -~\u{100}-\u{10ffff}]{1,40}") {
            let escaped: String = name
                .chars()
                .flat_map(|c| (c == '"' || c == '\\').then_some('\\').into_iter().chain([c]))
                .collect();
            let value = format!("attachment; filename=\"{escaped}\"");
            prop_assert_eq!(disposition_filename(&value), Some(name));
        }

        #[test]
        fn encoded_names_come_back(name in "\\PC{1,40}") {
            let encoded: String = name.bytes().map(|b| format!("%{b:02X}")).collect();
            let value = format!("attachment; filename=x; filename*=UTF-8''{encoded}");
            prop_assert_eq!(disposition_filename(&value), Some(name));
        }
    }
}
