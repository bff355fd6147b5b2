//! What the `hookgate store` subcommands share: the event filters, the store opened for
//! reading, and the exit code of what they printed.

use std::io::StdoutLock;
use std::path::PathBuf;

use super::load_inspect;
use crate::durable::store::{Filter, Reader, StoreError};

/// The event filters of `store list` and `store replay`.
#[derive(clap::Args)]
pub(super) struct EventArgs {
    /// Only this route's events.
    #[arg(long)]
    pub(super) route: Option<String>,
    /// Only events of this type (`*` globs: 'pull_request*').
    #[arg(long = "type", value_name = "TYPE")]
    pub(super) event_type: Option<String>,
    /// Only events received since: an RFC 3339 time or a duration ago (2h, 30m).
    #[arg(long, value_name = "WHEN")]
    pub(super) since: Option<String>,
    /// Only events received before: an RFC 3339 time or a duration ago.
    #[arg(long, value_name = "WHEN")]
    pub(super) until: Option<String>,
}

impl EventArgs {
    /// The store's filter, the times resolved now; else why a time does not parse.
    pub(super) fn filter(&self) -> Result<Filter, String> {
        Ok(Filter {
            route: self.route.clone(),
            event_type: self.event_type.clone(),
            since_ms: when(self.since.as_deref())?,
            until_ms: when(self.until.as_deref())?,
        })
    }
}

/// Open the store for reading, run `print` with it and stdout, and turn the outcome
/// into the exit code: 0 when something was printed, 1 when `print` found nothing to
/// show (`Ok(false)`: a script can tell by the exit code), 2 when the store could not be
/// read or stdout written.
pub(super) fn print_from_store(
    path: Option<PathBuf>,
    config: &std::path::Path,
    print: impl FnOnce(&Reader, &mut StdoutLock<'static>) -> Result<std::io::Result<bool>, StoreError>,
) -> i32 {
    let reader = match open_reader(path, config) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let mut found = true;
    let result =
        print(&reader, &mut std::io::stdout().lock()).map(|written| written.map(|f| found = f));
    match exit_code(result) {
        0 if !found => 1,
        code => code,
    }
}

/// The store of `--path`, or of the configuration, opened for reading; else the exit
/// code, the reason printed.
fn open_reader(path: Option<PathBuf>, config: &std::path::Path) -> Result<Reader, i32> {
    let dir = match path {
        Some(p) => {
            // The store is named; the configuration, when there is one, may still hold
            // the admin token a running gateway's API asks for.
            if let Ok(c) = crate::config::load_for_inspection(config) {
                if let Some(t) = &c.admin_token {
                    crate::durable::store::use_admin_token(&t.0);
                }
            }
            p
        }
        None => match load_inspect(config) {
            Some(c) => c.store.path,
            None => return Err(1),
        },
    };
    Reader::open(&dir).map_err(|e| {
        eprintln!("hookgate store: {e}");
        2
    })
}

/// 0 when read and written; 2 with the reason printed otherwise.
fn exit_code(result: Result<std::io::Result<()>, StoreError>) -> i32 {
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
fn when(s: Option<&str>) -> Result<Option<i64>, String> {
    let Some(s) = s else { return Ok(None) };
    if let Ok(t) = humantime::parse_rfc3339_weak(s) {
        let d = t
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|_| format!("{s:?} is before 1970"))?;
        return Ok(Some(d.as_millis() as i64));
    }
    match humantime::parse_duration(s) {
        Ok(d) => Ok(Some(
            crate::now_ms().saturating_sub(d.as_millis().try_into().unwrap_or(i64::MAX)),
        )),
        Err(_) => Err(format!(
            "{s:?} is neither an RFC 3339 time (2026-12-03T10:00:00Z) nor a duration ago (2h)"
        )),
    }
}
