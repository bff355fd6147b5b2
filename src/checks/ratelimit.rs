//! Rate limits per route (`rate_limit: { per_ip: 50/s, burst: 100, route: 1000/s }`):
//! a keyed GCRA limiter per client IP and one for the whole route (governor). `burst`
//! is the per-IP bucket size (default: one period's worth); the route bucket holds one
//! period's worth. Rejection: `rate_limited` with `Retry-After` in whole seconds.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// `N` events per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub n: u32,
    pub period: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateSpec {
    pub per_ip: Option<Rate>,
    pub burst: Option<u32>,
    pub route: Option<Rate>,
    /// Counted in the shared Redis (`shared: true`), so that limits hold across
    /// replicas; `None`: in this process only.
    pub shared: Option<WhenSharedDown>,
}

/// What a shared limit does when Redis does not answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenSharedDown {
    /// Fall back to this replica's own buckets (the default): a Redis outage must not
    /// refuse providers' deliveries; the limit then holds per replica.
    FailOpen,
    /// Refuse (`rate_limited`, `Retry-After: 1`): for limits that protect something.
    FailClosed,
}

fn quota(rate: Rate, burst: Option<u32>) -> Quota {
    let n = NonZeroU32::new(rate.n).unwrap_or(NonZeroU32::MIN);
    let burst = burst.and_then(NonZeroU32::new).unwrap_or(n);
    Quota::with_period(rate.period / rate.n)
        .unwrap_or_else(|| Quota::per_second(n))
        .allow_burst(burst)
}

type Keyed<C> =
    RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, C, NoOpMiddleware<<C as Clock>::Instant>>;
type Direct<C> = RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// The live limiter state of one route, on governor's clock `C` (the real one; a fake
/// one in tests).
pub(crate) struct Limiter<C: Clock = DefaultClock> {
    per_ip: Option<Keyed<C>>,
    route: Option<Direct<C>>,
    clock: C,
}

impl Limiter {
    pub(crate) fn new(spec: &RateSpec) -> Limiter {
        Limiter::with_clock(spec, DefaultClock::default())
    }
}

impl<C: Clock + Clone> Limiter<C> {
    pub(crate) fn with_clock(spec: &RateSpec, clock: C) -> Limiter<C> {
        Limiter {
            per_ip: spec.per_ip.map(|r| {
                RateLimiter::new(
                    quota(r, spec.burst),
                    DefaultKeyedStateStore::default(),
                    clock.clone(),
                )
            }),
            route: spec
                .route
                .map(|r| RateLimiter::direct_with_clock(quota(r, None), clock.clone())),
            clock,
        }
    }

    /// `Err(retry_after_secs)` when over a limit. The per-IP bucket is checked first so
    /// one noisy client does not spend the route's budget.
    pub(crate) fn check(&self, ip: IpAddr) -> Result<(), u64> {
        if let Some(l) = &self.per_ip {
            l.check_key(&ip)
                .map_err(|nu| secs(nu.wait_time_from(self.clock.now())))?;
        }
        if let Some(l) = &self.route {
            l.check()
                .map_err(|nu| secs(nu.wait_time_from(self.clock.now())))?;
        }
        Ok(())
    }

    /// Forget idle client IPs, so the keyed state does not grow with every scanner.
    pub(crate) fn housekeeping(&self) {
        if let Some(l) = &self.per_ip {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

fn secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::units::parse_rate;

    #[test]
    fn parses_rates() {
        assert_eq!(
            parse_rate("50/s").unwrap(),
            Rate {
                n: 50,
                period: Duration::from_secs(1)
            }
        );
        assert_eq!(parse_rate("600/m").unwrap().period, Duration::from_secs(60));
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("5/d").is_err());
        assert!(parse_rate("fast").is_err());
    }

    #[test]
    fn per_ip_bucket_is_per_client_and_reports_retry_after() {
        let l = Limiter::new(&RateSpec {
            per_ip: Some(parse_rate("1/m").unwrap()),
            burst: Some(2),
            route: None,
            shared: None,
        });
        let a: IpAddr = "1.1.1.1".parse().unwrap();
        let b: IpAddr = "2.2.2.2".parse().unwrap();
        assert!(l.check(a).is_ok());
        assert!(l.check(a).is_ok());
        let retry = l.check(a).unwrap_err();
        assert!((1..=60).contains(&retry), "{retry}");
        assert!(l.check(b).is_ok());
    }

    #[test]
    fn buckets_refill_on_the_clock_and_retry_after_rounds_up() {
        use governor::clock::FakeRelativeClock;
        let clock = FakeRelativeClock::default();
        let l = Limiter::with_clock(
            &RateSpec {
                per_ip: Some(parse_rate("10/m").unwrap()),
                burst: Some(2),
                route: Some(parse_rate("3/s").unwrap()),
                shared: None,
            },
            clock.clone(),
        );
        let (a, b): (IpAddr, IpAddr) = ("1.1.1.1".parse().unwrap(), "2.2.2.2".parse().unwrap());
        assert_eq!(l.check(a), Ok(()));
        assert_eq!(l.check(a), Ok(()));
        // One token per 6 s: the next comes in 6 s.
        assert_eq!(l.check(a), Err(6));
        clock.advance(Duration::from_millis(5_500));
        assert_eq!(l.check(a), Err(1), "0.5 s left rounds up to 1");
        clock.advance(Duration::from_millis(500));
        assert_eq!(l.check(a), Ok(()));
        // The route's 3/s (a bucket of 3): a, b and c spend it in this instant; the
        // next token comes in a third of a second, said as 1.
        let c: IpAddr = "3.3.3.3".parse().unwrap();
        let d: IpAddr = "4.4.4.4".parse().unwrap();
        assert_eq!(l.check(b), Ok(()));
        assert_eq!(l.check(c), Ok(()));
        assert_eq!(l.check(d), Err(1));
        clock.advance(Duration::from_millis(334));
        assert_eq!(l.check(d), Ok(()));
        // Idle clients are forgotten by housekeeping, and start again with a full bucket.
        clock.advance(Duration::from_secs(3600));
        l.housekeeping();
        assert_eq!(l.per_ip.as_ref().unwrap().len(), 0);
        assert_eq!(l.check(a), Ok(()));
    }

    #[test]
    fn route_bucket_is_shared() {
        let l = Limiter::new(&RateSpec {
            per_ip: None,
            burst: None,
            route: Some(parse_rate("2/h").unwrap()),
            shared: None,
        });
        assert!(l.check("1.1.1.1".parse().unwrap()).is_ok());
        assert!(l.check("2.2.2.2".parse().unwrap()).is_ok());
        assert!(l.check("3.3.3.3".parse().unwrap()).is_err());
    }
}
