//! What the `hookgate store` subcommands share: the store opened for reading, the time
//! filters, and the exit code of what they printed.

use std::path::PathBuf;

use super::load_inspect;

/// The store of `--path`, or of the configuration, opened for reading; else the exit
/// code, the reason printed.
pub(super) fn open_reader(
    path: Option<PathBuf>,
    config: &std::path::Path,
) -> Result<crate::durable::store::Reader, i32> {
    let dir = match path {
        Some(p) => p,
        None => match load_inspect(config) {
            Some(c) => c.store.path,
            None => return Err(1),
        },
    };
    crate::durable::store::Reader::open(&dir).map_err(|e| {
        eprintln!("hookgate store: {e}");
        2
    })
}

/// 0 when read and written; 2 with the reason printed otherwise.
pub(super) fn exit_code(
    result: Result<std::io::Result<()>, crate::durable::store::StoreError>,
) -> i32 {
    match result {
        Ok(Ok(())) => 0,
        // `hookgate store list | head`: the reader has what it wanted.
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Ok(Err(e)) => {
            eprintln!("hookgate store: cannot write the output: {e}");
            2
        }
        Err(e) => {
            eprintln!("hookgate store: {e}");
            2
        }
    }
}

/// `--since`/`--until`: an RFC 3339 time, or a duration ago (`2h`), as Unix ms.
pub(super) fn when(s: Option<&str>) -> Result<Option<i64>, String> {
    let Some(s) = s else { return Ok(None) };
    if let Ok(t) = humantime::parse_rfc3339_weak(s) {
        let d = t
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|_| format!("{s:?} is before 1970"))?;
        return Ok(Some(d.as_millis() as i64));
    }
    match humantime::parse_duration(s) {
        Ok(d) => Ok(Some(crate::now_ms() - d.as_millis() as i64)),
        Err(_) => Err(format!(
            "{s:?} is neither an RFC 3339 time (2026-12-03T10:00:00Z) nor a duration ago (2h)"
        )),
    }
}
