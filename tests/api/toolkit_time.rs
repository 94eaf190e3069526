//! Time spent (issue #15): entries on tickets and staff messages, totals, the time report against a hand-computed
//! fixture (JSON and CSV), who may change an entry, and requesters never seeing any of it.

use std::collections::HashMap;

use chrono::{Days, NaiveDate, Utc};
use diesel::RunQueryDsl;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Answer, Network, TestApp, TestUser, spawn_network};

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| errors.iter().map(|e| e["field"].as_str().unwrap_or("").to_owned()).collect())
        .unwrap_or_default()
}

async fn delete(app: &TestApp, path: &str, token: &str) -> Answer {
    app.send(app.request(Method::DELETE, path, Some(token))).await
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn days_ago(days: u64) -> NaiveDate {
    today().checked_sub_days(Days::new(days)).unwrap()
}

async fn log(app: &TestApp, ticket: &Value, token: &str, body: Value) -> Answer {
    app.post(&format!("/api/v1/tickets/{}/time", id(ticket)), token, body).await
}

async fn rename(app: &TestApp, user: &TestUser, name: &str) {
    app.patch(&format!("/api/v1/users/{}", user.id), &app.admin_token, json!({"name": name})).await.expect(200);
}

/// Sets an entry's creation time `days` back, as if it had been logged then.
fn age(app: &TestApp, entry: &Value, days: u32) {
    diesel::sql_query(format!(
        "UPDATE time_entries SET created_at = now() - interval '{days} days' WHERE id = '{}'",
        id(entry)
    ))
    .execute(&mut app.conn())
    .unwrap();
}

/// The rows of a report: `rows` as the contract has it (or the name the implementation gives them).
fn report_rows<'a>(body: &'a Value, names: &[&str]) -> &'a Vec<Value> {
    names.iter().find_map(|name| body[*name].as_array()).unwrap_or_else(|| panic!("{names:?} in {body:#}"))
}

/// The report's data rows as maps by column name.
fn csv_records(text: &str) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            headers.iter().zip(record.iter()).map(|(h, v)| (h.to_owned(), v.to_owned())).collect()
        })
        .collect()
}

/// Three tickets and six time entries by two advisors:
///
/// | entry | advisor | ticket (category, tags, programme, organisation) | minutes | date |
/// | --- | --- | --- | --- | --- |
/// | e1 | Ana | t1 (funding, [ipa], ipa, A) | 30 | 10 days ago |
/// | e2 | Ana | t1, with a message | 45 | today |
/// | e3 | Besa | t1 | 60 | 5 days ago |
/// | e4 | Besa | t2 (legal_registration, [audit, ipa], horizon, A) | 90 | 3 days ago |
/// | e5 | Ana | t3 (funding, [], none, B) | 15 | 2 days ago |
/// | e6 | Besa | t3 | 120 | 40 days ago: outside the period |
///
/// In the period (20 days ago to tomorrow): 240 minutes in 5 entries on 3 tickets.
struct Fixture {
    besa: TestUser,
    tickets: Vec<Value>,
    entries: Vec<Value>,
    message: Value,
}

