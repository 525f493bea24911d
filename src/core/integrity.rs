//! Download integrity: the caller's Subresource Integrity value and the SHA-256 that checks it.
//!
//! This module owns:
//! - [`parse_integrity`]: parses `options.integrity` (an SRI string restricted to SHA-256)
//!   into an [`Integrity`];
//! - [`Sha256State`]: an incremental SHA-256 whose state can be saved with the download and
//!   restored after a reload, so a resumed download never has to re-read stored bytes;
//! - [`verify`]: compares the final digest with the expected one;
//! - [`base64_encode`] and [`base64_decode`]: strict, padded, standard-alphabet base64.
//!
//! The SHA-256 block function comes from `sha2::compress256`; buffering, padding and the
//! persisted format are defined here.

use super::error::{DownloadError, ErrorCode};
use sha2::digest::generic_array::GenericArray;

/// The option name used in `INVALID_ARGUMENT` messages.
const FIELD: &str = "options.integrity";

/// The length of a SHA-256 digest in bytes.
const SHA256_LEN: usize = 32;

// ---------------------------------------------------------------------------------------------
// Base64
// ---------------------------------------------------------------------------------------------

/// The standard base64 alphabet (RFC 4648, section 4).
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Marks a byte that is not in [`ALPHABET`] in [`DECODE`].
const INVALID: u8 = 0xFF;

/// Maps an ASCII byte to its 6-bit value, or [`INVALID`].
const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Encodes `bytes` as standard base64 with `=` padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    let mut chunks = bytes.chunks_exact(3);
    for chunk in &mut chunks {
        let n = u32::from(chunk[0]) << 16 | u32::from(chunk[1]) << 8 | u32::from(chunk[2]);
        out.push(char::from(ALPHABET[(n >> 18) as usize & 63]));
        out.push(char::from(ALPHABET[(n >> 12) as usize & 63]));
        out.push(char::from(ALPHABET[(n >> 6) as usize & 63]));
        out.push(char::from(ALPHABET[n as usize & 63]));
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.push(char::from(ALPHABET[(n >> 18) as usize & 63]));
            out.push(char::from(ALPHABET[(n >> 12) as usize & 63]));
            out.push_str("==");
        }
        [a, b] => {
            let n = u32::from(a) << 16 | u32::from(b) << 8;
            out.push(char::from(ALPHABET[(n >> 18) as usize & 63]));
            out.push(char::from(ALPHABET[(n >> 12) as usize & 63]));
            out.push(char::from(ALPHABET[(n >> 6) as usize & 63]));
            out.push('=');
        }
        _ => {}
    }
    out
}

/// Decodes strict standard base64: the length must be a multiple of 4, every character must be
/// in the standard alphabet, `=` may only pad the last group (at most two), and the unused
/// bits before the padding must be zero, so every byte string has exactly one accepted
/// encoding. No whitespace is allowed.
///
/// The error is a short reason suitable for a message.
pub fn base64_decode(text: &str) -> Result<Vec<u8>, &'static str> {
    let input = text.as_bytes();
    if input.len() % 4 != 0 {
        return Err("its length is not a multiple of 4 (is the `=` padding missing?)");
    }
    let padding = input
        .iter()
        .rev()
        .take(2)
        .take_while(|&&c| c == b'=')
        .count();
    let body = &input[..input.len() - padding];
    if body.contains(&b'=') {
        return Err("`=` padding appears before the end");
    }
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut groups = body.chunks_exact(4);
    for group in &mut groups {
        let n = sextet(group[0])? << 18
            | sextet(group[1])? << 12
            | sextet(group[2])? << 6
            | sextet(group[3])?;
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    match *groups.remainder() {
        [] => {}
        [a, b] => {
            let n = sextet(a)? << 18 | sextet(b)? << 12;
            if n & 0xFFFF != 0 {
                return Err("the bits before the `=` padding are not zero");
            }
            out.push((n >> 16) as u8);
        }
        [a, b, c] => {
            let n = sextet(a)? << 18 | sextet(b)? << 12 | sextet(c)? << 6;
            if n & 0xFF != 0 {
                return Err("the bits before the `=` padding are not zero");
            }
            out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8]);
        }
        // One character before the padding cannot encode a byte.
        _ => return Err("`=` padding is malformed"),
    }
    Ok(out)
}

