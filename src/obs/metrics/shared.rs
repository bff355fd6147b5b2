//! The shared Redis's metrics: whether it answers, and the calls that failed by
//! operation.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OpLabel {
    pub op: &'static str,
}

pub struct SharedMetrics {
    /// 1 while the last call to Redis was answered (also when none is configured).
    pub up: Gauge,
    errors: Family<OpLabel, Counter>,
}

/// Every `op` label.
pub(crate) const OPS: [&str; 3] = ["dedup_check", "dedup_record", "rate_limit"];

impl SharedMetrics {
    pub fn register(registry: &mut Registry) -> SharedMetrics {
        let up = Gauge::default();
        // Nothing to be down without a shared Redis: 1, so an alert on 0 needs no guard.
        up.set(1);
        registry.register(
            "shared_up",
            "0 while the shared Redis (store.dedup.redis) does not answer and this replica decides alone; else 1",
            up.clone(),
        );
        let errors = Family::<OpLabel, Counter>::default();
        registry.register(
            "shared_errors",
            "Calls to the shared Redis that failed or timed out, by operation (the replica then decided alone)",
            errors.clone(),
        );
        for op in OPS {
            let _ = errors.get_or_create(&OpLabel { op });
        }
        SharedMetrics { up, errors }
    }

    pub fn error(&self, op: &'static str) {
        self.errors.get_or_create(&OpLabel { op }).inc();
    }
}
