//! Where a request's milliseconds go: the time spent in each pipeline stage, observed
//! into `hookgate_stage_duration_seconds{stage}` (a histogram per stage, resolved at
//! start), so a slow 200 can be traced to the signature, the schema or the hand-off.
//! One clock read and one histogram observation per stage (`benches/micro.rs` measures
//! the cost of a request's laps).

use std::time::Instant;

use crate::obs::metrics::Metrics;

pub use crate::obs::metrics::Stage;

/// Laps of one request: each [`Timer::lap`] observes the time since the previous one.
pub struct Timer<'a> {
    /// `None`: laps are not observed (a replay is not a request's time).
    metrics: Option<&'a Metrics>,
    last: Instant,
    /// The laps themselves, when the request is traced.
    laps: Option<&'a mut super::trace::Laps>,
}

impl<'a> Timer<'a> {
    pub fn start(metrics: &'a Metrics, at: Instant) -> Timer<'a> {
        Timer {
            metrics: Some(metrics),
            last: at,
            laps: None,
        }
    }

    /// Also keep each lap in `laps` (a traced request's stage spans).
    pub(crate) fn recording(mut self, laps: Option<&'a mut super::trace::Laps>) -> Timer<'a> {
        self.laps = laps;
        self
    }

    /// A timer that observes nothing.
    pub fn off() -> Timer<'static> {
        Timer {
            metrics: None,
            last: Instant::now(),
            laps: None,
        }
    }

    pub fn lap(&mut self, stage: Stage) {
        if let Some(m) = self.metrics {
            let now = Instant::now();
            m.stage(stage as usize, now - self.last);
            if let Some(laps) = self.laps.as_deref_mut() {
                laps.push((stage, self.last, now));
            }
            self.last = now;
        }
    }
}
