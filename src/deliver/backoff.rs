//! When a failed delivery is tried again: the destination's backoff (exponential with
//! jitter, or a schedule), a `Retry-After` that asks for later, and the circuit that
//! pauses a destination that keeps failing.

use std::time::{Duration, Instant, SystemTime};

use http::HeaderMap;

use crate::config::Backoff;

/// The wait after the `failures`-th failed attempt (1 = the first), or `None` when a
/// schedule's `for` has passed since `accepted` (the event goes to the dead letters).
pub(crate) fn delay(b: &Backoff, failures: u32, since_accepted: Duration) -> Option<Duration> {
    match b {
        Backoff::Exponential { first, max } => {
            let base = first.saturating_mul(1u32 << failures.saturating_sub(1).min(30));
            let base = base.min(*max);
            // Up to 20 % more, so destinations' retries after an outage spread out.
            let jitter = base.mul_f64(fastrand::f64() * 0.2);
            Some((base + jitter).min(*max))
        }
        Backoff::Schedule { steps, then, until } => {
            let i = failures.saturating_sub(1) as usize;
            if let Some(d) = steps.get(i) {
                return Some(*d);
            }
            let then = (*then)?;
            match until {
                Some(u) if since_accepted + then > *u => None,
                _ => Some(then),
            }
        }
    }
}

/// A `Retry-After` in seconds or as an HTTP date, as a wait from now (capped at a day).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let d = match v.parse::<u64>() {
        Ok(s) => Duration::from_secs(s),
        Err(_) => {
            let at = httpdate_parse(v)?;
            at.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        }
    };
    Some(d.min(Duration::from_secs(86_400)))
}

fn httpdate_parse(v: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(v).ok().or_else(|| {
        // IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT": rewritten as RFC 3339.
        let parts: Vec<&str> = v.split_whitespace().collect();
        let [_, day, mon, year, time, "GMT"] = parts.as_slice() else {
            return None;
        };
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let m = MONTHS.iter().position(|x| x == mon)? + 1;
        humantime::parse_rfc3339(&format!("{year}-{m:02}-{day:0>2}T{time}Z")).ok()
    })
}

/// Consecutive failures that open the circuit.
const OPEN_AFTER: u32 = 5;
/// The first pause of an open circuit; it doubles with each failed probe, up to
/// [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const MAX_PAUSE: Duration = Duration::from_secs(60);

/// A destination that keeps failing (5xx, 429, timeouts, refused connections; not a
/// 4xx, which is one event's problem) is paused: one probe at a time, the pause
/// doubling, until an attempt succeeds.
#[derive(Debug, Default)]
pub(crate) struct Circuit {
    failures: u32,
    pause: Duration,
    /// While open: no attempt before this.
    until: Option<Instant>,
}

impl Circuit {
    pub(crate) fn is_open(&self) -> bool {
        self.failures >= OPEN_AFTER
    }

    /// May an attempt start now, with `in_flight` running?
    pub(crate) fn allows(&self, in_flight: usize, now: Instant) -> bool {
        !self.is_open() || (in_flight == 0 && self.until.is_none_or(|u| now >= u))
    }

    /// When the next probe may go (`None`: closed, or not waiting).
    pub(crate) fn next_probe(&self) -> Option<Instant> {
        self.until.filter(|_| self.is_open())
    }

    pub(crate) fn success(&mut self) {
        *self = Circuit::default();
    }

    /// Returns true when this failure opened the circuit.
    pub(crate) fn failure(&mut self, now: Instant) -> bool {
        let was_open = self.is_open();
        self.failures = self.failures.saturating_add(1);
        if self.is_open() {
            self.pause = if was_open {
                (self.pause * 2).min(MAX_PAUSE)
            } else {
                FIRST_PAUSE
            };
            self.until = Some(now + self.pause);
        }
        !was_open && self.is_open()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_doubles_with_jitter_up_to_max() {
        let b = Backoff::Exponential {
            first: Duration::from_secs(1),
            max: Duration::from_secs(10),
        };
        for (n, lo) in [
            (1, 1.0),
            (2, 2.0),
            (3, 4.0),
            (4, 8.0),
            (5, 10.0),
            (40, 10.0),
        ] {
            let d = delay(&b, n, Duration::ZERO).unwrap().as_secs_f64();
            assert!(d >= lo && d <= (lo * 1.2).min(10.0), "{n}: {d}");
        }
    }

    #[test]
    fn kontent_schedule_then_hourly_for_three_days() {
        let m = |n: u64| Duration::from_secs(60 * n);
        let b = Backoff::Schedule {
            steps: vec![m(1), m(2), m(4), m(8), m(16), m(32), m(60)],
            then: Some(m(60)),
            until: Some(m(72 * 60)),
        };
        assert_eq!(delay(&b, 1, Duration::ZERO), Some(m(1)));
        assert_eq!(delay(&b, 7, m(63)), Some(m(60)));
        assert_eq!(delay(&b, 8, m(123)), Some(m(60)));
        assert_eq!(delay(&b, 80, m(71 * 60 + 30)), None);
        let once = Backoff::Schedule {
            steps: vec![m(1)],
            then: None,
            until: None,
        };
        assert_eq!(delay(&once, 2, Duration::ZERO), None);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(
            http::header::RETRY_AFTER,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn circuit_opens_after_five_and_probes_one_at_a_time_with_growing_pauses() {
        let mut c = Circuit::default();
        let t = Instant::now();
        for _ in 0..4 {
            assert!(!c.failure(t));
        }
        assert!(c.allows(3, t));
        assert!(c.failure(t));
        assert!(!c.allows(0, t));
        assert!(c.allows(0, t + Duration::from_secs(1)));
        assert!(!c.allows(1, t + Duration::from_secs(1)));
        c.failure(t);
        assert_eq!(c.next_probe(), Some(t + Duration::from_secs(2)));
        c.success();
        assert!(c.allows(7, t));
    }
}
