//! The deterministic content of every fixture resource: byte = f(seed, offset).
//!
//! This file has no dependencies so that the browser tests can include it with `#[path]` and
//! check any byte they receive.

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finaliser.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(GOLDEN_GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The byte at `offset` of the resource generated from `seed`.
///
/// Every aligned 8-byte block of the resource is one SplitMix64 output, stored
/// little-endian: byte `offset` is bits `8 * (offset % 8)..` of the value for
/// block `offset / 8`.
pub fn byte_at(seed: u64, offset: u64) -> u8 {
    let block = offset / 8;
    let z = splitmix64(seed.wrapping_mul(GOLDEN_GAMMA) ^ block);
    (z >> (8 * (offset % 8))) as u8
}

/// Fills `buf` with the resource bytes `start..start + buf.len()` for `seed`.
///
/// Equivalent to calling [`byte_at`] for every byte, but computes each 8-byte
/// block once.
pub fn fill(seed: u64, start: u64, buf: &mut [u8]) {
    let key = seed.wrapping_mul(GOLDEN_GAMMA);
    let mut offset = start;
    let mut pos = 0;
    while pos < buf.len() {
        let within = (offset % 8) as usize;
        let block = splitmix64(key ^ (offset / 8)).to_le_bytes();
        let n = (8 - within).min(buf.len() - pos);
        buf[pos..pos + n].copy_from_slice(&block[within..within + n]);
        pos += n;
        offset = offset.wrapping_add(n as u64);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_values() {
        // Reference outputs of SplitMix64 seeded with 0 (the first three draws).
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(
            splitmix64(GOLDEN_GAMMA.wrapping_mul(1)),
            0x6E78_9E6A_A1B9_65F4
        );
        assert_eq!(
            splitmix64(GOLDEN_GAMMA.wrapping_mul(2)),
            0x06C4_5D18_8009_454F
        );
    }

    #[test]
    fn byte_at_is_little_endian_block_value() {
        let seed: u64 = 7;
        let z = splitmix64(seed.wrapping_mul(GOLDEN_GAMMA) ^ 3);
        for k in 0..8 {
            assert_eq!(byte_at(seed, 24 + k), z.to_le_bytes()[k as usize]);
        }
    }

    #[test]
    fn fill_matches_byte_at_for_arbitrary_windows() {
        let mut state = 0x1234_5678_u64;
        let mut next = || {
            state = splitmix64(state);
            state
        };
        for _ in 0..500 {
            let seed = next() % 5;
            let start = if next() % 4 == 0 {
                u64::MAX - 200 - next() % 100
            } else {
                next() % 100_000
            };
            let len = (next() % 70) as usize;
            let mut buf = vec![0u8; len];
            fill(seed, start, &mut buf);
            for (i, b) in buf.iter().enumerate() {
                assert_eq!(
                    *b,
                    byte_at(seed, start + i as u64),
                    "seed {seed} start {start} i {i}"
                );
            }
        }
    }

    #[test]
    fn fill_large_buffer_matches_byte_at() {
        let mut buf = vec![0u8; 100_003];
        fill(42, 13, &mut buf);
        for (i, b) in buf.iter().enumerate() {
            assert_eq!(*b, byte_at(42, 13 + i as u64));
        }
    }

    #[test]
    fn different_seeds_differ() {
        let mut a = vec![0u8; 4096];
        let mut b = vec![0u8; 4096];
        fill(1, 0, &mut a);
        fill(2, 0, &mut b);
        assert_ne!(a, b);
        let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
        // Unrelated streams agree on about 1/256 of their bytes.
        assert!(same < 64, "{same} equal bytes");
        // Seed 0 is not degenerate.
        let mut z = vec![0u8; 64];
        fill(0, 0, &mut z);
        assert!(z.iter().any(|&x| x != 0));
    }
}
