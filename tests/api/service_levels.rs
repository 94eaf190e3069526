//! Service levels: business calendars, due times, pause and resume, recompute, escalation, the `sla` filter and
//! the SLA metrics.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use civicdesk::domain::sla;
use diesel::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Network, TestApp, spawn_network};

fn instant(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap_or_else(|| panic!("not an instant: {value}")).parse().unwrap()
}

/// Sets an office to work around the clock, so that business time equals wall-clock time.
async fn around_the_clock(app: &TestApp, office: &Value) {
    let day = json!({"opens": "00:00", "closes": "24:00"});
    let week = json!({
        "monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day, "saturday": day,
        "sunday": day,
    });
    let path = format!("/api/v1/offices/{}/calendar/working-hours", office["id"].as_str().unwrap());
    let put = app.request(reqwest::Method::PUT, &path, Some(&app.admin_token)).json(&week);
    app.send(put).await.expect(200);
}

fn ticket_path(ticket: &Value) -> String {
    format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap())
}

fn sql(app: &TestApp, statement: &str) {
    diesel::sql_query(statement).execute(&mut app.conn()).unwrap();
}

fn events_of(app: &TestApp, ticket: &Value, kind: &str) -> i64 {
    app.count(&format!(
        "SELECT count(*) AS count FROM ticket_events WHERE ticket_id = '{}' AND kind = '{kind}'",
        ticket["id"].as_str().unwrap()
    ))
}

fn outbox_of(app: &TestApp, ticket: &Value, kind: &str, recipient: Uuid) -> i64 {
    app.count(&format!(
        "SELECT count(*) AS count FROM outbox WHERE ticket_id = '{}' AND kind = '{kind}' AND recipient_id = '{recipient}'",
        ticket["id"].as_str().unwrap()
    ))
}

async fn network_around_the_clock() -> Network {
    let net = spawn_network().await;
    around_the_clock(&net.app, &net.kosovo).await;
    net
}

#[tokio::test]
async fn a_new_ticket_gets_due_times_from_its_policy_in_the_office_calendar() {
    let net = spawn_network().await;
    let app = &net.app;
    let office_id = net.kosovo["id"].as_str().unwrap();
    // Around the clock, but today and tomorrow (local dates in Pristina) are holidays.
    around_the_clock(app, &net.kosovo).await;
    let zone: Tz = "Europe/Belgrade".parse().unwrap();
    let today = Utc::now().with_timezone(&zone).date_naive();
    for (date, name) in [(today, "Holiday one"), (today.succ_opt().unwrap(), "Holiday two")] {
        let path = format!("/api/v1/offices/{office_id}/calendar/holidays");
        app.post(&path, &app.admin_token, json!({"date": date, "name": name})).await.expect(201);
    }
    let calendar = app.get(&format!("/api/v1/offices/{office_id}/calendar"), &net.requester_a.token).await.expect(200);
    assert_eq!(calendar.body["holidays"].as_array().unwrap().len(), 2);
    assert_eq!(calendar.body["working_hours"]["sunday"]["closes"], "24:00");

    let ticket = app.submit(&net.requester_a.token, "Statute", "legal_registration").await;
    // The normal policy: 960 business minutes to first response, 4800 to resolution; nothing counts until the
    // first working minute after the holidays, midnight two days on.
    let start = today.succ_opt().unwrap().succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap();
    let start = start.and_local_timezone(zone).single().unwrap().with_timezone(&Utc);
    assert_eq!(instant(&ticket["first_response_due_at"]), start + TimeDelta::minutes(960));
    assert_eq!(instant(&ticket["resolution_due_at"]), start + TimeDelta::minutes(4800));
    assert_eq!(ticket["first_response_sla"], "running");
    assert_eq!(ticket["resolution_sla"], "running");
    assert!(ticket.get("first_response_warn_at").is_none(), "bookkeeping columns stay private");

    // Office hours are checked; holidays are unique per date; only managers change calendars.
    let bad = json!({"friday": {"opens": "17:00", "closes": "09:00"}, "monday": {"opens": "9", "closes": "17:00"}});
    let path = format!("/api/v1/offices/{office_id}/calendar/working-hours");
    let problem =
        app.send(app.request(reqwest::Method::PUT, &path, Some(&app.admin_token)).json(&bad)).await.problem(422);
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["monday.opens", "friday.closes"]);
    let week = json!({"monday": {"opens": "09:00", "closes": "17:00"}});
    app.send(app.request(reqwest::Method::PUT, &path, Some(&net.advisor.token)).json(&week)).await.problem(403);
    let holidays = format!("/api/v1/offices/{office_id}/calendar/holidays");
    app.post(&holidays, &app.admin_token, json!({"date": today, "name": "Again"})).await.problem(409);
    let delete = format!("{holidays}/{today}");
    app.send(app.request(reqwest::Method::DELETE, &delete, Some(&app.admin_token))).await.expect(204);
    app.send(app.request(reqwest::Method::DELETE, &delete, Some(&app.admin_token))).await.problem(404);
}