/// The 6-bit value of one base64 character.
fn sextet(c: u8) -> Result<u32, &'static str> {
    match DECODE[usize::from(c)] {
        INVALID => Err("it contains a character outside the base64 alphabet"),
        v => Ok(u32::from(v)),
    }
}

// ---------------------------------------------------------------------------------------------
// Subresource Integrity
// ---------------------------------------------------------------------------------------------

/// An expected SHA-256 digest, parsed from a Subresource Integrity string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Integrity {
    /// The expected SHA-256 of the whole body.
    pub digest: [u8; 32],
}

impl Integrity {
    /// The SRI form, `sha256-<base64>`.
    pub fn to_sri(&self) -> String {
        format!("sha256-{}", base64_encode(&self.digest))
    }
}

/// Parses `options.integrity`, a Subresource Integrity value with a SHA-256 hash:
/// `sha256-<base64>`, where the base64 is standard and padded and decodes to 32 bytes.
///
/// - Surrounding ASCII whitespace is ignored.
/// - An SRI `?options` suffix after the base64 is allowed and ignored.
/// - Algorithm names match ASCII case-insensitively, as in SRI.
/// - Several whitespace-separated tokens are accepted when at least one is a valid `sha256`
///   token and every other token is a well-formed `sha384-` or `sha512-` token (checked for
///   form and length, then ignored: only SHA-256 is computed). Repeated `sha256` tokens must
///   name the same digest.
///
/// Anything else (an empty value, an unknown algorithm, bad base64, a wrong digest length) is
/// rejected with `INVALID_ARGUMENT` naming `options.integrity`.
pub fn parse_integrity(value: &str) -> Result<Integrity, DownloadError> {
    let mut found: Option<[u8; SHA256_LEN]> = None;
    let mut tokens = 0usize;
    for token in value.split_ascii_whitespace() {
        tokens += 1;
        let (algorithm, digest) = parse_token(token)?;
        if algorithm != Algorithm::Sha256 {
            continue;
        }
        // Not `try_into().expect(..)`: its panic message would format the Vec with `Debug`.
        let Ok(digest) = <[u8; SHA256_LEN]>::try_from(digest.as_slice()) else {
            unreachable!("parse_token checks the digest length");
        };
        match found {
            Some(previous) if previous != digest => {
                return Err(DownloadError::invalid(
                    FIELD,
                    "has two different sha256 values; give exactly one expected SHA-256",
                ));
            }
            _ => found = Some(digest),
        }
    }
    if tokens == 0 {
        return Err(DownloadError::invalid(
            FIELD,
            "is empty; expected \"sha256-<base64>\"",
        ));
    }
    match found {
        Some(digest) => Ok(Integrity { digest }),
        None => Err(DownloadError::invalid(
            FIELD,
            "has no sha256 value; only SHA-256 is verified, so give \"sha256-<base64>\"",
        )),
    }
}

/// The SRI hash algorithms that are recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Algorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl Algorithm {
    /// Matches an SRI algorithm token, ASCII case-insensitively.
    fn from_name(name: &str) -> Option<Self> {
        [Algorithm::Sha256, Algorithm::Sha384, Algorithm::Sha512]
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// The canonical (lowercase) name.
    fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha384 => "sha384",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// The digest length in bytes.
    fn digest_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha384 => 48,
            Algorithm::Sha512 => 64,
        }
    }
}

