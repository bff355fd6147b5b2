//! What an operator observes, below every part that reports to it: the metric families
//! (`metrics`, which imports no part of the gateway; each part takes its handles from
//! it) and the logs (`telemetry`).

pub(crate) mod metrics;
pub(crate) mod telemetry;
