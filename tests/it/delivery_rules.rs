//! docs/delivery.md, "Rules per destination": what reaches each destination and how
//! fast, in both modes (the embedded store and RabbitMQ).

use std::time::Duration;

use crate::deliver::{setup, Mode};
use crate::support::app::{App, Reply};
use crate::support::common::*;

macro_rules! both_modes {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn store() {
                super::$name(super::Mode::Store)
            }
            #[test]
            fn rabbitmq() {
                super::$name(super::Mode::Rabbit)
            }
        }
    )*};
}

both_modes!(a_rate_of_10_a_second_spreads_40_events_over_4_seconds);

fn a_rate_of_10_a_second_spreads_40_events_over_4_seconds(mode: Mode) {
    let app = App::start(|_, _| Reply::status(200));
    let routes = format!(
        "routes:\n  - name: orders\n    path: /hooks/orders\n    verify: none\n    queue: {{QUEUE}}\n    event_id: {{ json: /id }}\n    deliver:\n      - {{ name: app, url: \"{}\", concurrency: 8, rate: 10/s }}\n",
        app.url("/webhooks")
    );
    let (yaml, _rabbit) = setup(mode, &routes, &["app"]);
    let g = Gateway::start(&yaml);
    for i in 0..40 {
        let body = format!(r#"{{"id":"rate-{i}"}}"#);
        let r = g.post(
            "/hooks/orders",
            &[("content-type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let seen = app.wait_for(40, Duration::from_secs(20));
    assert_eq!(seen.len(), 40, "all delivered");
    let first = seen.iter().map(|s| s.at).min().unwrap();
    let last = seen.iter().map(|s| s.at).max().unwrap();
    assert!(
        last - first >= Duration::from_millis(2500),
        "40 events at 10/s take at least 2.5 s, took {:?}",
        last - first
    );
    // No window of one second holds more than 12 starts.
    let mut at: Vec<Duration> = seen.iter().map(|s| s.at - first).collect();
    at.sort();
    for (i, t) in at.iter().enumerate() {
        let within = at[i..]
            .iter()
            .take_while(|u| **u < *t + Duration::from_secs(1))
            .count();
        assert!(
            within <= 12,
            "{within} deliveries within a second from {t:?}: {at:?}"
        );
    }
}
