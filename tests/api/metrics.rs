//! `GET /metrics`: who may read it (`METRICS_TOKEN`, `METRICS_ALLOW`) and how long its database figures are reused
//! (`METRICS_CACHE_SECS`).

use std::time::Duration;

use civicdesk::config::parse_networks;
use reqwest::Method;

use crate::helpers::{Answer, TestApp, spawn_app_with, spawn_network_with};

const TOKEN: &str = "metrics-token-for-the-tests-0123";

async fn scrape(app: &TestApp, token: Option<&str>) -> Answer {
    app.send(app.request(Method::GET, "/metrics", token)).await
}

/// The samples of the exposition read from the database (tickets, outbox, inbound mail, service levels), sorted
/// (the series of a family come in no particular order).
fn database_lines(text: &str) -> Vec<&str> {
    let prefixes = ["civicdesk_tickets", "civicdesk_outbox_", "civicdesk_inbound_emails", "civicdesk_sla_"];
    let mut lines: Vec<&str> =
        text.lines().filter(|line| prefixes.iter().any(|prefix| line.starts_with(prefix))).collect();
    lines.sort_unstable();
    lines
}

#[tokio::test]
async fn metrics_refuse_a_scrape_without_the_token_when_one_is_set() {
    let app = spawn_app_with(|settings| settings.metrics.token = Some(TOKEN.to_owned())).await;

    let missing = scrape(&app, None).await;
    assert_eq!(missing.headers["www-authenticate"], "Bearer realm=\"metrics\"");
    let problem = missing.problem(401);
    assert!(problem["detail"].as_str().unwrap().contains("METRICS_TOKEN"), "{problem:#}");

    let wrong = scrape(&app, Some("metrics-token-for-the-tests-0124")).await;
    assert_eq!(wrong.headers["www-authenticate"], "Bearer realm=\"metrics\"");
    wrong.problem(401);
    scrape(&app, Some(&app.admin_token)).await.problem(401);

    let right = scrape(&app, Some(TOKEN)).await.expect(200);
    assert!(right.content_type.starts_with("text/plain; version=0.0.4"), "{}", right.content_type);
    assert!(right.text.contains("civicdesk_sla_breached_tickets{clock=\"first_response\"} 0\n"), "{}", right.text);
    assert!(right.text.contains("civicdesk_db_pool_max_connections 10\n"), "{}", right.text);
    assert!(right.text.contains("civicdesk_http_requests_total{route=\"/metrics\",method=\"GET\",status=\"401\"} 3"));
}

#[tokio::test]
async fn metrics_refuse_peers_outside_the_allowed_networks() {
    let elsewhere = spawn_app_with(|settings| settings.metrics.allow = parse_networks("10.0.0.0/8").unwrap()).await;
    let refused = scrape(&elsewhere, Some(TOKEN)).await;
    assert!(!refused.headers.contains_key("www-authenticate"), "no token would help");
    let problem = refused.problem(403);
    assert_eq!(problem["detail"], "127.0.0.1 is not in METRICS_ALLOW");

    let here =
        spawn_app_with(|settings| settings.metrics.allow = parse_networks("10.0.0.0/8, 127.0.0.1").unwrap()).await;
    assert!(scrape(&here, None).await.expect(200).text.contains("civicdesk_db_pool_max_connections"));
}

#[tokio::test]
async fn with_a_token_and_networks_either_lets_a_scrape_in() {
    let app = spawn_app_with(|settings| {
        settings.metrics.token = Some(TOKEN.to_owned());
        settings.metrics.allow = parse_networks("10.0.0.0/8").unwrap();
    })
    .await;
    let refused = scrape(&app, None).await;
    assert_eq!(refused.headers["www-authenticate"], "Bearer realm=\"metrics\"", "the token would let it in");
    refused.problem(401);
    scrape(&app, Some(TOKEN)).await.expect(200);

    let local = spawn_app_with(|settings| {
        settings.metrics.token = Some(TOKEN.to_owned());
        settings.metrics.allow = parse_networks("127.0.0.0/8").unwrap();
    })
    .await;
    scrape(&local, None).await.expect(200);
}

#[tokio::test]
async fn scrapes_within_the_interval_share_the_database_figures() {
    let net = spawn_network_with(|settings| settings.metrics.cache = Duration::from_secs(300)).await;
    let app = &net.app;
    app.submit(&net.requester_a.token, "Counted once", "funding").await;
    let first = scrape(app, None).await.expect(200).text;
    assert!(first.contains("civicdesk_tickets{status=\"new\"} 1\n"), "{first}");

    app.submit(&net.requester_b.token, "Counted later", "advocacy").await;
    let second = scrape(app, None).await.expect(200).text;
    assert_eq!(database_lines(&second), database_lines(&first), "the database figures are reused");
    let posts = "civicdesk_http_requests_total{route=\"/api/v1/tickets\",method=\"POST\",status=\"201\"}";
    assert!(first.contains(&format!("{posts} 1\n")) && second.contains(&format!("{posts} 2\n")), "{second}");
    assert_eq!(app.count("SELECT count(*) AS count FROM tickets"), 2);
}

#[tokio::test]
async fn without_a_cache_a_new_ticket_shows_at_once() {
    let net = spawn_network_with(|settings| settings.metrics.cache = Duration::ZERO).await;
    let app = &net.app;
    app.submit(&net.requester_a.token, "Counted once", "funding").await;
    let first = scrape(app, None).await.expect(200).text;
    assert!(first.contains("civicdesk_tickets{status=\"new\"} 1\n"), "{first}");
    app.submit(&net.requester_b.token, "Counted again", "advocacy").await;
    let second = scrape(app, None).await.expect(200).text;
    assert!(second.contains("civicdesk_tickets{status=\"new\"} 2\n"), "{second}");
}
