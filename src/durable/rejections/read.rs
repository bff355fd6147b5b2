//! Reading the rejection log: newest first, by route and code, or one record by seq.

use super::writer::{key, split};
use super::{Rejected, Stored};

/// Which records: every condition that is set must hold.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub route: Option<String>,
    pub code: Option<String>,
}

impl Filter {
    fn keeps(&self, r: &Rejected) -> bool {
        self.route.as_ref().is_none_or(|x| *x == r.route)
            && self.code.as_ref().is_none_or(|x| *x == r.code)
    }

    /// As a query string, for the admin API.
    pub fn query(&self) -> String {
        [("route", &self.route), ("code", &self.code)]
            .into_iter()
            .filter_map(|(k, v)| {
                v.as_ref()
                    .map(|v| format!("{k}={}", crate::durable::store::query_escape(v)))
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// One record, with the request as received when it was captured.
pub(crate) struct Found {
    pub(crate) stored: Stored,
}

fn decode(v: &[u8]) -> Option<Stored> {
    serde_json::from_slice(v).ok()
}

/// The newest `limit` records `f` keeps, newest first.
pub(crate) fn list(ks: &fjall::Keyspace, f: &Filter, limit: usize) -> fjall::Result<Vec<Rejected>> {
    let mut out = Vec::new();
    // Each route's records are one prefix, oldest first: take the newest of each, then
    // merge by seq.
    let routes: Vec<String> = match &f.route {
        Some(r) => vec![r.clone()],
        None => routes(ks),
    };
    for route in routes {
        let mut prefix = route.into_bytes();
        prefix.push(0);
        let mut taken = 0;
        for g in ks.prefix(&prefix).rev() {
            if taken >= limit {
                break;
            }
            if let Some(s) = decode(&g.value()?) {
                if f.keeps(&s.shown) {
                    out.push(s.shown);
                    taken += 1;
                }
            }
        }
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.seq));
    out.truncate(limit);
    Ok(out)
}

/// Every route with records, found by skipping from one route's prefix to the next.
fn routes(ks: &fjall::Keyspace) -> Vec<String> {
    let mut out = Vec::new();
    let mut from: Vec<u8> = Vec::new();
    loop {
        let Some(k) = ks.range(from.clone()..).next().and_then(|g| g.key().ok()) else {
            return out;
        };
        let Some((route, _)) = split(&k) else {
            return out;
        };
        out.push(route.to_owned());
        // The first key after every `route \0 ...` key.
        from = route.as_bytes().to_vec();
        from.push(1);
    }
}

/// The record `seq`.
pub(crate) fn find(ks: &fjall::Keyspace, seq: u64) -> fjall::Result<Option<Found>> {
    for route in routes(ks) {
        if let Some(v) = ks.get(key(&route, seq))? {
            return Ok(decode(&v).map(|stored| Found { stored }));
        }
    }
    Ok(None)
}

/// Note on record `seq` that it was replayed and kept as `id`.
pub(crate) fn mark_replayed(
    ks: &fjall::Keyspace,
    found: &mut Found,
    id: &str,
) -> fjall::Result<()> {
    found.stored.shown.replayed_as = Some(id.to_owned());
    let s = &found.stored.shown;
    ks.insert(
        key(&s.route, s.seq),
        serde_json::to_vec(&found.stored).unwrap_or_default(),
    )
}

impl Found {
    pub(crate) fn shown(&self) -> &Rejected {
        &self.stored.shown
    }

    /// The request as received, with whether it came over HTTPS and when: `None` when
    /// it was recorded without its body.
    pub(crate) fn request(
        &self,
        config: &crate::config::Config,
    ) -> Option<(http::request::Parts, bytes::Bytes, bool, i64)> {
        let raw = self.stored.raw.as_ref()?;
        let path = raw.uri.split('?').next().unwrap_or("");
        let route = config.routes.iter().find(|r| r.path == path).map(|r| &**r);
        let (parts, body) = raw.request(route)?;
        Some((parts, body, raw.https, raw.received_at_ms))
    }
}
