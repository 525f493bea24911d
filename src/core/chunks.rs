//! The good prefix of stored chunks (I4, case 29): after a storage error, a reload or a
//! takeover, the stored record's offset is checked against the chunks that are really there.
//! A gap, a chunk that is not whole, or a chunk past the record cuts the download back to the
//! last good prefix; never a file with holes.

/// What storage holds for one chunk, as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredChunk {
    /// Its index in the download's current epoch.
    pub index: u32,
    /// Where its bytes start.
    pub offset: u64,
    /// How many bytes it says it holds.
    pub len: u64,
    /// How many bytes it really holds (the Blob's or buffer's size).
    pub size: u64,
    /// The hash state after its bytes, when integrity is checked.
    pub hash: Option<Vec<u8>>,
}

/// What to do with the stored bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recount {
    /// Record and chunks agree.
    Intact,
    /// Keep the first `chunks` chunks (`offset` bytes, `hash` their hash state) and delete the
    /// rest.
    Cut {
        /// Bytes kept.
        offset: u64,
        /// Chunks kept.
        chunks: u32,
        /// Hash state after the kept bytes.
        hash: Option<Vec<u8>>,
    },
    /// The good prefix cannot be hashed on (its hash state is lost): start over.
    Restart,
}

/// Checks `chunks` (read in index order; `None` for one that could not be read) against the
/// record's `offset` and `count`. With `integrity`, a cut prefix needs its hash state.
pub fn good_prefix(
    offset: u64,
    count: u32,
    integrity: bool,
    chunks: &[Option<StoredChunk>],
) -> Recount {
    let (mut good, mut keep, mut hash) = (0u64, 0u32, None);
    for (i, c) in chunks.iter().enumerate() {
        let Some(c) = c else { break };
        let whole = c.size == c.len && c.len > 0;
        if c.index as usize != i || c.offset != good || !whole || good + c.len > offset {
            break;
        }
        good += c.len;
        keep += 1;
        hash.clone_from(&c.hash);
    }
    if good == offset && keep == count {
        return Recount::Intact;
    }
    if integrity && good > 0 && hash.is_none() {
        return Recount::Restart;
    }
    Recount::Cut {
        offset: good,
        chunks: keep,
        hash,
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chunk(index: u32, offset: u64, len: u64) -> Option<StoredChunk> {
        Some(StoredChunk {
            index,
            offset,
            len,
            size: len,
            hash: Some(vec![index as u8]),
        })
    }

    #[test]
    fn intact() {
        let cs = [chunk(0, 0, 10), chunk(1, 10, 10)];
        assert_eq!(good_prefix(20, 2, true, &cs), Recount::Intact);
        assert_eq!(good_prefix(0, 0, true, &[]), Recount::Intact);
    }

    #[test]
    fn cut_table() {
        let cut = |offset, chunks, h: Option<u8>| Recount::Cut {
            offset,
            chunks,
            hash: h.map(|h| vec![h]),
        };
        // A missing middle chunk.
        assert_eq!(
            good_prefix(30, 3, false, &[chunk(0, 0, 10), None, chunk(2, 20, 10)]),
            cut(10, 1, Some(0))
        );
        // A short (damaged) chunk.
        let mut short = chunk(1, 10, 10);
        short.as_mut().unwrap().size = 4;
        assert_eq!(
            good_prefix(20, 2, false, &[chunk(0, 0, 10), short]),
            cut(10, 1, Some(0))
        );
        // The record counts more than is stored.
        assert_eq!(
            good_prefix(40, 4, false, &[chunk(0, 0, 10), chunk(1, 10, 10)]),
            cut(20, 2, Some(1))
        );
        // A chunk past the record's offset is not counted.
        assert_eq!(
            good_prefix(10, 1, false, &[chunk(0, 0, 10), chunk(1, 10, 10)]),
            Recount::Intact
        );
        // A chunk at the wrong offset.
        assert_eq!(
            good_prefix(20, 2, false, &[chunk(0, 0, 10), chunk(1, 12, 8)]),
            cut(10, 1, Some(0))
        );
        // An empty chunk.
        assert_eq!(
            good_prefix(10, 1, false, &[chunk(0, 0, 0)]),
            cut(0, 0, None)
        );
    }

    #[test]
    fn a_prefix_without_hash_state_restarts_when_hashed() {
        let mut c0 = chunk(0, 0, 10);
        c0.as_mut().unwrap().hash = None;
        assert_eq!(
            good_prefix(20, 2, true, &[c0.clone(), None]),
            Recount::Restart
        );
        assert!(matches!(
            good_prefix(20, 2, false, &[c0, None]),
            Recount::Cut { offset: 10, .. }
        ));
        // Nothing kept needs no hash.
        assert!(matches!(
            good_prefix(20, 2, true, &[None]),
            Recount::Cut { offset: 0, .. }
        ));
    }

    proptest! {
        /// Whatever storage holds, what is kept is contiguous from 0, whole, and never more than
        /// the record counted.
        #[test]
        fn kept_bytes_are_a_contiguous_whole_prefix(
            lens in proptest::collection::vec((1u64..50, any::<bool>(), any::<bool>()), 0..12),
            extra in 0u64..100,
        ) {
            let mut offset = 0;
            let mut chunks = Vec::new();
            for (i, (len, present, whole)) in lens.iter().enumerate() {
                chunks.push(present.then(|| StoredChunk {
                    index: i as u32,
                    offset,
                    len: *len,
                    size: if *whole { *len } else { len - 1 },
                    hash: Some(vec![]),
                }));
                offset += len;
            }
            let recorded = offset + extra;
            match good_prefix(recorded, lens.len() as u32, false, &chunks) {
                Recount::Intact => {
                    prop_assert_eq!(extra, 0);
                    prop_assert!(chunks.iter().all(|c| c.as_ref().is_some_and(|c| c.size == c.len)));
                }
                Recount::Cut { offset: kept, chunks: n, .. } => {
                    let sum: u64 = chunks[..n as usize].iter().map(|c| c.as_ref().unwrap().size).sum();
                    prop_assert_eq!(sum, kept);
                    prop_assert!(kept <= recorded);
                }
                Recount::Restart => prop_assert!(false, "no integrity, no restart"),
            }
        }
    }
}
