//! The command line (SPEC §1): `serve`, `check`, `sign`, `store`. Exit codes: 0 success,
//! 1 invalid configuration or usage, 2 runtime failure.

use std::io::Read;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{self, Config};

#[derive(Parser)]
#[command(name = "hookgate", version, about = "Receiver-side webhook gateway")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct ConfigArg {
    /// Configuration file [default: $HOOKGATE_CONFIG, then hookgate.yaml]
    #[arg(short, long, env = "HOOKGATE_CONFIG", default_value = "hookgate.yaml")]
    config: PathBuf,
    /// Development: allow secrets taken from `${VAR:-default}` defaults (warned at
    /// start and in /readyz). Without it such a configuration is refused.
    #[arg(long)]
    dev: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve(ConfigArg),
    /// Validate the configuration and print its routes.
    Check(ConfigArg),
    /// Print the headers that make a request valid for a route.
    Sign {
        #[command(flatten)]
        config: ConfigArg,
        /// Route name.
        #[arg(long)]
        route: String,
        /// Body file, or - for stdin [default: empty JSON object]
        #[arg(long)]
        body: Option<String>,
        /// Sign with this secret instead of the route's first one.
        #[arg(long)]
        secret: Option<String>,
        /// Print a ready curl command for this URL.
        #[arg(long)]
        curl: Option<String>,
    },
    /// Inspect the embedded store.
    Store {
        /// Store folder [default: store.path of the configuration]
        #[arg(long)]
        path: Option<PathBuf>,
        #[arg(short, long, env = "HOOKGATE_CONFIG", default_value = "hookgate.yaml")]
        config: PathBuf,
        #[command(subcommand)]
        command: StoreCommand,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// List the newest accepted events.
    List {
        #[arg(long)]
        route: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// List the outage spool (events waiting for the broker) instead.
        #[arg(long)]
        spool: bool,
    },
    /// Show an event (metadata and body) by id.
    Show { id: String },
    /// Publish stored events to the configuration's broker (with confirms), oldest
    /// first; e.g. after moving from the embedded store to RabbitMQ. Events stay in
    /// the store; consumers dedup on message_id.
    Replay {
        #[arg(long)]
        route: Option<String>,
        /// Only events after this sequence number (the `seq` column of `list`).
        #[arg(long, default_value_t = 0)]
        after: i64,
        #[arg(long)]
        limit: Option<usize>,
    },
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Command::Serve(c) => serve(&c.config, c.dev),
        Command::Check(c) => check(&c.config, c.dev),
        Command::Sign {
            config,
            route,
            body,
            secret,
            curl,
        } => {
            let Some(cfg) = load(&config.config, config.dev) else {
                return 1;
            };
            match sign(
                &cfg,
                &route,
                body.as_deref(),
                secret.as_deref(),
                curl.as_deref(),
            ) {
                Ok(out) => {
                    print!("{out}");
                    0
                }
                Err(e) => {
                    eprintln!("hookgate sign: {e}");
                    1
                }
            }
        }
        Command::Store {
            path,
            config,
            command,
        } => store(path, &config, command),
    }
}

/// Build a runtime, or say why not (exit code 2 at the caller).
fn runtime(mut builder: tokio::runtime::Builder) -> Option<tokio::runtime::Runtime> {
    builder
        .enable_all()
        .build()
        .map_err(|e| eprintln!("hookgate: cannot start the runtime: {e}"))
        .ok()
}

fn load(path: &std::path::Path, dev: bool) -> Option<Config> {
    match config::load_mode(path, dev) {
        Ok(c) => Some(c),
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!(
                "{}: {} problem(s); configuration refused",
                path.display(),
                errors.0.len()
            );
            None
        }
    }
}

fn serve(path: &std::path::Path, dev: bool) -> i32 {
    let Some(cfg) = load(path, dev) else { return 1 };
    crate::telemetry::init(&cfg.log);
    let Some(rt) = runtime(tokio::runtime::Builder::new_multi_thread()) else {
        return 2;
    };
    match rt.block_on(crate::gateway::run(cfg)) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("hookgate: {e:#}");
            2
        }
    }
}

fn check(path: &std::path::Path, dev: bool) -> i32 {
    let Some(cfg) = load(path, dev) else { return 1 };
    println!("{}: ok, {} route(s)", path.display(), cfg.routes.len());
    for r in &cfg.routes {
        let mut checks = Vec::new();
        if r.allow_ips.is_some() {
            checks.push("allow_ips");
        }
        if r.rate_limit.is_some() {
            checks.push("rate_limit");
        }
        if r.body_json {
            checks.push("json");
        }
        if r.schema.is_some() {
            checks.push("schema");
        }
        checks.push("dedup");
        println!(
            "  {:<16} POST {:<28} provider={:<18} verify: {}; checks: {}; queue: {}",
            r.name,
            r.path,
            r.provider.map_or("-", |p| p.name()),
            r.verifier.describe(),
            checks.join(","),
            r.queue
        );
    }
    match &cfg.broker {
        Some(b) => println!(
            "  broker: {} exchange={} when_unavailable={:?}",
            b.redacted_url(),
            b.exchange,
            b.when_unavailable
        ),
        None => println!(
            "  broker: none (accepted events are kept in the store at {})",
            cfg.store.path.display()
        ),
    }
    let l = &cfg.limits;
    println!(
        "  limits: bodies held at once <= {} MiB (body_memory {} MiB, max_in_flight {} x max_body {} KiB); per client {} requests, {} MiB; memory: {}",
        config::worst_body_memory(l) >> 20,
        l.body_memory >> 20,
        l.max_in_flight,
        l.max_body >> 10,
        l.max_in_flight_per_client,
        l.body_memory_per_client >> 20,
        match l.memory {
            Some((m, config::MemorySource::Setting)) => format!("{} MiB (limits.memory)", m >> 20),
            Some((m, config::MemorySource::Cgroup)) => format!("{} MiB (cgroup)", m >> 20),
            None => "no limit known".to_string(),
        }
    );
    for w in &cfg.warnings {
        println!("  warning: {w}");
    }
    0
}

