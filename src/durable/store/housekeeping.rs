//! Between the writer's batches: the free-space headroom, the write probe that makes
//! an unhealthy store ready again, retention, and the store's size.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{StoreError, Writer};

/// How often an unhealthy store (a failed commit: a full disk, say) tries a write of its
/// own, so that it turns ready again once space is freed, without waiting for a
/// request that a load balancer no longer sends it.
pub(super) const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Space the store keeps free on its filesystem: below it every write is refused as a
/// full disk before it starts. fjall poisons its database on any failed write or sync
/// (batch/mod.rs: every later write is refused until the process restarts), so the
/// database must never be the one to meet the full disk: the headroom covers a ledger
/// batch, a spool batch and a memtable flush of each keyspace (1 MiB of ids, 4 MiB of
/// spool).
pub(super) const HEADROOM: u64 = 16 << 20;

/// `Err` (a full disk) when writing `need` bytes in `dir` would leave less than
/// [`HEADROOM`] free. A filesystem that cannot say is not refused.
pub(super) fn room(dir: &Path, need: usize) -> Result<(), StoreError> {
    let Ok(fs) = rustix::fs::statvfs(dir) else {
        return Ok(());
    };
    let free = fs.f_bavail.saturating_mul(fs.f_frsize);
    if free < HEADROOM.saturating_add(need as u64) {
        return Err(StoreError::Journal(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            format!(
                "{} MiB free on the store's filesystem, below the {} MiB it keeps free",
                free >> 20,
                HEADROOM >> 20
            ),
        )));
    }
    Ok(())
}

/// Write and sync a little in `dir`, then remove it: can the store write now (and with
/// its [`HEADROOM`] free)?
pub(super) fn probe(dir: &Path) -> std::io::Result<()> {
    use std::io::Write;
    room(dir, 64 << 10).map_err(|e| match e {
        StoreError::Journal(io) => io,
        other => std::io::Error::other(other.to_string()),
    })?;
    let path = dir.join(".write-probe");
    let result = (|| {
        let mut f = std::fs::File::create(&path)?;
        f.write_all(&[0u8; 64 << 10])?;
        f.sync_data()
    })();
    let _ = std::fs::remove_file(&path);
    result
}

/// Bytes in the files under `dir`.
pub(super) fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

impl Writer {
    /// Between batches: the write probe while unhealthy; every so often retention (kept
    /// events past `store.retention`, a segment at a time) and the store's size.
    pub(super) fn housekeeping(&mut self) {
        if !self.healthy.load(Ordering::Relaxed) && self.probed_at.elapsed() >= PROBE_EVERY {
            self.probed_at = Instant::now();
            if probe(&self.dir).is_ok() {
                tracing::info!("the store can write again; ready");
                self.healthy.store(true, Ordering::Relaxed);
            }
        }
        if Instant::now() < self.housekeeping_at {
            return;
        }
        let every = self.retention.map_or(Duration::from_secs(60), |r| {
            (r / 4).clamp(Duration::from_millis(100), Duration::from_secs(60))
        });
        self.housekeeping_at = Instant::now() + every;
        if let Some(r) = self.retention {
            let floor = self.delivered_floor.load(Ordering::Relaxed);
            match self.journal.retain(std::time::SystemTime::now() - r, floor) {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    segments = n,
                    retention = %humantime::format_duration(r),
                    "removed kept events past the retention"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "removing kept events past the retention failed; retrying later")
                }
            }
            let before =
                crate::now_ms().saturating_sub(r.as_millis().try_into().unwrap_or(i64::MAX));
            if let Err(e) = super::history::prune(&self.tables.history, before) {
                tracing::warn!(error = %e, "removing delivery histories past the retention failed; retrying later");
            }
        }
        self.metrics.store_bytes.set(dir_size(&self.dir) as i64);
    }
}

impl Writer {
    /// A failed ledger write is retried; but after a failed sync fjall refuses every
    /// later write ("poisoned": it cannot vouch for what reached the disk), the ids pile
    /// up in memory, and only a restart recovers. Then `/readyz` says so.
    pub(super) fn ledger_error(&self, e: &StoreError) {
        if ledger_is_broken(e) {
            if !self.ledger_broken.swap(true, Ordering::Relaxed) {
                tracing::error!(error = %e, "the dedup ledger refuses writes after a failed sync; not ready until restarted");
            }
        } else {
            tracing::warn!(error = %e, "writing the dedup ledger failed; retrying");
        }
    }

    pub(super) fn batch_done(&self, n: u64, committed: bool) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .done(n, committed);
    }
}

pub(super) fn ledger_is_broken(e: &StoreError) -> bool {
    matches!(e, StoreError::Ledger(fjall::Error::Poisoned))
}
