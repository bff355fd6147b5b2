//! RabbitMQ helpers: the benchmark's exchanges and quorum queues, the message hookgate
//! publishes, and the raw lapin publisher (the broker's ceiling).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use lapin::options::*;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};

use crate::load::{collect, delivery_id, pace, run_tag, Run};

/// The full run's connection to RabbitMQ, or None (said on stdout) without one.
pub(crate) async fn connect(amqp: &str) -> Option<Connection> {
    match Connection::connect(amqp, ConnectionProperties::default()).await {
        Ok(c) => Some(c),
        Err(e) => {
            println!("no RabbitMQ at AMQP_URL ({e}); start one with `rabbitmq-server -detached`");
            None
        }
    }
}

/// The reference's exchange and queue, declared by hookgate's own code as it declares
/// a route's (`<queue>` and `<queue>.dead`, bound with `github.#`).
pub(crate) async fn declare(conn: &Connection, exchange: &str, queue: &str) {
    let ch = conn.create_channel().await.unwrap();
    hookgate::testing::bench::declare_route_queue(&ch, exchange, "github", queue)
        .await
        .unwrap();
}

pub(crate) async fn cleanup(conn: &Connection, exchange: &str, queues: &[String]) {
    let ch = conn.create_channel().await.unwrap();
    for q in queues {
        let _ = ch
            .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
    let _ = ch
        .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
        .await;
}

pub(crate) async fn queue_len(conn: &Connection, queue: &str) -> u32 {
    let ch = conn.create_channel().await.unwrap();
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .map(|q| q.message_count())
    .unwrap_or(0)
}

/// A connection to `url` and `n` channels on it in confirm mode.
pub(crate) async fn confirm_channels(url: &str, n: usize) -> (Connection, Vec<lapin::Channel>) {
    let conn = Connection::connect(url, ConnectionProperties::default())
        .await
        .unwrap();
    let mut chans = Vec::new();
    for _ in 0..n {
        let ch = conn.create_channel().await.unwrap();
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        chans.push(ch);
    }
    (conn, chans)
}

/// The same message hookgate publishes (docs/reference.md): properties and headers, so the broker
/// does the same work per message.
pub(crate) fn message_properties(id: String) -> BasicProperties {
    let now = std::time::SystemTime::now();
    let mut headers = FieldTable::default();
    let s = |v: String| AMQPValue::LongString(v.into());
    headers.insert("hookgate-route".into(), s("github".into()));
    headers.insert(
        "hookgate-received-at".into(),
        s(humantime::format_rfc3339_millis(now).to_string()),
    );
    headers.insert("hookgate-source-ip".into(), s("127.0.0.1".into()));
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_timestamp(
            now.duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
        )
        .with_app_id("hookgate".into())
        .with_headers(headers)
        .with_message_id(id.into())
        .with_type("push".into())
        .with_content_type("application/json".into())
}

/// `window` publishers in flight over `channels` channels, each waiting for its own
/// confirm: the same model as hookgate's requests. With a `rate`, an open loop: message
/// k is due at k / rate and its latency counts from then.
pub(crate) async fn raw_publisher(
    url: &str,
    exchange: &str,
    channels: usize,
    window: usize,
    dur: Duration,
    body: Bytes,
    rate: Option<f64>,
) -> Run {
    let (conn, chans) = confirm_channels(url, channels).await;
    let start = Instant::now() + Duration::from_millis(if rate.is_some() { 200 } else { 0 });
    let deadline = start + dur;
    let next = Arc::new(AtomicU64::new(0));
    let tag = run_tag(exchange);
    let (mut lanes, pacer) = match rate {
        Some(rate) => {
            let (lanes, pacer) = pace(start, rate, (rate * dur.as_secs_f64()) as u64, window);
            (lanes.into_iter().map(Some).collect(), Some(pacer))
        }
        None => (Vec::new(), None),
    };
    lanes.resize_with(window, || None);
    let tasks: Vec<_> = lanes
        .into_iter()
        .enumerate()
        .map(|(i, mut due_times)| {
            let ch = chans[i % channels].clone();
            let (exchange, body, next) = (exchange.to_string(), body.clone(), next.clone());
            tokio::spawn(async move {
                let mut h = Histogram::<u64>::new(3).unwrap();
                let (mut ok, mut other) = (0, 0);
                loop {
                    let due = match &mut due_times {
                        Some(lane) => match lane.recv().await {
                            Some(due) => due,
                            None => break,
                        },
                        None if Instant::now() < deadline => Instant::now(),
                        None => break,
                    };
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let props = message_properties(delivery_id(tag, n));
                    let c = ch
                        .basic_publish(
                            exchange.as_str().into(),
                            "github.push".into(),
                            BasicPublishOptions {
                                mandatory: true,
                                ..Default::default()
                            },
                            &body,
                            props,
                        )
                        .await
                        .unwrap()
                        .await
                        .unwrap();
                    if c.is_ack() {
                        ok += 1;
                        h.record(due.elapsed().as_micros() as u64).unwrap();
                    } else {
                        other += 1;
                    }
                }
                (h, ok, other, 0)
            })
        })
        .collect();
    let mut run = collect(tasks, start).await;
    if let Some(pacer) = pacer {
        run.elapsed = dur;
        run.late = pacer.join().unwrap();
    }
    let _ = conn.close(200, "bye".into()).await;
    run
}