async fn fixture(net: &Network) -> Fixture {
    let app = &net.app;
    app.post(
        "/api/v1/custom-fields",
        &app.admin_token,
        json!({"key": "programme", "label": {"en": "Programme"}, "type": "select", "options": ["ipa", "horizon"]}),
    )
    .await
    .expect(201);
    rename(app, &net.advisor, "Ana Advisor").await;
    let t1 = app.submit(&net.requester_a.token, "Time one", "funding").await;
    let t2 = app.submit(&net.requester_a.token, "Time two", "legal_registration").await;
    let t3 = app.submit(&net.requester_b.token, "Time three", "funding").await;
    let besa = app.create_user("advisor", Some(&net.kosovo), None).await;
    rename(app, &besa, "Besa Advisor").await;
    for (ticket, changes) in [
        (&t1, json!({"tags": ["ipa"], "custom_fields": {"programme": "ipa"}})),
        (&t2, json!({"tags": ["ipa", "audit"], "custom_fields": {"programme": "horizon"}})),
    ] {
        app.patch(&format!("/api/v1/tickets/{}", id(ticket)), &net.advisor.token, changes).await.expect(200);
    }
    let ana = net.advisor.token.as_str();
    let date = |d: NaiveDate| d.to_string();
    let e1 =
        log(app, &t1, ana, json!({"minutes": 30, "date": date(days_ago(10)), "note": "Call"})).await.expect(201).body;
    let message = app
        .post(
            &format!("/api/v1/tickets/{}/messages", id(&t1)),
            ana,
            json!({"body": "I reviewed the budget annex.", "time_spent_minutes": 45}),
        )
        .await
        .expect(201)
        .body;
    let e2 = app.get(&format!("/api/v1/tickets/{}/time", id(&t1)), ana).await.expect(200).body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["message_id"] == message["id"])
        .cloned()
        .expect("the message's time entry");
    let e3 = log(app, &t1, &besa.token, json!({"minutes": 60, "date": date(days_ago(5))})).await.expect(201).body;
    let e4 = log(app, &t2, &besa.token, json!({"minutes": 90, "date": date(days_ago(3))})).await.expect(201).body;
    let e5 = log(app, &t3, ana, json!({"minutes": 15, "date": date(days_ago(2))})).await.expect(201).body;
    let e6 = log(app, &t3, &besa.token, json!({"minutes": 120, "date": date(days_ago(40))})).await.expect(201).body;
    Fixture { besa, tickets: vec![t1, t2, t3], entries: vec![e1, e2, e3, e4, e5, e6], message }
}

fn period() -> String {
    let to = today().checked_add_days(Days::new(1)).unwrap();
    format!("from={}T00:00:00Z&to={to}T00:00:00Z", days_ago(20))
}

