//! `hookgate store`: list and show stored events, replay them to a broker.

use std::path::PathBuf;

use super::reading::{exit_code, open_reader, when};
use super::StoreCommand;

pub(super) fn store(path: Option<PathBuf>, config: &std::path::Path, command: StoreCommand) -> i32 {
    use crate::durable::store::Table;
    if let StoreCommand::Replay(args) = command {
        return super::replay::replay(path, config, args);
    }
    if let StoreCommand::Dead { command } = command {
        return super::dead::dead(path, config, command);
    }
    if let StoreCommand::Rejected { command } = command {
        return super::rejected::rejected(path, config, command);
    }
    let reader = match open_reader(path, config) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let mut out = std::io::stdout().lock();
    // Whether a filter or an id matched nothing: a script can tell by the exit code.
    let mut nothing = false;
    let result = match command {
        StoreCommand::List {
            route,
            event_type,
            since,
            until,
            limit,
            json,
            spool,
            status,
        } => {
            let filter = match (when(since.as_deref()), when(until.as_deref())) {
                (Ok(since_ms), Ok(until_ms)) => crate::durable::store::Filter {
                    route,
                    event_type,
                    since_ms,
                    until_ms,
                },
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("hookgate store list: {e}");
                    return 1;
                }
            };
            let listed = if spool {
                reader.list(Table::Spool, filter.route.as_deref(), limit)
            } else {
                // The destinations' event types come from the configuration, when there
                // is one to read (with --path alone, every destination takes every type).
                let cfg = config
                    .exists()
                    .then(|| crate::config::load_for_inspection(config).ok())
                    .flatten();
                reader
                    .status_view(cfg.as_ref())
                    .and_then(|view| reader.archive_status(&filter, &view, status, limit))
            };
            listed.map(|events| {
                if events.is_empty() {
                    if filter.is_set() || status.is_some() {
                        eprintln!("no events match the filters");
                        nothing = true;
                    } else {
                        eprintln!("the store holds no events");
                    }
                }
                print_list(&mut out, &events, json)
            })
        }
        StoreCommand::Replay(_) | StoreCommand::Dead { .. } | StoreCommand::Rejected { .. } => {
            unreachable!("handled above")
        }
        StoreCommand::Show { id } => reader.show(&id).map(|events| {
            if events.is_empty() {
                eprintln!("no event with id {id:?}");
                nothing = true;
            }
            print_show(&mut out, &events)
        }),
    };
    match exit_code(result) {
        0 if nothing => 1,
        code => code,
    }
}

/// Written, not `println!`ed: `println!` panics when stdout is a pipe whose reader
/// has gone (`| head`).
pub(super) fn print_list(
    out: &mut impl std::io::Write,
    events: &[crate::durable::store::StoredEvent],
    json: bool,
) -> std::io::Result<()> {
    if json {
        for e in events {
            writeln!(out, "{}", serde_json::to_string(e).unwrap_or_default())?;
        }
        return out.flush();
    }
    // Columns as wide as their widest value, so long routes and types stay aligned.
    let width = |f: &dyn Fn(&crate::durable::store::StoredEvent) -> usize, title: &str| {
        events.iter().map(f).max().unwrap_or(0).max(title.len())
    };
    let route_w = width(&|e| e.route.len(), "route");
    let type_w = width(&|e| e.event_type.as_deref().map_or(1, str::len), "type");
    writeln!(
        out,
        "{:>8}  {:<24}  {:<route_w$}  {:<type_w$}  {:>7}  {:<9}  id",
        "seq", "received_at", "route", "type", "bytes", "status"
    )?;
    for e in events {
        writeln!(
            out,
            "{:>8}  {:<24}  {:<route_w$}  {:<type_w$}  {:>7}  {:<9}  {}",
            e.seq,
            e.received_at,
            e.route,
            e.event_type.as_deref().unwrap_or("-"),
            e.body_len,
            e.status.map_or("-", |s| s.label()),
            e.id
        )?;
    }
    out.flush()
}

pub(super) fn print_show(
    out: &mut impl std::io::Write,
    events: &[(
        crate::durable::store::Table,
        crate::durable::store::StoredEvent,
    )],
) -> std::io::Result<()> {
    for (table, e) in events {
        if *table == crate::durable::store::Table::Spool {
            writeln!(out, "(in the spool, waiting for the broker)")?;
        }
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(e).unwrap_or_default()
        )?;
        writeln!(out, "{}", String::from_utf8_lossy(&e.body))?;
    }
    out.flush()
}
