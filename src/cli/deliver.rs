//! `hookgate deliver pause|resume`: stop and restart delivery to one destination of the
//! running gateway, through its admin API (a state-changing call: it needs
//! `admin.token`, presented from `$HOOKGATE_ADMIN_TOKEN` or the configuration).

use clap::Subcommand;

use super::load_inspect;

#[derive(Subcommand)]
pub(super) enum DeliverCommand {
    /// Start no delivery to the destination until resumed.
    Pause(Target),
    /// Deliver again; the backlog drains at the destination's `rate`.
    Resume(Target),
}

#[derive(clap::Args)]
pub(super) struct Target {
    /// The route.
    #[arg(long)]
    route: String,
    /// The route's destination.
    #[arg(long)]
    destination: String,
}

pub(super) fn deliver(config: &std::path::Path, command: DeliverCommand) -> i32 {
    let Some(cfg) = load_inspect(config) else {
        return 1;
    };
    let (action, t) = match &command {
        DeliverCommand::Pause(t) => ("pause", t),
        DeliverCommand::Resume(t) => ("resume", t),
    };
    let file = crate::durable::store::admin_file(&cfg.store.path);
    let Ok(addr) = std::fs::read_to_string(&file) else {
        eprintln!(
            "hookgate deliver {action}: no gateway serves from {} (it writes its admin address to {} at start)",
            cfg.store.path.display(),
            file.display()
        );
        return 2;
    };
    let q = crate::durable::store::query_escape;
    let pq = format!(
        "/api/v1/destinations/{action}?route={}&destination={}",
        q(&t.route),
        q(&t.destination)
    );
    match crate::durable::store::call(addr.trim(), "POST", &pq) {
        Ok(body) => {
            println!("{}", String::from_utf8_lossy(&body).trim_end());
            0
        }
        Err(e) => {
            eprintln!(
                "hookgate deliver {action}: the gateway at {} {e}",
                addr.trim()
            );
            2
        }
    }
}
