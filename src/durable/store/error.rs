//! The store's errors: [`StoreError`] (opening, reading, writing) and [`StoreFault`],
//! what a waiter of a failed commit hears, with its cause label.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    // No `#[from]`: the message already holds the cause, and as a `source` too it would
    // print twice in the CLI's error chain.
    #[error("store: database (spool, dedup ledger): {0}")]
    Ledger(fjall::Error),
    #[error(
        "store: {0} is in use by another hookgate process (a store folder belongs to one gateway)"
    )]
    InUse(PathBuf),
    #[error("store: cannot create {0}: {1}")]
    Dir(PathBuf, std::io::Error),
    #[error("store: event journal: {0}")]
    Journal(std::io::Error),
    #[error("store: event journal {0}: {1}")]
    JournalAt(PathBuf, std::io::Error),
    #[error("store: database (spool, dedup ledger) {0}: {1}")]
    LedgerAt(PathBuf, std::io::Error),
    #[error("store writer has stopped")]
    Closed,
    #[error("store: {0}")]
    Remote(String),
    #[error(
        "store: {dir} was written by another version of hookgate ({found}). There is no migration before 1.0: replay its events with the hookgate that wrote it (`hookgate store replay`), then move the folder away or set store.path to a new one"
    )]
    Format { dir: PathBuf, found: String },
}

/// Why an event could not be made durable, as each waiter of a failed commit hears it
/// (cloned to all of them). [`StoreFault::cause`] is its metric label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StoreFault {
    #[error("store: the disk is full")]
    DiskFull,
    #[error("{0}")]
    WriteFailed(String),
    #[error("store writer has stopped")]
    Closed,
    #[error("store: dedup ledger: {0}")]
    Ledger(String),
}

impl StoreFault {
    /// The cause of the 503 it answers.
    pub(crate) fn cause(&self) -> crate::obs::metrics::UnavailableCause {
        use crate::obs::metrics::UnavailableCause as C;
        match self {
            StoreFault::DiskFull => C::DiskFull,
            StoreFault::WriteFailed(_) => C::StoreWriteFailed,
            StoreFault::Closed => C::StoreClosed,
            StoreFault::Ledger(_) => C::DedupLedgerFailed,
        }
    }

    pub(super) fn of(e: &StoreError) -> StoreFault {
        let full = |io: &std::io::Error| {
            // ENOSPC, EDQUOT
            matches!(
                io.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            ) || matches!(io.raw_os_error(), Some(28 | 122))
        };
        let is_full = match e {
            StoreError::Journal(io)
            | StoreError::JournalAt(_, io)
            | StoreError::LedgerAt(_, io)
            | StoreError::Dir(_, io) => full(io),
            StoreError::Ledger(fjall::Error::Io(io)) => full(io),
            _ => false,
        };
        match e {
            _ if is_full => StoreFault::DiskFull,
            StoreError::Closed => StoreFault::Closed,
            StoreError::Ledger(l) => StoreFault::Ledger(l.to_string()),
            other => StoreFault::WriteFailed(other.to_string()),
        }
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Journal(e)
    }
}

impl From<fjall::Error> for StoreError {
    fn from(e: fjall::Error) -> Self {
        StoreError::Ledger(e)
    }
}
