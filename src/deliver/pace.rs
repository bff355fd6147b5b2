//! A destination's `rate`: at most `n` attempts started per `period`, retries included,
//! on top of `concurrency`. Starts are spaced evenly (`period / n` apart, no burst), so
//! that no window of one `period` ever holds more than `n` (+1 at its edge): a rate
//! limit on the receiving side is met whatever the window it counts in. Events wait in
//! the store (or their queue) meanwhile, not in memory beyond the read-ahead window.

use std::time::{Duration, Instant};

use crate::checks::ratelimit::Rate;

pub(crate) struct Pace {
    /// Paused (`hookgate deliver pause`): nothing starts until resumed.
    pub(crate) paused: bool,
    /// The time between two starts; `None`: no `rate`.
    gap: Option<Duration>,
    /// The earliest the next attempt may start.
    next: Instant,
}

impl Pace {
    pub(crate) fn new(rate: Option<Rate>) -> Pace {
        Pace {
            paused: false,
            gap: rate.map(|r| r.period / r.n.max(1)),
            next: Instant::now(),
        }
    }

    /// May an attempt start at `now`?
    pub(crate) fn allows(&self, now: Instant) -> bool {
        !self.paused && (self.gap.is_none() || now >= self.next)
    }

    /// An attempt started at `now`.
    pub(crate) fn started(&mut self, now: Instant) {
        if let Some(gap) = self.gap {
            self.next = self.next.max(now) + gap;
        }
    }

    /// When the next attempt may start, when the rate holds it back.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.gap.map(|_| self.next)
    }
}

/// Sleep until `t`; without one, forever (a `select!` branch that never fires).
pub(crate) async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_a_second_are_a_tenth_of_a_second_apart() {
        let rate = Rate {
            n: 10,
            period: Duration::from_secs(1),
        };
        let mut p = Pace::new(Some(rate));
        let t0 = Instant::now();
        assert!(p.allows(t0));
        p.started(t0);
        assert!(!p.allows(t0 + Duration::from_millis(99)));
        assert!(p.allows(t0 + Duration::from_millis(100)));
        let free = Pace::new(None);
        assert!(free.allows(t0) && free.next().is_none());
    }
}
