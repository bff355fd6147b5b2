//! `hookgate store replay`: publish stored events to the configuration's broker, oldest
//! first, each confirmed before the next batch: the events a filter selects (route, type,
//! time range, after a sequence number). More than one event is a dry run unless
//! `--yes`; `--rate` paces it; progress goes to stderr. Replayed events keep their ids
//! (`message_id`), so a consumer dedups what a resumed replay sends again. Stopped (or
//! killed), it says the last confirmed sequence number: `--after` resumes from there.

use std::time::{Duration, Instant};

use super::*;

pub(super) fn replay(path: Option<PathBuf>, config: &std::path::Path, a: ReplayArgs) -> i32 {
    let filter = match (
        store::when(a.since.as_deref()),
        store::when(a.until.as_deref()),
    ) {
        (Ok(since_ms), Ok(until_ms)) => crate::store::Filter {
            route: a.route.clone(),
            event_type: a.event_type.clone(),
            since_ms,
            until_ms,
        },
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("hookgate store replay: {e}");
            return 1;
        }
    };
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
    let max = a.limit.unwrap_or(usize::MAX);
    // First, how many: nothing is sent blind.
    let total = match count(&dir, &filter, a.after, max) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("hookgate store replay: {e}");
            return 2;
        }
    };
    if total == 0 {
        eprintln!("hookgate store replay: no stored event matches");
        return 1;
    }
    if total > 1 && !a.yes {
        println!(
            "would replay {total} event(s) after seq {}; add --yes to send them",
            a.after
        );
        return 0;
    }
    let Some(rt) = runtime(tokio::runtime::Builder::new_current_thread()) else {
        return 2;
    };
    let mut last = a.after;
    let mut sent = 0usize;
    let result: anyhow::Result<()> = rt.block_on(async {
        let reader = crate::store::Reader::open(&dir)?;
        let metrics = std::sync::Arc::new(crate::metrics::Metrics::new());
        let broker =
            crate::broker::Broker::start(broker_cfg, crate::gateway::topology(&cfg), metrics)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !broker.connected() {
            anyhow::ensure!(Instant::now() < deadline, "cannot reach the broker");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let started = Instant::now();
        let batch = a.rate.map_or(256, |r| (r as usize).clamp(1, 256));
        let mut reader = Some(reader);
        while sent < max {
            let r = reader.take().expect("forward_batch gives the reader back");
            let (r, step) = crate::spool::forward_batch(
                r,
                &broker,
                crate::store::Table::Events,
                filter.clone(),
                last,
                batch.min(max - sent),
            )
            .await;
            reader = Some(r);
            let step = step?;
            if step.seqs.is_empty() {
                break;
            }
            sent += step.confirmed;
            if step.confirmed > 0 {
                last = step.seqs[step.confirmed - 1];
            }
            if step.confirmed < step.events.len() {
                broker.close().await;
                anyhow::bail!("event seq {} was not confirmed", step.seqs[step.confirmed]);
            }
            eprintln!("replayed {sent}/{total} (up to seq {last})");
            // Pace: never ahead of `rate` events a second since the start.
            if let Some(rate) = a.rate.filter(|r| *r > 0) {
                let due = started + Duration::from_secs_f64(sent as f64 / f64::from(rate));
                tokio::time::sleep_until(due.into()).await;
            }
        }
        broker.close().await;
        Ok(())
    });
    match result {
        Ok(()) => {
            println!("replayed {sent} event(s), up to seq {last}");
            0
        }
        Err(e) => {
            eprintln!(
                "hookgate store replay: stopped: {e:#}; {sent} replayed; resume with --after {last}"
            );
            2
        }
    }
}

/// How many events after `after` the filter selects (at most `max`).
fn count(
    dir: &std::path::Path,
    filter: &crate::store::Filter,
    after: i64,
    max: usize,
) -> Result<usize, crate::store::StoreError> {
    let reader = crate::store::Reader::open(dir)?;
    let (mut n, mut at) = (0usize, after);
    while n < max {
        let chunk = reader.oldest(crate::store::Table::Events, filter, at, 4096)?;
        let Some(last) = chunk.last() else { break };
        at = last.seq;
        n += chunk.len();
    }
    Ok(n.min(max))
}
