//! RabbitMQ (lapin): one connection, a publishing channel in confirm mode, the topology
//! of docs/reference.md declared idempotently, and a supervisor that reconnects with backoff and
//! jitter. [`Broker::publish`] returns once *that* event's confirm arrived; many
//! publishes are in flight at once on the channel (pipelined confirms), each request
//! waiting only for its own. A nack, a return (unroutable), a `connection.blocked`
//! alarm, a dead connection or `confirm_timeout` is a failed hand-off ([`PublishError`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, ArcSwapOption};
use futures_util::StreamExt;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use lapin::{Channel, Confirmation, Connection};
use tokio::sync::Notify;

use crate::checks::event::Event;
use crate::config::BrokerConfig;
use crate::obs::metrics::Metrics;

mod connect;
mod message;
pub(crate) use message::event_of;
mod topology;
pub(crate) use topology::{declare, declare_destination};

pub(crate) use connect::ConnectError;
pub(crate) use connect::{open, open_at};
use message::properties;
use message::routing_key;

/// The frame size hookgate asks for unless the URL sets one (RabbitMQ's default is 128 KiB).
const FRAME_MAX: u32 = 16 * 1024;

/// Publishing channels per connection. RabbitMQ runs each channel in its own Erlang
/// process, so two let a broker use two schedulers for one gateway's publishes; ordering
/// between concurrent requests was never defined, and the spool forwarder, which needs
/// order, uses only the first.
const PUBLISH_CHANNELS: usize = 2;

/// A route's share of the topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RouteTopology {
    pub route: String,
    pub queue: String,
    /// Its destinations' delivery queues, declared with it so that no event published
    /// before a destination's consumer starts misses its queue.
    pub deliver_queues: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum PublishError {
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

pub(crate) struct Broker {
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
    /// Set while the broker refuses the credentials or the virtual host.
    refused: std::sync::Mutex<Option<String>>,
    /// The URL (a cluster's node) tried first at the next connect: the one connected
    /// to, or after losing it the next one, so a dead node's timeout is not waited out
    /// first.
    node: std::sync::atomic::AtomicUsize,
}

impl Broker {
    /// Connect and declare the topology. An unreachable broker is not an error (the
    /// supervisor keeps trying); a topology the broker refuses is.
    pub(crate) async fn start(
        cfg: BrokerConfig,
        routes: Vec<RouteTopology>,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Broker>, ConnectError> {
        let exchange = ShortString::try_new(cfg.exchange.as_str()).map_err(|_| {
            ConnectError::Topology("broker.exchange is longer than 255 bytes".into())
        })?;
        let cfg_nodes = cfg.urls.len().max(1);
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
            refused: std::sync::Mutex::new(None),
            node: std::sync::atomic::AtomicUsize::new(fastrand::usize(..cfg_nodes)),
        });
        let first = match broker.connect().await {
            Ok(c) => Some(c),
            Err(e @ (ConnectError::Topology(_) | ConnectError::Refused(_))) => return Err(e),
            Err(e) => {
                tracing::warn!(broker = %broker.cfg.redacted_url(), error = %e, "broker unreachable at start; serving and reconnecting");
                None
            }
        };
        tokio::spawn(broker.clone().supervise(first));
        Ok(broker)
    }

    /// Why the broker last refused the connection, while it does.
    pub(crate) fn refused(&self) -> Option<String> {
        self.refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn connected(&self) -> bool {
        self.channels.load().is_some() && !self.blocked.load(Ordering::Relaxed)
    }

    /// Declare the topology of routes added by a reload.
    pub(crate) async fn set_routes(&self, routes: Vec<RouteTopology>) -> Result<(), ConnectError> {
        self.routes.store(Arc::new(routes));
        match self.channels.load_full() {
            Some(chs) => declare(&chs[0], &self.cfg, &self.routes.load()).await,
            None => Ok(()),
        }
    }

    async fn connect(&self) -> Result<(Connection, Vec<Channel>), ConnectError> {
        let unreachable = |e: lapin::Error| ConnectError::Unreachable(e.to_string());
        let start = self.node.load(Ordering::Relaxed);
        let (conn, node) = open_at(&self.cfg, "hookgate", start).await?;
        self.node.store(node, Ordering::Relaxed);
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
                                tracing::error!(error = %e, retry_in = %crate::human(wait), "broker topology refused; retrying")
                            }
                            ConnectError::Unreachable(_) => {
                                tracing::warn!(error = %e, retry_in = %crate::human(wait), "broker connection failed; retrying")
                            }
                            ConnectError::Refused(m) => {
                                // Rotated credentials, a deleted vhost: keep retrying (the
                                // fix may come without a restart), and say so in /readyz
                                // and the metric, not only here.
                                self.metrics.broker_refused.set(1);
                                *self.refused.lock().unwrap_or_else(|p| p.into_inner()) =
                                    Some(m.clone());
                                tracing::error!(error = %e, retry_in = %crate::human(wait), "broker refused the connection; retrying")
                            }
                        }
                        tokio::time::sleep(wait).await;
                        delay = (delay * 2).min(Duration::from_secs(30));
                        continue;
                    }
                },
            };
            delay = Duration::from_millis(100);
            self.metrics.broker_refused.set(0);
            *self.refused.lock().unwrap_or_else(|p| p.into_inner()) = None;
            let mut events = conn.events_listener();
            self.blocked.store(false, Ordering::Relaxed);
            self.channels.store(Some(Arc::new(ch)));
            self.metrics.broker_connected.set(1);
            let node = self.node.load(Ordering::Relaxed);
            tracing::info!(broker = %self.cfg.redacted_at(node), exchange = %self.cfg.exchange, "connected to the broker");
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
            // Reconnect from the next node: if this one died, its connect timeout is not
            // the first thing waited for (any node of a cluster serves its quorum queues).
            let n = self.cfg.urls.len().max(1);
            let next = (self.node.load(Ordering::Relaxed) + 1) % n;
            self.node.store(next, Ordering::Relaxed);
            let _ = conn
                .close(200, "hookgate reconnecting or stopping".into())
                .await;
        }
    }

    /// Publish one event and wait for its confirm.
    pub(crate) async fn publish(&self, ev: &Event) -> Result<(), PublishError> {
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
    pub(crate) async fn publish_in_order(&self, events: &[Event]) -> usize {
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

    pub(crate) async fn close(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        if let Some(chs) = self.channels.swap(None) {
            for ch in chs.iter() {
                let _ = ch.close(200, "hookgate stopping".into()).await;
            }
        }
        self.channel_dead.notify_one();
    }
}

#[cfg(test)]
mod tests;
