//! RabbitMQ (lapin): one connection, a publishing channel in confirm mode, the topology
//! of SPEC §4 declared idempotently, and a supervisor that reconnects with backoff and
//! jitter. [`Broker::publish`] returns once *that* event's confirm arrived; many
//! publishes are in flight at once on the channel (pipelined confirms), each request
//! waiting only for its own. A nack, a return (unroutable), a `connection.blocked`
//! alarm, a dead connection or `confirm_timeout` is a failed hand-off ([`PublishError`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, ArcSwapOption};
use futures_util::StreamExt;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::uri::AMQPUri;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};
use tokio::sync::Notify;

use crate::config::BrokerConfig;
use crate::event::Event;
use crate::metrics::Metrics;

/// The frame size hookgate asks for unless the URL sets one (RabbitMQ's default is 128 KiB).
const FRAME_MAX: u32 = 16 * 1024;

/// Publishing channels per connection. RabbitMQ runs each channel in its own Erlang
/// process, so two let a broker use two schedulers for one gateway's publishes; ordering
/// between concurrent requests was never defined, and the spool forwarder, which needs
/// order, uses only the first.
const PUBLISH_CHANNELS: usize = 2;

/// A route's share of the topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTopology {
    pub route: String,
    pub queue: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("not connected to the broker")]
    NotConnected,
    #[error("the broker blocked publishers (resource alarm)")]
    Blocked,
    #[error("the broker nacked the message")]
    Nack,
    #[error("the message was unroutable (returned)")]
    Returned,
    #[error("no confirm within confirm_timeout")]
    Timeout,
    #[error("{0}")]
    Amqp(#[from] lapin::Error),
}

