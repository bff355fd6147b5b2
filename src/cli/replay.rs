//! `hookgate store replay`: publish stored events to the configuration's broker, oldest
//! first, each confirmed before the next batch: the events a filter selects (route, type,
//! time range, after a sequence number). More than one event is a dry run unless
//! `--yes`; `--rate` paces it; progress goes to stderr. Replayed events keep their ids
//! (`message_id`), so a consumer dedups what a resumed replay sends again. Its progress
//! is a job on disk (`replay_job`): run again after a stop (even kill -9), the same
//! command resumes after the last confirmed batch; `--restart` starts it over.

use std::time::{Duration, Instant};

use super::{load_inspect, runtime, ReplayArgs};
use std::path::PathBuf;

pub(super) fn replay(path: Option<PathBuf>, config: &std::path::Path, a: ReplayArgs) -> i32 {
    let Some(cfg) = load_inspect(config) else {
        return 1;
    };
    let dir = path.unwrap_or_else(|| cfg.store.path.clone());
    // To a destination of a route (through the running gateway), or to the broker.
    let (broker_cfg, target) = match (&a.destination, &a.filter.route, cfg.broker.clone()) {
        (Some(d), Some(r), _) => (None, format!("destination {d} of route {r}")),
        (Some(_), None, _) => {
            eprintln!("hookgate store replay: --destination needs --route");
            return 1;
        }
        (None, _, Some(b)) => {
            let t = format!("{} exchange {}", b.redacted_url(), b.exchange);
            (Some(b), t)
        }
        (None, _, None) => {
            eprintln!(
                "hookgate store replay: {} has no broker section to replay to (or give --route and --destination)",
                config.display()
            );
            return 1;
        }
    };
    // The same command (selection and target) finds its job again.
    let key = crate::durable::store::replay_job::key(&[
        &format!("route={:?}", a.filter.route),
        &format!("type={:?}", a.filter.event_type),
        &format!("since={:?}", a.filter.since),
        &format!("until={:?}", a.filter.until),
        &format!("after={}", a.after),
        &format!("limit={:?}", a.limit),
        &target,
    ]);
    let previous = crate::durable::store::replay_job::Job::load(&dir, &key).filter(|_| !a.restart);
    let mut job = match previous {
        Some(j) if j.state == "done" => {
            println!(
                "this replay (job {key}) was completed at {}: {} event(s) up to seq {}; add --restart to send them again",
                j.updated_at, j.sent, j.last_seq
            );
            return 0;
        }
        Some(j) => j,
        None => {
            let filter = match a.filter.filter() {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("hookgate store replay: {e}");
                    return 1;
                }
            };
            crate::durable::store::replay_job::Job {
                key: key.clone(),
                route: filter.route,
                event_type: filter.event_type,
                since_ms: filter.since_ms,
                until_ms: filter.until_ms,
                target: target.clone(),
                total: 0,
                sent: 0,
                last_seq: a.after,
                state: "new".into(),
                started_at: crate::rfc3339_ms(crate::now_ms()),
                updated_at: String::new(),
            }
        }
    };
    let filter = crate::durable::store::Filter {
        route: job.route.clone(),
        event_type: job.event_type.clone(),
        since_ms: job.since_ms,
        until_ms: job.until_ms,
    };
    let max = a.limit.unwrap_or(usize::MAX).saturating_sub(job.sent);
    // First, how many: nothing is sent blind.
    let left = match count(&dir, &filter, job.last_seq, max) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("hookgate store replay: {e}");
            return 2;
        }
    };
    let resuming = job.state != "new";
    if resuming {
        eprintln!(
            "resuming replay job {key} (started {}): {} of {} sent, from seq {}; {left} left",
            job.started_at, job.sent, job.total, job.last_seq
        );
    } else {
        job.total = left;
    }
    if left == 0 && !resuming {
        eprintln!("hookgate store replay: no stored event matches");
        return 1;
    }
    if left > 1 && !a.yes {
        println!(
            "would replay {left} event(s) after seq {}; add --yes to send them",
            job.last_seq
        );
        return 0;
    }
    let batch = a.rate.map_or(256, |r| (r as usize / 10).clamp(1, 256));
    let result = match (broker_cfg, &a.destination, &a.filter.route) {
        (None, Some(dest), Some(route)) => {
            redeliver(&dir, &mut job, &filter, route, dest, batch, max, a.rate)
        }
        (Some(broker_cfg), _, _) => to_broker(
            &dir, &cfg, broker_cfg, &mut job, &filter, batch, max, a.rate,
        ),
        _ => unreachable!("checked above"),
    };
    finish(&dir, &key, job, result)
}

