//! `hookgate store dead list | show | replay`.

use std::io::Write;
use std::path::PathBuf;

use super::reading::print_from_store;
use crate::deliver::state::DeadLetter;
use crate::deliver::DeadFilter;
use clap::Subcommand;

#[derive(Subcommand)]
pub(super) enum DeadCommand {
    /// List dead letters, newest first.
    List {
        #[command(flatten)]
        filter: DeadArgs,
        /// At most this many, newest first.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Show the dead letters of an event id: every attempt's time, status and error,
    /// and the body.
    Show {
        /// The event id.
        id: String,
        /// Only this destination's dead letter.
        #[arg(long)]
        destination: Option<String>,
    },
    /// Deliver dead letters again, attempts from zero: at once if a gateway serves
    /// from the store, else at its next start. Give an id, or --route/--destination
    /// with --all.
    Replay {
        /// The event id to deliver again.
        id: Option<String>,
        #[command(flatten)]
        filter: DeadArgs,
        /// Every dead letter the filters match.
        #[arg(long)]
        all: bool,
    },
}

#[derive(clap::Args)]
pub(super) struct DeadArgs {
    /// Only this route's dead letters.
    #[arg(long)]
    route: Option<String>,
    /// Only this destination's dead letters.
    #[arg(long)]
    destination: Option<String>,
}

pub(super) fn dead(path: Option<PathBuf>, config: &std::path::Path, command: DeadCommand) -> i32 {
    if let DeadCommand::Replay {
        id: None,
        all: false,
        ..
    } = command
    {
        eprintln!("hookgate store dead replay: give an event id, or --all (with --route/--destination to narrow it)");
        return 1;
    }
    print_from_store(path, config, |reader, out| match command {
        DeadCommand::List {
            filter,
            limit,
            json,
        } => {
            let f = DeadFilter {
                route: filter.route,
                destination: filter.destination,
                id: None,
            };
            reader.dead(&f, limit).map(|v| {
                // As `store list`: only a filter that matched nothing exits 1.
                let filtered = f.route.is_some() || f.destination.is_some();
                if v.is_empty() {
                    let why = if filtered { " match the filters" } else { "" };
                    eprintln!("no dead letters{why}");
                }
                list(out, &v, json).map(|()| !(v.is_empty() && filtered))
            })
        }
        DeadCommand::Show { id, destination } => {
            let f = DeadFilter {
                route: None,
                destination,
                id: Some(id.clone()),
            };
            reader.dead(&f, usize::MAX).map(|v| {
                if v.is_empty() {
                    eprintln!("no dead letter with id {id:?}");
                }
                show(out, &v).map(|()| !v.is_empty())
            })
        }
        DeadCommand::Replay { id, filter, .. } => {
            let f = DeadFilter {
                route: filter.route,
                destination: filter.destination,
                id,
            };
            reader.replay_dead(&f).map(|v| {
                writeln!(out, "{} dead letter(s) marked for replay", v.len()).map(|()| true)
            })
        }
    })
}

fn list(out: &mut impl Write, v: &[DeadLetter], json: bool) -> std::io::Result<()> {
    if !json {
        writeln!(
            out,
            "{:<24}  {:<12}  {:<12}  {:>8}  {:<40}  last error",
            "dead at", "route", "destination", "attempts", "id"
        )?;
    }
    for d in v {
        if json {
            let mut j = serde_json::to_value(d).unwrap_or_default();
            if let Some(o) = j.as_object_mut() {
                o.remove("record");
            }
            writeln!(out, "{j}")?;
            continue;
        }
        let last = d.attempts.history.last().map_or("", |t| t.error.as_str());
        let last: String = last.chars().take(80).collect();
        writeln!(
            out,
            "{:<24}  {:<12}  {:<12}  {:>8}  {:<40}  {}",
            crate::rfc3339_ms(d.dead_at_ms),
            d.route,
            d.destination,
            d.attempts.n,
            d.id,
            last.replace('\n', " ")
        )?;
    }
    Ok(())
}

fn show(out: &mut impl Write, v: &[DeadLetter]) -> std::io::Result<()> {
    for d in v {
        writeln!(out, "id:           {}", d.id)?;
        writeln!(
            out,
            "route:        {}  destination: {}",
            d.route, d.destination
        )?;
        writeln!(
            out,
            "type:         {}",
            d.event_type.as_deref().unwrap_or("-")
        )?;
        writeln!(out, "received at:  {}", crate::rfc3339_ms(d.received_at_ms))?;
        writeln!(
            out,
            "dead at:      {}  after {} attempt(s){}",
            crate::rfc3339_ms(d.dead_at_ms),
            d.attempts.n,
            if d.replay { "  (replay asked)" } else { "" }
        )?;
        for t in &d.attempts.history {
            let status = t.status.map_or("-".to_string(), |s| s.to_string());
            writeln!(
                out,
                "  attempt at {}  status {status:>3}  {}",
                crate::rfc3339_ms(t.at_ms),
                t.error
            )?;
        }
        if let Some(r) = d.record() {
            writeln!(out, "body ({} bytes):", r.event.body.len())?;
            out.write_all(&r.event.body)?;
            writeln!(out)?;
        }
        writeln!(out)?;
    }
    Ok(())
}