#[tokio::test]
async fn waiting_on_the_requester_pauses_the_resolution_clock() {
    let net = network_around_the_clock().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Grant budget", "funding").await;
    let path = ticket_path(&ticket);
    let due = instant(&ticket["resolution_due_at"]);

    let reply = json!({"body": "Please send the annex.", "status": "pending"});
    app.post(&format!("{path}/messages"), &net.advisor.token, reply).await.expect(201);
    let pending = app.get(&path, &net.advisor.token).await.expect(200).body;
    assert_eq!(pending["resolution_sla"], "paused");
    assert_eq!(pending["first_response_sla"], "met");
    assert!(pending["first_response_seconds"].as_i64().unwrap() < 60);

    // Two hours pass while the ticket waits on the requester.
    sql(
        app,
        &format!(
            "UPDATE tickets SET sla_paused_at = sla_paused_at - interval '2 hours' WHERE id = '{}'",
            ticket["id"].as_str().unwrap()
        ),
    );
    app.post(&format!("{path}/messages"), &net.requester_a.token, json!({"body": "Here it is."})).await.expect(201);
    let resumed = app.get(&path, &net.advisor.token).await.expect(200).body;
    assert_eq!(resumed["status"], "open");
    assert_eq!(resumed["resolution_sla"], "running");
    let moved = instant(&resumed["resolution_due_at"]) - due;
    assert!((moved - TimeDelta::hours(2)).num_seconds().abs() < 30, "the due time moved by the pause: {moved}");

    // Resolving stops the clock; the resolution time leaves the two paused hours out.
    let resolved = app.patch(&path, &net.advisor.token, json!({"status": "resolved"})).await.expect(200).body;
    assert_eq!(resolved["resolution_sla"], "met");
    assert!(resolved["resolution_seconds"].as_i64().unwrap() < 60, "{}", resolved["resolution_seconds"]);
}

#[tokio::test]
async fn a_priority_change_recomputes_the_due_times() {
    let net = network_around_the_clock().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Urgent registration", "legal_registration").await;
    let created = instant(&ticket["created_at"]);
    assert_eq!(instant(&ticket["first_response_due_at"]), created + TimeDelta::minutes(960));

    let urgent = app.patch(&ticket_path(&ticket), &net.advisor.token, json!({"priority": "urgent"})).await.expect(200);
    assert_eq!(instant(&urgent.body["first_response_due_at"]), created + TimeDelta::minutes(120));
    assert_eq!(instant(&urgent.body["resolution_due_at"]), created + TimeDelta::minutes(960));
    let policies = app.get("/api/v1/sla-policies", &net.advisor.token).await.expect(200).body;
    let urgent_policy = policies.as_array().unwrap().iter().find(|p| p["priority"] == "urgent").unwrap();
    assert_eq!(urgent.body["sla_policy_id"], urgent_policy["id"]);

    // A category policy is narrower than the priority's general one.
    let narrow = json!({"priority": "urgent", "category": "legal_registration", "first_response_minutes": 30, "resolution_minutes": 240});
    app.post("/api/v1/sla-policies", &net.coordinator.token, narrow.clone()).await.expect(201);
    app.post("/api/v1/sla-policies", &net.coordinator.token, narrow).await.problem(409);
    app.post(
        "/api/v1/sla-policies",
        &net.advisor.token,
        json!({"priority": "low", "first_response_minutes": 1, "resolution_minutes": 2}),
    )
    .await
    .problem(403);
    let low = app.patch(&ticket_path(&ticket), &net.advisor.token, json!({"priority": "low"})).await.expect(200);
    assert_eq!(instant(&low.body["first_response_due_at"]), created + TimeDelta::minutes(1920));
    let back = app.patch(&ticket_path(&ticket), &net.advisor.token, json!({"priority": "urgent"})).await.expect(200);
    assert_eq!(instant(&back.body["first_response_due_at"]), created + TimeDelta::minutes(30));
    assert_eq!(instant(&back.body["resolution_due_at"]), created + TimeDelta::minutes(240));
}

/// Runs `escalate` at `now` from two threads with their own connections, several times each, as two
/// processes would.
fn two_schedulers(app: &TestApp, now: DateTime<Utc>) {
    std::thread::scope(|scope| {
        for _ in 0..2 {
            let pool = app.pool.clone();
            scope.spawn(move || {
                let mut conn = pool.get().unwrap();
                for _ in 0..5 {
                    sla::escalate(&mut conn, now, 100).unwrap();
                }
            });
        }
    });
}

