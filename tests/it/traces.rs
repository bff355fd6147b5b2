//! docs/operations.md, "Traces": a webhook with a W3C `traceparent` continues that
//! trace through hookgate to the application, in both modes. A real OTLP/HTTP receiver
//! (the official protobuf definitions, `tests/it/support/otlp_receiver.py`) gets the
//! SERVER span of the request and the CLIENT span of each delivery attempt, with
//! `service.name` hookgate; with RabbitMQ the queued message carries the trace context
//! too, so delivery continues it in another process or after a restart.

use std::time::Duration;

use serde_json::Value;

use crate::deliver::{setup, Mode};
use crate::support::app::{App, Reply};
use crate::support::common::*;
use crate::support::otlp::Receiver;
use crate::support::rabbit::Rabbit;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

#[test]
fn a_traceparent_reaches_the_application_and_the_collector_gets_server_and_client_spans_store() {
    one_trace(Mode::Store)
}

#[test]
fn a_traceparent_reaches_the_application_and_the_collector_gets_server_and_client_spans_rabbitmq() {
    one_trace(Mode::Rabbit)
}

fn spans_of<'a>(spans: &'a [Value], kind: &str) -> Vec<&'a Value> {
    spans
        .iter()
        .filter(|s| s["trace_id"] == TRACE && s["kind"] == kind)
        .collect()
}

fn one_trace(mode: Mode) {
    let receiver = Receiver::start();
    // The application fails once, so that two attempts (two CLIENT spans) are seen.
    let app = App::start(|_, n| Reply::status(if n == 0 { 500 } else { 200 }));
    let routes = format!(
        "traces: {{ otlp: \"{}\", sample: 1.0 }}\nroutes:\n  - name: orders\n    path: /hooks/orders\n    verify: none\n    queue: {{QUEUE}}\n    event_id: {{ json: /id }}\n    deliver:\n      - {{ name: app, url: \"{}\", backoff: {{ first: 100ms, max: 200ms }} }}\n",
        receiver.url(),
        app.url("/webhooks")
    );
    let (yaml, _rabbit) = setup(mode, &routes, &["app"]);
    let g = Gateway::start(&yaml);
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    let r = g.post(
        "/hooks/orders",
        &[
            ("content-type", "application/json"),
            ("traceparent", &traceparent),
            ("tracestate", "vendor=abc"),
        ],
        br#"{"id":"ord_traced"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());

    let seen = app.wait_for(2, Duration::from_secs(20));
    assert_eq!(seen.len(), 2, "the application got {} attempts", seen.len());
    let received: Vec<&str> = seen
        .iter()
        .map(|s| s.header("traceparent").unwrap_or(""))
        .collect();
    for tp in &received {
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts.len(), 4, "not a traceparent: {tp:?}");
        assert_eq!(
            parts[1], TRACE,
            "the application's trace id is the provider's"
        );
        assert_ne!(
            parts[2], PARENT,
            "the application's parent is hookgate's span"
        );
        assert_eq!(parts[3], "01", "sampled");
    }
    assert_ne!(
        received[0], received[1],
        "each attempt is a span of its own"
    );
    assert_eq!(seen[0].header("tracestate"), Some("vendor=abc"));

    let spans = receiver.wait_for(
        |s| {
            spans_of(s, "SPAN_KIND_CLIENT").len() >= 2
                && !spans_of(s, "SPAN_KIND_SERVER").is_empty()
        },
        Duration::from_secs(15),
    );
    let server = spans_of(&spans, "SPAN_KIND_SERVER");
    assert_eq!(server.len(), 1, "one SERVER span: {spans:#?}");
    let server = server[0];
    assert_eq!(
        server["parent_span_id"], PARENT,
        "it continues the sender's span"
    );
    assert_eq!(server["service_name"], "hookgate");
    assert_eq!(server["attributes"]["hookgate.route"], "orders");
    assert_eq!(server["attributes"]["hookgate.outcome"], "accepted");
    assert_eq!(server["attributes"]["http.response.status_code"], 200);
    assert_eq!(server["attributes"]["hookgate.event_id"], "ord_traced");
    // The stages are its children: the hand-off among them.
    let stages: Vec<&str> = spans
        .iter()
        .filter(|s| s["parent_span_id"] == server["span_id"])
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(stages.contains(&"handoff"), "stage spans: {stages:?}");

    let clients = spans_of(&spans, "SPAN_KIND_CLIENT");
    let mut statuses: Vec<i64> = clients
        .iter()
        .map(|c| {
            c["attributes"]["http.response.status_code"]
                .as_i64()
                .unwrap_or(0)
        })
        .collect();
    statuses.sort();
    assert_eq!(statuses, [200, 500]);
    for c in &clients {
        assert_eq!(c["service_name"], "hookgate");
        assert_eq!(
            c["parent_span_id"], server["span_id"],
            "a delivery is a child of the request"
        );
        let id = c["span_id"].as_str().unwrap_or("");
        assert!(
            received.iter().any(|tp| tp.split('-').nth(2) == Some(id)),
            "the application saw span {id} as its parent: {received:?}"
        );
    }
    // No body, no secret in any span.
    let text = serde_json::to_string(&spans).unwrap();
    assert!(!text.contains("ord_traced\"}"), "a body in a span: {text}");
}

