//! A delivery attempt as a span (when `traces:` is on): a CLIENT span, child of the
//! span that accepted the event (its `traceparent`, kept with the event), so that the
//! application's `traceparent` continues the provider's trace, even after a restart.

use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::Span;

use crate::checks::event::Event;
use crate::config::Destination;
use crate::obs::traces;

/// The attempt's span, when traces are on and the event carries a trace context.
pub(crate) fn start(dest: &Destination, ev: &Event, attempt: u32) -> Option<Span> {
    let tracer = traces::tracer()?;
    let parent = traces::of_event(&ev.headers)?;
    let mut attributes = vec![
        KeyValue::new("http.request.method", "POST"),
        KeyValue::new("hookgate.route", ev.route.to_string()),
        KeyValue::new("hookgate.destination", dest.name.to_string()),
        KeyValue::new("hookgate.event_id", ev.id.clone()),
        KeyValue::new("hookgate.attempt", i64::from(attempt)),
    ];
    if let Some(host) = dest.url.host() {
        attributes.push(KeyValue::new("server.address", host.to_string()));
    }
    Some(
        tracer
            .span_builder(format!("POST {}", dest.name))
            .with_kind(SpanKind::Client)
            .with_attributes(attributes)
            .start_with_context(tracer, &parent),
    )
}

/// The `traceparent` the application receives: this attempt's span.
pub(crate) fn traceparent(span: &Span) -> String {
    traces::traceparent(span.span_context())
}

/// End the span with the answer's status (`None`: no answer) and, when the event was
/// not delivered, why (the attempt's outcome label).
pub(crate) fn end(span: &mut Span, status: Option<u16>, failed: Option<&'static str>) {
    if let Some(status) = status {
        span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
    }
    if let Some(why) = failed {
        span.set_status(Status::error(why));
    }
    span.end();
}
