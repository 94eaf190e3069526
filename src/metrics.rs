//! Prometheus metrics: HTTP traffic measured in this process, and the state of the help desk read from the
//! database when `/metrics` is scraped (so every process reports the same totals).
//!
//! The database figures cost queries that grow with the tickets, so a scrape reuses the ones read less than
//! `METRICS_CACHE_SECS` ago, and concurrent scrapes share one reading ([`Recent`]); the HTTP and pool figures of
//! this process are always current. Who may scrape is decided by [`MetricsAccess`].
//!
//! The exposition is encoded by `prometheus-client` in the Prometheus text format (version 0.0.4). Every label
//! value comes from a closed set, so the number of series stays bounded whatever clients send: routes are route
//! patterns (or `unmatched`), methods outside the standard ones are `other`, and the database labels are the
//! values allowed by the CHECK constraints of their columns.

mod access;
mod recent;

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::atomic::AtomicU64;

use diesel::{PgConnection, QueryResult};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

pub use access::{MetricsAccess, ScrapeRefused};
pub use recent::Recent;

use crate::config::MetricsSettings;
use crate::db::{self, DbPool};
use crate::domain::error::{DomainError, DomainResult};
use crate::models::inbound_email::OutcomeCount;
use crate::models::outbox::OutboxStatus;
use crate::models::ticket::ActiveSlaCounts;
use crate::models::webhook::{DeliveryStatus, WebhookDelivery};
use crate::models::{InboundEmail, OutboxEntry, Ticket};
use crate::vocabulary::TicketStatus;

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The prefix of every metric name.
const PREFIX: &str = "civicdesk";

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The label value of a route that matched none of the application's routes.
const UNMATCHED: &str = "unmatched";

/// An HTTP method as a label value: the methods of RFC 9110 and PATCH, and `other` for anything else, so that a
/// client inventing methods cannot grow the label set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Connect,
    Options,
    Trace,
    Patch,
    Other,
}

impl Method {
    fn parse(method: &str) -> Method {
        match method {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "CONNECT" => Method::Connect,
            "OPTIONS" => Method::Options,
            "TRACE" => Method::Trace,
            "PATCH" => Method::Patch,
            _ => Method::Other,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Connect => "CONNECT",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
            Method::Other => "other",
        }
    }
}

impl EncodeLabelValue for Method {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

/// The labels of the request counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: Method,
    status: u16,
}

/// The labels of the latency histogram.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: Method,
}

/// A histogram with the latency buckets (a plain function, so that [`Family`] can name its type).
fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// HTTP metrics of this process.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let mut registry = Registry::with_prefix(PREFIX);
        registry.register("http_requests", "HTTP requests by route, method and status", requests.clone());
        registry.register_with_unit(
            "http_request_duration",
            "HTTP request latency by route and method",
            Unit::Seconds,
            latency.clone(),
        );
        Metrics { registry, requests, latency }
    }
}

impl Metrics {
    /// Records one request: its route pattern (`None` when no route matched; never the raw path, so the label set
    /// stays small), method, status and duration.
    pub fn observe(&self, route: Option<&str>, method: &str, status: u16, seconds: f64) {
        let route = route.unwrap_or(UNMATCHED).to_owned();
        let method = Method::parse(method);
        self.requests.get_or_create(&RequestLabels { route: route.clone(), method, status }).inc();
        self.latency.get_or_create(&RouteLabels { route, method }).observe(seconds);
    }

    /// The HTTP part of the exposition.
    fn render_http(&self, out: &mut String) -> std::fmt::Result {
        prometheus_text::encode(out, &self.registry)
    }
}

