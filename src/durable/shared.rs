//! State the replicas share, in Redis (`store.dedup.redis`): the ids they accepted
//! (so a provider's retry that lands on another replica is answered `duplicate`) and,
//! for routes with `rate_limit: { shared: true }`, the rate-limit buckets (GCRA in one
//! Lua script, on Redis's clock, so that limits hold across replicas).
//!
//! Redis is an optimisation of correctness that hookgate can do without: every call has
//! `timeout`, and a call that fails or times out is counted
//! (`hookgate_shared_errors_total{op}`, `hookgate_shared_up` 0, and `/readyz` says so)
//! while the replica decides alone: its own dedup ledger (so at worst another replica
//! publishes a duplicate, which `message_id` makes harmless; an event is never refused
//! or lost for Redis), and its own buckets for `fail_open` limits. An id is recorded in
//! Redis after its event is durable, never before: a hand-off that fails leaves no id
//! behind to refuse the provider's retry.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::checks::ratelimit::{Rate, RateSpec};
use crate::config::RedisConfig;
use crate::obs::metrics::Metrics;

static GCRA: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("shared/gcra.lua")));

pub(crate) struct Shared {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    window: Duration,
    metrics: Arc<Metrics>,
    up: AtomicBool,
    /// The last failure, for `/readyz` (never the URL's password: redis' errors do not
    /// carry the URL).
    last_error: Mutex<String>,
}

impl Shared {
    /// Connect lazily (the gateway starts while Redis is down). Inside the runtime.
    pub(crate) fn connect(
        cfg: &RedisConfig,
        window: Duration,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Shared> {
        let client = redis::Client::open(cfg.url.as_str()).map_err(|_| {
            anyhow::anyhow!(
                "store.dedup.redis.url: not a Redis URL ({})",
                cfg.redacted_url()
            )
        })?;
        let mc = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(cfg.timeout.max(Duration::from_millis(200))))
            .set_response_timeout(Some(cfg.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client, mc)?;
        metrics.shared.up.set(1);
        Ok(Shared {
            conn,
            prefix: cfg.key_prefix.clone(),
            timeout: cfg.timeout,
            window,
            metrics,
            up: AtomicBool::new(true),
            last_error: Mutex::new(String::new()),
        })
    }

    /// Run `f` with the timeout; `None` (counted) when Redis did not answer.
    async fn call<T, F>(&self, op: &'static str, f: F) -> Option<T>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let r = match tokio::time::timeout(self.timeout, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {}", crate::human(self.timeout))),
        };
        match r {
            Ok(v) => {
                if !self.up.swap(true, Ordering::Relaxed) {
                    tracing::info!("shared Redis answers again");
                    self.metrics.shared.up.set(1);
                }
                Some(v)
            }
            Err(e) => {
                self.metrics.shared.error(op);
                if self.up.swap(false, Ordering::Relaxed) {
                    tracing::warn!(op, error = %e, "shared Redis unavailable: this replica decides alone (its own dedup ledger and rate limits) until it answers");
                    self.metrics.shared.up.set(0);
                }
                *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = e;
                None
            }
        }
    }

    /// Why Redis is not used right now, while it is not.
    pub(crate) fn down(&self) -> Option<String> {
        (!self.up.load(Ordering::Relaxed)).then(|| {
            self.last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        })
    }

    fn id_key(&self, route: &str, id: &str) -> String {
        format!("{}id:{route}:{id}", self.prefix)
    }

    /// Did any replica accept `(route, id)` within the window? `None`: no answer.
    pub(crate) async fn seen(&self, route: &str, id: &str) -> Option<bool> {
        let mut c = self.conn.clone();
        let key = self.id_key(route, id);
        self.call("dedup_check", async move {
            redis::cmd("EXISTS")
                .arg(key)
                .query_async::<i64>(&mut c)
                .await
                .map(|n| n > 0)
        })
        .await
    }

    /// Record `(route, id)` as accepted, for the dedup window.
    pub(crate) async fn accepted(&self, route: &str, id: &str) {
        let mut c = self.conn.clone();
        let key = self.id_key(route, id);
        let ms = self.window.as_millis() as u64;
        self.call("dedup_record", async move {
            redis::cmd("SET")
                .arg(key)
                .arg(1)
                .arg("PX")
                .arg(ms)
                .query_async::<()>(&mut c)
                .await
        })
        .await;
    }

    /// Take a cell from the route's shared buckets for `client` (per client first, then
    /// the route's, as [`crate::checks::ratelimit::Limiter::check`] does): `Err(retry_after)`
    /// when refused; `None`: no answer.
    pub(crate) async fn limit(
        &self,
        route: &str,
        client: IpAddr,
        spec: &RateSpec,
    ) -> Option<Result<(), u64>> {
        let mut inv = GCRA.prepare_invoke();
        if let Some(r) = spec.per_ip {
            let (t, tau) = cells(r, spec.burst);
            inv.key(format!("{}rl:{route}:ip:{client}", self.prefix))
                .arg(t)
                .arg(tau);
        }
        if let Some(r) = spec.route {
            let (t, tau) = cells(r, None);
            inv.key(format!("{}rl:{route}:route", self.prefix))
                .arg(t)
                .arg(tau);
        }
        let mut c = self.conn.clone();
        let (refused_by, retry_us): (i64, i64) = self
            .call("rate_limit", async move { inv.invoke_async(&mut c).await })
            .await?;
        Some(if refused_by == 0 {
            Ok(())
        } else {
            Err((retry_us.max(0) as u64).div_ceil(1_000_000).max(1))
        })
    }
}

/// GCRA's emission interval and burst tolerance, in microseconds (governor's quota:
/// `period / n`, a bucket of `burst` cells, `n` when not given).
fn cells(r: Rate, burst: Option<u32>) -> (u64, u64) {
    let t = (r.period.as_micros() as u64 / u64::from(r.n)).max(1);
    let b = u64::from(burst.unwrap_or(r.n).max(1));
    (t, t * (b - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_follow_governor_quotas() {
        let r = crate::config::units::parse_rate("50/s").unwrap();
        assert_eq!(cells(r, Some(100)), (20_000, 20_000 * 99));
        assert_eq!(cells(r, None), (20_000, 20_000 * 49));
        let r = crate::config::units::parse_rate("3/s").unwrap();
        assert_eq!(cells(r, Some(1)), (333_333, 0));
    }
}
