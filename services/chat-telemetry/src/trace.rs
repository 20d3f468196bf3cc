//! Trace context in W3C `traceparent` form (`00-<trace>-<span>-01`), carried
//! in log-record headers from the gateway through every processor. With an
//! OpenTelemetry exporter configured, the ids are those of the exported
//! spans, so one trace shows the gateway's append and each processor's work;
//! without one, the gateway makes up ids that still correlate the logs.

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The `traceparent` of `span`, or a fresh one when no exporter gives it
/// ids.
pub fn traceparent_of(span: &tracing::Span) -> String {
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    if sc.is_valid() {
        format!("00-{}-{}-01", sc.trace_id(), sc.span_id())
    } else {
        let trace = uuid::Uuid::new_v4().simple().to_string();
        let id = uuid::Uuid::new_v4().simple().to_string();
        format!("00-{trace}-{}-01", &id[..16])
    }
}

/// Makes `span` a child of the remote span `traceparent` names.
pub fn follow(span: &tracing::Span, traceparent: &str) {
    if let Some(cx) = parse(traceparent) {
        let _ = span.set_parent(cx);
    }
}

fn parse(traceparent: &str) -> Option<Context> {
    let mut parts = traceparent.split('-');
    let (_version, trace, span) = (parts.next()?, parts.next()?, parts.next()?);
    let sc = SpanContext::new(
        TraceId::from_hex(trace).ok()?,
        SpanId::from_hex(span).ok()?,
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    sc.is_valid()
        .then(|| Context::new().with_remote_span_context(sc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparents_parse_and_fresh_ones_are_well_formed() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cx = parse(tp).unwrap();
        assert_eq!(
            cx.span().span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(parse("garbage").is_none());
        let fresh = traceparent_of(&tracing::Span::none());
        assert!(parse(&fresh).is_some(), "{fresh}");
    }
}
