//! Names: the default id of a download (from its URL) and the file name it is saved under.

use super::disposition::{disposition_filename, percent_decode_bytes};
use super::error::is_invisible_format;

/// The default id: a stable hash of the absolute URL (FNV-1a, 64 bit), `dl-<16 hex digits>`.
pub fn id_for_url(url: &str) -> String {
    format!("dl-{:016x}", fnv1a(0xcbf2_9ce4_8422_2325, url))
}

/// FNV-1a (64 bit) of `text` from the offset basis `basis`.
fn fnv1a(basis: u64, text: &str) -> u64 {
    let mut h = basis;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The name of a file or directory in the origin's private file system for a download id or
/// a manager name: `i-<text>` when `text` is 1 to 100 ASCII letters, digits, `-` and `_`
/// (readable, and valid in every engine), else `h-` and 32 hex digits of two independent
/// 64-bit hashes of it. The two forms never collide with each other.
pub fn storage_name(text: &str) -> String {
    let plain = (1..=100).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        format!("i-{text}")
    } else {
        format!(
            "h-{:016x}{:016x}",
            fnv1a(0xcbf2_9ce4_8422_2325, text),
            fnv1a(0x8422_2325_cbf2_9ce4, text)
        )
    }
}

/// `%XX` escapes decoded as UTF-8, as `decodeURIComponent` does; `None` for a malformed escape
/// or bytes that are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    String::from_utf8(percent_decode_bytes(s)?).ok()
}

/// The default file name: [`choose_filename`] with neither an option nor a
/// `Content-Disposition` header.
pub fn default_filename(url: &str) -> String {
    choose_filename(None, None, url)
}

/// The name to save under: the first usable one of the caller's `option`, the name the
/// `Content-Disposition` value `disposition` gives, and the last non-empty path segment of
/// `final_url`, percent-decoded, each through [`sanitize_filename`]; else `"download"`.
pub fn choose_filename(option: Option<&str>, disposition: Option<&str>, final_url: &str) -> String {
    option
        .and_then(sanitize_filename)
        .or_else(|| sanitize_filename(&disposition_filename(disposition?)?))
        .or_else(|| {
            let path = final_url.split(['?', '#']).next().unwrap_or("");
            let after_host = path.splitn(4, '/').nth(3).unwrap_or("");
            let seg = after_host.rsplit('/').find(|s| !s.is_empty())?;
            sanitize_filename(&percent_decode(seg).unwrap_or_else(|| seg.to_owned()))
        })
        .unwrap_or_else(|| "download".into())
}

/// The longest name most file systems take, in bytes.
const MAX_NAME_BYTES: usize = 255;
/// The longest extension (dot included) kept when a long name is cut.
const MAX_EXT_BYTES: usize = 16;

/// `name` made safe to offer for saving; `None` when nothing usable is left. Only the last
/// non-empty segment between `/` and `\` is kept; control chars (C0, DEL, C1) and invisible
/// format chars (bidi overrides such as U+202E, marks, isolates, U+FEFF) are removed; the chars
/// Windows refuses (`< > : " | ? *`) become `_`; leading and trailing dots and whitespace are
/// removed (no hidden files, no `.` or `..`); a Windows device name (`CON`, `nul.txt`, ...)
/// gets a leading `_`; a name over 255 bytes is cut on a char boundary, keeping an extension
/// of at most 16 bytes.
pub fn sanitize_filename(name: &str) -> Option<String> {
    let is_sep = |c: &u8| matches!(c, b'/' | b'\\');
    let b = name.as_bytes();
    let end = b.iter().rposition(|c| !is_sep(c))? + 1;
    let start = b.get(..end)?.iter().rposition(is_sep).map_or(0, |p| p + 1);
    let seg = name.get(start..end)?;
    let mut clean = String::with_capacity(seg.len());
    for c in seg.chars() {
        if !c.is_control() && !is_invisible_format(c) {
            clean.push(match c {
                '<' | '>' | ':' | '"' | '|' | '?' | '*' => '_',
                c => c,
            });
        }
    }
    let clean = clean.trim_matches(is_trimmed);
    if clean.is_empty() {
        return None;
    }
    let name = if is_device_name(clean) {
        format!("_{clean}")
    } else {
        clean.to_owned()
    };
    if name.len() <= MAX_NAME_BYTES {
        return Some(name);
    }
    let ext = name
        .bytes()
        .rposition(|b| b == b'.')
        .and_then(|dot| name.get(dot..))
        .filter(|ext| ext.len() <= MAX_EXT_BYTES)
        .unwrap_or("");
    let stem = name.get(..name.len() - ext.len()).unwrap_or("");
    // The first char is kept (it is at most 4 bytes), so the stem is never trimmed to nothing.
    let stem = floor(stem, MAX_NAME_BYTES - ext.len()).trim_end_matches(is_trimmed);
    Some(format!("{stem}{ext}"))
}

