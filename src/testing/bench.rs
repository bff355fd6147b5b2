//! What the benchmarks take from the crate: the configuration and the I/O-free checks
//! (`benches/micro.rs`), the store's reader, and the broker topology hookgate declares,
//! so that the reference publisher (raw lapin) of `benches/gateway` writes to the same
//! kind of queue as hookgate does, declared by the same code.

use std::time::Duration;

pub use crate::checks::verify::SignedRequest;
pub use crate::config::{load_str, Config};
pub use crate::durable::store::{Reader, Table};
pub use crate::ingress::pipeline::{inspect, Stage, Timer};
pub use crate::obs::metrics::Metrics;

use crate::config::{BrokerConfig, WhenUnavailable};
use crate::durable::broker::{declare, RouteTopology};

/// Declare `exchange` and, for `route`, `queue` and `<queue>.dead` exactly as the gateway
/// declares a route's (durable topic exchange; quorum queues bound with `<route>.#`).
pub async fn declare_route_queue(
    ch: &lapin::Channel,
    exchange: &str,
    route: &str,
    queue: &str,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let cfg = BrokerConfig {
        url: String::new(),
        urls: Vec::new(),
        exchange: exchange.to_string(),
        confirm_timeout: Duration::from_secs(5),
        when_unavailable: WhenUnavailable::Reject,
        declare: true,
        ca: None,
    };
    let route = RouteTopology {
        route: route.to_string(),
        queue: queue.to_string(),
        deliver_queues: Vec::new(),
    };
    declare(ch, &cfg, &[route]).await?;
    Ok(())
}
