//! Reading the store: `hookgate store`, the spool forwarder and the admin API.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::checks::event::Event;
use crate::durable::dedup;
use crate::durable::journal::{self};

use super::{check_format, db_dir, open_ledger, Store, StoreError, Table, Tables};

/// An event as stored, for `hookgate store`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct StoredEvent {
    pub seq: i64,
    pub route: String,
    pub id: String,
    pub event_type: Option<String>,
    pub received_at: String,
    pub source_ip: String,
    pub content_type: Option<String>,
    pub headers: serde_json::Value,
    pub body_len: usize,
    /// Where its delivery stands (the archive, when asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<super::Status>,
    #[serde(skip)]
    pub body: Vec<u8>,
    #[serde(skip)]
    pub received_at_ms: i64,
}

impl From<journal::Record> for StoredEvent {
    fn from(r: journal::Record) -> Self {
        let ev = r.event;
        StoredEvent {
            seq: r.seq,
            route: ev.route.to_string(),
            id: ev.id,
            event_type: ev.event_type,
            received_at: crate::rfc3339_ms(ev.received_at_ms),
            source_ip: ev.source_ip.to_string(),
            content_type: ev.content_type,
            headers: serde_json::Value::Array(
                ev.headers
                    .into_iter()
                    .map(|(n, v)| serde_json::json!([n, v]))
                    .collect(),
            ),
            body_len: ev.body.len(),
            status: None,
            body: ev.body.to_vec(),
            received_at_ms: ev.received_at_ms,
        }
    }
}

impl StoredEvent {
    /// Back to an [`Event`], for forwarding or replay.
    pub fn into_event(self) -> Event {
        let headers = match self.headers {
            serde_json::Value::Array(items) => items
                .into_iter()
                .filter_map(|pair| {
                    let p = pair.as_array()?;
                    Some((
                        p.first()?.as_str()?.to_string(),
                        p.get(1)?.as_str()?.to_string(),
                    ))
                })
                .collect(),
            _ => Vec::new(),
        };
        Event {
            route: Arc::from(self.route),
            id: self.id,
            event_type: self.event_type,
            body: Bytes::from(self.body),
            content_type: self.content_type,
            received_at_ms: self.received_at_ms,
            source_ip: self
                .source_ip
                .parse()
                .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])),
            headers,
        }
    }
}

/// Read access: the CLI, the spool forwarder and the admin API. The event journal is
/// read directly, also while a gateway appends to it. The spool lives in the store's
/// database, which one process opens at a time: the gateway reads it through its own
/// handle ([`Store::reader`]); the CLI opens it when no gateway runs, and otherwise asks
/// the running gateway's admin API (its address is in `<store>/admin`).
pub struct Reader {
    /// The event journal's folder.
    pub(crate) journal: PathBuf,
    pub(crate) spool: SpoolAccess,
    /// Where the last [`Reader::oldest`] of events stopped (its last seq), so that the
    /// next one, asked for what follows, reads on instead of from the segment's start.
    pub(super) cursor: std::cell::RefCell<Option<(i64, journal::Scan)>>,
}

pub(crate) enum SpoolAccess {
    /// The database is open in this process; the CLI holds its handle here, so that it
    /// stays open while the reader reads.
    Local(Tables, #[allow(dead_code)] Option<dedup::Ledger>),
    /// A running gateway holds it: its admin address.
    Remote(String),
}

/// The file where a serving gateway records its admin address for `hookgate store`.
pub(crate) fn admin_file(dir: &Path) -> PathBuf {
    dir.join("admin")
}

impl Store {
    /// A reader that shares this process's database handle.
    pub(crate) fn reader(&self) -> Reader {
        Reader {
            journal: journal::dir(&self.dir),
            spool: SpoolAccess::Local(self.tables.clone(), None),
            cursor: Default::default(),
        }
    }
}

impl Reader {
    /// Open the store in `dir` for reading (the CLI).
    pub fn open(dir: &Path) -> Result<Reader, StoreError> {
        if !db_dir(dir).exists() {
            return Err(StoreError::Dir(
                dir.to_path_buf(),
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no store here (has the gateway run?)",
                ),
            ));
        }
        check_format(dir, false)?;
        // A window no compaction reaches: a reader must never drop a gateway's ids.
        let forever = Duration::from_secs(100 * 365 * 24 * 3600);
        let spool = match open_ledger(dir, forever) {
            Ok(ledger) => SpoolAccess::Local(Tables::open(&ledger)?, Some(ledger)),
            Err(StoreError::InUse(_)) => match std::fs::read_to_string(admin_file(dir)) {
                Ok(addr) => SpoolAccess::Remote(addr.trim().to_string()),
                Err(_) => return Err(StoreError::InUse(dir.to_path_buf())),
            },
            Err(e) => return Err(e),
        };
        Ok(Reader {
            journal: journal::dir(dir),
            spool,
            cursor: Default::default(),
        })
    }