impl PublishError {
    fn label(&self) -> &'static str {
        match self {
            PublishError::NotConnected => "not_connected",
            PublishError::Blocked => "blocked",
            PublishError::Nack => "nack",
            PublishError::Returned => "returned",
            PublishError::Timeout => "timeout",
            PublishError::Amqp(_) => "error",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot reach the broker: {0}")]
    Unreachable(String),
    /// The broker answered but the topology cannot be set up: needs a human.
    #[error("{0}")]
    Topology(String),
}

pub struct Broker {
    cfg: BrokerConfig,
    /// `cfg.exchange`, converted once (validated to fit at load).
    exchange: ShortString,
    routes: ArcSwap<Vec<RouteTopology>>,
    /// The publishing channels, all in confirm mode; requests take them in turn.
    channels: ArcSwapOption<Vec<Channel>>,
    next_channel: std::sync::atomic::AtomicUsize,
    blocked: AtomicBool,
    /// A publish saw the channel die; the supervisor reconnects.
    channel_dead: Notify,
    /// Woken on every (re)connection, for the spool forwarder.
    pub connected_notify: Notify,
    metrics: Arc<Metrics>,
    stopping: AtomicBool,
}

impl Broker {
    /// Connect and declare the topology. An unreachable broker is not an error (the
    /// supervisor keeps trying); a topology the broker refuses is.
    pub async fn start(
        cfg: BrokerConfig,
        routes: Vec<RouteTopology>,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Broker>, ConnectError> {
        let exchange = ShortString::try_new(cfg.exchange.as_str()).map_err(|_| {
            ConnectError::Topology("broker.exchange is longer than 255 bytes".into())
        })?;
        let broker = Arc::new(Broker {
            exchange,
            cfg,
            routes: ArcSwap::from_pointee(routes),
            channels: ArcSwapOption::empty(),
            next_channel: Default::default(),
            blocked: AtomicBool::new(false),
            channel_dead: Notify::new(),
            connected_notify: Notify::new(),
            metrics,
            stopping: AtomicBool::new(false),
        });
        let first = match broker.connect().await {
            Ok(c) => Some(c),
            Err(ConnectError::Topology(e)) => return Err(ConnectError::Topology(e)),
            Err(e) => {
                tracing::warn!(broker = %broker.cfg.redacted_url(), error = %e, "broker unreachable at start; serving and reconnecting");
                None
            }
        };
        tokio::spawn(broker.clone().supervise(first));
        Ok(broker)
    }

    pub fn connected(&self) -> bool {
        self.channels.load().is_some() && !self.blocked.load(Ordering::Relaxed)
    }

    /// Declare the topology of routes added by a reload.
    pub async fn set_routes(&self, routes: Vec<RouteTopology>) -> Result<(), ConnectError> {
        self.routes.store(Arc::new(routes));
        match self.channels.load_full() {
            Some(chs) => declare(&chs[0], &self.cfg, &self.routes.load()).await,
            None => Ok(()),
        }
    }

    async fn connect(&self) -> Result<(Connection, Vec<Channel>), ConnectError> {
        let unreachable = |e: lapin::Error| ConnectError::Unreachable(e.to_string());
        let props = ConnectionProperties::default().with_connection_name("hookgate".into());
        // Validated at load; lapin's parse errors can quote the URL, so never shown.
        let mut uri: AMQPUri = self.cfg.url.parse().map_err(|_: String| {
            ConnectError::Topology("broker.url is not a valid AMQP URL".into())
        })?;
        // lapin keeps two I/O buffers of 32 frames each; at RabbitMQ's default 128 KiB
        // frame_max that is 8 MiB resident for good. Webhook bodies are small; larger
        // ones are simply sent as several frames. A frame_max in the URL wins.
        uri.query.frame_max.get_or_insert(FRAME_MAX);
        let connect = async {
            match &self.cfg.ca {
                None => Connection::connect_uri(uri, props).await,
                Some(pem) => {
                    let tls = lapin::tcp::OwnedTLSConfig {
                        identity: None,
                        cert_chain: Some(pem.clone()),
                    };
                    let rt = lapin::runtime::default_runtime()?;
                    Connection::connect_uri_with_config(uri, props, tls, rt).await
                }
            }
        };
        let conn = tokio::time::timeout(Duration::from_secs(10), connect)
            .await
            .map_err(|_| ConnectError::Unreachable("connection attempt timed out".into()))?
            .map_err(unreachable)?;
        let mut channels = Vec::with_capacity(PUBLISH_CHANNELS);
        for i in 0..PUBLISH_CHANNELS {
            let ch = conn.create_channel().await.map_err(unreachable)?;
            if i == 0 {
                declare(&ch, &self.cfg, &self.routes.load()).await?;
            }
            ch.confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(unreachable)?;
            channels.push(ch);
        }
        Ok((conn, channels))
    }

    async fn supervise(self: Arc<Self>, mut first: Option<(Connection, Vec<Channel>)>) {
        let mut delay = Duration::from_millis(100);
        loop {
            if self.stopping.load(Ordering::Relaxed) {
                return;
            }
            let (conn, ch) = match first.take() {
                Some(c) => c,
                None => match self.connect().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Jitter keeps a fleet of gateways from reconnecting in lockstep.
                        let wait = delay.mul_f64(0.5 + fastrand::f64());
                        match &e {
                            ConnectError::Topology(_) => {
                                tracing::error!(error = %e, "broker topology refused; retrying in {wait:?}")
                            }
                            ConnectError::Unreachable(_) => {
                                tracing::warn!(error = %e, "broker connection failed; retrying in {wait:?}")
                            }
                        }
                        tokio::time::sleep(wait).await;
                        delay = (delay * 2).min(Duration::from_secs(30));
                        continue;
                    }
                },
            };
            delay = Duration::from_millis(100);
            let mut events = conn.events_listener();
            self.blocked.store(false, Ordering::Relaxed);
            self.channels.store(Some(Arc::new(ch)));
            self.metrics.broker_connected.set(1);
            tracing::info!(broker = %self.cfg.redacted_url(), exchange = %self.cfg.exchange, "connected to the broker");
            self.connected_notify.notify_waiters();
            loop {
                tokio::select! {
                    ev = events.next() => match ev {
                        Some(lapin::Event::Error(e)) => {
                            tracing::warn!(error = %e, "broker connection lost");
                            break;
                        }
                        Some(lapin::Event::ConnectionBlocked(reason)) => {
                            tracing::warn!(%reason, "broker blocked publishers");
                            self.blocked.store(true, Ordering::Relaxed);
                            self.metrics.broker_connected.set(0);
                        }
                        Some(lapin::Event::ConnectionUnblocked) => {
                            tracing::info!("broker unblocked publishers");
                            self.blocked.store(false, Ordering::Relaxed);
                            self.metrics.broker_connected.set(1);
                            self.connected_notify.notify_waiters();
                        }
                        Some(_) => {}
                        None => break,
                    },
                    _ = self.channel_dead.notified() => {
                        if !self.stopping.load(Ordering::Relaxed) {
                            tracing::warn!("publishing channel closed; reconnecting");
                        }
                        break;
                    }
                }
            }
            self.channels.store(None);
            self.metrics.broker_connected.set(0);
            let _ = conn
                .close(200, "hookgate reconnecting or stopping".into())
                .await;
        }
    }

