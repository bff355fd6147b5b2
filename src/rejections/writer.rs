//! The rejection log's writer thread: inserts records, keeps at most `keep` per route
//! and none older than `max_age`.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::Stored;
use crate::config::RejectionsConfig;

/// How often records past `max_age` are looked for.
const AGE_CHECK: Duration = Duration::from_secs(60);

/// `route \0 seq` (big-endian): a route's records are one prefix, oldest first.
pub(super) fn key(route: &str, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(route.len() + 9);
    k.extend_from_slice(route.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The route and seq of a key.
pub(super) fn split(k: &[u8]) -> Option<(&str, u64)> {
    let at = k.len().checked_sub(9)?;
    let route = std::str::from_utf8(&k[..at]).ok()?;
    let seq = k[at + 1..].try_into().ok().map(u64::from_be_bytes)?;
    Some((route, seq))
}

/// The largest seq stored, so that a restart continues after it.
pub(super) fn last_seq(ks: &fjall::Keyspace) -> u64 {
    ks.iter()
        .filter_map(|g| g.key().ok())
        .filter_map(|k| split(&k).map(|(_, s)| s))
        .max()
        .unwrap_or(0)
}

pub(super) struct Writer {
    ks: fjall::Keyspace,
    cfg: RejectionsConfig,
    /// Records per route.
    counts: HashMap<String, usize>,
}

impl Writer {
    pub(super) fn new(ks: fjall::Keyspace, cfg: RejectionsConfig) -> Writer {
        let mut counts = HashMap::new();
        for k in ks.iter().filter_map(|g| g.key().ok()) {
            if let Some((route, _)) = split(&k) {
                *counts.entry(route.to_owned()).or_insert(0) += 1;
            }
        }
        Writer { ks, cfg, counts }
    }

    pub(super) fn run(mut self, rx: mpsc::Receiver<Stored>) {
        let mut aged_at = Instant::now() - AGE_CHECK;
        loop {
            if aged_at.elapsed() >= AGE_CHECK {
                if let Err(e) = self.age() {
                    tracing::warn!(error = %e, "rejection log: removing old records failed");
                }
                aged_at = Instant::now();
            }
            match rx.recv_timeout(AGE_CHECK) {
                Ok(s) => {
                    if let Err(e) = self.insert(s) {
                        tracing::warn!(error = %e, "rejection log: a record was not written");
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    pub(super) fn insert(&mut self, s: Stored) -> Result<(), fjall::Error> {
        let route = s.shown.route.clone();
        let value = serde_json::to_vec(&s).unwrap_or_default();
        self.ks.insert(key(&route, s.shown.seq), value)?;
        let n = self.counts.entry(route.clone()).or_insert(0);
        *n += 1;
        if *n > self.cfg.keep {
            let mut prefix = route.into_bytes();
            prefix.push(0);
            let oldest: Vec<_> = self
                .ks
                .prefix(&prefix)
                .take(*n - self.cfg.keep)
                .filter_map(|g| g.key().ok())
                .collect();
            for k in oldest {
                self.ks.remove(k)?;
                *n -= 1;
            }
        }
        Ok(())
    }

    /// Remove records older than `max_age`.
    fn age(&mut self) -> Result<(), fjall::Error> {
        let cutoff_us =
            (crate::now_ms() - self.cfg.max_age.as_millis() as i64).max(0) as u64 * 1000;
        let old: Vec<_> = self
            .ks
            .iter()
            .filter_map(|g| g.key().ok())
            .filter(|k| split(k).is_some_and(|(_, seq)| seq < cutoff_us))
            .collect();
        for k in old {
            if let Some((route, _)) = split(&k) {
                if let Some(n) = self.counts.get_mut(route) {
                    *n = n.saturating_sub(1);
                }
            }
            self.ks.remove(k)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_back_into_route_and_seq() {
        let k = key("git\0hub", 42);
        assert_eq!(split(&k), Some(("git\0hub", 42)));
        assert_eq!(split(b"short"), None);
    }
}
