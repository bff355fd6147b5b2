//! `hookgate check`: load and validate the configuration and say, a line per route,
//! what each will check and where its events go.

use super::load;
use crate::config;

pub(super) fn check(path: &std::path::Path, dev: bool) -> i32 {
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
        // A proxy route keeps nothing, so it has no dedup and no queue.
        let then = match &r.proxy {
            Some(p) => format!(
                "proxy -> {} (timeout {})",
                p.url,
                humantime::format_duration(p.timeout)
            ),
            None => {
                checks.push("dedup");
                // Without a broker there is no queue: events stay in the store.
                // A delivering route's events go to its destinations' queues only: the
                // route's own queue is never declared.
                let mut t = match &cfg.broker {
                    Some(b) if r.deliver.is_empty() => {
                        format!("queue: {} (exchange {})", r.queue, b.exchange)
                    }
                    Some(b) => format!("exchange {}", b.exchange),
                    None => "kept in the store".to_string(),
                };
                for d in &r.deliver {
                    t.push_str(&format!("; deliver {} -> {}", d.name, d.url));
                    if cfg.broker.is_some() {
                        let q = crate::deliver::consume::queue_name(&r.queue, &d.name);
                        t.push_str(&format!(" (queue {q})"));
                    }
                }
                t
            }
        };
        println!(
            "  {:<16} POST {:<28} provider={:<18} verify: {}; checks: {}; {then}",
            r.name,
            r.path,
            r.provider.map_or("-", |p| p.name()),
            r.verifier.describe(),
            if checks.is_empty() {
                "-".to_string()
            } else {
                checks.join(",")
            },
        );
    }
    match &cfg.broker {
        Some(b) => println!(
            "  broker: {} exchange={} when_unavailable={}",
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