/// Parses one `<alg>-<base64>[?options]` token into its algorithm and decoded digest.
fn parse_token(token: &str) -> Result<(Algorithm, Vec<u8>), DownloadError> {
    let Some((name, rest)) = token.split_once('-') else {
        return Err(DownloadError::invalid(
            FIELD,
            format!(
                "\"{}\" is not of the form \"sha256-<base64>\"",
                excerpt(token)
            ),
        ));
    };
    let Some(algorithm) = Algorithm::from_name(name) else {
        return Err(DownloadError::invalid(
            FIELD,
            format!(
                "unsupported hash algorithm \"{}\"; use sha256 (sha384 and sha512 values are \
                 accepted alongside a sha256 value but not verified)",
                excerpt(name)
            ),
        ));
    };
    // SRI allows `?options` after the value; none are defined, so they are ignored.
    let encoded = rest
        .split_once('?')
        .map_or(rest, |(encoded, _options)| encoded);
    let digest = base64_decode(encoded).map_err(|reason| {
        DownloadError::invalid(
            FIELD,
            format!(
                "the {} value is not valid padded base64: {reason}",
                algorithm.name()
            ),
        )
    })?;
    if digest.len() != algorithm.digest_len() {
        return Err(DownloadError::invalid(
            FIELD,
            format!(
                "the {} value decodes to {} bytes; a {} digest is {} bytes",
                algorithm.name(),
                digest.len(),
                algorithm.name(),
                algorithm.digest_len()
            ),
        ));
    }
    Ok((algorithm, digest))
}

/// At most the first 64 characters of caller input, for quoting in a message.
fn excerpt(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        // `get` rather than indexing, whose (unreachable) panic formats with `Debug`.
        Some((end, _)) => format!("{}...", text.get(..end).unwrap_or(text)),
        None => text.to_owned(),
    }
}

