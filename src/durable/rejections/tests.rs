//! The rejection log's records: masking, capture, bounds and sequences.

use super::record::{self, build, HEAD};
use super::*;
use crate::config::RejectionsConfig;
use sha2::Digest as _;
use std::net::IpAddr;

fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
    let mut b = http::Request::builder().method("POST").uri(uri);
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn refused<'a>(p: &'a Parts, body: Option<&'a Bytes>) -> Refused<'a> {
    Refused {
        route: "github",
        verifier: None,
        source: "192.0.2.1".parse().unwrap(),
        status: 401,
        code: "signature_invalid",
        reason: "no configured secret matches the signature".into(),
        parts: p,
        https: false,
        body,
        capture: false,
    }
}

#[test]
fn credentials_and_query_values_are_masked() {
    let p = parts(
        "/hooks/github?token=s3cret&x=1",
        &[
            ("x-hub-signature-256", "sha256=abcdef"),
            ("authorization", "Bearer s3cret"),
            ("cookie", "session=s3cret"),
            ("x-github-event", "push"),
        ],
    );
    let body = Bytes::from_static(b"{\"name\":\"person\"}");
    let s = build(1, 0, &refused(&p, Some(&body)));
    let text = serde_json::to_string(&s).unwrap();
    assert!(
        !text.contains("s3cret") && !text.contains("abcdef"),
        "{text}"
    );
    assert!(
        !text.contains("person"),
        "no body byte without capture_body"
    );
    assert!(s.raw.is_none());
    assert_eq!(s.shown.path, "/hooks/github?token=***&x=***");
    assert!(s
        .shown
        .headers
        .contains(&("x-github-event".into(), "push".into())));
    assert!(s
        .shown
        .headers
        .contains(&("x-hub-signature-256".into(), "*** (13 bytes)".into())));
    assert_eq!(s.shown.body_bytes, Some(17));
    assert_eq!(
        s.shown.body_sha256.as_deref(),
        Some(&*hex::encode(sha2::Sha256::digest(&body)))
    );
}

#[test]
fn capture_keeps_the_request_for_replay_but_shows_it_masked() {
    let p = parts("/hooks/github", &[("x-hub-signature-256", "sha256=abcdef")]);
    let body = Bytes::from(vec![b'a'; 1000]);
    let s = build(
        1,
        5,
        &Refused {
            capture: true,
            ..refused(&p, Some(&body))
        },
    );
    assert_eq!(s.shown.body_head.as_ref().map(|h| h.len()), Some(HEAD));
    assert!(s.shown.replayable);
    let (parts, b) = s.raw.as_ref().unwrap().request(None).unwrap();
    assert_eq!(parts.headers["x-hub-signature-256"], "sha256=abcdef");
    assert_eq!(b, body);
    let shown = serde_json::to_string(&s.shown).unwrap();
    assert!(!shown.contains("abcdef"));
}

#[test]
fn each_route_keeps_its_newest_records_up_to_keep() {
    let db = tempfile::tempdir().unwrap();
    let ledger =
        crate::durable::dedup::Ledger::open(db.path(), std::time::Duration::from_secs(60)).unwrap();
    let ks = ledger.keyspace("rejections").unwrap();
    let cfg = RejectionsConfig {
        keep: 3,
        max_age: std::time::Duration::from_secs(3600),
        max_bytes: 1 << 20,
        capture_body: false,
    };
    let mut w = writer::Writer::new(ks.clone());

    let p = parts("/x", &[]);
    let now = crate::now_ms();
    for (seq, route) in [(1, "a"), (2, "a"), (3, "b"), (4, "a"), (5, "a"), (6, "a")] {
        let s = build(
            now as u64 * 1000 + seq,
            now,
            &Refused {
                route,
                ..refused(&p, None)
            },
        );
        let v = serde_json::to_vec(&s).unwrap();
        w.insert(&s, v, &cfg).unwrap();
    }
    let seqs = |route: &str| -> Vec<u64> {
        let f = Filter {
            route: Some(route.into()),
            code: None,
        };
        list(&ks, &f, 10)
            .unwrap()
            .iter()
            .map(|r| r.seq % 1000)
            .collect()
    };
    assert_eq!(seqs("a"), [6, 5, 4]);
    assert_eq!(seqs("b"), [3]);
    assert_eq!(list(&ks, &Filter::default(), 2).unwrap().len(), 2);
}

