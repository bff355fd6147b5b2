//! What the benchmarks take from the crate: the configuration and the I/O-free checks
//! (`benches/micro.rs`), a destination's filter and transform, the store's reader, and the broker topology hookgate declares,
//! so that the reference publisher (raw lapin) of `benches/gateway` writes to the same
//! kind of queue as hookgate does, declared by the same code.

use std::time::Duration;

pub use crate::checks::verify::SignedRequest;
pub use crate::config::{load_str, Config};
pub use crate::durable::store::{Reader, Table};
pub use crate::ingress::pipeline::{inspect, Stage, Timer};
pub use crate::obs::metrics::Metrics;

use crate::checks::event::Event;
use crate::checks::filter::Filter;
use crate::checks::transform::Program;
use crate::config::{BrokerConfig, WhenUnavailable};
use crate::deliver::transform::Transformer;
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

/// A destination's `filter`, compiled as the configuration compiles it.
pub struct Rule(Filter);

impl Rule {
    pub fn new(source: &str) -> Rule {
        Rule(Filter::compile(source).expect("a filter that compiles"))
    }

    /// Does delivery take `ev` (the body parsed, the expression evaluated)?
    pub fn passes(&self, ev: &Event) -> bool {
        self.0.matches(ev) == Ok(true)
    }
}

/// A destination's `transform`: the program's own run, and its run as delivery does it,
/// through a `hookgate transform-worker` process.
pub struct Transform {
    program: Program,
    process: Transformer,
}

impl Transform {
    /// `hookgate`: the binary whose worker runs it.
    pub fn new(source: &str, hookgate: &str) -> Transform {
        Transform {
            program: Program::compile(source).expect("a transform that compiles"),
            process: Transformer::with_exe(source, 1 << 20, 1, hookgate.into()),
        }
    }

    pub fn run(&self, body: &[u8]) -> Vec<u8> {
        self.program.run(body, 1 << 20).expect("one JSON value")
    }

    pub async fn run_in_worker(&self, body: &[u8]) -> bytes::Bytes {
        self.process.apply(body).await.expect("one JSON value")
    }
}