    /// Publish one event and wait for its confirm.
    pub async fn publish(&self, ev: &Event) -> Result<(), PublishError> {
        let started = Instant::now();
        let result = self.publish_inner(ev).await;
        let label = match &result {
            Ok(()) => "ack",
            Err(e) => e.label(),
        };
        self.metrics.publish(label, started.elapsed());
        // A dead channel, or a return (someone deleted the queue or its binding): reconnect,
        // which declares the topology again.
        if let Err(PublishError::Amqp(_) | PublishError::Returned) = &result {
            self.channel_dead.notify_one();
        }
        result
    }

    async fn publish_inner(&self, ev: &Event) -> Result<(), PublishError> {
        let chs = self
            .channels
            .load_full()
            .ok_or(PublishError::NotConnected)?;
        let ch = &chs[self.next_channel.fetch_add(1, Ordering::Relaxed) % chs.len()];
        if self.blocked.load(Ordering::Relaxed) {
            return Err(PublishError::Blocked);
        }
        let routing_key = routing_key(&ev.route, ev.event_type.as_deref());
        let props = properties(ev);
        let work = async {
            let confirm = ch
                .basic_publish(
                    self.exchange.clone(),
                    routing_key,
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &ev.body,
                    props,
                )
                .await?;
            confirm.await
        };
        match tokio::time::timeout(self.cfg.confirm_timeout, work).await {
            Err(_) => Err(PublishError::Timeout),
            Ok(Err(e)) => Err(PublishError::Amqp(e)),
            Ok(Ok(Confirmation::Ack(None))) => Ok(()),
            Ok(Ok(Confirmation::Ack(Some(_)))) => Err(PublishError::Returned),
            Ok(Ok(Confirmation::Nack(_))) => Err(PublishError::Nack),
            // confirm_select is done before the channel is published; never expected.
            Ok(Ok(Confirmation::NotRequested)) => Err(PublishError::Nack),
        }
    }

    /// Publish `events` in this order (one channel keeps it), then wait for their confirms
    /// together. Returns how many, from the start, were confirmed.
    pub async fn publish_in_order(&self, events: &[Event]) -> usize {
        // One channel keeps the order.
        let Some(chs) = self.channels.load_full() else {
            return 0;
        };
        let ch = &chs[0];
        if self.blocked.load(Ordering::Relaxed) {
            return 0;
        }
        let started = Instant::now();
        let mut confirms = Vec::with_capacity(events.len());
        for ev in events {
            let sent = ch
                .basic_publish(
                    self.exchange.clone(),
                    routing_key(&ev.route, ev.event_type.as_deref()),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &ev.body,
                    properties(ev),
                )
                .await;
            match sent {
                Ok(c) => confirms.push(c),
                Err(_) => break,
            }
        }
        let results = tokio::time::timeout(
            self.cfg.confirm_timeout,
            futures_util::future::join_all(confirms),
        )
        .await;
        let Ok(results) = results else {
            self.metrics.publish("timeout", started.elapsed());
            return 0;
        };
        let ok = results
            .iter()
            .take_while(|r| matches!(r, Ok(Confirmation::Ack(None))))
            .count();
        for _ in 0..ok {
            self.metrics.publish("ack", started.elapsed());
        }
        if ok < events.len() {
            self.metrics.publish("error", started.elapsed());
            self.channel_dead.notify_one();
        }
        ok
    }