/// Publish the selection to the broker, each batch confirmed, the job saved after it.
#[allow(clippy::too_many_arguments)]
fn to_broker(
    dir: &std::path::Path,
    cfg: &crate::config::Config,
    broker_cfg: crate::config::BrokerConfig,
    job: &mut crate::durable::store::replay_job::Job,
    filter: &crate::durable::store::Filter,
    batch: usize,
    max: usize,
    rate: Option<u32>,
) -> anyhow::Result<()> {
    let Some(rt) = runtime(tokio::runtime::Builder::new_current_thread()) else {
        anyhow::bail!("cannot start a runtime");
    };
    let mut sent = 0usize;
    rt.block_on(async {
        let reader = crate::durable::store::Reader::open(dir)?;
        let metrics = std::sync::Arc::new(crate::obs::metrics::Metrics::new());
        let broker = crate::durable::broker::Broker::start(
            broker_cfg,
            crate::ops::reload::topology(cfg),
            metrics,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !broker.connected() {
            anyhow::ensure!(Instant::now() < deadline, "cannot reach the broker");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        job.state = "running".into();
        job.save(dir)?;
        let started = Instant::now();
        let mut reader = Some(reader);
        while sent < max {
            let r = reader.take().expect("forward_batch gives the reader back");
            let (r, step) = crate::durable::spool::forward_batch(
                r,
                &broker,
                crate::durable::store::Table::Events,
                filter.clone(),
                job.last_seq,
                batch.min(max - sent),
            )
            .await;
            reader = Some(r);
            let step = step?;
            if step.seqs.is_empty() {
                break;
            }
            sent += step.confirmed;
            job.sent += step.confirmed;
            if step.confirmed > 0 {
                job.last_seq = step.seqs[step.confirmed - 1];
                job.save(dir)?;
            }
            if step.confirmed < step.events.len() {
                broker.close().await;
                anyhow::bail!("event seq {} was not confirmed", step.seqs[step.confirmed]);
            }
            eprintln!(
                "replayed {}/{} (up to seq {})",
                job.sent, job.total, job.last_seq
            );
            // Pace: never ahead of `rate` events a second since this run started.
            if let Some(rate) = rate.filter(|r| *r > 0) {
                let due = started + Duration::from_secs_f64(sent as f64 / f64::from(rate));
                tokio::time::sleep_until(due.into()).await;
            }
        }
        broker.close().await;
        Ok(())
    })
}

/// Hand the selection to a destination of the running gateway, a batch per call of its
/// admin API, the job saved after each.
#[allow(clippy::too_many_arguments)]
fn redeliver(
    dir: &std::path::Path,
    job: &mut crate::durable::store::replay_job::Job,
    filter: &crate::durable::store::Filter,
    route: &str,
    dest: &str,
    batch: usize,
    max: usize,
    rate: Option<u32>,
) -> anyhow::Result<()> {
    let addr = std::fs::read_to_string(crate::durable::store::admin_file(dir))
        .map(|a| a.trim().to_string())
        .map_err(|_| {
            anyhow::anyhow!(
                "no gateway serves from {}: a destination is replayed to by the running gateway",
                dir.display()
            )
        })?;
    job.state = "running".into();
    job.save(dir)?;
    let started = Instant::now();
    let mut sent = 0usize;
    let q = crate::durable::store::query_escape;
    while sent < max {
        let mut pq = format!(
            "/api/v1/events/redeliver?route={}&destination={}&after={}&limit={}",
            q(route),
            q(dest),
            job.last_seq,
            batch.min(max - sent)
        );
        if let Some(t) = &filter.event_type {
            pq += &format!("&type={}", q(t));
        }
        for (k, v) in [("since_ms", filter.since_ms), ("until_ms", filter.until_ms)] {
            if let Some(v) = v {
                pq += &format!("&{k}={v}");
            }
        }
        let body = crate::durable::store::call(&addr, "POST", &pq)
            .map_err(|e| anyhow::anyhow!("the gateway's admin API at {addr}: {e}"))?;
        let v: serde_json::Value = serde_json::from_slice(&body)?;
        let handed = v["handed"].as_u64().unwrap_or(0) as usize;
        if handed == 0 {
            break;
        }
        sent += handed;
        job.sent += handed;
        job.last_seq = v["last_seq"].as_i64().unwrap_or(job.last_seq);
        job.save(dir)?;
        eprintln!(
            "handed {}/{} to {dest} (up to seq {})",
            job.sent, job.total, job.last_seq
        );
        if let Some(rate) = rate.filter(|r| *r > 0) {
            let due = started + Duration::from_secs_f64(sent as f64 / f64::from(rate));
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
    }
    Ok(())
}

/// Record how the job ended, and say it: the exit code.
fn finish(
    dir: &std::path::Path,
    key: &str,
    mut job: crate::durable::store::replay_job::Job,
    result: anyhow::Result<()>,
) -> i32 {
    match result {
        Ok(()) => {
            job.state = "done".into();
            if let Err(e) = job.save(dir) {
                eprintln!("hookgate store replay: cannot record the job as done: {e}");
            }
            println!(
                "replayed {} event(s), up to seq {} (job {key})",
                job.sent, job.last_seq
            );
            0
        }
        Err(e) => {
            job.state = format!("stopped: {e:#}");
            let _ = job.save(dir);
            eprintln!(
                "hookgate store replay: stopped: {e:#}; {} replayed; run the same command again to resume after seq {} (or --after {})",
                job.sent, job.last_seq, job.last_seq
            );
            2
        }
    }
}

/// How many events after `after` the filter selects (at most `max`).
fn count(
    dir: &std::path::Path,
    filter: &crate::durable::store::Filter,
    after: i64,
    max: usize,
) -> Result<usize, crate::durable::store::StoreError> {
    let reader = crate::durable::store::Reader::open(dir)?;
    let (mut n, mut at) = (0usize, after);
    while n < max {
        let chunk = reader.oldest(crate::durable::store::Table::Events, filter, at, 4096)?;
        let Some(last) = chunk.last() else { break };
        at = last.seq;
        n += chunk.len();
    }
    Ok(n.min(max))
}
