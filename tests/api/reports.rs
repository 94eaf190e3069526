//! Reports: figures against a hand-computed fixture, CSV shape, who may see them.

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{Network, spawn_network};

const PERIOD: &str = "from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z";

/// Eight tickets with known times (business seconds are set directly, as if their clocks had stopped so):
///
/// | ticket | created | first response | resolved | clocks | rating (when) |
/// | --- | --- | --- | --- | --- | --- |
/// | 1 | Jan 5 | 1 h | Jan 10, 2 h | met, met | satisfied (Jan) |
/// | 2 | Jan 6 | 2 h | Jan 12, 4 h | met, met | satisfied (Jan) |
/// | 3 | Jan 7 | 3 h | Jan 15, 8 h | breached, breached | not satisfied (Jan) |
/// | 4 | Jan 8 | 4 h | Jan 20, 16 h | met, met | satisfied (March) |
/// | 5 | Jan 9 | 10 h | open, overdue | met, breached | |
/// | 6 | Dec 20 | Dec 21 | open | outside the period | |
/// | 7 | Jan 25 | none yet | open | running, running | |
/// | 8 | now | none yet | new | outside the period | |
async fn fixture(net: &Network) -> Vec<Value> {
    let app = &net.app;
    let mut tickets = Vec::new();
    for n in 1..=8 {
        tickets.push(app.submit(&net.requester_a.token, &format!("Fixture {n}"), "funding").await);
    }
    let id = |n: usize| tickets[n - 1]["id"].as_str().unwrap().to_owned();
    let mut conn = app.conn();
    let mut run = |statement: String| {
        diesel::sql_query(statement).execute(&mut conn).unwrap();
    };
    let resolved = [
        (1, "01-05", 3600, "01-10", 7200),
        (2, "01-06", 7200, "01-12", 14400),
        (3, "01-07", 10800, "01-15", 28800),
        (4, "01-08", 14400, "01-20", 57600),
    ];
    for (n, created, first, done, resolution) in resolved {
        run(format!(
            "UPDATE tickets SET status = 'resolved', created_at = '2026-{created}T09:00:00Z', \
             first_response_at = '2026-{created}T12:00:00Z', first_response_seconds = {first}, \
             resolved_at = '2026-{done}T12:00:00Z', resolution_seconds = {resolution} WHERE id = '{}'",
            id(n)
        ));
    }
    run(format!(
        "UPDATE tickets SET first_response_breached_at = '2026-01-07T11:00:00Z', \
         resolution_breached_at = '2026-01-14T11:00:00Z' WHERE id = '{}'",
        id(3)
    ));
    run(format!(
        "UPDATE tickets SET status = 'open', created_at = '2026-01-09T09:00:00Z', first_response_at = '2026-01-09T19:00:00Z', \
         first_response_seconds = 36000, resolution_due_at = '2026-01-20T09:00:00Z', \
         resolution_warn_at = '2026-01-18T09:00:00Z' WHERE id = '{}'",
        id(5)
    ));
    run(format!(
        "UPDATE tickets SET status = 'open', created_at = '2025-12-20T09:00:00Z', first_response_at = '2025-12-21T09:00:00Z', \
         first_response_seconds = 999, resolution_due_at = now() + interval '100 days', \
         resolution_warn_at = now() + interval '90 days' WHERE id = '{}'",
        id(6)
    ));
    run(format!(
        "UPDATE tickets SET status = 'open', created_at = '2026-01-25T09:00:00Z', \
         first_response_due_at = now() + interval '1 day', first_response_warn_at = now() + interval '1 day', \
         resolution_due_at = now() + interval '100 days', resolution_warn_at = now() + interval '90 days' WHERE id = '{}'",
        id(7)
    ));
    let requester = net.requester_a.id;
    for (n, rating, at) in [
        (1, "satisfied", "2026-01-11"),
        (2, "satisfied", "2026-01-13"),
        (3, "not_satisfied", "2026-01-16"),
        (4, "satisfied", "2026-03-01"),
    ] {
        run(format!(
            "INSERT INTO satisfaction_ratings (ticket_id, rated_by, rating, rated_at) VALUES ('{}', '{requester}', '{rating}', '{at}T10:00:00Z')",
            id(n)
        ));
    }
    tickets
}

