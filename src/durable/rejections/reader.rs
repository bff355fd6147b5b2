//! The rejection log through a [`Reader`] (the CLI): read in the store's database when
//! it is free, else through the running gateway's admin API, which alone can replay.

use super::{find, list, Filter, Rejected};
use crate::durable::store::{remote_call, Reader, SpoolAccess, StoreError};

impl Reader {
    /// Rejections `f` keeps, newest first; `seq`: only that one.
    pub fn rejections(
        &self,
        f: &Filter,
        seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Rejected>, StoreError> {
        match &self.spool {
            SpoolAccess::Local(t, _) => match seq {
                Some(seq) => Ok(find(&t.rejections, seq)?
                    .map(|f| f.shown().clone())
                    .into_iter()
                    .collect()),
                None => Ok(list(&t.rejections, f, limit)?),
            },
            SpoolAccess::Remote(addr) => {
                let mut q = format!("/api/v1/rejections?limit={limit}&{}", f.query());
                if let Some(seq) = seq {
                    q = format!("/api/v1/rejections?seq={seq}");
                }
                remote_call(addr, "GET", &q)
            }
        }
    }

    /// Verify rejection `seq` again with the running gateway's configuration and keep
    /// it if it passes: its answer (`status` and `id`, or `error` and `reason`).
    pub fn replay_rejection(&self, seq: u64) -> Result<serde_json::Value, StoreError> {
        match &self.spool {
            SpoolAccess::Remote(addr) => {
                let pq = format!("/api/v1/rejections/replay?seq={seq}");
                crate::durable::store::call_any(addr, "POST", &pq)
                    .map_err(|e| StoreError::Remote(format!("the admin API at {addr}: {e}")))
                    .and_then(|(_, body)| {
                        serde_json::from_slice(&body).map_err(|e| {
                            StoreError::Remote(format!("unexpected answer from {addr}: {e}"))
                        })
                    })
            }
            SpoolAccess::Local(..) => Err(StoreError::Remote(
                "no gateway serves from this store: a rejected request is replayed by the running gateway, which verifies it with its configuration and keeps it; start it and run this again".into(),
            )),
        }
    }
}
