//! The dedup ledger: `(route, event id) -> first accepted at`, kept in the embedded
//! store for `dedup_window`. An id is recorded in the same transaction that makes its
//! event durable, so only an accepted event makes a later delivery a `duplicate`; a
//! failed hand-off leaves no trace and the provider's retry is processed afresh.

use rusqlite::{params, OptionalExtension, Transaction};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS dedup (
    route   TEXT NOT NULL,
    id      TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (route, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedup_seen_at ON dedup (seen_at);
";

/// `true` if `(route, id)` was accepted at or after `since_ms`; otherwise records it
/// as seen at `now_ms` (the caller commits or rolls back with its event).
pub fn seen_or_record(
    tx: &Transaction,
    route: &str,
    id: &str,
    now_ms: i64,
    since_ms: i64,
) -> rusqlite::Result<bool> {
    // One statement: insert, or refresh an entry older than the window; no change means
    // the id was accepted within the window.
    let changed = tx
        .prepare_cached(
            "INSERT INTO dedup (route, id, seen_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (route, id) DO UPDATE SET seen_at = excluded.seen_at WHERE seen_at < ?4",
        )?
        .execute(params![route, id, now_ms, since_ms])?;
    Ok(changed == 0)
}

/// Was `(route, id)` accepted at or after `since_ms`? (Read only.)
pub fn seen(tx: &Transaction, route: &str, id: &str, since_ms: i64) -> rusqlite::Result<bool> {
    let prev: Option<i64> = tx
        .prepare_cached("SELECT seen_at FROM dedup WHERE route = ?1 AND id = ?2")?
        .query_row(params![route, id], |r| r.get(0))
        .optional()?;
    Ok(prev.is_some_and(|t| t >= since_ms))
}

/// The same look-up on a plain (read-only) connection.
pub fn seen_in(
    conn: &rusqlite::Connection,
    route: &str,
    id: &str,
    since_ms: i64,
) -> rusqlite::Result<bool> {
    let prev: Option<i64> = conn
        .prepare_cached("SELECT seen_at FROM dedup WHERE route = ?1 AND id = ?2")?
        .query_row(params![route, id], |r| r.get(0))
        .optional()?;
    Ok(prev.is_some_and(|t| t >= since_ms))
}

/// Record `(route, id)` as accepted at `now_ms`.
pub fn record(tx: &Transaction, route: &str, id: &str, now_ms: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT OR REPLACE INTO dedup (route, id, seen_at) VALUES (?1, ?2, ?3)")?
        .execute(params![route, id, now_ms])?;
    Ok(())
}

/// Forget ids older than the window.
pub fn expire(conn: &rusqlite::Connection, before_ms: i64) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM dedup WHERE seen_at < ?1", params![before_ms])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_window_and_scope() {
        let mut c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch(SCHEMA).unwrap();
        let tx = c.transaction().unwrap();
        assert!(!seen_or_record(&tx, "a", "1", 1000, 0).unwrap());
        assert!(seen_or_record(&tx, "a", "1", 1500, 500).unwrap());
        assert!(
            !seen_or_record(&tx, "b", "1", 1500, 500).unwrap(),
            "dedup is scoped per route"
        );
        assert!(
            !seen_or_record(&tx, "a", "1", 5000, 2000).unwrap(),
            "outside the window it is new again"
        );
        tx.commit().unwrap();
        assert_eq!(expire(&c, 2000).unwrap(), 1);
    }
}
