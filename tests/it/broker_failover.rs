//! `broker.url` naming several nodes: the gateway publishes to one, and when that node
//! stops it fails over to the next; every event answered 200 reaches a queue.

use std::time::{Duration, Instant};

use crate::support::common::*;
use crate::support::rabbit_node::Node;

#[test]
fn when_its_node_stops_the_gateway_fails_over_to_the_next_url() {
    // Two nodes, booted side by side (~10 s each).
    let other = std::thread::spawn(|| Node::start("fo", |_| String::new(), None));
    let a = Node::start("fo", |_| String::new(), None);
    let b = other.join().unwrap();
    let queue = "hg-fo-q";
    let g = Gateway::start(&format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nstore: {{ path: \"{{STORE}}\" }}\n\
         broker: {{ url: \"{},{}\", exchange: hg-fo, when_unavailable: spool }}\n\
         routes:\n  - {{ name: r, path: /r, verify: none, queue: {queue}, event_id: {{ header: X-Id }} }}\n",
        a.url(),
        b.url()
    ));
    let deadline = Instant::now() + Duration::from_secs(20);
    while request(g.admin, "GET", "/readyz", &[], b"").text().trim() != "ready" {
        assert!(Instant::now() < deadline, "not connected: {}", g.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
    let send = |from: usize| {
        for i in from..from + 10 {
            let r = g.post("/r", &[("x-id", &format!("fo-{i}"))], b"{}");
            assert_eq!(r.status, 200, "{}", r.text());
        }
    };
    let count = |n: &Node| n.messages(queue).unwrap_or(0);
    send(0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(&a) + count(&b) < 10 {
        assert!(Instant::now() < deadline, "the first 10 did not arrive");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (first, next) = if count(&a) == 10 { (&a, &b) } else { (&b, &a) };
    assert_eq!(count(next), 0, "one node at a time");
    // The node the gateway uses goes away: the next 10 are answered 200 all the same
    // and reach the other node.
    let stopped = Instant::now();
    first.stop();
    send(10);
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(next) < 10 {
        assert!(Instant::now() < deadline, "not failed over: {}", g.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "failed over to the other node: 10 events there {:?} after stopping the first",
        stopped.elapsed()
    );
    assert_eq!(count(next), 10);
    let logs = g.logs();
    assert_eq!(
        logs.matches("connected to the broker broker=").count(),
        2,
        "{logs}"
    );
    assert!(!logs.contains("guest:guest"), "no password in the log");
}
