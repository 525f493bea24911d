//! Where a new download's bytes go, from the options of its `add()` and what the manager
//! has: the checks on option combinations.

use super::DownloadError;

/// What an `add()` asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Asked {
    /// `file`: the caller's file handle.
    pub file: bool,
    /// `sink`: the caller's `WritableStream`.
    pub sink: bool,
    /// `background`, if given.
    pub background: Option<bool>,
}

/// What the manager has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Has {
    /// Downloads are stored (IndexedDB is open): they outlive the page.
    pub storage: bool,
    /// A storage worker writes OPFS files.
    pub files: bool,
    /// `background: 'auto'`.
    pub background_auto: bool,
}

/// Where the bytes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// To the caller's sink, as they arrive; nothing is kept.
    Sink,
    /// To the library's storage (or the caller's file).
    Stored {
        /// In a file (the download's own OPFS file, or the caller's), where the manager has
        /// OPFS; else IndexedDB chunks, else memory.
        in_file: bool,
        /// Handed to Background Fetch where the page can. Its bytes are then kept in
        /// IndexedDB chunks, which the service worker writes too (it has no storage worker
        /// for files).
        background: bool,
    },
}

/// Where a download with `asked` options goes in a manager that `has` what it has;
/// `no_files` says why the manager has no storage worker, for the error.
///
/// # Errors
/// `INVALID_ARGUMENT` naming the option: a `file` with a `sink` or without a storage worker;
/// `background: true` with a file or a sink; a sink in a manager that stores downloads.
pub fn place(asked: Asked, has: Has, no_files: &str) -> Result<Placement, DownloadError> {
    if asked.file && asked.sink {
        return Err(DownloadError::invalid(
            "options.file",
            "goes without a sink: the bytes go to one or the other",
        ));
    }
    if asked.file && !has.files {
        return Err(DownloadError::invalid(
            "options.file",
            format!("needs the storage worker, which this manager does not have: {no_files}"),
        ));
    }
    if asked.background == Some(true) && (asked.file || asked.sink) {
        return Err(DownloadError::invalid(
            "options.background",
            "goes without a file or a sink: the service worker that stores what Background \
             Fetch fetched writes to the library's storage only",
        ));
    }
    if asked.sink && has.storage {
        return Err(DownloadError::invalid(
            "options.sink",
            "needs a manager opened with persist: false (a stream does not outlive the page, \
             so its download cannot be restored after a reload)",
        ));
    }
    if asked.sink {
        return Ok(Placement::Sink);
    }
    let background = !asked.file && asked.background.unwrap_or(has.background_auto);
    Ok(Placement::Stored {
        in_file: !background,
        background,
    })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::core::ErrorCode;

    fn refused(asked: Asked, has: Has) -> String {
        let e = place(asked, has, "why").expect_err("refused");
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        e.message
    }

    const ALL: Has = Has {
        storage: true,
        files: true,
        background_auto: false,
    };

    #[test]
    fn a_file_goes_alone_and_needs_the_storage_worker() {
        let file = Asked {
            file: true,
            ..Asked::default()
        };
        assert!(refused(Asked { sink: true, ..file }, ALL).contains("options.file"));
        let none = Has {
            files: false,
            ..ALL
        };
        assert!(refused(file, none).contains("why"));
        let placed = Placement::Stored {
            in_file: true,
            background: false,
        };
        assert_eq!(place(file, ALL, ""), Ok(placed));
        // background: 'auto' does not apply to a caller's file.
        let auto = Has {
            background_auto: true,
            ..ALL
        };
        assert_eq!(place(file, auto, ""), Ok(placed));
    }

    #[test]
    fn background_goes_without_a_file_or_a_sink() {
        for asked in [
            Asked {
                file: true,
                background: Some(true),
                ..Asked::default()
            },
            Asked {
                sink: true,
                background: Some(true),
                ..Asked::default()
            },
        ] {
            assert!(
                refused(asked, ALL).contains("options.background"),
                "{asked:?}"
            );
        }
    }

    #[test]
    fn a_sink_needs_a_manager_that_stores_nothing() {
        let sink = Asked {
            sink: true,
            ..Asked::default()
        };
        assert!(refused(sink, ALL).contains("options.sink"));
        let memory = Has {
            storage: false,
            files: false,
            background_auto: true,
        };
        assert_eq!(place(sink, memory, ""), Ok(Placement::Sink));
        let not_background = Asked {
            background: Some(false),
            ..sink
        };
        assert_eq!(place(not_background, memory, ""), Ok(Placement::Sink));
    }

    #[test]
    fn background_is_the_option_else_the_managers_default_and_keeps_bytes_in_chunks() {
        let cases = [
            (None, false, false),
            (None, true, true),
            (Some(true), false, true),
            (Some(false), true, false),
        ];
        for (asked, auto, background) in cases {
            let has = Has {
                background_auto: auto,
                ..ALL
            };
            let a = Asked {
                background: asked,
                ..Asked::default()
            };
            assert_eq!(
                place(a, has, ""),
                Ok(Placement::Stored {
                    in_file: !background,
                    background
                }),
                "{asked:?} {auto}"
            );
        }
    }
}