#[tokio::test]
async fn two_schedulers_send_one_warning_and_one_breach() {
    let net = network_around_the_clock().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Audit question", "financial_management").await;
    assert_eq!(ticket["assignee_id"], net.advisor.user["id"]);
    let created = instant(&ticket["created_at"]);

    // 13 hours in: past 75% of the 16-hour first-response target. The assignee is warned, once.
    two_schedulers(app, created + TimeDelta::hours(13));
    assert_eq!(events_of(app, &ticket, "sla_warning"), 1);
    assert_eq!(outbox_of(app, &ticket, "sla_warning", net.advisor.id), 1);
    assert_eq!(events_of(app, &ticket, "sla_breached"), 0);

    // 17 hours in: breached. The office coordinator and the assignee are told, once.
    two_schedulers(app, created + TimeDelta::hours(17));
    assert_eq!(events_of(app, &ticket, "sla_breached"), 1);
    assert_eq!(outbox_of(app, &ticket, "sla_breached", net.coordinator.id), 1);
    assert_eq!(outbox_of(app, &ticket, "sla_breached", net.advisor.id), 1);
    // Staff see the breach in the trail; the requester does not.
    let trail = app.get(&format!("{}/events", ticket_path(&ticket)), &net.advisor.token).await.expect(200).body;
    let breach = trail.as_array().unwrap().iter().find(|e| e["kind"] == "sla_breached").unwrap();
    assert_eq!(breach["details"]["clock"], "first_response");
    let theirs = app.get(&format!("{}/events", ticket_path(&ticket)), &net.requester_a.token).await.expect(200).body;
    assert!(theirs.as_array().unwrap().iter().all(|e| e["kind"] != "sla_breached"));

    // 61 hours in: the resolution clock warns (75% of 80 hours = 60) but the breach already told everyone about
    // the first response; a late first response then stays breached.
    two_schedulers(app, created + TimeDelta::hours(61));
    assert_eq!(events_of(app, &ticket, "sla_warning"), 2);
    let shown = app.get(&ticket_path(&ticket), &net.advisor.token).await.expect(200).body;
    assert_eq!(shown["first_response_sla"], "breached");
}

