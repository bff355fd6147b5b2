//! The command line (docs/reference.md): `serve`, `check`, `sign`, `store`. Exit codes: 0 success,
//! 1 invalid configuration or usage, 2 runtime failure.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{self, Config};

mod check;
mod dead;
mod deliver;
mod ips;
mod providers;
mod reading;
mod rejected;
mod replay;
pub(crate) mod sign;
mod store;

use check::check;
use store::store;

#[derive(Parser)]
#[command(name = "hookgate", version, about = "Receiver-side webhook gateway")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
pub(crate) struct ConfigArg {
    /// The configuration file; $HOOKGATE_CONFIG names it when -c is not given.
    #[arg(short, long, env = "HOOKGATE_CONFIG", default_value = "hookgate.yaml")]
    pub config: PathBuf,
    /// Development: allow secrets taken from `${VAR:-default}` defaults (warned at
    /// start and in /readyz). Without it such a configuration is refused.
    #[arg(long)]
    pub dev: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        #[command(flatten)]
        config: ConfigArg,
        /// Log level, over the configuration's log.level (RUST_LOG still wins): error,
        /// warn, info, debug, trace.
        #[arg(long, value_name = "LEVEL")]
        log_level: Option<String>,
        /// Log format, over the configuration's log.format.
        #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"])]
        log_format: Option<String>,
        /// Serve webhooks on this address, over the configuration's `listen`.
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// The admin port's address, over the configuration's `admin.listen` (a
        /// non-loopback address needs `admin.token` for the API).
        #[arg(long, value_name = "ADDR")]
        admin_listen: Option<std::net::SocketAddr>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Validate the configuration and print its routes.
    Check(ConfigArg),
    /// Print the headers that make a request valid for a route.
    Sign(sign::SignArgs),
    /// Runs one destination's `transform` programs for the gateway, which starts it
    /// (a request per line of its stdin; not for use by hand).
    #[command(hide = true)]
    TransformWorker {
        /// The largest body a program may give, in bytes.
        #[arg(long)]
        max_output: usize,
    },
    /// List the provider presets (name, scheme, headers, documentation).
    Providers {
        /// One JSON array with every field of each preset.
        #[arg(long)]
        json: bool,
    },
    /// The providers' published webhook IP ranges, which `allow_ips` can name.
    Ips {
        #[command(subcommand)]
        command: IpsCommand,
    },
    /// Pause or resume delivery to a destination of the running gateway (kept across
    /// restarts; events keep being accepted and wait).
    Deliver {
        /// The running gateway's configuration (or $HOOKGATE_CONFIG).
        #[arg(short, long, env = "HOOKGATE_CONFIG", default_value = "hookgate.yaml")]
        config: PathBuf,
        #[command(subcommand)]
        command: deliver::DeliverCommand,
    },
    /// Inspect the embedded store.
    Store {
        /// The store's folder [default: the configuration's store.path]
        #[arg(long, global = true)]
        path: Option<PathBuf>,
        /// The configuration file (for store.path and the broker; secrets are not
        /// read); $HOOKGATE_CONFIG names it when -c is not given.
        #[arg(
            short,
            long,
            global = true,
            env = "HOOKGATE_CONFIG",
            default_value = "hookgate.yaml"
        )]
        config: PathBuf,
        #[command(subcommand)]
        command: StoreCommand,
    },
}

