//! The full run's phases, in order: the ceiling (bare hyper), the rabbitmq phase (the
//! broker's ceiling, then hookgate with RabbitMQ against it), the store phase (hookgate
//! with its embedded store against bare hyper and the group-commit floor), the delivery
//! phase (provider to application through hookgate, beside the application alone).

pub(crate) mod deliver;
pub(crate) mod deliver_floor;
pub(crate) mod rabbitmq;
pub(crate) mod store;

use std::time::Duration;

use crate::load::{closed_loop, Run, Target};
use crate::procs::{cpu_secs, per_1000, Proc};
use crate::Settings;

/// Bare hyper alone: the ceiling of any gateway on hyper here.
pub(crate) struct Ceiling {
    pub(crate) run: Run,
    /// The server's CPU ms per 1 000 requests.
    pub(crate) cpu: f64,
}

/// 1. Ceiling: bare hyper (already listening on `bare_port`), after a second of warm-up.
pub(crate) async fn ceiling(
    s: &Settings,
    target: &dyn Fn(u16, &str) -> Target,
    bare: &Proc,
    bare_port: u16,
    dur: Duration,
) -> Ceiling {
    let _ = closed_loop(&target(bare_port, "warm"), s.conns, Duration::from_secs(1)).await;
    let b0 = cpu_secs(bare.0.id());
    let ceiling = closed_loop(&target(bare_port, "bare"), s.conns, dur).await;
    let bare_cpu = per_1000(Some(bare.0.id()), b0, ceiling.ok);
    println!(
        "reference  bare hyper (reads body, 200)      {}  server cpu {bare_cpu:.1} ms/1000",
        ceiling.line()
    );
    Ceiling {
        run: ceiling,
        cpu: bare_cpu,
    }
}
