//! `hookgate store rejected list | show | replay`.

use std::io::Write;
use std::path::PathBuf;

use super::reading::print_from_store;
use crate::durable::rejections::{Filter, Rejected};

#[derive(clap::Subcommand)]
pub(super) enum RejectedCommand {
    /// List refused requests, newest first: time, route, source IP, code and reason.
    List {
        /// Only this route's (`none`: requests to paths no route has).
        #[arg(long)]
        route: Option<String>,
        /// Only this error code (e.g. signature_invalid).
        #[arg(long)]
        code: Option<String>,
        /// At most this many, newest first.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Show one refused request: reason, headers (credentials masked), body size and
    /// SHA-256, and its first bytes when `store.rejections.capture_body` is on.
    Show {
        /// The rejection's seq, from `list`.
        seq: u64,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Verify a refused request again with the running gateway's current configuration
    /// (e.g. after rotating a secret) and keep it if it passes. Needs the request as
    /// received: `store.rejections.capture_body: true` when it arrived.
    Replay {
        /// The rejection's seq, from `list`.
        seq: u64,
    },
}

pub(super) fn rejected(
    path: Option<PathBuf>,
    config: &std::path::Path,
    command: RejectedCommand,
) -> i32 {
    print_from_store(path, config, |reader, out| match command {
        RejectedCommand::List {
            route,
            code,
            limit,
            json,
        } => {
            let f = Filter { route, code };
            reader.rejections(&f, None, limit).map(|v| {
                if v.is_empty() {
                    eprintln!(
                        "no rejected requests recorded{}",
                        if f.route.is_some() || f.code.is_some() {
                            " that match the filters"
                        } else {
                            ""
                        }
                    );
                }
                let found = !v.is_empty() || (f.route.is_none() && f.code.is_none());
                list(out, &v, json).map(|()| found)
            })
        }
        RejectedCommand::Show { seq, json } => reader
            .rejections(&Filter::default(), Some(seq), 1)
            .map(|v| {
                if v.is_empty() {
                    eprintln!("no rejection {seq}");
                }
                v.iter()
                    .try_for_each(|r| show(out, r, json))
                    .map(|()| !v.is_empty())
            }),
        RejectedCommand::Replay { seq } => match reader.replay_rejection(seq) {
            Ok(answer) => {
                let written = writeln!(out, "{answer}");
                if answer.get("id").is_some() {
                    return Ok(written.map(|()| true));
                }
                // Refused again, or not replayable: say why where a person reads.
                let field = |k: &str| answer.get(k).and_then(|v| v.as_str()).unwrap_or("");
                let reason = match field("reason") {
                    "" => String::new(),
                    r => format!(": {r}"),
                };
                eprintln!("hookgate store rejected replay: {}{reason}", field("error"));
                Ok(written.map(|()| false))
            }
            Err(e) => Err(e),
        },
    })
}

fn list(out: &mut impl Write, v: &[Rejected], json: bool) -> std::io::Result<()> {
    if json {
        for r in v {
            writeln!(out, "{}", serde_json::to_string(r).unwrap_or_default())?;
        }
        return out.flush();
    }
    let route_w = v.iter().map(|r| r.route.len()).max().unwrap_or(0).max(5);
    let code_w = v.iter().map(|r| r.code.len()).max().unwrap_or(0).max(4);
    writeln!(
        out,
        "{:<16}  {:<24}  {:<route_w$}  {:<15}  {:<code_w$}  reason",
        "seq", "received_at", "route", "source_ip", "code"
    )?;
    for r in v {
        writeln!(
            out,
            "{:<16}  {:<24}  {:<route_w$}  {:<15}  {:<code_w$}  {}",
            r.seq, r.received_at, r.route, r.source_ip, r.code, r.reason
        )?;
    }
    out.flush()
}

fn show(out: &mut impl Write, r: &Rejected, json: bool) -> std::io::Result<()> {
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(r).unwrap_or_default()
        )?;
        return out.flush();
    }
    writeln!(out, "seq:          {}", r.seq)?;
    writeln!(out, "received_at:  {}", r.received_at)?;
    writeln!(out, "route:        {}", r.route)?;
    writeln!(out, "source_ip:    {}", r.source_ip)?;
    writeln!(out, "answer:       {} {}", r.status, r.code)?;
    writeln!(out, "reason:       {}", r.reason)?;
    writeln!(out, "request:      {} {}", r.method, r.path)?;
    writeln!(out, "headers:")?;
    for (n, v) in &r.headers {
        writeln!(out, "  {n}: {v}")?;
    }
    match (&r.body_bytes, &r.body_sha256) {
        (Some(n), Some(h)) => writeln!(out, "body:         {n} bytes, sha256 {h}")?,
        _ => writeln!(out, "body:         not read (refused before it)")?,
    }
    if let Some(head) = &r.body_head {
        writeln!(out, "body_head:    {head}")?;
    }
    writeln!(
        out,
        "replayable:   {}",
        if r.replayable {
            "yes (hookgate store rejected replay SEQ)"
        } else {
            "no (store.rejections.capture_body was off)"
        }
    )?;
    if let Some(id) = &r.replayed_as {
        writeln!(out, "replayed_as:  {id}")?;
    }
    out.flush()
}
