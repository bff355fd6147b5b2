//! `hookgate store`: list and show stored events, replay them to a broker.

use std::path::PathBuf;

use super::*;

pub(super) fn store(path: Option<PathBuf>, config: &std::path::Path, command: StoreCommand) -> i32 {
    use crate::store::Table;
    if let StoreCommand::Replay {
        route,
        after,
        limit,
    } = command
    {
        return replay(path, config, route, after, limit);
    }
    if let StoreCommand::Dead { command } = command {
        return super::dead::dead(path, config, command);
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
            limit,
            json,
            spool,
        } => {
            let table = if spool { Table::Spool } else { Table::Events };
            reader.list(table, route.as_deref(), limit).map(|events| {
                if events.is_empty() {
                    match &route {
                        Some(r) => {
                            eprintln!("no events for route {r:?}");
                            nothing = true;
                        }
                        None => eprintln!("the store holds no events"),
                    }
                }
                print_list(&mut out, &events, json)
            })
        }
        StoreCommand::Replay { .. } | StoreCommand::Dead { .. } => unreachable!("handled above"),
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

/// The store of `--path`, or of the configuration, opened for reading; else the exit
/// code, the reason printed.
pub(super) fn open_reader(
    path: Option<PathBuf>,
    config: &std::path::Path,
) -> Result<crate::store::Reader, i32> {
    let dir = match path {
        Some(p) => p,
        None => match load_inspect(config) {
            Some(c) => c.store.path,
            None => return Err(1),
        },
    };
    crate::store::Reader::open(&dir).map_err(|e| {
        eprintln!("hookgate store: {e}");
        2
    })
}

/// 0 when read and written; 2 with the reason printed otherwise.
pub(super) fn exit_code(result: Result<std::io::Result<()>, crate::store::StoreError>) -> i32 {
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

/// Written, not `println!`ed: `println!` panics when stdout is a pipe whose reader
/// has gone (`| head`).
pub(super) fn print_list(
    out: &mut impl std::io::Write,
    events: &[crate::store::StoredEvent],
    json: bool,
) -> std::io::Result<()> {
    if json {
        for e in events {
            writeln!(out, "{}", serde_json::to_string(e).unwrap_or_default())?;
        }
        return out.flush();
    }
    // Columns as wide as their widest value, so long routes and types stay aligned.
    let width = |f: &dyn Fn(&crate::store::StoredEvent) -> usize, title: &str| {
        events.iter().map(f).max().unwrap_or(0).max(title.len())
    };
    let route_w = width(&|e| e.route.len(), "route");
    let type_w = width(&|e| e.event_type.as_deref().map_or(1, str::len), "type");
    writeln!(
        out,
        "{:>8}  {:<24}  {:<route_w$}  {:<type_w$}  {:>7}  id",
        "seq", "received_at", "route", "type", "bytes"
    )?;
    for e in events {
        writeln!(
            out,
            "{:>8}  {:<24}  {:<route_w$}  {:<type_w$}  {:>7}  {}",
            e.seq,
            e.received_at,
            e.route,
            e.event_type.as_deref().unwrap_or("-"),
            e.body_len,
            e.id
        )?;
    }
    out.flush()
}

pub(super) fn print_show(
    out: &mut impl std::io::Write,
    events: &[(crate::store::Table, crate::store::StoredEvent)],
) -> std::io::Result<()> {
    for (table, e) in events {
        if *table == crate::store::Table::Spool {
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

pub(super) fn replay(
    path: Option<PathBuf>,
    config: &std::path::Path,
    route: Option<String>,
    after: i64,
    limit: Option<usize>,
) -> i32 {
    let Some(cfg) = load_inspect(config) else {
        return 1;
    };
    let Some(broker_cfg) = cfg.broker.clone() else {
        eprintln!(
            "hookgate store replay: {} has no broker section to replay to",
            config.display()
        );
        return 1;
    };
    let dir = path.unwrap_or_else(|| cfg.store.path.clone());
    let Some(rt) = runtime(tokio::runtime::Builder::new_current_thread()) else {
        return 2;
    };
    let result: anyhow::Result<(usize, i64)> = rt.block_on(async {
        let reader = crate::store::Reader::open(&dir)?;
        let metrics = std::sync::Arc::new(crate::metrics::Metrics::new());
        let broker =
            crate::broker::Broker::start(broker_cfg, crate::gateway::topology(&cfg), metrics)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !broker.connected() {
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "cannot reach the broker"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let (mut sent, mut last) = (0usize, after);
        let max = limit.unwrap_or(usize::MAX);
        let mut reader = Some(reader);
        while sent < max {
            let r = reader.take().expect("forward_batch gives the reader back");
            let (r, step) = crate::spool::forward_batch(
                r,
                &broker,
                crate::store::Table::Events,
                route.clone(),
                last,
                256.min(max - sent),
            )
            .await;
            reader = Some(r);
            let step = step?;
            let Some(&tail) = step.seqs.last() else {
                break;
            };
            sent += step.confirmed;
            if step.confirmed < step.events.len() {
                broker.close().await;
                anyhow::bail!(
                    "stopped: event seq {} was not confirmed ({sent} replayed)",
                    step.seqs[step.confirmed]
                );
            }
            last = tail;
        }
        broker.close().await;
        Ok((sent, last))
    });
    match result {
        Ok((sent, last)) => {
            println!("replayed {sent} event(s), up to seq {last}");
            0
        }
        Err(e) => {
            eprintln!("hookgate store replay: {e:#}");
            2
        }
    }
}