/// Checks the final digest against the expected one.
///
/// A mismatch is an `INTEGRITY` error naming both values in SRI form.
pub fn verify(expected: &Integrity, actual: &[u8; 32]) -> Result<(), DownloadError> {
    if expected.digest == *actual {
        Ok(())
    } else {
        Err(DownloadError::new(
            ErrorCode::Integrity,
            format!(
                "SHA-256 mismatch: expected sha256-{}, got sha256-{}",
                base64_encode(&expected.digest),
                base64_encode(actual)
            ),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Incremental SHA-256
// ---------------------------------------------------------------------------------------------

/// The SHA-256 initial hash value (FIPS 180-4, section 5.3.3).
const H0: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// The SHA-256 block size in bytes.
const BLOCK: usize = 64;

/// The format version written by [`Sha256State::to_bytes`].
const FORMAT_VERSION: u8 = 1;

/// The serialized size without the pending bytes: version, 8 state words, length.
const HEADER_LEN: usize = 1 + 8 * 4 + 8;

/// An incremental SHA-256 whose progress can be saved ([`Sha256State::to_bytes`]) and
/// restored ([`Sha256State::from_bytes`]), so hashing can continue where a previous session
/// stopped.
///
/// Whole 64-byte blocks are hashed straight from the input; only a partial trailing block is
/// buffered.
#[derive(Clone, Debug)]
pub struct Sha256State {
    /// The chaining value after every complete block hashed so far.
    state: [u32; 8],
    /// Bytes hashed so far, including the pending ones.
    len: u64,
    /// The pending partial block: its first `len % 64` bytes are meaningful.
    buf: [u8; BLOCK],
}

impl Default for Sha256State {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha256State {
    /// The state of an empty message.
    pub fn new() -> Self {
        Sha256State {
            state: H0,
            len: 0,
            buf: [0; BLOCK],
        }
    }

    /// The number of bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when no byte has been hashed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The number of meaningful bytes in the pending buffer.
    fn pending(&self) -> usize {
        (self.len % BLOCK as u64) as usize
    }

    /// Hashes `data` after the bytes already hashed.
    pub fn update(&mut self, mut data: &[u8]) {
        let pending = self.pending();
        self.len = self.len.wrapping_add(data.len() as u64);
        if pending > 0 {
            let take = (BLOCK - pending).min(data.len());
            self.buf[pending..pending + take].copy_from_slice(&data[..take]);
            data = &data[take..];
            if pending + take < BLOCK {
                return;
            }
            let block = self.buf;
            compress(&mut self.state, &block);
        }
        let whole = data.len() - data.len() % BLOCK;
        let (blocks, tail) = data.split_at(whole);
        for block in blocks.chunks_exact(BLOCK) {
            compress(&mut self.state, block);
        }
        self.buf[..tail.len()].copy_from_slice(tail);
    }

    /// The SHA-256 of everything hashed so far. The state is left unchanged, so hashing can
    /// continue afterwards.
    pub fn finalize(&self) -> [u8; 32] {
        let mut state = self.state;
        let pending = self.pending();
        let mut block = [0u8; BLOCK];
        block[..pending].copy_from_slice(&self.buf[..pending]);
        block[pending] = 0x80;
        if pending >= BLOCK - 8 {
            compress(&mut state, &block);
            block = [0; BLOCK];
        }
        // The message length in bits, modulo 2^64 as the standard specifies.
        block[BLOCK - 8..].copy_from_slice(&self.len.wrapping_mul(8).to_be_bytes());
        compress(&mut state, &block);
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    /// Serializes the state: a format version byte (1), the 8 state words big-endian, the
    /// byte length as a big-endian `u64`, then the `len % 64` pending bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let pending = self.pending();
        let mut out = Vec::with_capacity(HEADER_LEN + pending);
        out.push(FORMAT_VERSION);
        for word in self.state {
            out.extend_from_slice(&word.to_be_bytes());
        }
        out.extend_from_slice(&self.len.to_be_bytes());
        out.extend_from_slice(&self.buf[..pending]);
        out
    }

    /// Restores a state written by [`Sha256State::to_bytes`]. Returns `None` for an unknown
    /// version, a truncated or over-long input, or a pending-byte count that disagrees with
    /// the length.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (&version, rest) = bytes.split_first()?;
        if version != FORMAT_VERSION || bytes.len() < HEADER_LEN {
            return None;
        }
        let (words, rest) = rest.split_at(8 * 4);
        let (len, tail) = rest.split_at(8);
        let len = u64::from_be_bytes(len.try_into().ok()?);
        if tail.len() as u64 != len % BLOCK as u64 {
            return None;
        }
        let mut state = [0u32; 8];
        for (word, chunk) in state.iter_mut().zip(words.chunks_exact(4)) {
            *word = u32::from_be_bytes(chunk.try_into().ok()?);
        }
        let mut buf = [0u8; BLOCK];
        buf[..tail.len()].copy_from_slice(tail);
        Some(Sha256State { state, len, buf })
    }
}

/// Runs the SHA-256 compression function on one 64-byte block.
fn compress(state: &mut [u32; 8], block: &[u8]) {
    sha2::compress256(state, std::slice::from_ref(GenericArray::from_slice(block)));
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha2::Digest;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn sha256(data: &[u8]) -> [u8; 32] {
        sha2::Sha256::digest(data).into()
    }

    fn assert_invalid(value: &str, needle: &str) {
        let err = parse_integrity(value).expect_err(value);
        assert_eq!(err.code, ErrorCode::InvalidArgument, "{value}");
        assert!(
            err.message.starts_with("options.integrity: "),
            "{value}: {}",
            err.message
        );
        assert!(
            err.message.contains(needle),
            "{value}: {:?} lacks {needle:?}",
            err.message
        );
    }

    // --- base64 ---

    #[test]
    fn base64_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64_encode(plain.as_bytes()), encoded);
            assert_eq!(base64_decode(encoded).unwrap(), plain.as_bytes());
        }
        assert_eq!(base64_encode(&[0xFB, 0xFF]), "+/8=");
        assert_eq!(base64_decode("+/8=").unwrap(), [0xFB, 0xFF]);
    }

    #[test]
    fn base64_decoder_is_strict() {
        for bad in [
            "Zg",       // missing padding
            "Zg=",      // short padding
            "Zm8",      // missing padding
            "Zh==",     // non-zero trailing bits
            "Zm9=",     // non-zero trailing bits
            "Z===",     // three padding characters
            "====",     // padding only
            "=Zg=",     // padding first
            "Zg==Zg==", // padding in the middle
            "Zm9v\n",   // whitespace
            " Zm9v",    // whitespace
            "Zm-_",     // URL-safe alphabet
            "Zm9v Zm9", // inner space
            "Zé==",     // non-ASCII
        ] {
            assert!(base64_decode(bad).is_err(), "{bad:?} was accepted");
        }
    }

    proptest! {
        #[test]
        fn base64_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let encoded = base64_encode(&bytes);
            prop_assert_eq!(encoded.len(), bytes.len().div_ceil(3) * 4);
            prop_assert_eq!(base64_decode(&encoded).unwrap(), bytes);
        }

        #[test]
        fn base64_rejects_characters_outside_the_alphabet(
            bytes in proptest::collection::vec(any::<u8>(), 1..100),
            position in any::<prop::sample::Index>(),
            intruder in any::<char>().prop_filter("outside the alphabet", |c| {
                !c.is_ascii_alphanumeric() && !matches!(c, '+' | '/' | '=')
            }),
        ) {
            let encoded = base64_encode(&bytes);
            let at = position.index(encoded.len());
            let mut corrupted = String::new();
            corrupted.push_str(&encoded[..at]);
            corrupted.push(intruder);
            corrupted.push_str(&encoded[at + 1..]);
            prop_assert!(base64_decode(&corrupted).is_err(), "{:?} was accepted", corrupted);
        }
    }

    // --- SRI parsing ---

    const ABC_SRI: &str = "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";

    #[test]
    fn parses_a_sha256_value() {
        let integrity = parse_integrity(ABC_SRI).unwrap();
        assert_eq!(integrity.digest, sha256(b"abc"));
        assert_eq!(integrity.to_sri(), ABC_SRI);
    }

    #[test]
    fn to_sri_round_trips() {
        for data in [&b""[..], b"abc", &[0xFF; 1000]] {
            let integrity = Integrity {
                digest: sha256(data),
            };
            assert_eq!(parse_integrity(&integrity.to_sri()).unwrap(), integrity);
        }
    }

    #[test]
    fn ignores_surrounding_whitespace_and_options() {
        let expected = sha256(b"abc");
        for value in [
            "  sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=\n",
            "\tsha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=\r\n",
            "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=?",
            "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=?foo=bar",
            "SHA256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
        ] {
            assert_eq!(
                parse_integrity(value).unwrap().digest,
                expected,
                "{value:?}"
            );
        }
    }

    #[test]
    fn accepts_stronger_hashes_alongside_sha256() {
        let sha384 = format!("sha384-{}", base64_encode(&[7; 48]));
        let sha512 = format!("sha512-{}?x", base64_encode(&[9; 64]));
        let value = format!("{sha384}  {ABC_SRI}\n{sha512}");
        assert_eq!(parse_integrity(&value).unwrap().digest, sha256(b"abc"));
        let repeated = format!("{ABC_SRI} {ABC_SRI}");
        assert_eq!(parse_integrity(&repeated).unwrap().digest, sha256(b"abc"));
    }

    #[test]
    fn rejects_bad_values() {
        let other = Integrity {
            digest: sha256(b"abd"),
        }
        .to_sri();
        let sha384 = format!("sha384-{}", base64_encode(&[7; 48]));
        let short384 = format!("sha384-{}", base64_encode(&[7; 32]));
        let long256 = format!("sha256-{}", base64_encode(&[7; 48]));
        let cases: &[(&str, &str)] = &[
            ("", "is empty"),
            (" \t\n ", "is empty"),
            (
                "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
                "not of the form",
            ),
            (
                "md5-rL0Y20zC+Fzt72VPzMSk2A==",
                "unsupported hash algorithm \"md5\"",
            ),
            (
                "sha1-qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",
                "unsupported hash algorithm",
            ),
            (
                "sha-256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
                "unsupported",
            ),
            ("sha256-", "decodes to 0 bytes"),
            (
                "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0",
                "not valid padded base64",
            ),
            (
                "sha256-ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=",
                "not valid padded base64",
            ),
            (
                "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa1=",
                "not zero",
            ),
            (
                "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=x",
                "not valid",
            ),
            (&long256, "decodes to 48 bytes; a sha256 digest is 32 bytes"),
            (&sha384, "has no sha256 value"),
            (&short384, "the sha384 value decodes to 32 bytes"),
        ];
        for (value, needle) in cases {
            assert_invalid(value, needle);
        }
        assert_invalid(&format!("{ABC_SRI} md5-rL0Y20zC+Fzt72VPzMSk2A=="), "md5");
        assert_invalid(
            &format!("{ABC_SRI} sha512-AAAA"),
            "sha512 value decodes to 3",
        );
        assert_invalid(&format!("{ABC_SRI} {other}"), "two different sha256 values");
    }

    #[test]
    fn long_input_is_quoted_in_part() {
        let value = "x".repeat(10_000);
        let err = parse_integrity(&value).unwrap_err();
        assert!(err.message.len() < 200, "{}", err.message);
    }

    // --- verify ---

    #[test]
    fn verify_reports_both_digests() {
        let expected = parse_integrity(ABC_SRI).unwrap();
        assert_eq!(verify(&expected, &sha256(b"abc")), Ok(()));
        let actual = sha256(b"");
        let err = verify(&expected, &actual).unwrap_err();
        assert_eq!(err.code, ErrorCode::Integrity);
        assert_eq!(
            err.message,
            "SHA-256 mismatch: expected sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=, \
             got sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    // --- SHA-256 ---

    #[test]
    fn known_vectors() {
        let cases: [(&[u8], &str); 3] = [
            (
                b"",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                b"abc",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
            ),
        ];
        for (data, digest) in cases {
            let mut state = Sha256State::new();
            state.update(data);
            assert_eq!(hex(&state.finalize()), digest);
            assert_eq!(state.len(), data.len() as u64);
        }
    }

    #[test]
    fn one_million_a() {
        let data = vec![b'a'; 1_000_000];
        let expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
        let mut whole = Sha256State::new();
        whole.update(&data);
        assert_eq!(hex(&whole.finalize()), expected);
        // The same bytes in uneven pieces.
        let mut pieces = Sha256State::new();
        let mut rest = &data[..];
        for size in [1usize, 63, 64, 65, 127, 4096, 7].iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at((*size).min(rest.len()));
            pieces.update(piece);
            rest = tail;
        }
        assert_eq!(hex(&pieces.finalize()), expected);
        assert_eq!(pieces.len(), 1_000_000);
    }

    #[test]
    fn finalize_does_not_consume() {
        let mut state = Sha256State::new();
        assert!(state.is_empty());
        state.update(b"ab");
        assert!(!state.is_empty());
        assert_eq!(state.finalize(), sha256(b"ab"));
        state.update(b"c");
        assert_eq!(state.finalize(), sha256(b"abc"));
    }

    #[test]
    fn padding_boundaries_match_the_reference() {
        let data: Vec<u8> = (0..=255u8).cycle().take(300).collect();
        for n in 0..data.len() {
            let mut state = Sha256State::new();
            state.update(&data[..n]);
            assert_eq!(state.finalize(), sha256(&data[..n]), "length {n}");
        }
    }

    #[test]
    fn length_is_u64_beyond_4_gib() {
        let start = (1u64 << 32) - 64;
        let mut bytes = Sha256State::new().to_bytes();
        bytes[33..41].copy_from_slice(&start.to_be_bytes());
        let mut state = Sha256State::from_bytes(&bytes).unwrap();
        assert_eq!(state.len(), start);
        state.update(&[0; 100]);
        assert_eq!(state.len(), (1u64 << 32) + 36);
        let restored = Sha256State::from_bytes(&state.to_bytes()).unwrap();
        assert_eq!(restored.len(), (1u64 << 32) + 36);
        assert_eq!(restored.finalize(), state.finalize());
    }

    #[test]
    fn serialization_layout() {
        let mut state = Sha256State::new();
        state.update(&[0xAB; 70]);
        let bytes = state.to_bytes();
        assert_eq!(bytes.len(), HEADER_LEN + 6);
        assert_eq!(bytes[0], 1);
        assert_eq!(bytes[33..41], 70u64.to_be_bytes());
        assert_eq!(bytes[41..], [0xAB; 6]);
        let empty = Sha256State::new().to_bytes();
        assert_eq!(empty.len(), HEADER_LEN);
        assert_eq!(empty[1..5], [0x6a, 0x09, 0xe6, 0x67]);
    }

    #[test]
    fn from_bytes_rejects_inconsistent_input() {
        let mut state = Sha256State::new();
        state.update(&[1; 100]);
        let good = state.to_bytes();
        assert!(Sha256State::from_bytes(&good).is_some());
        for cut in 0..good.len() {
            assert!(
                Sha256State::from_bytes(&good[..cut]).is_none(),
                "prefix {cut}"
            );
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(Sha256State::from_bytes(&longer).is_none());
        for version in [0u8, 2, 0xFF] {
            let mut other = good.clone();
            other[0] = version;
            assert!(
                Sha256State::from_bytes(&other).is_none(),
                "version {version}"
            );
        }
        let mut wrong_len = good.clone();
        wrong_len[33..41].copy_from_slice(&101u64.to_be_bytes());
        assert!(Sha256State::from_bytes(&wrong_len).is_none());
        assert!(Sha256State::from_bytes(&[0xFF; 41 + 63]).is_none());
        assert!(Sha256State::from_bytes(b"garbage").is_none());
    }

    fn split_points() -> impl Strategy<Value = (Vec<u8>, Vec<prop::sample::Index>)> {
        (
            proptest::collection::vec(any::<u8>(), 0..1500),
            proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        )
    }

    /// Cuts `data` at the chosen points (sorted, possibly repeated: empty pieces included).
    fn pieces<'a>(data: &'a [u8], cuts: &[prop::sample::Index]) -> Vec<&'a [u8]> {
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
        at.sort_unstable();
        at.push(data.len());
        let mut start = 0;
        at.into_iter()
            .map(|end| {
                let piece = &data[start..end];
                start = end;
                piece
            })
            .collect()
    }

    proptest! {
        #[test]
        fn matches_the_reference_for_any_split((data, cuts) in split_points()) {
            let mut state = Sha256State::new();
            for piece in pieces(&data, &cuts) {
                state.update(piece);
            }
            prop_assert_eq!(state.len(), data.len() as u64);
            prop_assert_eq!(state.finalize(), sha256(&data));
        }

        #[test]
        fn persisting_mid_stream_keeps_the_digest(
            (data, cuts) in split_points(),
        ) {
            let mut state = Sha256State::new();
            for piece in pieces(&data, &cuts) {
                state.update(piece);
                let bytes = state.to_bytes();
                prop_assert_eq!(bytes.len(), HEADER_LEN + (state.len() % 64) as usize);
                state = Sha256State::from_bytes(&bytes).expect("own output must load");
                prop_assert_eq!(state.to_bytes(), bytes);
            }
            prop_assert_eq!(state.finalize(), sha256(&data));
        }

        #[test]
        fn from_bytes_accepts_only_consistent_input(
            version in 0u8..3,
            body in proptest::collection::vec(any::<u8>(), 0..120),
            pending in 0u64..70,
        ) {
            let mut bytes = vec![version];
            bytes.extend_from_slice(&body);
            if bytes.len() >= HEADER_LEN {
                // Often make the length agree with the tail, so both outcomes are exercised.
                let len = (pending << 6) | (bytes.len() - HEADER_LEN) as u64;
                bytes[33..41].copy_from_slice(&len.to_be_bytes());
            }
            let valid = version == 1
                && bytes.len() >= HEADER_LEN
                && bytes.len() - HEADER_LEN < 64;
            match Sha256State::from_bytes(&bytes) {
                Some(state) => {
                    prop_assert!(valid);
                    prop_assert_eq!(state.to_bytes(), bytes);
                }
                None => prop_assert!(!valid),
            }
        }
    }
}