#[tokio::test]
async fn entries_add_up_on_the_ticket() {
    let net = spawn_network().await;
    let app = &net.app;
    let f = fixture(&net).await;
    let [t1, t2, t3] = [&f.tickets[0], &f.tickets[1], &f.tickets[2]];

    let e1 = &f.entries[0];
    assert_eq!(e1["ticket_id"], t1["id"]);
    assert_eq!(e1["author_id"], net.advisor.user["id"]);
    assert_eq!(e1["minutes"], 30);
    assert_eq!(e1["date"], days_ago(10).to_string());
    assert_eq!(e1["note"], "Call");
    assert_eq!(e1["message_id"], Value::Null);
    assert!(e1["created_at"].is_string() && e1["updated_at"].is_string());
    let e2 = &f.entries[1];
    assert_eq!(e2["minutes"], 45);
    assert_eq!(e2["date"], today().to_string(), "a message's entry is dated today");
    assert_eq!(e2["message_id"], f.message["id"]);

    let listed = app.get(&format!("/api/v1/tickets/{}/time", id(t1)), &f.besa.token).await.expect(200).body;
    assert_eq!(listed["items"].as_array().unwrap().len(), 3);
    assert_eq!(listed["total_minutes"], 135);
    let totals = [(t1, 135), (t2, 90), (t3, 135)];
    for (ticket, minutes) in totals {
        let read = app.get(&format!("/api/v1/tickets/{}", id(ticket)), &net.advisor.token).await.expect(200).body;
        assert_eq!(read["time_spent_minutes"], minutes, "{}", read["subject"]);
        let list = app.get(&format!("/api/v1/tickets/{}/time", id(ticket)), &net.coordinator.token).await;
        assert_eq!(list.expect(200).body["total_minutes"], minutes);
    }
    let untouched = app.submit(&net.requester_a.token, "No time yet", "other").await;
    let read = app.get(&format!("/api/v1/tickets/{}", id(&untouched)), &net.advisor.token).await.expect(200).body;
    assert_eq!(read["time_spent_minutes"], 0);

    // Without a date: today (UTC).
    let dated = log(app, &untouched, &net.advisor.token, json!({"minutes": 5})).await.expect(201).body;
    assert_eq!(dated["date"], today().to_string());

    // Refusals store nothing.
    let before = app.count("SELECT count(*) AS count FROM time_entries");
    for (body, field) in [
        (json!({"minutes": 0}), "minutes"),
        (json!({"minutes": 1441}), "minutes"),
        (json!({"minutes": -5}), "minutes"),
        (json!({"minutes": "ten"}), "minutes"),
        (json!({}), "minutes"),
        (json!({"minutes": 10, "date": "2026-02-30"}), "date"),
        (json!({"minutes": 10, "date": "yesterday"}), "date"),
        (json!({"minutes": 10, "note": "n".repeat(1001)}), "note"),
    ] {
        let problem = log(app, &untouched, &net.advisor.token, body.clone()).await.problem(422);
        assert_eq!(error_fields(&problem), [field], "{body}");
    }
    for minutes in [0, 1441] {
        let problem = app
            .post(
                &format!("/api/v1/tickets/{}/messages", id(&untouched)),
                &net.advisor.token,
                json!({"body": "Too much", "time_spent_minutes": minutes}),
            )
            .await
            .problem(422);
        assert_eq!(error_fields(&problem), ["time_spent_minutes"]);
    }
    assert_eq!(app.count("SELECT count(*) AS count FROM time_entries"), before);
    assert_eq!(app.count(&format!("SELECT count(*) AS count FROM messages WHERE ticket_id = '{}'", id(&untouched))), 1);
    log(app, &untouched, &net.advisor.token, json!({"minutes": 1440})).await.expect(201);

    // Each entry is audited, for staff.
    let events = app.get(&format!("/api/v1/tickets/{}/events", id(t1)), &net.advisor.token).await.expect(200).body;
    let logged: Vec<&Value> = events.as_array().unwrap().iter().filter(|e| e["kind"] == "time_logged").collect();
    assert_eq!(logged.len(), 3, "{events:#}");
    assert!(logged.iter().all(|e| e["internal"] == true));
}

/// The time report of `period` grouped by `group_by`, as `token`.
async fn report(app: &TestApp, token: &str, period: &str, group_by: &str) -> Value {
    app.get(&format!("/api/v1/reports/time?{period}&group_by={group_by}"), token).await.expect(200).body
}

/// Checks the JSON row with `key`: minutes, hours, entries and tickets.
#[track_caller]
fn check(report: &Value, key: &str, minutes: i64, entries: i64, tickets: i64) {
    let rows = report["rows"].as_array().unwrap_or_else(|| panic!("rows: {report:#}"));
    let row = rows.iter().find(|r| r["key"] == key).unwrap_or_else(|| panic!("a row for {key}: {report:#}"));
    assert_eq!(row["minutes"], minutes, "{key}: {row}");
    assert_eq!(row["hours"].as_f64(), Some(minutes as f64 / 60.0), "{key}: {row}");
    assert_eq!(row["entries"], entries, "{key}: {row}");
    assert_eq!(row["tickets"], tickets, "{key}: {row}");
}

/// Checks the CSV row with `key` the same way.
#[track_caller]
fn check_csv(records: &[HashMap<String, String>], key: &str, minutes: i64, entries: i64, tickets: i64) {
    let row = records.iter().find(|r| r["key"] == key).unwrap_or_else(|| panic!("a row for {key}: {records:?}"));
    assert_eq!(row["minutes"], minutes.to_string(), "{key}: {row:?}");
    assert_eq!(row["hours"].parse::<f64>().unwrap(), minutes as f64 / 60.0, "{key}: {row:?}");
    assert_eq!(row["entries"], entries.to_string(), "{key}: {row:?}");
    assert_eq!(row["tickets"], tickets.to_string(), "{key}: {row:?}");
}