#[tokio::test]
async fn a_breach_can_raise_the_priority_or_return_the_ticket_to_the_queue() {
    let net = network_around_the_clock().await;
    let app = &net.app;
    let policies = app.get("/api/v1/sla-policies", &net.coordinator.token).await.expect(200).body;
    let id_of = |priority: &str| {
        policies.as_array().unwrap().iter().find(|p| p["priority"] == priority).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let replace = |priority: &str, action: &str, first: i64, resolution: i64| {
        let body = json!({"priority": priority, "first_response_minutes": first, "resolution_minutes": resolution, "breach_action": action});
        app.request(
            reqwest::Method::PUT,
            &format!("/api/v1/sla-policies/{}", id_of(priority)),
            Some(&net.coordinator.token),
        )
        .json(&body)
    };
    app.send(replace("normal", "raise_priority", 60, 9000)).await.expect(200);
    app.send(replace("high", "return_to_queue", 600, 700)).await.expect(200);

    let ticket = app.submit(&net.requester_a.token, "Partnership agreement", "partnership_networking").await;
    let created = instant(&ticket["created_at"]);
    sla::escalate(&mut app.conn(), created + TimeDelta::minutes(61), 100).unwrap();
    let raised = app.get(&ticket_path(&ticket), &net.advisor.token).await.expect(200).body;
    assert_eq!(raised["priority"], "high");
    assert_eq!(raised["assignee_id"], net.advisor.user["id"]);
    // The high policy now applies; the first-response breach stays recorded.
    assert_eq!(instant(&raised["resolution_due_at"]), created + TimeDelta::minutes(700));
    assert_eq!(raised["first_response_sla"], "breached");

    // Its resolution target passes too: the ticket goes back to the office queue.
    sla::escalate(&mut app.conn(), created + TimeDelta::minutes(701), 100).unwrap();
    let returned = app.get(&ticket_path(&ticket), &net.coordinator.token).await.expect(200).body;
    assert_eq!(returned["assignee_id"], Value::Null, "back in the office queue");
    assert_eq!(returned["priority"], "high");
    assert_eq!(events_of(app, &ticket, "sla_breached"), 2, "one breach per clock");
    sla::escalate(&mut app.conn(), created + TimeDelta::minutes(2000), 100).unwrap();
    assert_eq!(events_of(app, &ticket, "sla_breached"), 2, "and never again");
}

#[tokio::test]
async fn the_sla_filter_and_metrics_show_tickets_at_risk_and_breached() {
    let net = network_around_the_clock().await;
    let app = &net.app;
    let fine = app.submit(&net.requester_a.token, "Fine", "advocacy").await;
    let at_risk = app.submit(&net.requester_a.token, "At risk", "advocacy").await;
    let breached = app.submit(&net.requester_a.token, "Breached", "advocacy").await;
    sql(
        app,
        &format!(
            "UPDATE tickets SET first_response_warn_at = now() - interval '1 minute' WHERE id = '{}'",
            at_risk["id"].as_str().unwrap()
        ),
    );
    sql(
        app,
        &format!(
            "UPDATE tickets SET first_response_warn_at = now() - interval '2 hours', first_response_due_at = now() - interval '1 minute' WHERE id = '{}'",
            breached["id"].as_str().unwrap()
        ),
    );
    let ids = |answer: Value| -> Vec<String> {
        answer["items"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect()
    };
    let risky = app.get("/api/v1/tickets?sla=at_risk", &net.advisor.token).await.expect(200).body;
    assert_eq!(ids(risky), [at_risk["id"].as_str().unwrap()]);
    let late = app.get("/api/v1/tickets?sla=breached", &net.advisor.token).await.expect(200).body;
    assert_eq!(ids(late.clone()), [breached["id"].as_str().unwrap()]);
    assert_eq!(late["items"][0]["first_response_sla"], "breached");
    let all = app.get("/api/v1/tickets", &net.advisor.token).await.expect(200).body;
    assert_eq!(ids(all).len(), 3, "{fine}");
    app.get("/api/v1/tickets?sla=late", &net.advisor.token).await.problem(422);
    // The requester's scope still applies.
    let theirs = app.get("/api/v1/tickets?sla=breached", &net.requester_b.token).await.expect(200).body;
    assert!(ids(theirs).is_empty());

    let metrics = app.send(app.request(reqwest::Method::GET, "/metrics", None)).await;
    let text = metrics.expect(200).text;
    assert!(text.contains("civicdesk_sla_breached_tickets{clock=\"first_response\"} 1"), "{text}");
    assert!(text.contains("civicdesk_sla_at_risk_tickets{clock=\"first_response\"} 1"), "{text}");
    assert!(text.contains("civicdesk_sla_breached_tickets{clock=\"resolution\"} 0"), "{text}");
}

#[tokio::test]
async fn business_times_are_kept_for_the_reports_without_a_policy() {
    let net = network_around_the_clock().await;
    let app = &net.app;
    let policies = app.get("/api/v1/sla-policies", &net.coordinator.token).await.expect(200).body;
    let low = policies.as_array().unwrap().iter().find(|p| p["priority"] == "low").unwrap();
    let delete = format!("/api/v1/sla-policies/{}", low["id"].as_str().unwrap());
    app.send(app.request(reqwest::Method::DELETE, &delete, Some(&net.coordinator.token))).await.expect(204);

    let body = json!({"subject": "No target", "body": "Whenever you can.", "category": "other", "priority": "low"});
    let ticket = app.post("/api/v1/tickets", &net.requester_a.token, body).await.expect(201).body;
    assert_eq!(ticket["first_response_due_at"], Value::Null);
    assert_eq!(ticket["first_response_sla"], "none");
    let path = ticket_path(&ticket);
    let reply = json!({"body": "Done.", "status": "resolved"});
    app.post(&format!("{path}/messages"), &net.advisor.token, reply).await.expect(201);
    let resolved = app.get(&path, &net.advisor.token).await.expect(200).body;
    assert_eq!(resolved["resolution_sla"], "none");
    assert!(resolved["first_response_seconds"].is_i64(), "{resolved}");
    assert!(resolved["resolution_seconds"].is_i64(), "{resolved}");
}

#[tokio::test]
async fn a_ticket_already_past_its_target_is_never_claimed_for_a_warning() {
    use civicdesk::models::Ticket;
    use civicdesk::vocabulary::SlaClock;
    let net = spawn_network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Registration of statute changes", "legal_registration").await;
    // Its target moved into the past after a pass claimed its breaches and before it claims its warnings.
    sql(
        app,
        "UPDATE tickets SET first_response_warn_at = now() - interval '2 hours', first_response_due_at = now() - interval '1 hour'",
    );
    let now = Utc::now();
    let mut conn = app.conn();
    let warnings = Ticket::claim_owing(&mut conn, SlaClock::FirstResponse, false, now, 10).unwrap();
    assert!(warnings.is_empty(), "a late warning was claimed");
    let breaches = Ticket::claim_owing(&mut conn, SlaClock::FirstResponse, true, now, 10).unwrap();
    assert_eq!(breaches.len(), 1);
    drop(conn);
    sla::escalate(&mut app.conn(), now, 100).unwrap();
    assert_eq!(events_of(app, &ticket, "sla_breached"), 1);
    assert_eq!(events_of(app, &ticket, "sla_warning"), 0);
}
