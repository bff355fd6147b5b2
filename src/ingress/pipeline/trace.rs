//! A webhook request as a trace (when `traces:` is on): a SERVER span that continues
//! the sender's `traceparent`, named and labelled once the route and the outcome are
//! known, with a child span per pipeline stage the request went through, made from the
//! stage timer's laps when the request ends (no span is open across an `.await`).

use std::time::{Instant, SystemTime};

use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SdkTracer, Span};

use super::Stage;
use crate::obs::traces;

/// The time each stage took, as [`super::Timer`] lapped it.
pub(crate) type Laps = Vec<(Stage, Instant, Instant)>;

pub(super) struct RequestTrace {
    tracer: &'static SdkTracer,
    span: Span,
    method: http::Method,
    /// The request's start, on both clocks: stage laps are `Instant`s, spans wall time.
    base: (Instant, SystemTime),
    /// What the accepted event carries on (its `traceparent` and the sender's
    /// `tracestate`), so that delivery continues this trace.
    pub(super) headers: Vec<(String, String)>,
    pub(super) laps: Laps,
}

impl RequestTrace {
    /// The request's span, when traces are on.
    pub(super) fn start(parts: &http::request::Parts, started: Instant) -> Option<RequestTrace> {
        let tracer = traces::tracer()?;
        let base = (started, SystemTime::now() - started.elapsed());
        let parent = traces::extract(&parts.headers);
        let span = tracer
            .span_builder(parts.method.as_str().to_string())
            .with_kind(SpanKind::Server)
            .with_start_time(base.1)
            .with_attributes([
                KeyValue::new("http.request.method", parts.method.as_str().to_string()),
                KeyValue::new("url.path", parts.uri.path().to_string()),
            ])
            .start_with_context(tracer, &parent);
        let mut headers = vec![(
            "traceparent".to_string(),
            traces::traceparent(span.span_context()),
        )];
        if let Some(state) = parts
            .headers
            .get("tracestate")
            .and_then(|v| v.to_str().ok())
        {
            headers.push(("tracestate".to_string(), state.to_string()));
        }
        Some(RequestTrace {
            tracer,
            span,
            method: parts.method.clone(),
            base,
            headers,
            laps: Vec::new(),
        })
    }

    /// End the span with what the request came to, and its stages as children.
    pub(super) fn end(
        mut self,
        route: &str,
        outcome: &'static str,
        status: u16,
        event_id: Option<&str>,
    ) {
        let s = &mut self.span;
        s.update_name(format!("{} {route}", self.method));
        s.set_attribute(KeyValue::new("http.route", route.to_string()));
        s.set_attribute(KeyValue::new("hookgate.route", route.to_string()));
        s.set_attribute(KeyValue::new("hookgate.outcome", outcome));
        s.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
        if let Some(id) = event_id {
            s.set_attribute(KeyValue::new("hookgate.event_id", id.to_string()));
        }
        if status >= 500 {
            s.set_status(Status::error(outcome));
        }
        let parent = Context::new().with_remote_span_context(s.span_context().clone());
        for (stage, from, to) in &self.laps {
            let mut child = self
                .tracer
                .span_builder(stage.label())
                .with_kind(SpanKind::Internal)
                .with_start_time(traces::wall(*from, self.base))
                .start_with_context(self.tracer, &parent);
            child.end_with_timestamp(traces::wall(*to, self.base));
        }
        self.span.end();
    }
}
