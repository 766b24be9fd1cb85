//! Prometheus metrics (`GET /metrics`): sessions by status (read at scrape time),
//! engine events and recorded messages, HTTP requests and their latency by route.

use crate::engine::EngineEvent;
use axum::{extract::MatchedPath, extract::Request, middleware::Next, response::Response};
use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
    status: u16,
}

pub struct Metrics {
    registry: Registry,
    sessions: Family<StatusLabel, Gauge>,
    engine_events: Family<KindLabel, Counter>,
    messages: Counter,
    http_requests: Family<RouteLabels, Counter>,
    http_latency: Family<RouteLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("wa_gateway");
        let sessions = Family::<StatusLabel, Gauge>::default();
        registry.register("sessions", "Sessions by status", sessions.clone());
        let engine_events = Family::<KindLabel, Counter>::default();
        registry.register("engine_events", "Events received from the WhatsApp engine", engine_events.clone());
        let messages = Counter::default();
        registry.register("messages_recorded", "Incoming messages stored in the outbox", messages.clone());
        let http_requests = Family::<RouteLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests by route and status", http_requests.clone());
        let http_latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0])
        });
        registry.register("http_request_duration_seconds", "HTTP request latency", http_latency.clone());
        Self { registry, sessions, engine_events, messages, http_requests, http_latency }
    }

    pub fn engine_event(&self, event: &EngineEvent) {
        let kind = match event {
            EngineEvent::Qr { .. } => "qr",
            EngineEvent::QrExhausted => "qr_exhausted",
            EngineEvent::PairCode { .. } => "pair_code",
            EngineEvent::Paired { .. } => "paired",
            EngineEvent::Connected => "connected",
            EngineEvent::Disconnected { .. } => "disconnected",
            EngineEvent::Reconnecting { .. } => "reconnecting",
            EngineEvent::LoggedOut { .. } => "logged_out",
            EngineEvent::Stopped { .. } => "stopped",
            EngineEvent::Message(_) => "message",
            EngineEvent::Receipt { .. } => "receipt",
        };
        self.engine_events.get_or_create(&KindLabel { kind }).inc();
    }

    pub fn messages_recorded(&self, n: u64) {
        self.messages.inc_by(n);
    }

    /// Renders the text exposition, with session gauges set from `counts` first.
    pub fn render(&self, counts: &[(crate::sessions::Status, i64)]) -> String {
        for (status, n) in counts {
            self.sessions.get_or_create(&StatusLabel { status: status.as_str() }).set(*n);
        }
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        out
    }

    fn observe(&self, method: String, route: String, status: u16, seconds: f64) {
        let labels = RouteLabels { method, route, status };
        self.http_requests.get_or_create(&labels).inc();
        self.http_latency.get_or_create(&labels).observe(seconds);
    }
}

/// Middleware: counts and times every request by its route template (never raw paths,
/// so ids and names do not explode the label set).
pub async fn track(
    axum::extract::State(metrics): axum::extract::State<std::sync::Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.observe(method, route, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}
