//! With a broker, each destination consumes its own durable quorum queue
//! (`<route queue>.deliver.<destination>`, bound to the route's routing keys), with a
//! prefetch of its `concurrency` (1 when `ordered`). A message is acknowledged by the
//! worker only once the destination took it, it was dead-lettered, or its retry is kept
//! in the store: a retry waiting for its backoff holds no prefetch slot, and survives a
//! restart in the store (no broker plugin needed). This task only feeds the worker, and
//! reconnects when the connection drops (unacknowledged messages are then redelivered).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use tokio::sync::mpsc;

use crate::config::BrokerConfig;
use crate::durable::journal::Record;

/// One message for the worker; `rec.seq` is a number of this process, not the broker's.
pub(crate) struct Delivered {
    pub rec: Record,
    pub acker: lapin::Acker,
}

/// The queue of a destination.
pub(crate) fn queue_name(route_queue: &str, destination: &str) -> String {
    format!("{route_queue}.deliver.{destination}")
}

/// Consume until the worker goes away (its receiver dropped).
pub(crate) async fn run(
    cfg: BrokerConfig,
    route: Arc<str>,
    queue: String,
    prefetch: u16,
    tx: mpsc::Sender<Delivered>,
) {
    // Numbers that grow across restarts too (they key dead letters in the store).
    let mut seq = crate::now_ms().saturating_mul(1000);
    let mut delay = Duration::from_millis(100);
    loop {
        let result = session(&cfg, &route, &queue, prefetch, &tx, &mut seq).await;
        if tx.is_closed() {
            return;
        }
        if let Err(e) = result {
            tracing::warn!(route = %route, queue = %queue, error = %e, retry_in = %crate::human(delay), "delivery consumer disconnected; reconnecting");
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = tx.closed() => return,
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Why a consuming session ended (then it is opened again, after a backoff).
#[derive(Debug, thiserror::Error)]
enum SessionEnd {
    #[error(transparent)]
    Connect(#[from] crate::durable::broker::ConnectError),
    #[error(transparent)]
    Amqp(#[from] lapin::Error),
    #[error("the broker ended the consumer")]
    Ended,
}

async fn session(
    cfg: &BrokerConfig,
    route: &Arc<str>,
    queue: &str,
    prefetch: u16,
    tx: &mpsc::Sender<Delivered>,
    seq: &mut i64,
) -> Result<(), SessionEnd> {
    let name = format!("hookgate deliver {queue}");
    let conn = crate::durable::broker::open(cfg, &name).await?;
    let ch = conn.create_channel().await?;
    crate::durable::broker::declare_destination(&ch, cfg, route, queue).await?;
    ch.basic_qos(prefetch, BasicQosOptions::default()).await?;
    let mut consumer = ch
        .basic_consume(
            queue.into(),
            name.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(route = %route, queue = %queue, prefetch, "consuming for delivery");
    loop {
        let next = tokio::select! {
            n = consumer.next() => n,
            _ = tx.closed() => {
                let _ = conn.close(200, "stopping".into()).await;
                return Ok(());
            }
        };
        match next {
            Some(Ok(d)) => {
                *seq += 1;
                let event = crate::durable::broker::event_of(route, &d.data, &d.properties);
                let item = Delivered {
                    rec: Record { seq: *seq, event },
                    acker: d.acker,
                };
                if tx.send(item).await.is_err() {
                    let _ = conn.close(200, "stopping".into()).await;
                    return Ok(());
                }
            }
            Some(Err(e)) => return Err(e.into()),
            None => return Err(SessionEnd::Ended),
        }
    }
}

/// Acknowledge a delivered message (a journal event has no acker: nothing to do).
pub(crate) async fn ack(acker: Option<lapin::Acker>) {
    if let Some(a) = acker {
        if let Err(e) = a.ack(lapin::options::BasicAckOptions::default()).await {
            // The channel is gone: the broker redelivers it, and it is sent again.
            tracing::debug!(error = %e, "acknowledging a delivered message failed");
        }
    }
}
