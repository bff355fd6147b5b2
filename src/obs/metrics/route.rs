//! One route's request metrics: its outcome counters, resolved once at start (no label
//! look-up per request), only for the outcomes the route can have.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

use super::{Metrics, Outcome, RequestLabels, RouteLabel};

impl Metrics {
    /// The handles of one route's series, resolved once (no label lookup per request).
    /// Only the outcomes the route can have are created at start (`possible`): a series
    /// that can never move is noise in every dashboard.
    pub fn route(&self, route: &str, possible: &[Outcome]) -> RouteMetrics {
        RouteMetrics {
            route: route.to_string(),
            family: self.requests.clone(),
            outcomes: Outcome::ALL
                .iter()
                .map(|o| {
                    possible.contains(o).then(|| {
                        self.requests
                            .get_or_create(&RequestLabels {
                                route: route.to_string(),
                                outcome: o.label(),
                            })
                            .clone()
                    })
                })
                .collect(),
            duration: self
                .duration
                .get_or_create(&RouteLabel {
                    route: route.to_string(),
                })
                .clone(),
            dedup_hits: self
                .dedup_hits
                .get_or_create(&RouteLabel {
                    route: route.to_string(),
                })
                .clone(),
        }
    }
}

/// One route's request metrics.
pub struct RouteMetrics {
    route: String,
    family: Family<RequestLabels, Counter>,
    /// By [`Outcome`] (its index in `Outcome::ALL`); `None` for an outcome not expected
    /// of the route.
    outcomes: Vec<Option<Counter>>,
    duration: Histogram,
    dedup_hits: Counter,
}

impl RouteMetrics {
    /// The route's count of each outcome so far (those created at start).
    pub fn counts(&self) -> impl Iterator<Item = (Outcome, u64)> + '_ {
        Outcome::ALL
            .iter()
            .zip(&self.outcomes)
            .filter_map(|(o, c)| c.as_ref().map(|c| (*o, c.get())))
    }

    pub fn route(&self) -> &str {
        &self.route
    }

    pub fn request(&self, outcome: Outcome, elapsed: Duration) {
        match &self.outcomes[outcome as usize] {
            Some(c) => {
                c.inc();
            }
            // Not expected of this route: counted all the same, through the family.
            None => {
                self.family
                    .get_or_create(&RequestLabels {
                        route: self.route.clone(),
                        outcome: outcome.label(),
                    })
                    .inc();
            }
        }
        self.duration.observe(elapsed.as_secs_f64());
        if outcome == Outcome::Duplicate {
            self.dedup_hits.inc();
        }
    }
}
