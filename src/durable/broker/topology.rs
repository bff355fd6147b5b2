//! The topology declared at start and on reload: the exchange, and per route a
//! quorum queue bound with `<route>.#` and its dead-letter queue.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

use crate::config::BrokerConfig;

use super::{ConnectError, RouteTopology};

/// Exchange, per-route quorum queue bound with `<route>.#`, and its `<queue>.dead`.
pub(crate) async fn declare(
    ch: &Channel,
    cfg: &BrokerConfig,
    routes: &[RouteTopology],
) -> Result<(), ConnectError> {
    ch.exchange_declare(
        cfg.exchange.as_str().into(),
        ExchangeKind::Topic,
        ExchangeDeclareOptions {
            durable: true,
            passive: !cfg.declare,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .map_err(|e| refused(format!("exchange {:?} (durable topic)", cfg.exchange), e))?;
    for r in routes {
        // A delivering route's events go to its destinations' queues; a route queue
        // beside them would fill with no one to consume it.
        if !r.deliver_queues.is_empty() {
            for q in &r.deliver_queues {
                declare_destination(ch, cfg, &r.route, q).await?;
            }
            continue;
        }
        let dead = format!("{}.dead", r.queue);
        quorum_queue(ch, cfg, &dead, FieldTable::default())
            .await
            .map_err(|e| refused(format!("dead-letter queue {dead:?}"), e))?;
        let mut args = FieldTable::default();
        args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString("".into()),
        );
        args.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(dead.as_str().into()),
        );
        // At-least-once dead-lettering (RabbitMQ >= 3.10) requires reject-publish overflow.
        args.insert(
            "x-dead-letter-strategy".into(),
            AMQPValue::LongString("at-least-once".into()),
        );
        args.insert(
            "x-overflow".into(),
            AMQPValue::LongString("reject-publish".into()),
        );
        quorum_queue(ch, cfg, &r.queue, args)
            .await
            .map_err(|e| refused(format!("queue {:?} (durable quorum)", r.queue), e))?;
        if !cfg.declare {
            continue;
        }
        ch.queue_bind(
            r.queue.as_str().into(),
            cfg.exchange.as_str().into(),
            format!("{}.#", r.route).into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| refused(format!("binding {:?} to {:?}", r.queue, cfg.exchange), e))?;
    }
    Ok(())
}

/// The broker said no to a declaration: a topology error, with a hint when it is one of
/// the usual two.
fn refused(what: String, e: lapin::Error) -> ConnectError {
    let hint = if e.to_string().contains("PRECONDITION_FAILED")
        || e.to_string().contains("inequivalent")
    {
        " (it exists with other settings: delete it, or configure another name)"
    } else if e.to_string().contains("NOT_FOUND") {
        " (it does not exist)"
    } else {
        ""
    };
    ConnectError::Topology(format!("broker refused {what}: {e}{hint}"))
}

/// A destination's own durable quorum queue, bound to every routing key of its route
/// (type filters are applied by the consumer: they are globs, not AMQP patterns). No
/// dead-letter exchange: delivery keeps its dead letters in the store.
pub(crate) async fn declare_destination(
    ch: &Channel,
    cfg: &BrokerConfig,
    route: &str,
    queue: &str,
) -> Result<(), ConnectError> {
    quorum_queue(ch, cfg, queue, FieldTable::default())
        .await
        .map_err(|e| refused(format!("delivery queue {queue:?} (durable quorum)"), e))?;
    if cfg.declare {
        ch.queue_bind(
            queue.into(),
            cfg.exchange.as_str().into(),
            format!("{route}.#").into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| refused(format!("binding {queue:?} to {:?}", cfg.exchange), e))?;
    }
    Ok(())
}

/// Declare (or, with `declare: false`, check) a durable quorum queue with `args` besides.
async fn quorum_queue(
    ch: &Channel,
    cfg: &BrokerConfig,
    queue: &str,
    mut args: FieldTable,
) -> Result<(), lapin::Error> {
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions {
            durable: true,
            passive: !cfg.declare,
            ..Default::default()
        },
        args,
    )
    .await
    .map(|_| ())
}
