//! OpenTelemetry traces (`traces:` in the configuration; off by default). A webhook
//! request is a SERVER span, continuing the sender's W3C `traceparent` (and
//! `tracestate`), with child spans for the stages that take time; the accepted event
//! keeps the trace context as a `traceparent` header of its own (in the journal, the
//! spool and the AMQP message), so that each delivery attempt, even after a restart, is
//! a CLIENT span of the same trace and the application receives a `traceparent` of it.
//!
//! Spans are exported over OTLP/HTTP (protobuf) by `opentelemetry-otlp` from one task,
//! in batches; between the request and that task is a bounded queue, so a collector
//! that is slow or down never slows or fails a request: spans that find the queue full,
//! or whose export fails, are counted in `hookgate_traces_dropped_spans_total`. Off, no
//! tracer exists and every call here is one load of an empty `OnceLock`.
//!
//! The `opentelemetry` API is called directly rather than through `tracing` spans and
//! `tracing-opentelemetry`: the log subscriber records every `tracing` span it is
//! enabled for, so spans on the hot path would cost with traces off.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use crate::obs::metrics::Metrics;

mod export;

/// `traces:` as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct TracesConfig {
    /// The collector's OTLP/HTTP base URL; spans are POSTed to `<otlp>/v1/traces`.
    pub otlp: String,
    /// The share of requests without a sampled `traceparent` that start a sampled trace.
    pub sample: f64,
    pub service_name: String,
}

struct Traces {
    tracer: SdkTracer,
    /// Kept so that the provider (and its processor) lives as long as the process.
    _provider: SdkTracerProvider,
    /// Spans queued or being exported.
    queued: Arc<AtomicUsize>,
}

static TRACES: OnceLock<Traces> = OnceLock::new();

/// Start exporting (once per process; `traces:` takes effect at start, not on reload).
pub(crate) fn start(cfg: &TracesConfig, metrics: &Metrics) -> anyhow::Result<()> {
    let (provider, queued) = export::provider(cfg, metrics)?;
    let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "hookgate");
    let _ = TRACES.set(Traces {
        tracer,
        _provider: provider,
        queued,
    });
    tracing::info!(otlp = %shown(&cfg.otlp), sample = cfg.sample, "traces exported over OTLP/HTTP");
    Ok(())
}

/// The collector's URL without userinfo or query, which may hold a credential: for logs.
fn shown(otlp: &str) -> String {
    match url::Url::parse(otlp) {
        Ok(u) => format!(
            "{}://{}{}{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port().map(|p| format!(":{p}")).unwrap_or_default(),
            u.path()
        ),
        Err(_) => String::new(),
    }
}

/// Wait, at most `limit`, until the spans queued are exported (at shutdown).
pub(crate) async fn flush(limit: Duration) {
    let Some(t) = TRACES.get() else { return };
    let until = Instant::now() + limit;
    while t.queued.load(Ordering::Relaxed) > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The tracer, when traces are on.
pub(crate) fn tracer() -> Option<&'static SdkTracer> {
    TRACES.get().map(|t| &t.tracer)
}

/// The trace context a request carries in `traceparent` / `tracestate` (none: a root).
pub(crate) fn extract(headers: &http::HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&Headers(headers))
}

/// `traceparent` for `span` (W3C: version, trace id, span id, flags).
pub(crate) fn traceparent(span: &SpanContext) -> String {
    format!(
        "00-{}-{}-{:02x}",
        span.trace_id(),
        span.span_id(),
        span.trace_flags().to_u8()
    )
}

/// The trace context an event carries in its `traceparent` header (set at ingest).
pub(crate) fn of_event(headers: &[(String, String)]) -> Option<Context> {
    let tp = headers.iter().find(|(k, _)| k == "traceparent")?;
    let ts = headers.iter().find(|(k, _)| k == "tracestate");
    let mut map = http::HeaderMap::new();
    map.insert("traceparent", tp.1.parse().ok()?);
    if let Some(v) = ts.and_then(|(_, v)| v.parse().ok()) {
        map.insert("tracestate", v);
    }
    let cx = extract(&map);
    cx.span().span_context().is_valid().then_some(cx)
}

/// A point in time as the spans take it, from an `Instant` and a reference pair.
pub(crate) fn wall(at: std::time::Instant, base: (std::time::Instant, SystemTime)) -> SystemTime {
    base.1 - base.0.saturating_duration_since(at) + at.saturating_duration_since(base.0)
}

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_credential_in_the_collector_url_is_not_shown() {
        let s = super::shown("https://user:s3cr3t@otel.example:4318/base?key=k3y");
        assert_eq!(s, "https://otel.example:4318/base");
    }
}
