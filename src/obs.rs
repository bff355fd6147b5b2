//! What an operator observes, below every part that reports to it: the metric families
//! (`metrics`, which imports no part of the gateway; each part takes its handles from
//! it), the logs (`telemetry`) and the OpenTelemetry traces (`traces`).

pub(crate) mod metrics;
pub(crate) mod telemetry;
pub(crate) mod traces;