fn sign(
    cfg: &Config,
    route: &str,
    body: Option<&str>,
    secret: Option<&str>,
    curl: Option<&str>,
) -> anyhow::Result<String> {
    let r = cfg
        .routes
        .iter()
        .find(|r| &*r.name == route)
        .ok_or_else(|| anyhow::anyhow!("no route named {route:?}"))?;
    let (bytes, body_file) = match body {
        None => (b"{}".to_vec(), None),
        Some("-") => {
            let mut b = Vec::new();
            std::io::stdin().read_to_end(&mut b)?;
            (b, None)
        }
        Some(f) => (
            std::fs::read(f).map_err(|e| anyhow::anyhow!("cannot read {f}: {e}"))?,
            Some(f),
        ),
    };
    let key = match secret {
        Some(s) => match r.provider {
            Some(p) => p.decode_secret(s).map_err(anyhow::Error::msg)?,
            None => s.as_bytes().to_vec(),
        },
        None => r
            .secrets
            .first()
            .map(|s| s.0.clone())
            .ok_or_else(|| anyhow::anyhow!("route {route:?} has no secret (verify: none?)"))?,
    };
    crate::sign::render(cfg, r, &bytes, &key, body_file, curl)
}

fn store(path: Option<PathBuf>, config: &std::path::Path, command: StoreCommand) -> i32 {
    use crate::store::Table;
    if let StoreCommand::Replay {
        route,
        after,
        limit,
    } = command
    {
        return replay(path, config, route, after, limit);
    }
    let dir = match path {
        Some(p) => p,
        // The store's commands verify nothing: a secret's default is no risk here.
        None => match load(config, true) {
            Some(c) => c.store.path,
            None => return 1,
        },
    };
    let reader = match crate::store::Reader::open(&dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hookgate store: {e}");
            return 2;
        }
    };
    let mut out = std::io::stdout().lock();
    let result = match command {
        StoreCommand::List {
            route,
            limit,
            json,
            spool,
        } => {
            let table = if spool { Table::Spool } else { Table::Events };
            reader
                .list(table, route.as_deref(), limit)
                .map(|events| print_list(&mut out, &events, json))
        }
        StoreCommand::Replay { .. } => unreachable!("handled above"),
        StoreCommand::Show { id } => reader.show(&id).map(|events| {
            if events.is_empty() {
                eprintln!("no event with id {id:?}");
            }
            print_show(&mut out, &events)
        }),
    };
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
fn print_list(
    out: &mut impl std::io::Write,
    events: &[crate::store::StoredEvent],
    json: bool,
) -> std::io::Result<()> {
    if !json {
        writeln!(
            out,
            "{:>8}  {:<24}  {:<12}  {:<20}  {:>7}  id",
            "seq", "received_at", "route", "type", "bytes"
        )?;
    }
    for e in events {
        if json {
            writeln!(out, "{}", serde_json::to_string(e).unwrap_or_default())?;
        } else {
            writeln!(
                out,
                "{:>8}  {:<24}  {:<12}  {:<20}  {:>7}  {}",
                e.seq,
                e.received_at,
                e.route,
                e.event_type.as_deref().unwrap_or("-"),
                e.body_len,
                e.id
            )?;
        }
    }
    out.flush()
}

fn print_show(
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

fn replay(
    path: Option<PathBuf>,
    config: &std::path::Path,
    route: Option<String>,
    after: i64,
    limit: Option<usize>,
) -> i32 {
    let Some(cfg) = load(config, true) else {
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
        while sent < max {
            let batch = reader.oldest(
                crate::store::Table::Events,
                route.as_deref(),
                last,
                256.min(max - sent),
            )?;
            let Some(tail) = batch.last().map(|e| e.seq) else {
                break;
            };
            let seqs: Vec<i64> = batch.iter().map(|e| e.seq).collect();
            let events: Vec<_> = batch.into_iter().map(|e| e.into_event()).collect();
            let confirmed = broker.publish_in_order(&events).await;
            sent += confirmed;
            if confirmed < events.len() {
                broker.close().await;
                anyhow::bail!(
                    "stopped: event seq {} was not confirmed ({sent} replayed)",
                    seqs[confirmed]
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
