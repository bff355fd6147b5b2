//! Micro-benchmarks: each signature scheme over a 1.5 KB body, JSON parse + schema, and
//! the whole I/O-free ingress (`pipeline::inspect`: signature, JSON, schema, event id),
//! the cost of per-stage timing, and a destination's filter and transform.
//!   cargo bench --bench micro
// Benchmarks and tests may unwrap: a failure ends the run with its message.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::Path;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hookgate::testing::bench::{load_str, Config};
use http::{HeaderMap, HeaderName, HeaderValue};

fn body() -> Vec<u8> {
    let pad = "x".repeat(1200);
    format!(
        r#"{{"ref":"refs/heads/main","before":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","after":"59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5","repository":{{"id":1296269,"full_name":"octocat/Hello-World","private":false}},"pusher":{{"name":"octocat"}},"sender":{{"login":"octocat","id":1}},"pad":"{pad}"}}"#
    )
    .into_bytes()
}

fn config(dir: &Path) -> Config {
    std::fs::write(
        dir.join("push.json"),
        r#"{"type":"object","required":["ref","repository"],"properties":{"ref":{"type":"string"},
            "repository":{"type":"object","required":["full_name"],"properties":{"full_name":{"type":"string"}}}}}"#,
    )
    .unwrap();
    let yaml = r#"
routes:
  - { name: github, path: /github, provider: github, secrets: [s3cret], schema: push.json }
  - { name: stripe, path: /stripe, provider: stripe, secrets: [whsec_s3cret] }
  - { name: slack, path: /slack, provider: slack, secrets: [s3cret] }
  - { name: shopify, path: /shopify, provider: shopify, secrets: [s3cret] }
  - { name: sw, path: /sw, provider: standard-webhooks, secrets: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw] }
  - { name: kontent, path: /kontent, provider: kontent, secrets: [s3cret] }
  - { name: gitlab, path: /gitlab, provider: gitlab, secrets: [s3cret] }
  - name: custom
    path: /custom
    verify: { hmac: { algorithm: sha512, header: X-Sig, encoding: base64, signed: "{timestamp}.{body}", timestamp: { header: X-Ts } } }
    secrets: [s3cret]
"#;
    load_str(yaml, &dir.join("bench.yaml"), &|_| None).unwrap()
}

fn signed_headers(cfg: &Config, route: usize, body: &[u8]) -> HeaderMap {
    let r = &cfg.routes[route];
    let now = hookgate::now_ms() / 1000;
    let mut h = HeaderMap::new();
    for (k, v) in r.verifier.sign(&r.secrets[0].0, body, "", now, "msg_1") {
        h.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(&v).unwrap(),
        );
    }
    h.insert(
        "x-github-delivery",
        HeaderValue::from_static("72d3162e-cc78-11e3-81ab-4c9367dc0958"),
    );
    h.insert("x-github-event", HeaderValue::from_static("push"));
    h
}

fn schemes(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let body = body();
    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Bytes(body.len() as u64));
    for (i, r) in cfg.routes.iter().enumerate() {
        let headers = signed_headers(&cfg, i, &body);
        let now = hookgate::now_ms() / 1000;
        g.bench_function(r.name.as_ref(), |b| {
            b.iter(|| {
                let req = hookgate::testing::bench::SignedRequest {
                    headers: &headers,
                    body: &body,
                    url: "",
                    method: "POST",
                    query: "",
                    now,
                };
                r.verifier.verify(black_box(&req)).unwrap()
            })
        });
    }
    g.finish();
}

fn json_and_schema(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let body = body();
    let schema = cfg.routes[0].schema.as_ref().unwrap();
    let mut g = c.benchmark_group("json");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&body)).unwrap())
    });
    g.bench_function("parse+schema", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_json::from_slice(black_box(&body)).unwrap();
            schema.check(&v).unwrap()
        })
    });
    g.finish();
}

fn ingress(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let body = Bytes::from(body());
    let (mut request, ()) = http::Request::post("/").body(()).unwrap().into_parts();
    request.headers = signed_headers(&cfg, 0, &body);
    let route = &cfg.routes[0];
    let ip = "192.30.252.1".parse().unwrap();
    let mut g = c.benchmark_group("ingress");
    g.throughput(Throughput::Elements(1));
    g.bench_function("github+schema (verify, parse, schema, event)", |b| {
        b.iter(|| {
            hookgate::testing::bench::inspect(
                route,
                &request,
                body.clone(),
                "",
                hookgate::now_ms(),
                ip,
            )
            .unwrap()
        })
    });
    g.finish();
}

/// What per-stage timing adds to a request: five clock reads and five histogram
/// observations (`pipeline::Timer`), next to the I/O-free ingress above as reference.
fn stage_timing(c: &mut Criterion) {
    let m = hookgate::testing::bench::Metrics::new();
    let mut g = c.benchmark_group("stage timing");
    g.throughput(Throughput::Elements(1));
    g.bench_function("five laps (one request's stages)", |b| {
        b.iter(|| {
            let mut t = hookgate::testing::bench::Timer::start(&m, std::time::Instant::now());
            for s in hookgate::testing::bench::Stage::ALL {
                t.lap(black_box(s));
            }
        })
    });
    g.finish();
}

/// A destination's rules on the same push event: a CEL `filter` (the body parsed and
/// the expression evaluated, as delivery does per event), and a jq `transform`, alone
/// and through its worker process (two pipe writes and reads more), the way delivery
/// runs it. Convoy publishes 27 µs per event for its JS transform (goja, a reused VM).
fn rules(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let body = Bytes::from(body());
    let (mut request, ()) = http::Request::post("/").body(()).unwrap().into_parts();
    request.headers = signed_headers(&cfg, 0, &body);
    let ip = "192.30.252.1".parse().unwrap();
    let ev = hookgate::testing::bench::inspect(&cfg.routes[0], &request, body.clone(), "", 0, ip)
        .unwrap();
    let filter = hookgate::testing::bench::Rule::new(
        r#"body.ref == "refs/heads/main" && body.repository.full_name.startsWith("octocat/")"#,
    );
    assert!(filter.passes(&ev));
    let program = "{ref: .ref, repo: .repository.full_name, pusher: .pusher.name, after: .after}";
    let t = hookgate::testing::bench::Transform::new(program, env!("CARGO_BIN_EXE_hookgate"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(t.run_in_worker(&body)), t.run(&body));
    let mut g = c.benchmark_group("rules");
    g.throughput(Throughput::Elements(1));
    g.bench_function("filter (CEL, push event)", |b| {
        b.iter(|| filter.passes(black_box(&ev)))
    });
    g.bench_function("transform (jq, in process)", |b| {
        b.iter(|| t.run(black_box(&body)))
    });
    g.bench_function("transform (jq, through its worker process)", |b| {
        b.iter(|| rt.block_on(t.run_in_worker(black_box(&body))))
    });
    g.finish();
}

criterion_group!(
    benches,
    schemes,
    json_and_schema,
    ingress,
    stage_timing,
    rules
);
criterion_main!(benches);
