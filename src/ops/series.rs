//! The dashboard's charts: the last 15 minutes of each route's and destination's
//! traffic, kept in a small ring in memory and read through `GET /api/v1/series`.
//!
//! Why the gateway keeps it rather than the page: a dashboard opened during an incident
//! shows what led to it at once, not only what happens while it is open. The ring is
//! filled off the request path: every [`STEP`] a task reads the same exposition
//! `/metrics` serves and keeps what changed in that step. Its size is bounded by the
//! configuration: [`SAMPLES`] samples of a few numbers per route and destination.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::obs::metrics::Outcome;

/// How often a sample is taken.
pub(crate) const STEP: Duration = Duration::from_secs(5);
/// How many are kept: 15 minutes.
pub(crate) const SAMPLES: usize = 180;

/// One route in one step: requests accepted and refused in it, and the answer times'
/// p50 and p99 over it (milliseconds; absent when it answered nothing).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub(crate) struct RouteStep {
    pub accepted: u64,
    pub refused: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
}

/// One destination in one step: attempts answered 2xx, attempts that failed, and its
/// backlog at the step's end.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub(crate) struct DestinationStep {
    pub delivered: u64,
    pub failed: u64,
    pub backlog: u64,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Sample {
    /// The step's end, in milliseconds since the Unix epoch.
    pub at: i64,
    /// The step's real length: the time since the reading before, which is longer than
    /// a step after a stall (the page divides the counts by it, not by the step).
    pub seconds: f64,
    pub routes: HashMap<Arc<str>, RouteStep>,
    /// Keyed `route/destination`.
    pub destinations: HashMap<Arc<str>, DestinationStep>,
}

/// A route's cumulative figures: answers that took the request and refusals, and the
/// answer-time histogram's cumulative buckets (upper bound, count).
#[derive(Debug, Default)]
struct RouteTotals {
    accepted: u64,
    refused: u64,
    buckets: Vec<(f64, u64)>,
}

/// The cumulative figures of one reading of the exposition.
#[derive(Debug, Default)]
struct Totals {
    /// When it was read (ms since the epoch).
    at: i64,
    routes: HashMap<Arc<str>, RouteTotals>,
    destinations: HashMap<Arc<str>, DestinationStep>,
}

#[derive(Default)]
pub(crate) struct Series {
    ring: Mutex<(VecDeque<Sample>, Option<Totals>)>,
}

impl Series {
    /// Take a reading of `exposition` (OpenMetrics text) at `at`: from the second reading
    /// on, the differences from the one before become a sample.
    pub(crate) fn record(&self, exposition: &str, at: i64) {
        let now = Totals {
            at,
            ..totals(exposition)
        };
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(before) = &ring.1 {
            let seconds = (at - before.at).max(1) as f64 / 1000.0;
            let sample = step(before, &now, at, seconds);
            ring.0.push_back(sample);
            while ring.0.len() > SAMPLES {
                ring.0.pop_front();
            }
        }
        ring.1 = Some(now);
    }

    /// The samples taken after `since` (milliseconds since the epoch), oldest first.
    pub(crate) fn since(&self, since: i64) -> Vec<Sample> {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        ring.0.iter().filter(|s| s.at > since).cloned().collect()
    }
}

fn step(before: &Totals, now: &Totals, at: i64, seconds: f64) -> Sample {
    let routes = now
        .routes
        .iter()
        .map(|(name, now)| {
            let (a0, r0, b0) = before
                .routes
                .get(name)
                .map_or((0, 0, &[][..]), |b| (b.accepted, b.refused, &b.buckets[..]));
            // The buckets of this step alone: today's counts less the last reading's.
            let window: Vec<(f64, u64)> = now
                .buckets
                .iter()
                .map(|(le, c)| {
                    let was = b0.iter().find(|(l, _)| l == le).map_or(0, |(_, c)| *c);
                    (*le, c.saturating_sub(was))
                })
                .collect();
            let ms = |q| quantile(&window, q).map(|s| (s * 1e5).round() / 100.0);
            let r = RouteStep {
                accepted: now.accepted.saturating_sub(a0),
                refused: now.refused.saturating_sub(r0),
                p50_ms: ms(0.5),
                p99_ms: ms(0.99),
            };
            (name.clone(), r)
        })
        .collect();
    let destinations = now
        .destinations
        .iter()
        .map(|(name, d)| {
            let was = before.destinations.get(name).cloned().unwrap_or_default();
            let s = DestinationStep {
                delivered: d.delivered.saturating_sub(was.delivered),
                failed: d.failed.saturating_sub(was.failed),
                backlog: d.backlog,
            };
            (name.clone(), s)
        })
        .collect();
    Sample {
        at,
        seconds,
        routes,
        destinations,
    }
}

