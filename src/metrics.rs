//! Prometheus metrics: HTTP traffic measured in this process, and the state of the help desk read from the
//! database when `/metrics` is scraped (so every process reports the same totals).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Text};

use crate::db::DbPool;
use crate::models::ticket::{FIRST_RESPONSE_STATE, RESOLUTION_STATE};

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Debug, Default, Clone)]
struct Latency {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// HTTP metrics of this process.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<(String, String), Latency>>,
}

impl Metrics {
    /// Records one request: its route pattern (never the raw path, so the label set stays small), method, status
    /// and duration.
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry((route.to_owned(), method.to_owned(), status)).or_default() += 1;
        }
        if let Ok(mut latency) = self.latency.lock() {
            let entry = latency.entry((route.to_owned(), method.to_owned())).or_default();
            entry.count += 1;
            entry.sum += seconds;
            for (bucket, bound) in entry.buckets.iter_mut().zip(BUCKETS) {
                if seconds <= bound {
                    *bucket += 1;
                }
            }
        }
    }

    /// The HTTP part of the exposition.
    fn render_http(&self, out: &mut String) {
        out.push_str("# HELP civicdesk_http_requests_total HTTP requests by route, method and status.\n");
        out.push_str("# TYPE civicdesk_http_requests_total counter\n");
        if let Ok(requests) = self.requests.lock() {
            for ((route, method, status), count) in requests.iter() {
                let _ = writeln!(
                    out,
                    "civicdesk_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {count}",
                    escape(route)
                );
            }
        }
        out.push_str("# HELP civicdesk_http_request_duration_seconds HTTP request latency by route and method.\n");
        out.push_str("# TYPE civicdesk_http_request_duration_seconds histogram\n");
        if let Ok(latency) = self.latency.lock() {
            for ((route, method), stats) in latency.iter() {
                let labels = format!("route=\"{}\",method=\"{method}\"", escape(route));
                for (count, bound) in stats.buckets.iter().zip(BUCKETS) {
                    let _ = writeln!(
                        out,
                        "civicdesk_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                    );
                }
                let _ = writeln!(
                    out,
                    "civicdesk_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                    stats.count
                );
                let _ = writeln!(out, "civicdesk_http_request_duration_seconds_sum{{{labels}}} {}", stats.sum);
                let _ = writeln!(out, "civicdesk_http_request_duration_seconds_count{{{labels}}} {}", stats.count);
            }
        }
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Text)]
    label: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(QueryableByName)]
struct Age {
    #[diesel(sql_type = Double)]
    seconds: f64,
}

fn gauge_family(out: &mut String, name: &str, help: &str, label: &str, rows: &[Count]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for row in rows {
        let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {}", escape(&row.label), row.count);
    }
}

/// Renders every metric in the Prometheus text format (version 0.0.4).
pub fn render(metrics: &Metrics, pool: &DbPool, conn: &mut PgConnection) -> QueryResult<String> {
    let mut out = String::with_capacity(4096);
    metrics.render_http(&mut out);

    let state = pool.state();
    let _ = writeln!(out, "# HELP civicdesk_db_pool_connections Database connections of this process by state.");
    let _ = writeln!(out, "# TYPE civicdesk_db_pool_connections gauge");
    let _ = writeln!(out, "civicdesk_db_pool_connections{{state=\"idle\"}} {}", state.idle_connections);
    let _ = writeln!(
        out,
        "civicdesk_db_pool_connections{{state=\"in_use\"}} {}",
        state.connections - state.idle_connections
    );
    let _ = writeln!(out, "# HELP civicdesk_db_pool_max_connections Most connections this process opens.");
    let _ = writeln!(out, "# TYPE civicdesk_db_pool_max_connections gauge");
    let _ = writeln!(out, "civicdesk_db_pool_max_connections {}", pool.max_size());

    let tickets: Vec<Count> =
        diesel::sql_query("SELECT status AS label, count(*) AS count FROM tickets GROUP BY status ORDER BY status")
            .load(conn)?;
    gauge_family(&mut out, "civicdesk_tickets", "Tickets by status.", "status", &tickets);

    let outbox: Vec<Count> =
        diesel::sql_query("SELECT status AS label, count(*) AS count FROM outbox GROUP BY status ORDER BY status")
            .load(conn)?;
    gauge_family(
        &mut out,
        "civicdesk_outbox_notifications",
        "Email notifications by status (sent and failed only grow).",
        "status",
        &outbox,
    );

    let oldest: Age = diesel::sql_query(
        "SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS seconds \
         FROM outbox WHERE status IN ('pending', 'sending')",
    )
    .get_result(conn)?;
    let _ = writeln!(
        out,
        "# HELP civicdesk_outbox_oldest_pending_age_seconds Age of the oldest notification not sent yet."
    );
    let _ = writeln!(out, "# TYPE civicdesk_outbox_oldest_pending_age_seconds gauge");
    let _ = writeln!(out, "civicdesk_outbox_oldest_pending_age_seconds {}", oldest.seconds);

    let inbound: Vec<Count> = diesel::sql_query(
        "SELECT COALESCE(outcome, status) AS label, count(*) AS count FROM inbound_emails GROUP BY 1 ORDER BY 1",
    )
    .load(conn)?;
    gauge_family(&mut out, "civicdesk_inbound_emails", "Inbound emails by what became of them.", "outcome", &inbound);

    // Only open tickets are looked at (the status index finds them), whatever the size of the history.
    let sla: Vec<Count> = diesel::sql_query(format!(
        "WITH open_tickets AS MATERIALIZED ( \
           SELECT {FIRST_RESPONSE_STATE} AS first_response, {RESOLUTION_STATE} AS resolution \
           FROM tickets WHERE status IN ('new', 'open', 'pending')) \
         SELECT clock || ':' || state AS label, count(*) AS count FROM ( \
           SELECT 'first_response' AS clock, first_response AS state FROM open_tickets \
           UNION ALL SELECT 'resolution', resolution FROM open_tickets) states \
         WHERE state IN ('at_risk', 'breached') GROUP BY clock, state"
    ))
    .load(conn)?;
    for (state, name, help) in [
        ("breached", "civicdesk_sla_breached_tickets", "Open tickets past a service-level target, by clock."),
        ("at_risk", "civicdesk_sla_at_risk_tickets", "Open tickets past the warning point of a target, by clock."),
    ] {
        let rows: Vec<Count> = ["first_response", "resolution"]
            .into_iter()
            .map(|clock| {
                let wanted = format!("{clock}:{state}");
                let count = sla.iter().find(|row| row.label == wanted).map_or(0, |row| row.count);
                Count { label: clock.to_owned(), count }
            })
            .collect();
        gauge_family(&mut out, name, help, "clock", &rows);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative() {
        let metrics = Metrics::default();
        metrics.observe("/api/v1/tickets", "GET", 200, 0.003);
        metrics.observe("/api/v1/tickets", "GET", 200, 0.2);
        metrics.observe("/api/v1/tickets", "GET", 404, 20.0);
        let mut out = String::new();
        metrics.render_http(&mut out);
        assert!(
            out.contains("civicdesk_http_requests_total{route=\"/api/v1/tickets\",method=\"GET\",status=\"200\"} 2")
        );
        assert!(out.contains("le=\"0.005\"} 1"));
        assert!(out.contains("le=\"0.25\"} 2"));
        assert!(out.contains("le=\"10\"} 2"));
        assert!(out.contains("le=\"+Inf\"} 3"));
        assert!(
            out.contains("civicdesk_http_request_duration_seconds_count{route=\"/api/v1/tickets\",method=\"GET\"} 3")
        );
    }
}