#[test]
fn with_rabbitmq_the_queued_message_carries_the_trace_context() {
    let receiver = Receiver::start();
    let routes = format!(
        "traces: {{ otlp: \"{}\" }}\nroutes:\n  - name: orders\n    path: /hooks/orders\n    verify: none\n    queue: {{QUEUE}}\n    event_id: {{ json: /id }}\n",
        receiver.url()
    );
    let (yaml, rabbit) = setup(Mode::Rabbit, &routes, &[]);
    let rabbit: Rabbit = rabbit.expect("a broker");
    let queue = yaml
        .split("exchange: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .map(|x| format!("{}.q", x.trim_end_matches(['}', ','])))
        .expect("the exchange");
    let g = Gateway::start(&yaml);
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    let r = g.post(
        "/hooks/orders",
        &[
            ("content-type", "application/json"),
            ("traceparent", &traceparent),
        ],
        br#"{"id":"ord_queued"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let msgs = rabbit.take_all(&queue, 1, Duration::from_secs(10));
    assert_eq!(msgs.len(), 1);
    let tp = msgs[0].header("traceparent").expect("a traceparent header");
    let parts: Vec<&str> = tp.split('-').collect();
    assert_eq!((parts[0], parts[1], parts[3]), ("00", TRACE, "01"), "{tp}");
    let spans = receiver.wait_for(
        |s| !spans_of(s, "SPAN_KIND_SERVER").is_empty(),
        Duration::from_secs(15),
    );
    let server = spans_of(&spans, "SPAN_KIND_SERVER");
    assert_eq!(server.len(), 1, "{spans:#?}");
    assert_eq!(
        server[0]["span_id"], parts[2],
        "the message's parent is the request's span"
    );
}

#[test]
fn a_collector_that_is_down_fails_no_request_and_the_lost_spans_are_counted() {
    // Nothing listens there: every export fails.
    let closed = free_port();
    let g = Gateway::start(&format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nstore: {{ path: \"{{STORE}}\" }}\ntraces: {{ otlp: \"http://127.0.0.1:{closed}\" }}\nroutes:\n  - {{ name: orders, path: /hooks/orders, verify: none, event_id: {{ json: /id }} }}\n"
    ));
    for i in 0..20 {
        let started = std::time::Instant::now();
        let r = g.post(
            "/hooks/orders",
            &[("content-type", "application/json")],
            format!(r#"{{"id":"ord_{i}"}}"#).as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a request waited for the collector"
        );
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let dropped = loop {
        let m = g.metrics();
        let n: f64 = m
            .lines()
            .find(|l| l.starts_with("hookgate_traces_dropped_spans_total "))
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        if n >= 20.0 || std::time::Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(dropped >= 20.0, "dropped spans counted: {dropped}");
}