/// The `q` quantile of cumulative `buckets` (sorted by bound), interpolated linearly
/// within its bucket, as Prometheus's `histogram_quantile` does.
fn quantile(buckets: &[(f64, u64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let (mut lower, mut below) = (0.0, 0u64);
    for &(le, count) in buckets {
        if count as f64 >= rank {
            if le.is_infinite() {
                return Some(lower);
            }
            let inside = (count - below) as f64;
            return Some(lower + (le - lower) * (rank - below as f64) / inside.max(1.0));
        }
        (lower, below) = (le, count);
    }
    Some(lower)
}

/// What the charts need from the exposition.
fn totals(exposition: &str) -> Totals {
    let mut t = Totals::default();
    let name_of = |s: &str| -> Arc<str> { Arc::from(s) };
    for line in exposition.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, labels, value)) = sample_line(line) else {
            continue;
        };
        let label = |k: &str| {
            labels
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.as_str())
        };
        let count = value.max(0.0) as u64;
        match name {
            "hookgate_requests_total" => {
                let (Some(route), Some(outcome)) = (label("route"), label("outcome")) else {
                    continue;
                };
                let e = t.routes.entry(name_of(route)).or_default();
                let refused = Outcome::ALL
                    .iter()
                    .find(|o| o.label() == outcome)
                    .is_some_and(|o| o.is_refusal());
                if refused {
                    e.refused += count
                } else {
                    e.accepted += count
                }
            }
            "hookgate_request_duration_seconds_bucket" => {
                let (Some(route), Some(le)) = (label("route"), label("le")) else {
                    continue;
                };
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap_or(f64::NAN)
                };
                if !le.is_nan() {
                    t.routes
                        .entry(name_of(route))
                        .or_default()
                        .buckets
                        .push((le, count));
                }
            }
            "hookgate_delivery_attempts_total" | "hookgate_delivery_backlog" => {
                let (Some(route), Some(dest)) = (label("route"), label("destination")) else {
                    continue;
                };
                let d = t
                    .destinations
                    .entry(name_of(&format!("{route}/{dest}")))
                    .or_default();
                match (name, label("outcome")) {
                    ("hookgate_delivery_backlog", _) => d.backlog = count,
                    (_, Some("2xx")) => d.delivered += count,
                    _ => d.failed += count,
                }
            }
            _ => {}
        }
    }
    for r in t.routes.values_mut() {
        r.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    t
}

/// A sample's labels: name and unescaped value.
type Labels<'a> = Vec<(&'a str, String)>;

/// `name{k="v",…} value` of the text format, label values unescaped.
fn sample_line(line: &str) -> Option<(&str, Labels<'_>, f64)> {
    let (name, rest) = match line.find(['{', ' ']) {
        Some(i) => line.split_at(i),
        None => return None,
    };
    let mut labels = Vec::new();
    let mut rest = rest;
    if let Some(mut inner) = rest.strip_prefix('{') {
        loop {
            inner = inner.trim_start_matches(',');
            if let Some(after) = inner.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after) = inner.split_once("=\"")?;
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next()? {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        c => value.push(c),
                    },
                    (_, c) => value.push(c),
                }
            };
            labels.push((key, value));
            inner = &after[end + 1..];
        }
    }
    let value = rest.split_whitespace().next()?.parse().ok()?;
    Some((name, labels, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "# TYPE hookgate_requests counter\n\
        hookgate_requests_total{route=\"gh\",outcome=\"accepted\"} 10\n\
        hookgate_requests_total{route=\"gh\",outcome=\"signature_invalid\"} 2\n\
        hookgate_request_duration_seconds_bucket{route=\"gh\",le=\"0.001\"} 4\n\
        hookgate_request_duration_seconds_bucket{route=\"gh\",le=\"0.002\"} 12\n\
        hookgate_request_duration_seconds_bucket{route=\"gh\",le=\"+Inf\"} 12\n\
        hookgate_delivery_attempts_total{route=\"gh\",destination=\"app\",outcome=\"2xx\"} 7\n\
        hookgate_delivery_attempts_total{route=\"gh\",destination=\"app\",outcome=\"5xx\"} 1\n\
        hookgate_delivery_backlog{route=\"gh\",destination=\"app\"} 3\n";

    #[test]
    fn a_sample_holds_what_changed_in_its_step() {
        let s = Series::default();
        s.record(ONE, 1_000);
        assert!(
            s.since(0).is_empty(),
            "the first reading is only a baseline"
        );
        let two = ONE
            .replace("\"accepted\"} 10", "\"accepted\"} 30")
            .replace("le=\"0.002\"} 12", "le=\"0.002\"} 32")
            .replace("le=\"+Inf\"} 12", "le=\"+Inf\"} 32")
            .replace("\"2xx\"} 7", "\"2xx\"} 9")
            .replace("app\"} 3", "app\"} 5");
        s.record(&two, 6_000);
        let got = s.since(0);
        assert_eq!(got.len(), 1);
        let r = &got[0].routes["gh"];
        assert_eq!((r.accepted, r.refused), (20, 0));
        // 20 answers, all between 1 and 2 ms.
        assert_eq!(r.p50_ms, Some(1.5));
        let d = &got[0].destinations["gh/app"];
        assert_eq!((d.delivered, d.failed, d.backlog), (2, 0, 5));
        assert!(s.since(6_000).is_empty());
        assert_eq!(got[0].seconds, 5.0);
        // A reading late after a stall: its sample says how long it really spans.
        s.record(&two, 14_000);
        assert_eq!(s.since(6_000)[0].seconds, 8.0);
    }

    #[test]
    fn the_ring_keeps_fifteen_minutes() {
        let s = Series::default();
        for i in 0..(SAMPLES as i64 + 20) {
            s.record(ONE, i * 5_000);
        }
        let got = s.since(0);
        assert_eq!(got.len(), SAMPLES);
        // 199 samples (the first reading is a baseline): the oldest 19 are gone.
        assert_eq!(got[0].at, 20 * 5_000);
    }

    #[test]
    fn label_values_are_unescaped_and_odd_lines_skipped() {
        let (n, l, v) = sample_line(r#"x_total{a="q\"b",c="d\\e"} 4.5"#).unwrap();
        assert_eq!((n, v), ("x_total", 4.5));
        assert_eq!(
            l,
            vec![("a", "q\"b".to_string()), ("c", "d\\e".to_string())]
        );
        assert!(sample_line("x_total{a=\"unterminated} 1").is_none());
        assert!(sample_line("nothing").is_none());
        assert_eq!(quantile(&[(1.0, 0), (f64::INFINITY, 0)], 0.5), None);
    }
}