#[tokio::test]
async fn the_time_report_matches_the_hand_computed_fixture() {
    let net = spawn_network().await;
    let app = &net.app;
    let f = fixture(&net).await;
    let period = period();
    let (ana, besa) = (net.advisor.id.to_string(), f.besa.id.to_string());

    let by_advisor = report(app, &net.coordinator.token, &period, "advisor").await;
    assert_eq!(by_advisor["group_by"], "advisor");
    assert_eq!(by_advisor["total_minutes"], 240, "e6 is outside the period: {by_advisor:#}");
    assert_eq!(by_advisor["rows"].as_array().unwrap().len(), 2);
    check(&by_advisor, &ana, 90, 3, 2);
    check(&by_advisor, &besa, 150, 2, 2);
    let labels: HashMap<String, String> = by_advisor["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["key"].as_str().unwrap().to_owned(), r["label"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(labels[&ana], "Ana Advisor");
    assert_eq!(labels[&besa], "Besa Advisor");
    assert!(by_advisor["scope"].is_object(), "{by_advisor:#}");

    let by_tag = report(app, &net.coordinator.token, &period, "tag").await;
    assert_eq!(by_tag["total_minutes"], 240, "each entry counted once in the total");
    check(&by_tag, "ipa", 225, 4, 2);
    check(&by_tag, "audit", 90, 1, 1);

    let by_programme = report(app, &net.coordinator.token, &period, "cf.programme").await;
    assert_eq!(by_programme["total_minutes"], 240);
    check(&by_programme, "ipa", 135, 3, 1);
    check(&by_programme, "horizon", 90, 1, 1);

    let by_category = report(app, &net.coordinator.token, &period, "category").await;
    check(&by_category, "funding", 150, 4, 2);
    check(&by_category, "legal_registration", 90, 1, 1);
    assert_eq!(by_category["rows"].as_array().unwrap().len(), 2);

    let by_organization = report(app, &net.coordinator.token, &period, "organization").await;
    check(&by_organization, net.cso_a["id"].as_str().unwrap(), 225, 4, 2);
    check(&by_organization, net.cso_b["id"].as_str().unwrap(), 15, 1, 1);

    let by_office = report(app, &net.coordinator.token, &period, "office").await;
    check(&by_office, net.kosovo["id"].as_str().unwrap(), 240, 5, 3);
    assert_eq!(by_office["rows"].as_array().unwrap().len(), 1);

    // The same figures as CSV.
    for (group_by, rows) in [
        ("advisor", vec![(ana.as_str(), 90, 3, 2), (besa.as_str(), 150, 2, 2)]),
        ("tag", vec![("ipa", 225, 4, 2), ("audit", 90, 1, 1)]),
        ("cf.programme", vec![("ipa", 135, 3, 1), ("horizon", 90, 1, 1)]),
    ] {
        let csv = app
            .get(&format!("/api/v1/reports/time?{period}&group_by={group_by}&format=csv"), &net.coordinator.token)
            .await
            .expect(200);
        assert_eq!(csv.content_type, "text/csv; charset=utf-8");
        assert_eq!(csv.text.lines().next().unwrap().trim_end(), "key,label,minutes,hours,entries,tickets");
        let records = csv_records(&csv.text);
        for (key, minutes, entries, tickets) in rows {
            check_csv(&records, key, minutes, entries, tickets);
        }
    }
    let csv = app
        .get(&format!("/api/v1/reports/time?{period}&group_by=advisor&format=csv"), &net.coordinator.token)
        .await
        .expect(200);
    let records = csv_records(&csv.text);
    assert_eq!(records.len(), 2, "{}", csv.text);
    assert!(records.iter().any(|r| r["label"] == "Besa Advisor"));

    // A period that also covers e6.
    let wider =
        format!("from={}T00:00:00Z&to={}T00:00:00Z", days_ago(60), today().checked_add_days(Days::new(1)).unwrap());
    let all = app
        .get(&format!("/api/v1/reports/time?{wider}&group_by=advisor"), &net.coordinator.token)
        .await
        .expect(200)
        .body;
    assert_eq!(all["total_minutes"], 360);
    check(&all, &besa, 270, 3, 3);
    // A period with nothing in it.
    let empty = app
        .get(
            "/api/v1/reports/time?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z&group_by=advisor",
            &net.coordinator.token,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(empty["total_minutes"], 0);
    assert!(empty["rows"].as_array().unwrap().is_empty());

    // Bad requests, and who may ask.
    app.get(&format!("/api/v1/reports/time?{period}&group_by=shoe_size"), &net.coordinator.token).await.problem(422);
    app.get(&format!("/api/v1/reports/time?{period}&group_by=cf.nope"), &net.coordinator.token).await.problem(422);
    app.get(&format!("/api/v1/reports/time?{period}&group_by=advisor"), &net.requester_a.token).await.problem(403);
    let own_office =
        app.get(&format!("/api/v1/reports/time?{period}&group_by=advisor"), &net.advisor.token).await.expect(200).body;
    assert_eq!(own_office["total_minutes"], 240, "an advisor sees their own office");
    // Ticket totals in the tickets report.
    let tickets = app.get("/api/v1/reports/tickets", &net.coordinator.token).await.expect(200).body;
    let rows = report_rows(&tickets, &["rows", "tickets"]);
    let t1 = rows.iter().find(|r| r["id"] == f.tickets[0]["id"]).unwrap();
    assert_eq!(t1["time_spent_minutes"], 135);
}

#[tokio::test]
async fn authors_change_their_entries_for_seven_days_and_coordinators_always() {
    let net = spawn_network().await;
    let app = &net.app;
    let colleague = app.create_user("advisor", Some(&net.kosovo), None).await;
    let ticket = app.submit(&net.requester_a.token, "Editing time", "funding").await;
    let other_ticket = app.submit(&net.requester_a.token, "Another", "funding").await;
    let entry =
        log(app, &ticket, &net.advisor.token, json!({"minutes": 30, "note": "First call"})).await.expect(201).body;
    let path = format!("/api/v1/tickets/{}/time/{}", id(&ticket), id(&entry));

    let changed = app.patch(&path, &net.advisor.token, json!({"minutes": 40})).await.expect(200).body;
    assert_eq!(changed["minutes"], 40);
    assert_eq!(changed["note"], "First call");
    let dated = days_ago(1).to_string();
    let changed =
        app.patch(&path, &net.advisor.token, json!({"date": dated, "note": "Call and email"})).await.expect(200);
    assert_eq!(changed.body["date"], dated.as_str());
    assert_eq!(changed.body["note"], "Call and email");
    app.patch(&path, &net.advisor.token, json!({"minutes": 0})).await.problem(422);
    app.patch(&path, &colleague.token, json!({"minutes": 400})).await.problem(403);
    let by_coordinator = app.patch(&path, &net.coordinator.token, json!({"minutes": 50})).await.expect(200).body;
    assert_eq!(by_coordinator["minutes"], 50);
    assert_eq!(by_coordinator["author_id"], net.advisor.user["id"], "the author stays the author");
    let wrong_ticket = format!("/api/v1/tickets/{}/time/{}", id(&other_ticket), id(&entry));
    app.patch(&wrong_ticket, &net.advisor.token, json!({"minutes": 10})).await.problem(404);

    // Six days on, still the author's; eight days on, only coordinators and admins.
    age(app, &entry, 6);
    app.patch(&path, &net.advisor.token, json!({"minutes": 55})).await.expect(200);
    age(app, &entry, 8);
    app.patch(&path, &net.advisor.token, json!({"minutes": 60})).await.problem(403);
    delete(app, &path, &net.advisor.token).await.problem(403);
    app.patch(&path, &net.coordinator.token, json!({"minutes": 65})).await.expect(200);
    app.patch(&path, &app.admin_token, json!({"minutes": 70})).await.expect(200);
    let read = app.get(&format!("/api/v1/tickets/{}", id(&ticket)), &net.advisor.token).await.expect(200).body;
    assert_eq!(read["time_spent_minutes"], 70);
    delete(app, &path, &net.coordinator.token).await.expect(204);

    // Deleting a fresh entry: the author yes, a colleague no.
    let fresh = log(app, &ticket, &net.advisor.token, json!({"minutes": 20})).await.expect(201).body;
    let fresh_path = format!("/api/v1/tickets/{}/time/{}", id(&ticket), id(&fresh));
    delete(app, &fresh_path, &colleague.token).await.problem(403);
    delete(app, &fresh_path, &net.advisor.token).await.expect(204);
    let listed = app.get(&format!("/api/v1/tickets/{}/time", id(&ticket)), &net.advisor.token).await.expect(200).body;
    assert!(listed["items"].as_array().unwrap().is_empty());
    assert_eq!(listed["total_minutes"], 0);
    let read = app.get(&format!("/api/v1/tickets/{}", id(&ticket)), &net.advisor.token).await.expect(200).body;
    assert_eq!(read["time_spent_minutes"], 0);

    // Every change is audited.
    let events = app.get(&format!("/api/v1/tickets/{}/events", id(&ticket)), &net.advisor.token).await.expect(200).body;
    let count = |kind: &str| events.as_array().unwrap().iter().filter(|e| e["kind"] == kind).count();
    assert_eq!(count("time_logged"), 2);
    assert_eq!(count("time_changed"), 6, "{events:#}");
    assert_eq!(count("time_removed"), 2);
}

#[tokio::test]
async fn requesters_never_see_or_log_time() {
    let net = spawn_network().await;
    let app = &net.app;
    let f = fixture(&net).await;
    let t1 = &f.tickets[0];
    let me = &net.requester_a.token;
    let path = format!("/api/v1/tickets/{}", id(t1));

    let mine = app.get(&path, me).await.expect(200).body;
    assert!(mine.get("time_spent_minutes").is_none(), "{mine}");
    let listing = app.get("/api/v1/tickets", me).await.expect(200).body;
    for item in listing["items"].as_array().unwrap() {
        assert!(item.get("time_spent_minutes").is_none(), "{item}");
    }
    let messages = app.get(&format!("{path}/messages"), me).await.expect(200).body;
    let reply = messages.as_array().unwrap().iter().find(|m| m["id"] == f.message["id"]).expect("the public reply");
    assert!(reply.get("time_spent_minutes").is_none_or(Value::is_null), "{reply}");
    assert!(reply.get("time_entry_id").is_none_or(Value::is_null), "{reply}");
    let events = app.get(&format!("{path}/events"), me).await.expect(200).body;
    assert!(events.as_array().unwrap().iter().all(|e| !e["kind"].as_str().unwrap().starts_with("time_")), "{events:#}");

    app.get(&format!("{path}/time"), me).await.problem(403);
    log(app, t1, me, json!({"minutes": 10})).await.problem(403);
    let entry_path = format!("{path}/time/{}", id(&f.entries[0]));
    app.patch(&entry_path, me, json!({"minutes": 1})).await.problem(403);
    delete(app, &entry_path, me).await.problem(403);
    let before = app.count("SELECT count(*) AS count FROM time_entries");
    let answer = app.post(&format!("{path}/messages"), me, json!({"body": "Thanks", "time_spent_minutes": 5})).await;
    assert!(answer.status == 403 || answer.status == 422, "{}", answer.body);
    assert_eq!(app.count("SELECT count(*) AS count FROM time_entries"), before);
    app.get(&format!("/api/v1/reports/time?{}&group_by=advisor", period()), me).await.problem(403);
    let still = app.get(&format!("{path}/time"), &net.advisor.token).await.expect(200).body;
    assert_eq!(still["total_minutes"], 135, "nothing the requester tried changed anything");
}
