//! The RabbitMQ delivery floor: what the stack does with none of hookgate's work. A raw
//! lapin publisher (confirms, a window of 64, the same message and properties as
//! hookgate's) fills the same kind of queue (quorum) while 32 raw lapin consumers, one
//! channel each with a prefetch of 1 (hookgate's `concurrency: 32`), POST each message's
//! body to the same application over a keep-alive HTTP/1.1 connection of their own and
//! ack it on the answer. The figure is end to end, as hookgate's: every message
//! published, divided by the time until the last of them was acked.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};

use super::deliver::Delivered;
use crate::rabbit::{cleanup, declare, raw_publisher};

/// The consumers: hookgate's delivery concurrency in the benchmark.
const CONSUMERS: usize = 32;

/// The publisher's run, the messages delivered per second end to end, and whether all
/// were.
pub(crate) async fn run(amqp: &str, app: SocketAddr, body: Bytes, dur: Duration) -> Delivered {
    let conn = Connection::connect(amqp, ConnectionProperties::default())
        .await
        .unwrap();
    let x = format!("hg-bench-floor-{}", std::process::id());
    let q = format!("{x}-github");
    declare(&conn, &x, &q).await;
    let acked = Arc::new(AtomicU64::new(0));
    let mut consumers = Vec::new();
    for i in 0..CONSUMERS {
        let ch = conn.create_channel().await.unwrap();
        ch.basic_qos(1, BasicQosOptions::default()).await.unwrap();
        let mut stream = ch
            .basic_consume(
                q.as_str().into(),
                format!("floor-{i}").as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        let acked = acked.clone();
        consumers.push(tokio::spawn(async move {
            let mut http = crate::load::connect(app).await;
            while let Some(Ok(d)) = stream.next().await {
                let req = http::Request::post("/deliveries")
                    .header("host", "bench")
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(d.data)))
                    .unwrap();
                http.ready().await.unwrap();
                let resp = http.send_request(req).await.unwrap();
                assert!(resp.status().is_success());
                resp.into_body().collect().await.unwrap();
                d.acker.ack(BasicAckOptions::default()).await.unwrap();
                acked.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let start = Instant::now();
    let accepted = raw_publisher(amqp, &x, 2, 64, dur, body, None).await;
    let published = accepted.ok;
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.load(Ordering::Relaxed) < published && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = start.elapsed().as_secs_f64();
    let n = acked.load(Ordering::Relaxed);
    consumers.iter().for_each(|c| c.abort());
    cleanup(&conn, &x, &[q.clone(), format!("{q}.dead")]).await;
    let _ = conn.close(200, "bye".into()).await;
    Delivered {
        accepted,
        rate: n as f64 / took,
        complete: n >= published,
    }
}
