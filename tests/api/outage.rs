//! The database going away under load: requests in flight get a 503 with `Retry-After`, never a 500, and the
//! service recovers by itself once PostgreSQL is back.

use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Answer, server_database_url, spawn_network};

/// Ends every connection the application holds to its database, as a PostgreSQL restart does.
fn terminate_backends(database_name: &str) {
    let mut conn = PgConnection::establish(&server_database_url("postgres")).expect("a maintenance connection");
    diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database_name}' AND pid <> pg_backend_pid()"
    ))
    .execute(&mut conn)
    .expect("terminate the application's connections");
}

#[tokio::test]
async fn a_lost_database_connection_is_a_503_with_retry_after_never_a_500() {
    let net = spawn_network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Statute amendment", "legal_registration").await;
    let reference = ticket["reference"].as_i64().unwrap();
    let (advisor, requester) = (net.advisor.token.as_str(), net.requester_a.token.as_str());
    let mut unavailable = 0;
    for round in 0..4 {
        // Every pooled connection is busy or idle in the pool: fill the pool, then cut it off.
        let warm: Vec<_> = (0..8).map(|_| app.get("/api/v1/tickets", advisor)).collect();
        futures_util::future::join_all(warm).await;
        terminate_backends(&app.database_name);
        let mut in_flight = Vec::new();
        for i in 0..12 {
            in_flight.push(async move {
                match i % 3 {
                    0 => app.get("/api/v1/tickets", advisor).await,
                    1 => app.get(&format!("/api/v1/tickets/{reference}"), requester).await,
                    _ => {
                        let body = json!({"subject": format!("Round {round} request {i}"), "body": "Help with the budget annex.", "category": "funding"});
                        app.post("/api/v1/tickets", requester, body).await
                    }
                }
            });
        }
        let answers: Vec<Answer> = futures_util::future::join_all(in_flight).await;
        for answer in answers {
            assert_ne!(
                answer.status,
                StatusCode::INTERNAL_SERVER_ERROR,
                "a lost connection is not a 500: {}",
                answer.text
            );
            if answer.status == StatusCode::SERVICE_UNAVAILABLE {
                unavailable += 1;
                assert_eq!(answer.content_type, "application/problem+json");
                assert!(answer.headers.contains_key("retry-after"), "a 503 says when to retry");
            } else {
                assert!(answer.status.is_success(), "{} {}", answer.status, answer.text);
            }
        }
    }
    assert!(unavailable > 0, "the test cut connections that requests then used");
    // Back to normal without a restart: each dead connection fails one request at most, then leaves the pool.
    terminate_backends(&app.database_name);
    let mut failed = 0;
    for _ in 0..6 {
        let round = (0..10).map(|_| app.get("/api/v1/tickets", advisor));
        for answer in futures_util::future::join_all(round).await {
            match answer.status {
                StatusCode::OK => {}
                StatusCode::SERVICE_UNAVAILABLE => failed += 1,
                other => panic!("{other} after the outage: {}", answer.text),
            }
        }
    }
    let pool_size = app.settings.database_pool_size as usize;
    assert!(failed <= pool_size, "{failed} requests failed: a dead connection went back into the pool");
    app.get("/api/v1/tickets", advisor).await.expect(200);
}