    /// Every spooled event that `keep` accepts, oldest first (a local read).
    pub(super) fn scan_spool(
        tables: &Tables,
        mut keep: impl FnMut(&journal::Record) -> bool,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let chunk = tables.spooled(after, 1024)?;
            let Some(last) = chunk.last() else { break };
            after = last.seq;
            out.extend(chunk.into_iter().filter(|r| keep(r)).map(StoredEvent::from));
        }
        Ok(out)
    }

    /// The newest `limit` stored events that `filter` keeps, oldest first (the event
    /// archive; the spool is listed by [`Reader::list`]).
    pub fn archive(&self, filter: &Filter, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let records = journal::newest(&self.journal, limit, |r| filter.keeps(&r.event))?;
        Ok(records.into_iter().map(StoredEvent::from).collect())
    }

    /// The newest `limit` events (optionally of one route), oldest first.
    pub fn list(
        &self,
        table: Table,
        route: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let keep = |r: &journal::Record| route.is_none_or(|want| *r.event.route == *want);
        match (table, &self.spool) {
            (Table::Events, _) => {
                let records = journal::newest(&self.journal, limit, keep)?;
                Ok(records.into_iter().map(StoredEvent::from).collect())
            }
            (Table::Spool, SpoolAccess::Local(t, _)) => {
                let mut all = Self::scan_spool(t, keep)?;
                let skip = all.len().saturating_sub(limit);
                all.drain(..skip);
                Ok(all)
            }
            (Table::Spool, SpoolAccess::Remote(addr)) => {
                let mut q = format!("/api/v1/spool?limit={limit}");
                if let Some(r) = route {
                    q.push_str(&format!(
                        "&route={}",
                        crate::durable::store::query_escape(r)
                    ));
                }
                remote(addr, &q)
            }
        }
    }

    /// Events after `after_seq` in arrival order that `filter` keeps.
    pub fn oldest(
        &self,
        table: Table,
        filter: &Filter,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let keep = |r: &journal::Record| filter.keeps(&r.event);
        match (table, &self.spool) {
            (Table::Events, _) => {
                let mut cursor = self.cursor.borrow_mut();
                let mut scan = match cursor.take() {
                    Some((at, scan)) if at == after_seq => scan,
                    _ => journal::Scan::new(&self.journal, after_seq)?,
                };
                let mut out = Vec::new();
                while out.len() < limit {
                    let Some(r) = scan.next().transpose()? else {
                        break;
                    };
                    if keep(&r) {
                        out.push(StoredEvent::from(r));
                    }
                }
                if let Some(last) = out.last() {
                    *cursor = Some((last.seq, scan));
                }
                Ok(out)
            }
            (Table::Spool, SpoolAccess::Local(t, _)) => {
                let (mut out, mut after) = (Vec::new(), after_seq);
                while out.len() < limit {
                    let chunk = t.spooled(after, limit)?;
                    let Some(last) = chunk.last() else { break };
                    after = last.seq;
                    out.extend(chunk.into_iter().filter(|r| keep(r)).map(StoredEvent::from));
                }
                out.truncate(limit);
                Ok(out)
            }
            (Table::Spool, SpoolAccess::Remote(_)) => Err(StoreError::Remote(
                "the spool is read in order only by the gateway that holds it".into(),
            )),
        }
    }

    /// Every stored event with this id. A scan: events have no index by id, and an
    /// operator's look-up is rare next to the write an index would cost each event.
    pub fn show(&self, id: &str) -> Result<Vec<(Table, StoredEvent)>, StoreError> {
        let mut out = Vec::new();
        for r in journal::Scan::new(&self.journal, 0)? {
            let r = r?;
            if r.event.id == id {
                out.push((Table::Events, StoredEvent::from(r)));
            }
        }
        let spooled = match &self.spool {
            SpoolAccess::Local(t, _) => Self::scan_spool(t, |r| r.event.id == id)?,
            SpoolAccess::Remote(addr) => remote(
                addr,
                &format!(
                    "/api/v1/spool?id={}",
                    crate::durable::store::query_escape(id)
                ),
            )?,
        };
        out.extend(spooled.into_iter().map(|e| (Table::Spool, e)));
        Ok(out)
    }

    /// How many events `table` holds (a read of the whole journal for events).
    pub fn count(&self, table: Table) -> Result<u64, StoreError> {
        match (table, &self.spool) {
            (Table::Events, _) => {
                let mut n = 0;
                for r in journal::Scan::new(&self.journal, 0)? {
                    r?;
                    n += 1;
                }
                Ok(n)
            }
            (Table::Spool, SpoolAccess::Local(t, _)) => Ok(t.spool.len()? as u64),
            (Table::Spool, SpoolAccess::Remote(addr)) => {
                Ok(remote(addr, "/api/v1/spool?limit=18446744073709551615")?.len() as u64)
            }
        }
    }

    /// Spooled events per route (the gateway, at start).
    pub fn spool_depths(&self) -> Result<HashMap<String, i64>, StoreError> {
        let SpoolAccess::Local(t, _) = &self.spool else {
            return Err(StoreError::Remote("spool depths are read locally".into()));
        };
        let mut depths = HashMap::new();
        for e in Self::scan_spool(t, |_| true)? {
            *depths.entry(e.route).or_insert(0) += 1;
        }
        Ok(depths)
    }
}