#[test]
fn sequences_are_unique_and_ordered_when_the_clock_stalls() {
    let db = tempfile::tempdir().unwrap();
    let ledger =
        crate::durable::dedup::Ledger::open(db.path(), std::time::Duration::from_secs(60)).unwrap();
    let ks = ledger.keyspace("rejections").unwrap();
    let cfg = RejectionsConfig {
        keep: 10,
        max_age: std::time::Duration::from_secs(60),
        max_bytes: 1 << 20,
        capture_body: false,
    };
    let log = Log::start(ks, &cfg, Arc::new(Metrics::new())).unwrap();
    assert_eq!(log.next_seq(100), 100);
    assert_eq!(log.next_seq(100), 101);
    assert_eq!(log.next_seq(50), 102);
    assert_eq!(log.next_seq(200), 200);
}

fn record_of(route: &'static str, seq: u64, pad: usize) -> Stored {
    let pad = "p".repeat(pad);
    let p = parts("/x", &[("x-pad", pad.as_str())]);
    build(
        seq,
        0,
        &Refused {
            route,
            ..refused(&p, None)
        },
    )
}

#[test]
fn a_full_queue_drops_from_its_longest_lane_and_takes_the_routes_in_turn() {
    let q = queue::Queue::new(RejectionsConfig {
        keep: 10,
        max_age: std::time::Duration::from_secs(60),
        max_bytes: 1 << 20,
        capture_body: false,
    });
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    let one = record::cost(&record_of("a", 0, 200));
    let fits = crate::config::REJECTIONS_QUEUE_BYTES / one;
    let mut dropped = 0;
    for seq in 0..fits as u64 + 50 {
        dropped += q.push(record_of("a", seq, 200), "signature_invalid", ip, 0);
    }
    assert_eq!(
        dropped, 50,
        "a lone route uses the whole queue, then its newest go"
    );
    // Another route still gets in: the flooded lane gives up its newest.
    assert_eq!(
        q.push(record_of("b", 1, 200), "signature_invalid", ip, 0),
        1
    );
    assert_eq!(
        q.push(record_of("b", 2, 200), "signature_invalid", ip, 0),
        1
    );
    // The writer takes the lanes in turn: b's records come out among the first.
    let first: Vec<String> = (0..4)
        .filter_map(|_| q.pop(std::time::Duration::ZERO))
        .map(|s| s.shown.route)
        .collect();
    assert_eq!(first, ["a", "b", "a", "b"]);
}

#[test]
fn past_max_bytes_the_route_holding_the_most_gives_up_its_oldest() {
    let db = tempfile::tempdir().unwrap();
    let ledger =
        crate::durable::dedup::Ledger::open(db.path(), std::time::Duration::from_secs(60)).unwrap();
    let ks = ledger.keyspace("rejections").unwrap();
    let cfg = RejectionsConfig {
        keep: 100_000,
        max_age: std::time::Duration::from_secs(3600),
        max_bytes: 1 << 20,
        capture_body: false,
    };
    let mut w = writer::Writer::new(ks.clone());
    let now = crate::now_ms() as u64 * 1000;
    let mut insert = |route: &'static str, seq: u64| {
        let s = record_of(route, now + seq, 2000);
        let v = serde_json::to_vec(&s).unwrap();
        w.insert(&s, v, &cfg).unwrap();
    };
    for seq in 0..5 {
        insert("b", seq);
    }
    for seq in 10..2000 {
        insert("a", seq);
    }
    let listed = |route: &str| {
        let f = Filter {
            route: Some(route.into()),
            code: None,
        };
        list(&ks, &f, 5000).unwrap()
    };
    assert_eq!(
        listed("b").len(),
        5,
        "the flood evicted its own records only"
    );
    let a = listed("a");
    assert!(a.len() > 100 && a.len() < 1990, "{}", a.len());
    assert_eq!(a[0].seq, now + 1999, "the newest stay");
    let stored: usize = ks
        .iter()
        .map(|g| g.into_inner().map(|(k, v)| k.len() + v.len()).unwrap())
        .sum();
    assert!(stored <= 1 << 20, "{stored}");
}