#[derive(Subcommand)]
enum IpsCommand {
    /// The sets shipped with this binary: name, provider, size, when taken, source.
    List,
    /// Fetch every provider's published list and write them all (or nothing) as JSON,
    /// for the configuration's `ip_sets:`.
    Update {
        /// Write here (atomically) instead of to stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Read a set from another URL, e.g. a mirror: NAME=URL (repeatable).
        #[arg(long = "source", value_name = "NAME=URL")]
        sources: Vec<String>,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// List the newest accepted events.
    List {
        #[command(flatten)]
        filter: reading::EventArgs,
        /// At most this many, newest first.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// List the outage spool (events waiting for the broker) instead.
        #[arg(long)]
        spool: bool,
        /// Only events whose delivery is: accepted (a route without destinations),
        /// delivered, pending or dead.
        #[arg(long, value_name = "STATUS")]
        status: Option<crate::durable::store::Status>,
    },
    /// Show an event (metadata and body) by id.
    Show {
        /// The event id (the `id` column of `list`, the message_id in the broker).
        id: String,
    },
    /// Dead letters: events a destination did not take within `max_attempts`.
    Dead {
        #[command(subcommand)]
        command: dead::DeadCommand,
    },
    /// Refused requests: why each was refused, their headers (credentials masked), the
    /// body's size and SHA-256; replay one once its cause is fixed.
    Rejected {
        #[command(subcommand)]
        command: rejected::RejectedCommand,
    },
    /// Publish stored events to the configuration's broker (with confirms), oldest
    /// first; e.g. after moving from the embedded store to RabbitMQ. Events stay in
    /// the store; consumers dedup on message_id.
    Replay(ReplayArgs),
}

/// `hookgate store replay`'s selection and pace.
#[derive(clap::Args)]
struct ReplayArgs {
    #[command(flatten)]
    filter: reading::EventArgs,
    /// Only events after this sequence number (the `seq` column of `list`; what an
    /// interrupted replay says to resume from).
    #[arg(long, default_value_t = 0)]
    after: i64,
    /// At most this many events [default: all].
    #[arg(long)]
    limit: Option<usize>,
    /// Send: without it, more than one event is a dry run that says how many would go.
    #[arg(long)]
    yes: bool,
    /// At most this many events a second [default: as fast as the broker confirms].
    #[arg(long, value_name = "N")]
    rate: Option<u32>,
    /// Deliver to this destination of --route (handed to the running gateway, which
    /// delivers with the destination's retries) instead of publishing to the broker.
    #[arg(long, value_name = "NAME")]
    destination: Option<String>,
    /// Start over, even if this replay was run before (by default the same command
    /// resumes an unfinished replay after its last confirmed event, and refuses to send
    /// a finished one again).
    #[arg(long)]
    restart: bool,
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
        Command::Serve {
            config,
            log_level,
            log_format,
            listen,
            admin_listen,
        } => serve(
            &config.config,
            config.dev,
            Overrides {
                log_level,
                log_format,
                listen,
                admin_listen,
            },
        ),
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            use std::io::Write as _;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "hookgate", &mut script);
            // `hookgate completions bash | head -1`: a reader that has gone is not an error.
            match std::io::stdout().lock().write_all(&script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    eprintln!("hookgate completions: {e}");
                    2
                }
                _ => 0,
            }
        }
        Command::Check(c) => check(&c.config, c.dev),
        Command::Providers { json } => providers::print(json),
        Command::Ips { command } => match command {
            IpsCommand::List => ips::list(),
            IpsCommand::Update { out, sources } => ips::update(out.as_deref(), &sources),
        },
        Command::Sign(a) => sign::command(a),
        Command::TransformWorker { max_output } => {
            crate::deliver::transform::worker_main(max_output)
        }
        Command::Store {
            path,
            config,
            command,
        } => store(path, &config, command),
        Command::Deliver { config, command } => deliver::deliver(&config, command),
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

pub(crate) fn load(path: &std::path::Path, dev: bool) -> Option<Config> {
    report(path, config::load_mode(path, dev))
}

/// The configuration for reading the store: the routes' secrets are not needed.
fn load_inspect(path: &std::path::Path) -> Option<Config> {
    let cfg = report(path, config::load_for_inspection(path))?;
    if let Some(t) = &cfg.admin_token {
        crate::durable::store::use_admin_token(&t.0);
    }
    Some(cfg)
}

fn report(path: &std::path::Path, loaded: Result<Config, config::ConfigErrors>) -> Option<Config> {
    if !path.exists() {
        eprintln!(
            "hookgate: no configuration at {}: give one with -c FILE or $HOOKGATE_CONFIG (config.example.yaml is a start)",
            path.display()
        );
        return None;
    }
    match loaded {
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

/// `serve`'s flags that override the configuration.
struct Overrides {
    log_level: Option<String>,
    log_format: Option<String>,
    listen: Option<std::net::SocketAddr>,
    admin_listen: Option<std::net::SocketAddr>,
}

fn serve(path: &std::path::Path, dev: bool, o: Overrides) -> i32 {
    let Some(mut cfg) = load(path, dev) else {
        return 1;
    };
    if let Some(a) = o.listen {
        (cfg.listen, cfg.listen_at) = (a, "--listen".into());
    }
    if let Some(a) = o.admin_listen {
        (cfg.admin_listen, cfg.admin_at) = (a, "--admin-listen".into());
    }
    if cfg.listen == cfg.admin_listen && cfg.listen.port() != 0 {
        eprintln!(
            "hookgate: the webhook and admin addresses are the same ({})",
            cfg.listen
        );
        return 1;
    }
    if let Some(level) = o.log_level {
        cfg.log.level = level;
    }
    match o.log_format.as_deref() {
        Some("json") => cfg.log.format = config::LogFormat::Json,
        Some("text") => cfg.log.format = config::LogFormat::Text,
        _ => {}
    }
    crate::obs::telemetry::init(&cfg.log);
    let Some(rt) = runtime(tokio::runtime::Builder::new_multi_thread()) else {
        return 2;
    };
    match rt.block_on(crate::ops::gateway::run(cfg)) {
        Ok(()) => 0,
        Err(e) => {
            // Once: the log goes to stderr.
            tracing::error!("{e:#}");
            2
        }
    }
}