#[tokio::test]
async fn the_summary_matches_the_hand_computed_fixture() {
    let net = spawn_network().await;
    let app = &net.app;
    fixture(&net).await;
    let report = app.get(&format!("/api/v1/reports/summary?{PERIOD}"), &net.coordinator.token).await.expect(200).body;
    assert_eq!(report["opened"], 6, "{report:#}");
    assert_eq!(report["resolved"], 4);
    assert_eq!(report["first_response"], json!({"tickets": 5, "median_hours": 3.0, "p90_hours": 7.6}));
    assert_eq!(report["resolution"], json!({"tickets": 4, "median_hours": 6.0, "p90_hours": 13.6}));
    assert_eq!(report["first_response_sla"], json!({"met": 4, "breached": 1, "percent": 80.0}));
    assert_eq!(report["resolution_sla"], json!({"met": 3, "breached": 2, "percent": 60.0}));
    assert_eq!(report["satisfaction"], json!({"satisfied": 2, "rated": 3, "percent": 66.7}));
    assert_eq!(
        report["backlog"],
        json!({"total": 4, "under_1_day": 1, "from_1_to_3_days": 0, "from_3_to_7_days": 0, "from_7_to_30_days": 0, "over_30_days": 3})
    );
    assert_eq!(report["scope"]["from"], "2026-01-01T00:00:00Z");

    // Narrowing: another country or category has none of it.
    let elsewhere =
        app.get(&format!("/api/v1/reports/summary?{PERIOD}&country=AL"), &net.coordinator.token).await.expect(200).body;
    assert_eq!(elsewhere["opened"], 0);
    assert_eq!(elsewhere["first_response"]["median_hours"], Value::Null);
    let other = app
        .get(&format!("/api/v1/reports/summary?{PERIOD}&category=advocacy"), &net.coordinator.token)
        .await
        .expect(200)
        .body;
    assert_eq!(other["opened"], 0);
    let office = net.kosovo["id"].as_str().unwrap();
    let mine = app
        .get(&format!("/api/v1/reports/summary?{PERIOD}&office_id={office}"), &net.advisor.token)
        .await
        .expect(200)
        .body;
    assert_eq!(mine["opened"], 6, "advisors see their own office");

    let advisors =
        app.get(&format!("/api/v1/reports/advisors?{PERIOD}"), &net.coordinator.token).await.expect(200).body;
    let rows = advisors["advisors"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{advisors:#}");
    assert_eq!(rows[0]["user_id"], net.advisor.user["id"]);
    assert_eq!(rows[0]["open_now"], 4);
    assert_eq!(rows[0]["assigned"], 6);
    assert_eq!(rows[0]["resolved"], 4);
    assert_eq!(rows[0]["first_response_median_hours"], 3.0);
    assert_eq!(rows[0]["breached"], 2);
}

#[tokio::test]
async fn reports_come_as_csv_and_only_for_staff() {
    let net = spawn_network().await;
    let app = &net.app;
    fixture(&net).await;
    let csv =
        app.get(&format!("/api/v1/reports/summary?{PERIOD}&format=csv"), &net.coordinator.token).await.expect(200);
    assert_eq!(csv.content_type, "text/csv; charset=utf-8");
    let disposition = csv.headers.get("content-disposition").unwrap().to_str().unwrap();
    assert_eq!(disposition, "attachment; filename=\"civicdesk-summary-20260101-20260201.csv\"");
    let lines: Vec<&str> = csv.text.split_terminator("\r\n").collect();
    assert_eq!(lines[0], "metric,value");
    assert_eq!(lines.len(), 29, "{}", csv.text);
    assert!(lines.iter().all(|line| line.split(',').count() == 2), "{}", csv.text);
    for expected in [
        "opened,6",
        "resolved,4",
        "first_response_median_hours,3",
        "first_response_p90_hours,7.6",
        "resolution_sla_percent,60",
        "satisfaction_percent,66.7",
        "backlog_over_30_days,3",
    ] {
        assert!(lines.contains(&expected), "{expected} in {}", csv.text);
    }

    let accept = app
        .request(reqwest::Method::GET, &format!("/api/v1/reports/advisors?{PERIOD}"), Some(&net.coordinator.token))
        .header("accept", "text/csv");
    let advisors = app.send(accept).await.expect(200);
    let lines: Vec<&str> = advisors.text.split_terminator("\r\n").collect();
    assert_eq!(lines[0], "user_id,name,office_id,open_now,assigned,resolved,first_response_median_hours,breached");
    assert_eq!(lines.len(), 2);
    assert!(lines[1].ends_with(",4,6,4,3,2"), "{}", lines[1]);

    app.get("/api/v1/reports/summary", &net.requester_a.token).await.problem(403);
    let regional = net.regional["id"].as_str().unwrap();
    app.get(&format!("/api/v1/reports/summary?office_id={regional}"), &net.advisor.token).await.problem(403);
    app.get("/api/v1/reports/summary?from=yesterday", &net.coordinator.token).await.problem(422);
    app.get("/api/v1/reports/summary?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", &net.coordinator.token)
        .await
        .problem(422);
    app.get("/api/v1/reports/summary?format=xml", &net.coordinator.token).await.problem(422);
    app.get("/api/v1/reports/summary?category=nope", &net.coordinator.token).await.problem(422);
    // Without a period: the last 30 days.
    let recent = app.get("/api/v1/reports/summary", &net.coordinator.token).await.expect(200).body;
    assert_eq!(recent["opened"], 1, "only the ticket of today");
}
