//! `hookgate store`: list and show stored events, replay them to a broker.

use std::path::PathBuf;

use super::reading::print_from_store;
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
    match command {
        StoreCommand::List {
            filter,
            limit,
            json,
            spool,
            status,
        } => {
            let filter = match filter.filter() {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("hookgate store list: {e}");
                    return 1;
                }
            };
            print_from_store(path, config, |reader, out| {
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
                    // Only a filter or an id that matched nothing exits 1.
                    let mut found = true;
                    if events.is_empty() {
                        if filter.is_set() || status.is_some() {
                            eprintln!("no events match the filters");
                            found = false;
                        } else if spool {
                            eprintln!("the spool holds no events");
                        } else {
                            eprintln!("the store holds no events");
                        }
                    }
                    print_list(out, &events, json).map(|()| found)
                })
            })
        }
        StoreCommand::Replay(_) | StoreCommand::Dead { .. } | StoreCommand::Rejected { .. } => {
            unreachable!("handled above")
        }
        StoreCommand::Show { id } => print_from_store(path, config, |reader, out| {
            reader.show(&id).map(|events| {
                if events.is_empty() {
                    eprintln!("no event with id {id:?}");
                }
                print_show(out, &events).map(|()| !events.is_empty())
            })
        }),
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
