//! Every metric hookgate exposes, defined here and only here, with closed label sets:
//! `route` is a configured route name (or `none` for unmatched paths, never the raw
//! path), `outcome` is an [`Outcome`] (the codes of README.md, "What a request gets").

use std::time::Duration;

pub(crate) mod delivery;
pub(crate) mod exposition;
mod outcome;
mod process;
mod route;
pub(crate) mod shared;
mod stage;
mod unavailable;

pub(crate) use outcome::Outcome;
pub use stage::Stage;
pub(crate) use unavailable::UnavailableCause;

pub(crate) use route::RouteMetrics;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub route: String,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct UnavailableLabels {
    pub route: String,
    pub cause: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ResultLabel {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StageLabel {
    pub stage: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteLabel {
    pub route: String,
}

pub struct Metrics {
    registry: Registry,
    /// `process_*`, unprefixed, as every Prometheus client library names them.
    process: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<RouteLabel, Histogram>,
    dedup_hits: Family<RouteLabel, Counter>,
    unavailable: Family<UnavailableLabels, Counter>,
    store_commit: Histogram,
    store_batch: Histogram,
    /// One per [`Metrics::PUBLISH_RESULTS`] label, resolved at start (no family look-up,
    /// which takes a read lock, per publish).
    publishes: Vec<Counter>,
    publish_duration: Histogram,
    pub spool_forwarded: Counter,
    pub in_flight: Gauge,
    pub connections: Gauge,
    pub broker_connected: Gauge,
    pub broker_refused: Gauge,
    pub rejections_dropped: Counter,
    pub traces_dropped: Counter,
    pub spool_depth: Gauge,
    pub store_bytes: Gauge,
    pub ready: Gauge,
    pub config_reload_failed: Gauge,
    pub delivery: delivery::DeliveryMetrics,
    pub shared: shared::SharedMetrics,
    /// `stage_duration_seconds`, one histogram per `pipeline::Stage`, in its order.
    stages: Vec<Histogram>,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    // 100 µs .. ~3.3 s
    exponential_buckets(0.0001, 2.0, 16)
}

fn latency_histogram() -> Histogram {
    Histogram::new(latency_buckets())
}

/// `metric`, registered in `registry` under `name` (the registry keeps a handle).
fn on<M>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M
where
    M: prometheus_client::registry::Metric + Clone,
{
    registry.register(name, help, metric.clone());
    metric
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("hookgate");
        let r = &mut registry;
        let publishes = on(
            r,
            "broker_publishes",
            "Publishes by result: ack, nack, returned, timeout, blocked, not_connected, error",
            Family::<ResultLabel, Counter>::default(),
        );
        let stages = on(
            r,
            "stage_duration_seconds",
            "Time a request spent in each pipeline stage (admission, body, verify, parse, handoff)",
            Family::<StageLabel, Histogram>::new_with_constructor(
                latency_histogram as fn() -> Histogram,
            ),
        );
        r.register(
            "build",
            "hookgate's version (the value is always 1)",
            prometheus_client::metrics::info::Info::new(vec![(
                "version",
                env!("CARGO_PKG_VERSION"),
            )]),
        );
        let mut process = Registry::default();
        process.register_collector(Box::new(process::Process));
        Metrics {
            requests: on(r, "requests", "Webhook requests by route and outcome", Family::default()),
            duration: on(r, "request_duration_seconds", "Time from request head to answer, by route", Family::new_with_constructor(latency_histogram as fn() -> Histogram)),
            dedup_hits: on(r, "dedup_hits", "Deliveries answered `duplicate`", Family::default()),
            unavailable: on(r, "unavailable", "503 answers by route and cause (a series appears with its first 503)", Family::default()),
            store_commit: on(r, "store_commit_duration_seconds", "Embedded store transaction commit time (one fsync per commit)", latency_histogram()),
            store_batch: on(r, "store_commit_events", "Events per store commit (group commit)", Histogram::new(exponential_buckets(1.0, 2.0, 10))),
            publishes: Self::PUBLISH_RESULTS
                .iter()
                .map(|&result| publishes.get_or_create(&ResultLabel { result }).clone())
                .collect(),
            publish_duration: on(r, "broker_publish_duration_seconds", "Time from publish to the broker's confirm", latency_histogram()),
            spool_forwarded: on(r, "spool_forwarded", "Spooled events forwarded to the broker (drain rate)", Counter::default()),
            in_flight: on(r, "in_flight_requests", "Requests being processed", Gauge::default()),
            connections: on(r, "open_connections", "Open ingress connections", Gauge::default()),
            broker_connected: on(r, "broker_connected", "1 when connected to the broker", Gauge::default()),
            broker_refused: on(r, "broker_refused", "1 while the broker refuses the configured credentials or virtual host", Gauge::default()),
            rejections_dropped: on(r, "rejections_dropped", "Refused requests left out of the rejection log because its queue was full", Counter::default()),
            traces_dropped: on(r, "traces_dropped_spans", "Spans not exported: the export queue was full, or the collector failed or did not answer", Counter::default()),
            spool_depth: on(r, "spool_depth", "Events waiting in the local spool for the broker", Gauge::default()),
            store_bytes: on(r, "store_bytes", "Bytes on disk in the store folder (events, spool, dedup ledger), measured every minute at most", Gauge::default()),
            ready: on(r, "ready", "1 when events can be handed off durably", Gauge::default()),
            config_reload_failed: on(r, "config_reload_failed", "1 when the last configuration reload was refused", Gauge::default()),
            // One histogram per stage, resolved now: no family look-up per request.
            stages: Stage::ALL
                .iter()
                .map(|s| stages.get_or_create(&StageLabel { stage: s.label() }).clone())
                .collect(),
            delivery: delivery::DeliveryMetrics::register(r),
            shared: shared::SharedMetrics::register(r),
            registry,
            process,
        }
    }

    /// Count a 503 (only on that path: the family look-up takes a lock).
    pub fn unavailable(&self, route: &str, cause: UnavailableCause) {
        self.unavailable
            .get_or_create(&UnavailableLabels {
                route: route.to_string(),
                cause: cause.label(),
            })
            .inc();
    }

    /// One request's time in pipeline stage `index` (`pipeline::Stage as usize`).
    pub fn stage(&self, index: usize, elapsed: Duration) {
        if let Some(h) = self.stages.get(index) {
            h.observe(elapsed.as_secs_f64());
        }
    }

    pub fn store_commit(&self, elapsed: Duration, events: usize) {
        self.store_commit.observe(elapsed.as_secs_f64());
        self.store_batch.observe(events as f64);
    }

    /// Every `result` label of `broker_publishes`, so each series exists (at 0) from the
    /// start.
    pub const PUBLISH_RESULTS: &'static [&'static str] = &[
        "ack",
        "nack",
        "returned",
        "timeout",
        "blocked",
        "not_connected",
        "error",
    ];

    pub fn publish(&self, result: &'static str, elapsed: Duration) {
        match Self::PUBLISH_RESULTS.iter().position(|r| *r == result) {
            Some(i) => self.publishes[i].inc(),
            // Every caller passes one of the listed labels (tested for `PublishError`);
            // a new one must be listed, or it would go uncounted.
            None => {
                debug_assert!(false, "unlisted publish result {result:?}");
                0
            }
        };
        if result == "ack" {
            self.publish_duration.observe(elapsed.as_secs_f64());
        }
    }

    /// The exposition: OpenMetrics, or the classic text format (see `exposition`).
    pub fn encode(&self, openmetrics: bool) -> String {
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode_registry(&mut out, &self.registry)
            .and_then(|()| encode_registry(&mut out, &self.process))
            .and_then(|()| encode_eof(&mut out));
        if openmetrics {
            out
        } else {
            exposition::to_classic(&out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_publish_result_has_a_series_from_the_start_and_counts() {
        let m = Metrics::new();
        let text = m.encode(false);
        for r in Metrics::PUBLISH_RESULTS {
            assert!(
                text.contains(&format!(
                    "hookgate_broker_publishes_total{{result=\"{r}\"}} 0"
                )),
                "{r} missing in:\n{text}"
            );
        }
        m.publish("nack", Duration::from_millis(1));
        m.publish("ack", Duration::from_millis(1));
        m.publish("ack", Duration::from_millis(1));
        let text = m.encode(false);
        assert!(text.contains("hookgate_broker_publishes_total{result=\"nack\"} 1"));
        assert!(text.contains("hookgate_broker_publishes_total{result=\"ack\"} 2"));
        assert!(text.contains("hookgate_broker_publish_duration_seconds_count 2"));
    }
}
