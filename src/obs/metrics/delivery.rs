//! Delivery's metrics, registered with the others (`metrics.rs`): labels are a
//! configured route and destination name and a closed set of outcomes.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DestinationLabels {
    pub route: String,
    pub destination: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct AttemptLabels {
    pub route: String,
    pub destination: String,
    pub outcome: &'static str,
}

pub struct DeliveryMetrics {
    attempts: Family<AttemptLabels, Counter>,
    duration: Family<DestinationLabels, Histogram>,
    pub backlog: Family<DestinationLabels, Gauge>,
    pub oldest: Family<DestinationLabels, Gauge>,
    pub dead: Family<DestinationLabels, Counter>,
    pub circuit_open: Family<DestinationLabels, Gauge>,
    pub paused: Family<DestinationLabels, Gauge>,
    filtered: Family<DestinationLabels, Counter>,
    filter_errors: Family<DestinationLabels, Counter>,
}

/// Every attempt outcome label (see `attempt::Outcome::label`).
pub(crate) const OUTCOMES: &[&str] = &[
    "2xx",
    "4xx",
    "5xx",
    "timeout",
    "connect_error",
    "error",
    "transform",
];

impl DeliveryMetrics {
    pub fn register(registry: &mut Registry) -> DeliveryMetrics {
        let attempts = Family::default();
        registry.register(
            "delivery_attempts",
            "Delivery attempts by outcome: 2xx, 4xx, 5xx, timeout, connect_error, error",
            attempts.clone(),
        );
        let duration = Family::<DestinationLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.001, 2.0, 16))) as fn() -> Histogram,
        );
        registry.register(
            "delivery_duration_seconds",
            "Time from sending a delivery to the destination's complete answer",
            duration.clone(),
        );
        let backlog = Family::default();
        registry.register(
            "delivery_backlog",
            "Events read for a destination and not yet taken (in flight or waiting to retry)",
            backlog.clone(),
        );
        let oldest = Family::default();
        registry.register(
            "delivery_oldest_pending_seconds",
            "Age of the oldest event a destination has not taken yet",
            oldest.clone(),
        );
        let dead = Family::default();
        registry.register(
            "delivery_dead_letters",
            "Events dead-lettered after max_attempts",
            dead.clone(),
        );
        let circuit_open = Family::default();
        registry.register(
            "delivery_circuit_open",
            "1 while a destination is paused and probed with one event at a time",
            circuit_open.clone(),
        );
        let paused = Family::default();
        registry.register(
            "delivery_paused",
            "1 while a destination is paused (hookgate deliver pause): nothing is sent to it",
            paused.clone(),
        );
        let filtered = Family::default();
        registry.register(
            "delivery_filtered",
            "Events a destination's filter was false for: not delivered there",
            filtered.clone(),
        );
        let filter_errors = Family::default();
        registry.register(
            "delivery_filter_errors",
            "Events whose filter failed to evaluate (a missing field): not delivered there",
            filter_errors.clone(),
        );
        DeliveryMetrics {
            attempts,
            duration,
            backlog,
            oldest,
            dead,
            circuit_open,
            paused,
            filtered,
            filter_errors,
        }
    }

    pub fn labels(route: &str, destination: &str) -> DestinationLabels {
        DestinationLabels {
            route: route.to_string(),
            destination: destination.to_string(),
        }
    }

    /// One destination's series, resolved once (no label look-up per delivery); every
    /// outcome's exists at 0 from the start, so a dashboard sees the destination at once.
    pub fn handles(&self, l: &DestinationLabels) -> Handles {
        Handles {
            attempts: OUTCOMES
                .iter()
                .map(|o| self.attempts.get_or_create(&Self::attempt(l, o)).clone())
                .collect(),
            duration: self.duration.get_or_create(l).clone(),
            backlog: self.backlog.get_or_create(l).clone(),
            oldest: self.oldest.get_or_create(l).clone(),
            dead: self.dead.get_or_create(l).clone(),
            circuit_open: self.circuit_open.get_or_create(l).clone(),
            paused: self.paused.get_or_create(l).clone(),
            filtered: self.filtered.get_or_create(l).clone(),
            filter_errors: self.filter_errors.get_or_create(l).clone(),
        }
    }

    fn attempt(l: &DestinationLabels, outcome: &'static str) -> AttemptLabels {
        AttemptLabels {
            route: l.route.clone(),
            destination: l.destination.clone(),
            outcome,
        }
    }
}

/// A destination's series.
pub struct Handles {
    attempts: Vec<Counter>,
    duration: Histogram,
    pub backlog: Gauge,
    pub oldest: Gauge,
    pub dead: Counter,
    pub circuit_open: Gauge,
    pub paused: Gauge,
    pub filtered: Counter,
    pub filter_errors: Counter,
}

impl Handles {
    pub fn attempt_done(&self, outcome: &'static str, secs: f64) {
        if let Some(i) = OUTCOMES.iter().position(|o| *o == outcome) {
            self.attempts[i].inc();
        }
        self.duration.observe(secs);
    }
}