/// A spool read through the running gateway's admin API (loopback only).
pub(super) fn remote(addr: &str, path_and_query: &str) -> Result<Vec<StoredEvent>, StoreError> {
    let items: Vec<ApiEvent> = remote_call(addr, "GET", path_and_query)?;
    Ok(items.into_iter().map(ApiEvent::into_stored).collect())
}

/// `method` `pq` on the running gateway's admin API, its JSON answer decoded.
pub(crate) fn remote_call<T: serde::de::DeserializeOwned>(
    addr: &str,
    method: &str,
    pq: &str,
) -> Result<T, StoreError> {
    let body = crate::durable::store::call(addr, method, pq).map_err(|e| {
        StoreError::Remote(format!(
            "the store is held by the gateway whose admin port is {addr}, which {e}"
        ))
    })?;
    let unexpected = |e| format!("unexpected answer from the admin API at {addr}: {e}");
    serde_json::from_slice(&body).map_err(|e| StoreError::Remote(unexpected(e)))
}

/// A stored event as the admin API sends it: the listing's fields and the body.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct ApiEvent {
    #[serde(flatten)]
    pub event: StoredEvent,
    pub body_base64: String,
}

impl ApiEvent {
    pub(crate) fn of(e: StoredEvent) -> ApiEvent {
        use base64::Engine;
        ApiEvent {
            body_base64: base64::engine::general_purpose::STANDARD.encode(&e.body),
            event: e,
        }
    }

    pub(super) fn into_stored(self) -> StoredEvent {
        use base64::Engine;
        let mut e = self.event;
        e.body = base64::engine::general_purpose::STANDARD
            .decode(self.body_base64)
            .unwrap_or_default();
        e
    }
}

/// Which stored events a listing keeps: every given condition holds.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub route: Option<String>,
    /// The event type, `*` globbing (`pull_request*`).
    pub event_type: Option<String>,
    /// Received at or after (Unix milliseconds).
    pub since_ms: Option<i64>,
    /// Received before (Unix milliseconds).
    pub until_ms: Option<i64>,
}

impl Filter {
    pub fn keeps(&self, e: &crate::checks::event::Event) -> bool {
        self.route.as_deref().is_none_or(|r| *e.route == *r)
            && self.event_type.as_deref().is_none_or(|t| {
                e.event_type
                    .as_deref()
                    .is_some_and(|have| crate::config::glob(t, have))
            })
            && self.since_ms.is_none_or(|s| e.received_at_ms >= s)
            && self.until_ms.is_none_or(|u| e.received_at_ms < u)
    }

    /// Whether any condition is set (an empty result then means "nothing matched").
    pub fn is_set(&self) -> bool {
        self.route.is_some()
            || self.event_type.is_some()
            || self.since_ms.is_some()
            || self.until_ms.is_some()
    }
}
