//! Opening a connection to the broker, and what a failure to connect means: unreachable
//! (retry), a topology the broker refuses, or credentials or a virtual host it refuses
//! (configuration errors: exit 2 at start, `/readyz` and a metric later).

use std::time::Duration;

use lapin::uri::AMQPUri;
use lapin::{Connection, ConnectionProperties};

use super::FRAME_MAX;
use crate::config::BrokerConfig;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("cannot reach the broker: {0}")]
    Unreachable(String),
    /// The broker answered but the topology cannot be set up: needs a human.
    #[error("{0}")]
    Topology(String),
    /// The broker refused the URL's credentials (ACCESS_REFUSED) or virtual host
    /// (NOT_ALLOWED): a configuration error, not an outage.
    #[error("{0}")]
    Refused(String),
}

/// A connection error as what it is: the broker refusing the login or the virtual host
/// is [`ConnectError::Refused`], anything else is the broker being unreachable.
fn classify(e: lapin::Error, cfg: &BrokerConfig) -> ConnectError {
    if let lapin::ErrorKind::ProtocolError(amqp) = e.kind() {
        let what = match amqp.get_id() {
            403 => Some("the credentials"),
            530 => Some("the virtual host"),
            _ => None,
        };
        if let Some(what) = what {
            return ConnectError::Refused(format!(
                "the broker refused {what} of {} ({}); check broker.url",
                cfg.redacted_url(),
                amqp.get_message()
            ));
        }
    }
    ConnectError::Unreachable(e.to_string())
}

/// A connection to the configured broker, from a node picked at random (a fleet of
/// gateways spreads over a cluster's nodes), named `name` in the management UI.
pub(crate) async fn open(cfg: &BrokerConfig, name: &str) -> Result<Connection, ConnectError> {
    let start = fastrand::usize(..cfg.urls.len().max(1));
    open_at(cfg, name, start).await.map(|(c, _)| c)
}

/// A connection to the first of the configured URLs, from the `start`th on, that takes
/// one, and which it was. Every node refusing or unreachable: a refusal wins (it is a
/// configuration error), else the last node's error.
pub(crate) async fn open_at(
    cfg: &BrokerConfig,
    name: &str,
    start: usize,
) -> Result<(Connection, usize), ConnectError> {
    let n = cfg.urls.len().max(1);
    let mut refused = None;
    let mut last = None;
    for k in 0..n {
        let i = (start + k) % n;
        match open_one(cfg, i, name).await {
            Ok(c) => return Ok((c, i)),
            Err(e) => {
                if n > 1 {
                    tracing::warn!(broker = %cfg.redacted_at(i), error = %e, "broker node unavailable; trying the next");
                }
                match e {
                    ConnectError::Refused(_) => refused = Some(e),
                    e => last = Some(e),
                }
            }
        }
    }
    Err(refused
        .or(last)
        .unwrap_or_else(|| ConnectError::Unreachable("no broker URL".into())))
}

/// A connection to the `i`th URL (its CA, a small `frame_max`).
async fn open_one(cfg: &BrokerConfig, i: usize, name: &str) -> Result<Connection, ConnectError> {
    let props = ConnectionProperties::default().with_connection_name(name.into());
    // Validated at load; lapin's parse errors can quote the URL, so never shown.
    let mut uri: AMQPUri = cfg
        .urls
        .get(i)
        .map_or("", String::as_str)
        .parse()
        .map_err(|_: String| ConnectError::Topology("broker.url is not a valid AMQP URL".into()))?;
    // lapin keeps two I/O buffers of 32 frames each; at RabbitMQ's default 128 KiB
    // frame_max that is 8 MiB resident for good. Webhook bodies are small; larger
    // ones are simply sent as several frames. A frame_max in the URL wins.
    uri.query.frame_max.get_or_insert(FRAME_MAX);
    let connect = async {
        match &cfg.ca {
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
    tokio::time::timeout(Duration::from_secs(10), connect)
        .await
        .map_err(|_| ConnectError::Unreachable("connection attempt timed out".into()))?
        .map_err(|e| classify(e, cfg))
}