/// Chars removed from both ends of a name: dots (hidden files, `..`; Windows drops trailing
/// ones) and whitespace.
fn is_trimmed(c: char) -> bool {
    c == '.' || c.is_whitespace()
}

/// True for a name Windows opens as a device whatever its extension: `CON`, `PRN`, `AUX`, `NUL`,
/// `COM0`-`COM9`, `LPT0`-`LPT9`, and `COM` or `LPT` with `¹`, `²` or `³` (Microsoft, "Naming
/// Files, Paths, and Namespaces"), in any case, with trailing spaces before the first dot.
fn is_device_name(name: &str) -> bool {
    let b = name.as_bytes();
    let stem = b.get(..b.iter().position(|&c| c == b'.').unwrap_or(b.len()));
    let stem = stem.unwrap_or(b).trim_ascii_end();
    let head = [0, 1, 2].map(|i| stem.get(i).map_or(0, u8::to_ascii_uppercase));
    // `¹`, `²` and `³` are U+00B9, U+00B2 and U+00B3.
    matches!(
        (&head, stem.get(3..)),
        (b"CON" | b"PRN" | b"AUX" | b"NUL", Some([]))
            | (
                b"COM" | b"LPT",
                Some([b'0'..=b'9'] | [0xc2, 0xb9 | 0xb2 | 0xb3])
            )
    )
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
fn floor(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn storage_names_are_readable_when_safe_and_hashed_otherwise() {
        assert_eq!(storage_name("dl-00ff"), "i-dl-00ff");
        assert_eq!(storage_name("a_B-9"), "i-a_B-9");
        for odd in ["", "a/b", "..", "x y", "é", "a\\b", &"x".repeat(101)] {
            let n = storage_name(odd);
            assert!(n.starts_with("h-") && n.len() == 34, "{odd:?} -> {n}");
            assert!(n[2..].bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert_ne!(storage_name("a/b"), storage_name("a/c"));
        assert_eq!(storage_name("a/b"), storage_name("a/b"));
    }
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
            // A decoded `/` or `\` separates like any other: only the last segment is kept.
            ("https://h.test/a/x%2Fy", "y"),
            ("https://h.test/a/x%5Cy%00z", "yz"),
            ("https://h.test/a/CON", "_CON"),
            ("https://h.test/a/%2Ebashrc", "bashrc"),
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

    #[test]
    fn sanitize_table() {
        let table: &[(&str, Option<&str>)] = &[
            ("report.pdf", Some("report.pdf")),
            ("€ rates.pdf", Some("€ rates.pdf")),
            ("../../etc/passwd", Some("passwd")),
            ("..\\..\\boot.ini", Some("boot.ini")),
            ("C:\\Windows\\evil.dll", Some("evil.dll")),
            ("dir/", Some("dir")),
            (".bashrc", Some("bashrc")),
            ("...hidden", Some("hidden")),
            ("CON", Some("_CON")),
            ("con", Some("_con")),
            ("nul.txt", Some("_nul.txt")),
            ("COM1.tar.gz", Some("_COM1.tar.gz")),
            ("lpt9", Some("_lpt9")),
            ("COM¹.txt", Some("_COM¹.txt")),
            ("aux .txt", Some("_aux .txt")),
            ("COM10", Some("COM10")),
            ("CONSOLE.txt", Some("CONSOLE.txt")),
            ("nulls.txt", Some("nulls.txt")),
            // Shows as `aexe.jpg` with the override.
            ("a\u{202E}gpj.exe", Some("agpj.exe")),
            ("\u{feff}\u{200e}x\u{2066}y\u{2069}\u{200f}", Some("xy")),
            ("a\0b\nc\r\u{7f}\u{85}d\u{9b}", Some("abcd")),
            ("a<b>c:d\"e|f?g*h", Some("a_b_c_d_e_f_g_h")),
            ("name. . .", Some("name")),
            ("  spaced  ", Some("spaced")),
            ("\u{a0}x\u{3000}", Some("x")),
            ("a\u{2028}b\u{2029}c", Some("abc")),
            ("", None),
            ("/", None),
            (".", None),
            ("..", None),
            ("...", None),
            (" . ", None),
            ("a/..", None),
            ("\u{200e}..", None),
            ("\0\n", None),
        ];
        for (name, want) in table {
            assert_eq!(sanitize_filename(name).as_deref(), *want, "{name:?}");
        }
    }

    #[test]
    fn long_names_are_cut_keeping_the_extension() {
        // 300 bytes of two-byte chars: the stem is cut on a char boundary to fit `.pdf`.
        let long = format!("{}.pdf", "é".repeat(150));
        let want = format!("{}.pdf", "é".repeat(125));
        assert_eq!(sanitize_filename(&long), Some(want));
        // No extension: cut to 255 bytes (85 three-byte chars).
        assert_eq!(sanitize_filename(&"€".repeat(100)), Some("€".repeat(85)));
        // A four-byte char that would straddle the limit is dropped whole.
        let emoji = format!("a{}", "😀".repeat(70));
        assert_eq!(
            sanitize_filename(&emoji),
            Some(format!("a{}", "😀".repeat(63)))
        );
        // An extension over 16 bytes is not one: the name is cut as a whole.
        let long_ext = format!("{}.{}", "a".repeat(250), "x".repeat(20));
        assert_eq!(
            sanitize_filename(&long_ext),
            Some(long_ext[..255].to_owned())
        );
        // Spaces or dots the cut leaves at the end of the stem go.
        let spaced = format!("{}   {}.txt", "a".repeat(248), "x".repeat(50));
        assert_eq!(
            sanitize_filename(&spaced),
            Some(format!("{}.txt", "a".repeat(248)))
        );
    }

    #[test]
    fn choose_order() {
        let url = "https://h.test/files/from-url.bin?sig=1";
        let cd = Some("attachment; filename=\"from-header.bin\"");
        assert_eq!(choose_filename(Some("mine.bin"), cd, url), "mine.bin");
        assert_eq!(choose_filename(Some("../x/mine.bin"), cd, url), "mine.bin");
        assert_eq!(choose_filename(None, cd, url), "from-header.bin");
        // An option or a header name that sanitizes to nothing falls through.
        assert_eq!(choose_filename(Some(".."), cd, url), "from-header.bin");
        assert_eq!(choose_filename(Some(""), None, url), "from-url.bin");
        let dots = Some("attachment; filename=\"../..\"");
        assert_eq!(choose_filename(None, dots, url), "from-url.bin");
        assert_eq!(
            choose_filename(None, Some("attachment"), url),
            "from-url.bin"
        );
        assert_eq!(choose_filename(None, Some("garbage"), url), "from-url.bin");
        assert_eq!(choose_filename(None, None, url), "from-url.bin");
        // The header's name is sanitized too.
        let hostile = Some("attachment; filename*=UTF-8''..%5Cevil%5CCON.txt");
        assert_eq!(choose_filename(None, hostile, url), "_CON.txt");
        assert_eq!(
            choose_filename(Some(" "), Some(""), "https://h.test/"),
            "download"
        );
        assert_eq!(
            choose_filename(None, dots, "https://h.test/%2E%2E"),
            "download"
        );
    }

    /// A Windows device name, checked apart from the code under test.
    fn is_reserved(name: &str) -> bool {
        let stem = name
            .split('.')
            .next()
            .unwrap()
            .trim_end()
            .to_ascii_uppercase();
        ["CON", "PRN", "AUX", "NUL"].contains(&stem.as_str())
            || (1..=9).any(|n| stem == format!("COM{n}") || stem == format!("LPT{n}"))
    }

    /// Arbitrary text, and text made of the chars a sanitizer must handle.
    fn name_like() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-zA-Z0-9é\\u{301}€😀 ./\\\\<>:\"|?*\u{0}\n\u{7f}\u{85}\u{202e}\u{200e}\u{2066}\u{feff}\u{a0}]{0,300}",
            "(con|PRN|aux|Nul|com[0-9]|LPT[1-9])[ .]{0,3}[a-z]{0,4}",
        ]
    }

    proptest! {
        #[test]
        fn sanitized_names_are_safe(name in name_like()) {
            if let Some(s) = sanitize_filename(&name) {
                prop_assert!(!s.is_empty() && s.len() <= 255, "{:?}", s);
                prop_assert!(!s.contains(['/', '\\']), "{:?}", s);
                prop_assert!(!s.chars().any(|c| c.is_control() || is_invisible_format(c)), "{:?}", s);
                prop_assert!(!s.starts_with(['.', ' ']) && !s.ends_with(['.', ' ']), "{:?}", s);
                prop_assert!(!is_reserved(&s), "{:?}", s);
                // Sanitizing is idempotent.
                prop_assert_eq!(sanitize_filename(&s), Some(s.clone()));
            }
        }

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