/// A gauge family with one label, set from `(label value, count)` pairs.
fn gauge_family<L: ToString>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    label: &'static str,
    rows: impl IntoIterator<Item = (L, i64)>,
) {
    let family = Family::<[(&'static str, String); 1], Gauge>::default();
    for (value, count) in rows {
        family.get_or_create(&[(label, value.to_string())]).set(count);
    }
    registry.register(name, help, family);
}

/// A gauge without labels.
fn gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let gauge = Gauge::<i64>::default();
    gauge.set(value);
    registry.register(name, help, gauge);
}

/// The state of the help desk as the database tells it: the part of a scrape that costs queries.
#[derive(Debug, Clone)]
pub struct DeskState {
    tickets: Vec<(TicketStatus, i64)>,
    outbox: Vec<(OutboxStatus, i64)>,
    oldest_unsent_seconds: f64,
    webhook_deliveries: Vec<(DeliveryStatus, i64)>,
    oldest_webhook_seconds: f64,
    inbound: Vec<OutcomeCount>,
    sla: ActiveSlaCounts,
}

impl DeskState {
    /// Reads every figure.
    pub fn read(conn: &mut PgConnection) -> QueryResult<DeskState> {
        Ok(DeskState {
            tickets: Ticket::count_by_status(conn)?,
            outbox: OutboxEntry::count_by_status(conn)?,
            oldest_unsent_seconds: OutboxEntry::oldest_unsent_age_seconds(conn)?,
            webhook_deliveries: WebhookDelivery::count_by_status(conn)?,
            oldest_webhook_seconds: WebhookDelivery::oldest_pending_age_seconds(conn)?,
            inbound: InboundEmail::count_by_outcome(conn)?,
            sla: Ticket::active_sla_counts(conn)?,
        })
    }
}

/// What `GET /metrics` keeps beside the HTTP metrics: who may read it, and the last state read from the database.
#[derive(Debug)]
pub struct MetricsEndpoint {
    access: MetricsAccess,
    desk: Recent<DeskState>,
}

impl MetricsEndpoint {
    /// The endpoint `settings` describe.
    pub fn new(settings: &MetricsSettings) -> MetricsEndpoint {
        MetricsEndpoint { access: MetricsAccess::new(settings), desk: Recent::new(settings.cache) }
    }

    /// Lets a scrape in or says why not (see [`MetricsAccess::check`]).
    pub fn authorize(&self, authorization: Option<&str>, peer: Option<IpAddr>) -> Result<(), ScrapeRefused> {
        self.access.check(authorization, peer)
    }

    /// Every metric in the Prometheus text format: the HTTP traffic and the pool of this process as they are now,
    /// the state of the help desk as read at most `METRICS_CACHE_SECS` ago.
    pub async fn scrape(&self, metrics: &Metrics, pool: &DbPool) -> DomainResult<String> {
        let desk = self.desk.get(|| db::run(pool, |conn| DeskState::read(conn).map_err(DomainError::from))).await?;
        Ok(render(metrics, pool, &desk))
    }
}

/// Renders every metric in the Prometheus text format (version 0.0.4, [`CONTENT_TYPE`]).
pub fn render(metrics: &Metrics, pool: &DbPool, desk: &DeskState) -> String {
    // The state of the help desk goes into a registry of its own, built for this scrape.
    let mut state = Registry::with_prefix(PREFIX);

    let pool_state = pool.state();
    let in_use = pool_state.connections.saturating_sub(pool_state.idle_connections);
    gauge_family(
        &mut state,
        "db_pool_connections",
        "Database connections of this process by state",
        "state",
        [("idle", i64::from(pool_state.idle_connections)), ("in_use", i64::from(in_use))],
    );
    gauge(&mut state, "db_pool_max_connections", "Most connections this process opens", i64::from(pool.max_size()));

    gauge_family(&mut state, "tickets", "Tickets by status", "status", desk.tickets.iter().copied());
    gauge_family(
        &mut state,
        "outbox_notifications",
        "Email notifications by status (sent and failed only grow)",
        "status",
        desk.outbox.iter().copied(),
    );
    let oldest = Gauge::<f64, AtomicU64>::default();
    oldest.set(desk.oldest_unsent_seconds);
    state.register_with_unit(
        "outbox_oldest_pending_age",
        "Age of the oldest notification not sent yet",
        Unit::Seconds,
        oldest,
    );
    gauge_family(
        &mut state,
        "webhook_deliveries",
        "Webhook deliveries by status (delivered and failed only grow)",
        "status",
        desk.webhook_deliveries.iter().copied(),
    );
    let oldest_webhook = Gauge::<f64, AtomicU64>::default();
    oldest_webhook.set(desk.oldest_webhook_seconds);
    state.register_with_unit(
        "webhook_oldest_pending_age",
        "Age of the oldest webhook delivery not delivered yet",
        Unit::Seconds,
        oldest_webhook,
    );
    gauge_family(
        &mut state,
        "inbound_emails",
        "Inbound emails by what became of them",
        "outcome",
        desk.inbound.iter().map(|row| (row.outcome.as_str(), row.count)),
    );

    let sla = desk.sla;
    gauge_family(
        &mut state,
        "sla_breached_tickets",
        "Open tickets past a service-level target, by clock",
        "clock",
        [("first_response", sla.first_response_breached), ("resolution", sla.resolution_breached)],
    );
    gauge_family(
        &mut state,
        "sla_at_risk_tickets",
        "Open tickets past the warning point of a target, by clock",
        "clock",
        [("first_response", sla.first_response_at_risk), ("resolution", sla.resolution_at_risk)],
    );

    let mut out = String::with_capacity(8192);
    // Writing into a String cannot fail.
    let _ = metrics.render_http(&mut out);
    let _ = prometheus_text::encode(&mut out, &state);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http_text(metrics: &Metrics) -> String {
        let mut out = String::new();
        metrics.render_http(&mut out).unwrap();
        out
    }

    #[test]
    fn histograms_are_cumulative() {
        let metrics = Metrics::default();
        metrics.observe(Some("/api/v1/tickets"), "GET", 200, 0.003);
        metrics.observe(Some("/api/v1/tickets"), "GET", 200, 0.2);
        metrics.observe(Some("/api/v1/tickets"), "GET", 404, 20.0);
        let out = http_text(&metrics);
        assert!(out.contains("# TYPE civicdesk_http_requests_total counter\n"), "{out}");
        assert!(
            out.contains("civicdesk_http_requests_total{route=\"/api/v1/tickets\",method=\"GET\",status=\"200\"} 2"),
            "{out}"
        );
        assert!(out.contains("# TYPE civicdesk_http_request_duration_seconds histogram\n"), "{out}");
        assert!(out.contains("le=\"0.005\"} 1"), "{out}");
        assert!(out.contains("le=\"0.25\"} 2"), "{out}");
        assert!(out.contains("le=\"10\"} 2"), "{out}");
        assert!(out.contains("le=\"+Inf\"} 3"), "{out}");
        assert!(
            out.contains("civicdesk_http_request_duration_seconds_count{route=\"/api/v1/tickets\",method=\"GET\"} 3"),
            "{out}"
        );
    }

    #[test]
    fn label_values_stay_bounded() {
        let metrics = Metrics::default();
        metrics.observe(None, "GET", 404, 0.001);
        metrics.observe(Some("/healthz"), "BREW", 405, 0.001);
        metrics.observe(Some("/healthz"), "get", 405, 0.001);
        let out = http_text(&metrics);
        assert!(out.contains("{route=\"unmatched\",method=\"GET\",status=\"404\"} 1"), "{out}");
        assert!(out.contains("{route=\"/healthz\",method=\"other\",status=\"405\"} 2"), "{out}");
        assert!(!out.contains("BREW") && !out.contains("\"get\""), "{out}");
    }
}
