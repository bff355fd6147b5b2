//! Dead letters through a [`Reader`] (the CLI): read and marked for replay in the
//! store's database when it is free, else through the running gateway's admin API.

use super::state::{self, DeadLetter};
use crate::durable::store::{remote_call, Reader, SpoolAccess, StoreError};

/// Which dead letters: every filter that is set must match.
#[derive(Debug, Default, Clone)]
pub struct DeadFilter {
    pub route: Option<String>,
    pub destination: Option<String>,
    pub id: Option<String>,
}

impl DeadFilter {
    fn query(&self) -> String {
        let mut q = Vec::new();
        for (k, v) in [
            ("route", &self.route),
            ("destination", &self.destination),
            ("id", &self.id),
        ] {
            if let Some(v) = v {
                q.push(format!("{k}={}", crate::durable::store::query_escape(v)));
            }
        }
        q.join("&")
    }
}

impl Reader {
    /// Dead letters, newest first.
    pub fn dead(&self, f: &DeadFilter, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        match &self.spool {
            SpoolAccess::Local(t, _) => state::dead_letters(
                &t.dead,
                f.route.as_deref(),
                f.destination.as_deref(),
                f.id.as_deref(),
                limit,
            ),
            SpoolAccess::Remote(addr) => remote_call(
                addr,
                "GET",
                &format!("/api/v1/dead?limit={limit}&{}", f.query()),
            ),
        }
    }

    /// Mark the matching dead letters for replay (a running gateway delivers them at
    /// once, a stopped one at its next start); returns them.
    pub fn replay_dead(&self, f: &DeadFilter) -> Result<Vec<DeadLetter>, StoreError> {
        match &self.spool {
            SpoolAccess::Local(t, ledger) => {
                let found = state::mark_replay(
                    &t.dead,
                    f.route.as_deref(),
                    f.destination.as_deref(),
                    f.id.as_deref(),
                )?;
                if let Some(l) = ledger {
                    l.sync()?;
                }
                Ok(found)
            }
            SpoolAccess::Remote(addr) => {
                remote_call(addr, "POST", &format!("/api/v1/dead/replay?{}", f.query()))
            }
        }
    }
}