    pub async fn close(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        if let Some(chs) = self.channels.swap(None) {
            for ch in chs.iter() {
                let _ = ch.close(200, "hookgate stopping".into()).await;
            }
        }
        self.channel_dead.notify_one();
    }
}

/// `<route>.<event type or "event">`, within AMQP's 255 bytes.
fn routing_key(route: &str, event_type: Option<&str>) -> ShortString {
    let mut key = format!("{route}.{}", event_type.unwrap_or("event"));
    if key.len() > 255 {
        let mut cut = 255;
        while !key.is_char_boundary(cut) {
            cut -= 1;
        }
        key.truncate(cut);
    }
    ShortString::try_new(key).unwrap_or_else(|_| route.into())
}

/// The message properties and headers of SPEC §4.
fn properties(ev: &Event) -> BasicProperties {
    let mut headers = FieldTable::default();
    // Owned strings move into the table without another copy.
    let s = |v: String| AMQPValue::LongString(LongString::from(v));
    for (k, v) in &ev.headers {
        if let Ok(k) = ShortString::try_new(k.as_str()) {
            headers.insert(k, s(v.clone()));
        }
    }
    // The gateway's own headers last, so that they win even over a forwarded header of
    // the same name (which the configuration refuses anyway).
    headers.insert("hookgate-route".into(), s(ev.route.to_string()));
    headers.insert(
        "hookgate-received-at".into(),
        s(crate::rfc3339_ms(ev.received_at_ms)),
    );
    headers.insert("hookgate-source-ip".into(), s(ev.source_ip.to_string()));
    let mut p = BasicProperties::default()
        .with_delivery_mode(2)
        .with_timestamp((ev.received_at_ms / 1000).max(0) as u64)
        .with_app_id("hookgate".into())
        .with_headers(headers);
    // Event ids and types are at most 200 bytes (see `event`); content types come from
    // the network and are dropped rather than truncated when too long.
    if let Ok(id) = ShortString::try_new(ev.id.as_str()) {
        p = p.with_message_id(id);
    }
    if let Some(t) = ev
        .event_type
        .as_deref()
        .and_then(|t| ShortString::try_new(t).ok())
    {
        p = p.with_type(t);
    }
    if let Some(ct) = ev
        .content_type
        .as_deref()
        .and_then(|c| ShortString::try_new(c).ok())
    {
        p = p.with_content_type(ct);
    }
    p
}

/// Exchange, per-route quorum queue bound with `<route>.#`, and its `<queue>.dead`.
async fn declare(
    ch: &Channel,
    cfg: &BrokerConfig,
    routes: &[RouteTopology],
) -> Result<(), ConnectError> {
    let refused = |what: String, e: lapin::Error| {
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
    };
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
        let dead = format!("{}.dead", r.queue);
        let mut dead_args = FieldTable::default();
        dead_args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
        ch.queue_declare(
            dead.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                passive: !cfg.declare,
                ..Default::default()
            },
            dead_args,
        )
        .await
        .map_err(|e| refused(format!("dead-letter queue {dead:?}"), e))?;
        let mut args = FieldTable::default();
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
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
        ch.queue_declare(
            r.queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                passive: !cfg.declare,
                ..Default::default()
            },
            args,
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_publish_error_is_a_counted_result() {
        let errors = [
            PublishError::NotConnected,
            PublishError::Blocked,
            PublishError::Nack,
            PublishError::Returned,
            PublishError::Timeout,
            PublishError::Amqp(std::io::Error::other("reset").into()),
        ];
        for e in errors {
            assert!(Metrics::PUBLISH_RESULTS.contains(&e.label()), "{e}");
        }
    }

    #[test]
    fn routing_keys() {
        assert_eq!(routing_key("github", Some("push")).as_str(), "github.push");
        assert_eq!(
            routing_key("stripe", Some("invoice.paid")).as_str(),
            "stripe.invoice.paid"
        );
        assert_eq!(routing_key("acme", None).as_str(), "acme.event");
        assert_eq!(routing_key("r", Some(&"é".repeat(200))).as_str().len(), 254);
    }
}
