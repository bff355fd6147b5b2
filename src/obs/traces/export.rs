//! The exporting side of traces: a bounded queue that a span's end never waits on, one
//! task that takes spans from it in batches and hands them to OTLP/HTTP, and the count
//! of spans lost on the way.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    Sampler, SdkTracerProvider, SpanData, SpanExporter as _, SpanProcessor,
};
use opentelemetry_sdk::Resource;
use prometheus_client::metrics::counter::Counter;
use tokio::sync::mpsc;

use super::TracesConfig;
use crate::obs::metrics::Metrics;

/// Spans waiting for export at most; past it, a span is dropped (and counted).
const QUEUE: usize = 4096;
/// Spans per export request at most.
const BATCH: usize = 512;
/// How long a span waits for a batch to fill.
const LINGER: Duration = Duration::from_secs(1);
/// An export that takes longer is abandoned (its spans counted as dropped).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The tracer provider, and the count of spans queued or being exported.
pub(super) fn provider(
    cfg: &TracesConfig,
    metrics: &Metrics,
) -> anyhow::Result<(SdkTracerProvider, Arc<AtomicUsize>)> {
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("{}/v1/traces", cfg.otlp.trim_end_matches('/')))
        .with_timeout(EXPORT_TIMEOUT)
        .build()?;
    let resource = Resource::builder()
        .with_service_name(cfg.service_name.clone())
        .build();
    // The exporter runs in its own task, out of the provider's reach: it is told the
    // resource (`service.name`) here, as the provider would tell its own processors.
    let mut exporter = exporter;
    exporter.set_resource(&resource);
    let (tx, rx) = mpsc::channel(QUEUE);
    let queued = Arc::new(AtomicUsize::new(0));
    let dropped = metrics.traces_dropped.clone();
    tokio::spawn(export(exporter, rx, dropped.clone(), queued.clone()));
    let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(cfg.sample)));
    let provider = SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_resource(resource)
        .with_span_processor(Queue {
            tx,
            dropped,
            queued: queued.clone(),
        })
        .build();
    Ok((provider, queued))
}

/// Sampled spans into the export queue, never waiting.
#[derive(Debug)]
struct Queue {
    tx: mpsc::Sender<SpanData>,
    /// `hookgate_traces_dropped_spans_total`.
    dropped: Counter,
    /// Spans queued or being exported (see [`super::flush`]).
    queued: Arc<AtomicUsize>,
}

impl SpanProcessor for Queue {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        match self.tx.try_send(span) {
            Ok(()) => {
                self.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.dropped.inc();
            }
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Batches of up to [`BATCH`] spans, sent at most [`LINGER`] after their first span.
async fn export(
    exporter: SpanExporter,
    mut rx: mpsc::Receiver<SpanData>,
    dropped: Counter,
    queued: Arc<AtomicUsize>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(span)) => batch.push(span),
                Ok(None) | Err(_) => break,
            }
        }
        let n = batch.len() as u64;
        let sent = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
        if let Err(e) = exporter.export(sent).await {
            dropped.inc_by(n);
            tracing::debug!(error = %e, spans = n, "traces: export failed; spans dropped");
        }
        queued.fetch_sub(n as usize, Ordering::Relaxed);
    }
}
