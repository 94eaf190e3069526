//! Custom fields (issue #15): definitions by admins, validation by type, required-on rules, filters, who sees
//! them, and report columns and group-by keys.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Answer, Network, TestApp, spawn_network};

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

async fn define(app: &TestApp, body: Value) -> Value {
    app.post("/api/v1/custom-fields", &app.admin_token, body).await.expect(201).body
}

/// The six fields of the tests, one of each type; `programme` is visible to requesters, the others staff only.
async fn every_type(app: &TestApp) {
    define(app, json!({"key": "grant_code", "label": {"en": "Grant code", "sq": "Kodi i grantit"}, "type": "text"}))
        .await;
    define(app, json!({"key": "budget", "label": {"en": "Budget (EUR)"}, "type": "number"})).await;
    define(app, json!({"key": "deadline", "label": {"en": "Deadline"}, "type": "date"})).await;
    define(app, json!({"key": "eu_funded", "label": {"en": "EU funded"}, "type": "boolean"})).await;
    define(
        app,
        json!({"key": "programme", "label": {"en": "Programme"}, "type": "select",
               "options": ["ipa", "horizon", "erasmus"], "visibility": "requesters"}),
    )
    .await;
    define(
        app,
        json!({"key": "topics", "label": {"en": "Topics"}, "type": "multi-select", "options": ["audit", "vat", "payroll"]}),
    )
    .await;
}

async fn set_fields(net: &Network, ticket: &Value, values: Value) -> Answer {
    net.app
        .patch(&format!("/api/v1/tickets/{}", id(ticket)), &net.advisor.token, json!({"custom_fields": values}))
        .await
}

fn ids(page: &Value) -> Vec<String> {
    let mut ids: Vec<String> = page["items"].as_array().unwrap().iter().map(id).collect();
    ids.sort();
    ids
}

fn sorted(tickets: &[&Value]) -> Vec<String> {
    let mut ids: Vec<String> = tickets.iter().map(|t| id(t)).collect();
    ids.sort();
    ids
}

/// The rows of a report: `rows` as the contract has it (or the name the implementation gives them).
fn report_rows<'a>(body: &'a Value, names: &[&str]) -> &'a Vec<Value> {
    names.iter().find_map(|name| body[*name].as_array()).unwrap_or_else(|| panic!("{names:?} in {body:#}"))
}

/// A small CSV reader (quoted fields, doubled quotes, CRLF or LF line ends).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// The CSV as one map per data row, by column name.
fn csv_records(text: &str) -> Vec<HashMap<String, String>> {
    let rows = parse_csv(text);
    let header = rows[0].clone();
    rows[1..]
        .iter()
        .map(|row| {
            assert_eq!(row.len(), header.len(), "{row:?} against {header:?}");
            header.iter().cloned().zip(row.iter().cloned()).collect()
        })
        .collect()
}

#[tokio::test]
async fn admins_define_fields_of_every_type() {
    let net = spawn_network().await;
    let app = &net.app;
    every_type(app).await;
    let programme = app.get("/api/v1/custom-fields/programme", &net.advisor.token).await.expect(200).body;
    assert_eq!(programme["key"], "programme");
    assert_eq!(programme["label"]["en"], "Programme");
    assert_eq!(programme["type"], "select");
    assert_eq!(programme["options"], json!(["ipa", "horizon", "erasmus"]));
    assert_eq!(programme["required_on"], Value::Null);
    assert_eq!(programme["visibility"], "requesters");
    assert_eq!(programme["active"], true);
    assert!(programme["created_at"].is_string() && programme["updated_at"].is_string());
    let topics = app.get("/api/v1/custom-fields/topics", &net.advisor.token).await.expect(200).body;
    assert_eq!(topics["type"], "multi_select", "multi-select is accepted and spelled multi_select");
    let grant = app.get("/api/v1/custom-fields/grant_code", &net.advisor.token).await.expect(200).body;
    assert_eq!(grant["visibility"], "staff", "staff only by default");
    assert_eq!(grant["label"]["sq"], "Kodi i grantit");

    let listed = app.get("/api/v1/custom-fields", &net.advisor.token).await.expect(200).body;
    let mut keys: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|f| f["key"].as_str().unwrap()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["budget", "deadline", "eu_funded", "grant_code", "programme", "topics"]);

    // Only admins define fields.
    let body = json!({"key": "other", "label": {"en": "Other"}, "type": "text"});
    app.post("/api/v1/custom-fields", &net.coordinator.token, body.clone()).await.problem(403);
    app.post("/api/v1/custom-fields", &net.advisor.token, body.clone()).await.problem(403);
    app.post("/api/v1/custom-fields", &net.requester_a.token, body).await.problem(403);

    // Keys are unique and shaped like identifiers.
    let taken = json!({"key": "grant_code", "label": {"en": "Again"}, "type": "text"});
    app.post("/api/v1/custom-fields", &app.admin_token, taken).await.problem(409);
    let refused = [
        (json!({"key": "Grant-Code", "label": {"en": "x"}, "type": "text"}), "key"),
        (json!({"key": "1st", "label": {"en": "x"}, "type": "text"}), "key"),
        (json!({"key": "a".repeat(51), "label": {"en": "x"}, "type": "text"}), "key"),
        (json!({"key": "colour", "label": {"en": "x"}, "type": "colour"}), "type"),
        (json!({"key": "choice", "label": {"en": "x"}, "type": "select"}), "options"),
        (json!({"key": "choice", "label": {"en": "x"}, "type": "select", "options": []}), "options"),
        (json!({"key": "choice", "label": {"en": "x"}, "type": "select", "options": ["a", "a"]}), "options"),
        (json!({"key": "choice", "label": {"en": "x"}, "type": "multi_select", "options": []}), "options"),
        (json!({"key": "words", "label": {"en": "x"}, "type": "text", "options": ["a"]}), "options"),
        (json!({"key": "words", "label": {"en": "x"}, "type": "text", "required_on": "never"}), "required_on"),
        (json!({"key": "words", "label": {"en": "x"}, "type": "text", "visibility": "public"}), "visibility"),
    ];
    for (body, field) in refused {
        let problem = app.post("/api/v1/custom-fields", &app.admin_token, body.clone()).await.problem(422);
        assert!(error_fields(&problem).iter().any(|f| f.starts_with(field)), "{body}: {problem}");
    }
    let listed = app.get("/api/v1/custom-fields", &app.admin_token).await.expect(200).body;
    assert_eq!(listed["items"].as_array().unwrap().len(), 6, "nothing refused was stored");

    // Labels change; keys and types do not; only admins change or remove.
    let relabelled = app
        .patch("/api/v1/custom-fields/programme", &app.admin_token, json!({"label": {"en": "EU programme"}}))
        .await
        .expect(200)
        .body;
    assert_eq!(relabelled["label"]["en"], "EU programme");
    app.patch("/api/v1/custom-fields/programme", &net.coordinator.token, json!({"label": {"en": "x"}}))
        .await
        .problem(403);
    let retype = app.patch("/api/v1/custom-fields/programme", &app.admin_token, json!({"type": "text"})).await;
    assert!(retype.status == 422 || retype.status == 409, "the type cannot change: {}", retype.body);
    assert_eq!(app.get("/api/v1/custom-fields/programme", &app.admin_token).await.body["type"], "select");
    delete(app, "/api/v1/custom-fields/budget", &net.coordinator.token).await.problem(403);
    delete(app, "/api/v1/custom-fields/budget", &app.admin_token).await.expect(204);
    app.get("/api/v1/custom-fields/nope", &app.admin_token).await.problem(404);
}

#[tokio::test]
async fn values_are_validated_by_type_and_audited() {
    let net = spawn_network().await;
    let app = &net.app;
    every_type(app).await;
    let ticket = app.submit(&net.requester_a.token, "Grant reporting", "funding").await;
    let path = format!("/api/v1/tickets/{}", id(&ticket));
    let valid = json!({
        "grant_code": "IPA-2026-14", "budget": 15000.5, "deadline": "2026-03-01", "eu_funded": true,
        "programme": "ipa", "topics": ["audit", "vat"],
    });
    let updated = set_fields(&net, &ticket, valid.clone()).await.expect(200).body;
    assert_eq!(updated["custom_fields"], valid);
    assert_eq!(app.get(&path, &net.advisor.token).await.expect(200).body["custom_fields"], valid);

    let wrong = [
        ("grant_code", json!(42)),
        ("grant_code", json!("")),
        ("grant_code", json!("x".repeat(1001))),
        ("grant_code", json!(["IPA"])),
        ("budget", json!("15000")),
        ("budget", json!(true)),
        ("deadline", json!("2026-02-30")),
        ("deadline", json!("01/03/2026")),
        ("deadline", json!(20260301)),
        ("eu_funded", json!("true")),
        ("eu_funded", json!(1)),
        ("programme", json!("unknown")),
        ("programme", json!(["ipa"])),
        ("topics", json!("audit")),
        ("topics", json!(["audit", "audit"])),
        ("topics", json!(["audit", "nope"])),
        ("no_such_field", json!("x")),
    ];
    for (key, value) in wrong {
        let mut one = serde_json::Map::new();
        one.insert(key.to_owned(), value.clone());
        let problem = set_fields(&net, &ticket, Value::Object(one)).await.problem(422);
        assert_eq!(error_fields(&problem), [format!("custom_fields.{key}")], "{key} = {value}: {problem}");
    }
    assert_eq!(app.get(&path, &net.advisor.token).await.body["custom_fields"], valid, "refusals changed nothing");

    // One bad value refuses the whole change.
    set_fields(&net, &ticket, json!({"grant_code": "IPA-2027-01", "budget": "lots"})).await.problem(422);
    assert_eq!(app.get(&path, &net.advisor.token).await.body["custom_fields"]["grant_code"], "IPA-2026-14");

    // null removes a value.
    let removed = set_fields(&net, &ticket, json!({"grant_code": null})).await.expect(200).body;
    assert!(removed["custom_fields"].get("grant_code").is_none_or(Value::is_null), "{removed}");
    assert_eq!(removed["custom_fields"]["budget"], 15000.5);

    // Every change is an audit event: the JSON text of the values, internal unless requesters see the field.
    let events = app.get(&format!("{path}/events"), &net.advisor.token).await.expect(200).body;
    let changes: Vec<&Value> =
        events.as_array().unwrap().iter().filter(|e| e["kind"] == "custom_field_changed").collect();
    assert_eq!(changes.len(), 7, "six set, one removed: {events:#}");
    let of = |key: &str| -> Vec<&Value> { changes.iter().copied().filter(|e| e["details"]["key"] == key).collect() };
    let grant = of("grant_code");
    assert_eq!(grant.len(), 2);
    assert_eq!(grant[0]["old_value"], Value::Null);
    assert_eq!(grant[0]["new_value"], "\"IPA-2026-14\"");
    assert_eq!(grant[0]["internal"], true);
    assert_eq!(grant[1]["old_value"], "\"IPA-2026-14\"");
    assert_eq!(grant[1]["new_value"], Value::Null);
    assert_eq!(of("eu_funded")[0]["new_value"], "true");
    let topics: Value = serde_json::from_str(of("topics")[0]["new_value"].as_str().unwrap()).unwrap();
    assert_eq!(topics, json!(["audit", "vat"]));
    assert_eq!(of("programme")[0]["internal"], false, "requesters see the programme field");
    assert_eq!(of("programme")[0]["new_value"], "\"ipa\"");

    // Requesters set requester-visible fields when they submit, and nothing else.
    let mine = app
        .post(
            "/api/v1/tickets",
            &net.requester_a.token,
            json!({"subject": "Mine", "body": "Erasmus question", "category": "funding",
                   "custom_fields": {"programme": "erasmus"}}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(mine["custom_fields"], json!({"programme": "erasmus"}));
    let problem = app
        .post(
            "/api/v1/tickets",
            &net.requester_a.token,
            json!({"subject": "Mine too", "body": "With a grant code", "category": "funding",
                   "custom_fields": {"grant_code": "IPA-1"}}),
        )
        .await
        .problem(422);
    assert_eq!(error_fields(&problem), ["custom_fields.grant_code"]);
    let problem = app
        .post(
            "/api/v1/tickets",
            &net.requester_a.token,
            json!({"subject": "Mine three", "body": "Bad option", "category": "funding",
                   "custom_fields": {"programme": "marshall_plan"}}),
        )
        .await
        .problem(422);
    assert_eq!(error_fields(&problem), ["custom_fields.programme"]);
    // Requesters never change values afterwards (PATCH of fields is for staff).
    let answer = app
        .patch(
            &format!("/api/v1/tickets/{}", id(&mine)),
            &net.requester_a.token,
            json!({"custom_fields": {"programme": "ipa"}}),
        )
        .await;
    assert!(answer.status == 403 || answer.status == 422, "{}", answer.body);
    assert_eq!(
        app.get(&format!("/api/v1/tickets/{}", id(&mine)), &net.advisor.token).await.body["custom_fields"]["programme"],
        "erasmus"
    );

    // A removed field is no longer shown nor accepted; its values stay stored.
    delete(app, "/api/v1/custom-fields/budget", &app.admin_token).await.expect(204);
    let read = app.get(&path, &net.advisor.token).await.expect(200).body;
    assert!(read["custom_fields"].get("budget").is_none(), "{read}");
    let problem = set_fields(&net, &ticket, json!({"budget": 1})).await.problem(422);
    assert_eq!(error_fields(&problem), ["custom_fields.budget"]);
    let stored = app.count(&format!(
        "SELECT count(*) AS count FROM ticket_events WHERE ticket_id = '{}' AND kind = 'custom_field_changed' \
         AND details->>'key' = 'budget'",
        id(&ticket)
    ));
    assert_eq!(stored, 1, "the history of the value is kept");
}

#[tokio::test]
async fn fields_required_on_submission_are_required_of_whoever_may_set_them() {
    let net = spawn_network().await;
    let app = &net.app;
    define(
        app,
        json!({"key": "beneficiaries", "label": {"en": "Beneficiaries"}, "type": "number",
               "required_on": "submission", "visibility": "requesters"}),
    )
    .await;
    define(
        app,
        json!({"key": "internal_code", "label": {"en": "Internal code"}, "type": "text", "required_on": "submission"}),
    )
    .await;
    let submission = |fields: Value| json!({"subject": "Request", "body": "Details", "category": "funding", "custom_fields": fields});

    // A requester must give the requester-visible field only.
    let problem = app
        .post(
            "/api/v1/tickets",
            &net.requester_a.token,
            json!({"subject": "No fields", "body": "x", "category": "funding"}),
        )
        .await
        .problem(422);
    assert_eq!(error_fields(&problem), ["custom_fields.beneficiaries"]);
    app.post("/api/v1/tickets", &net.requester_a.token, submission(json!({}))).await.problem(422);
    assert_eq!(app.count("SELECT count(*) AS count FROM tickets"), 0);
    let theirs = app.post("/api/v1/tickets", &net.requester_a.token, submission(json!({"beneficiaries": 120}))).await;
    let theirs = theirs.expect(201).body;
    assert_eq!(theirs["custom_fields"]["beneficiaries"].as_f64(), Some(120.0), "{theirs}");
    assert_eq!(theirs["custom_fields"].as_object().unwrap().len(), 1);

    // Staff submitting on someone's behalf must give all of them.
    let mut on_behalf = submission(json!({"beneficiaries": 40}));
    on_behalf["requester_id"] = net.requester_b.user["id"].clone();
    let problem = app.post("/api/v1/tickets", &net.advisor.token, on_behalf.clone()).await.problem(422);
    assert_eq!(error_fields(&problem), ["custom_fields.internal_code"]);
    on_behalf["custom_fields"]["internal_code"] = json!("K-17");
    let staff = app.post("/api/v1/tickets", &net.advisor.token, on_behalf.clone()).await.expect(201).body;
    assert_eq!(staff["custom_fields"]["beneficiaries"].as_f64(), Some(40.0), "{staff}");
    assert_eq!(staff["custom_fields"]["internal_code"], "K-17");
    assert_eq!(app.count("SELECT count(*) AS count FROM tickets"), 2);

    // A deactivated field is no longer required.
    delete(app, "/api/v1/custom-fields/internal_code", &app.admin_token).await.expect(204);
    let mut without = submission(json!({"beneficiaries": 5}));
    without["requester_id"] = net.requester_b.user["id"].clone();
    app.post("/api/v1/tickets", &net.advisor.token, without).await.expect(201);
}

#[tokio::test]
async fn fields_required_on_resolution_block_resolving_and_closing_until_given() {
    let net = spawn_network().await;
    let app = &net.app;
    define(
        app,
        json!({"key": "outcome", "label": {"en": "Outcome"}, "type": "select", "options": ["advised", "referred"],
               "required_on": "resolution"}),
    )
    .await;
    // Submission does not need it.
    let first = app.submit(&net.requester_a.token, "First", "funding").await;
    let second = app.submit(&net.requester_a.token, "Second", "funding").await;
    let path = format!("/api/v1/tickets/{}", id(&first));

    for status in ["resolved", "closed"] {
        let problem = app.patch(&path, &net.advisor.token, json!({"status": status})).await.problem(422);
        assert_eq!(error_fields(&problem), ["custom_fields.outcome"], "{status}");
    }
    let problem = app
        .post(&format!("{path}/messages"), &net.advisor.token, json!({"body": "Done, closing.", "status": "resolved"}))
        .await
        .problem(422);
    assert_eq!(error_fields(&problem), ["custom_fields.outcome"]);
    assert_eq!(app.count(&format!("SELECT count(*) AS count FROM messages WHERE ticket_id = '{}'", id(&first))), 1);
    assert_eq!(app.get(&path, &net.advisor.token).await.body["status"], "new");
    // Other moves are fine.
    app.patch(&path, &net.advisor.token, json!({"status": "pending"})).await.expect(200);

    // Given first, then resolving works.
    set_fields(&net, &first, json!({"outcome": "advised"})).await.expect(200);
    let resolved = app.patch(&path, &net.advisor.token, json!({"status": "resolved"})).await.expect(200).body;
    assert_eq!(resolved["status"], "resolved");
    // Given with the change itself, too.
    let both = app
        .patch(
            &format!("/api/v1/tickets/{}", id(&second)),
            &net.advisor.token,
            json!({"status": "resolved", "custom_fields": {"outcome": "referred"}}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(both["status"], "resolved");
    assert_eq!(both["custom_fields"]["outcome"], "referred");

    // Bulk follows the same rule per ticket.
    let third = app.submit(&net.requester_a.token, "Third", "funding").await;
    let fourth = app.submit(&net.requester_a.token, "Fourth", "funding").await;
    set_fields(&net, &fourth, json!({"outcome": "advised"})).await.expect(200);
    let bulk = app
        .post(
            "/api/v1/tickets/bulk",
            &net.advisor.token,
            json!({"ids": [id(&third), id(&fourth)], "changes": {"status": "resolved"}}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(bulk["updated"], 1, "{bulk:#}");
    assert_eq!(bulk["refused"], 1);
    assert_eq!(bulk["results"][0]["id"], third["id"]);
    assert_eq!(bulk["results"][0]["outcome"], "refused");
    assert_eq!(bulk["results"][0]["status"], 422);
    assert_eq!(bulk["results"][1]["outcome"], "updated");
    assert_eq!(app.get(&format!("/api/v1/tickets/{}", id(&third)), &net.advisor.token).await.body["status"], "new");
    assert_eq!(
        app.get(&format!("/api/v1/tickets/{}", id(&fourth)), &net.advisor.token).await.body["status"],
        "resolved"
    );
}

#[tokio::test]
async fn listings_filter_by_field_values_parsed_by_type() {
    let net = spawn_network().await;
    let app = &net.app;
    every_type(app).await;
    let mut t = Vec::new();
    for (n, values) in [
        json!({"programme": "ipa", "budget": 15000, "eu_funded": true, "topics": ["audit", "vat"],
               "grant_code": "IPA-2026-14", "deadline": "2026-03-01"}),
        json!({"programme": "ipa", "budget": 2500.5, "eu_funded": false, "topics": ["vat"]}),
        json!({"programme": "horizon", "budget": 15000, "topics": ["payroll"]}),
        json!({}),
    ]
    .into_iter()
    .enumerate()
    {
        let ticket = app.submit(&net.requester_a.token, &format!("Filtered {n}"), "funding").await;
        set_fields(&net, &ticket, values).await.expect(200);
        t.push(ticket);
    }
    let cases: Vec<(&str, Vec<&Value>)> = vec![
        ("cf.programme=ipa", vec![&t[0], &t[1]]),
        ("cf.programme=horizon", vec![&t[2]]),
        ("cf.programme=erasmus", vec![]),
        ("cf.budget=15000", vec![&t[0], &t[2]]),
        ("cf.budget=15000.0", vec![&t[0], &t[2]]),
        ("cf.budget=2500.5", vec![&t[1]]),
        ("cf.eu_funded=true", vec![&t[0]]),
        ("cf.eu_funded=false", vec![&t[1]]),
        ("cf.topics=vat", vec![&t[0], &t[1]]),
        ("cf.topics=payroll", vec![&t[2]]),
        ("cf.topics=audit", vec![&t[0]]),
        ("cf.grant_code=IPA-2026-14", vec![&t[0]]),
        ("cf.deadline=2026-03-01", vec![&t[0]]),
        ("cf.programme=ipa&cf.topics=audit", vec![&t[0]]),
        ("cf.programme=ipa&cf.budget=15000", vec![&t[0]]),
    ];
    for (query, expected) in cases {
        let page = app.get(&format!("/api/v1/tickets?{query}"), &net.advisor.token).await.expect(200).body;
        assert_eq!(ids(&page), sorted(&expected), "{query}");
    }
    for (query, field) in [
        ("cf.nope=1", "cf.nope"),
        ("cf.budget=lots", "cf.budget"),
        ("cf.eu_funded=maybe", "cf.eu_funded"),
        ("cf.deadline=tomorrow", "cf.deadline"),
    ] {
        let problem = app.get(&format!("/api/v1/tickets?{query}"), &net.advisor.token).await.problem(422);
        assert_eq!(error_fields(&problem), [field], "{query}");
    }
    // Requesters filter by the fields they see, and only by those.
    let theirs = app.get("/api/v1/tickets?cf.programme=ipa", &net.requester_a.token).await.expect(200).body;
    assert_eq!(ids(&theirs), sorted(&[&t[0], &t[1]]));
    let answer = app.get("/api/v1/tickets?cf.budget=15000", &net.requester_a.token).await;
    assert!(answer.status == 403 || answer.status == 422, "{}", answer.body);
}

#[tokio::test]
async fn staff_only_fields_stay_with_staff() {
    let net = spawn_network().await;
    let app = &net.app;
    every_type(app).await;
    let ticket = app.submit(&net.requester_a.token, "Visible or not", "funding").await;
    set_fields(&net, &ticket, json!({"programme": "horizon", "grant_code": "HZ-99", "eu_funded": true}))
        .await
        .expect(200);
    let path = format!("/api/v1/tickets/{}", id(&ticket));

    let staff = app.get(&path, &net.advisor.token).await.expect(200).body;
    assert_eq!(staff["custom_fields"], json!({"programme": "horizon", "grant_code": "HZ-99", "eu_funded": true}));
    let mine = app.get(&path, &net.requester_a.token).await.expect(200).body;
    assert_eq!(mine["custom_fields"], json!({"programme": "horizon"}));
    let listing = app.get("/api/v1/tickets", &net.requester_a.token).await.expect(200).body;
    assert_eq!(listing["items"][0]["custom_fields"], json!({"programme": "horizon"}));
    assert!(!listing.to_string().contains("HZ-99"));

    let definitions = app.get("/api/v1/custom-fields", &net.requester_a.token).await.expect(200).body;
    let keys: Vec<&str> = definitions["items"].as_array().unwrap().iter().map(|f| f["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["programme"]);
    let hidden = app.get("/api/v1/custom-fields/grant_code", &net.requester_a.token).await;
    assert!(hidden.status == 404 || hidden.status == 403, "{}", hidden.body);
    app.get("/api/v1/custom-fields/programme", &net.requester_a.token).await.expect(200);

    let events = app.get(&format!("{path}/events"), &net.requester_a.token).await.expect(200).body;
    let changes: Vec<&Value> =
        events.as_array().unwrap().iter().filter(|e| e["kind"] == "custom_field_changed").collect();
    assert_eq!(changes.len(), 1, "{events:#}");
    assert_eq!(changes[0]["details"]["key"], "programme");
    assert!(!events.to_string().contains("HZ-99"));
    let staff_events = app.get(&format!("{path}/events"), &net.advisor.token).await.expect(200).body;
    let staff_changes = staff_events.as_array().unwrap().iter().filter(|e| e["kind"] == "custom_field_changed").count();
    assert_eq!(staff_changes, 3);
}

#[tokio::test]
async fn ticket_reports_have_a_column_and_a_group_by_key_per_field() {
    let net = spawn_network().await;
    let app = &net.app;
    define(app, json!({"key": "grant_code", "label": {"en": "Grant code"}, "type": "text"})).await;
    define(
        app,
        json!({"key": "programme", "label": {"en": "Programme"}, "type": "select", "options": ["ipa", "horizon"],
               "visibility": "requesters"}),
    )
    .await;
    let mut t = Vec::new();
    for (n, values) in [
        json!({"grant_code": "IPA-2026-14", "programme": "ipa"}),
        json!({"programme": "ipa"}),
        json!({"programme": "horizon", "grant_code": "HZ 77"}),
        json!({}),
    ]
    .into_iter()
    .enumerate()
    {
        let ticket = app.submit(&net.requester_a.token, &format!("Reported {n}"), "funding").await;
        set_fields(&net, &ticket, values).await.expect(200);
        t.push(ticket);
    }
    app.patch(
        &format!("/api/v1/tickets/{}", id(&t[0])),
        &net.advisor.token,
        json!({"tags": ["ipa", "audit"], "status": "resolved"}),
    )
    .await
    .expect(200);

    // One row per ticket; a cf.<key> column per active field; tags joined with spaces.
    let csv = app.get("/api/v1/reports/tickets?format=csv", &net.coordinator.token).await.expect(200);
    assert_eq!(csv.content_type, "text/csv; charset=utf-8");
    let parsed = parse_csv(&csv.text);
    let header = &parsed[0];
    for column in
        ["id", "reference", "subject", "status", "tags", "time_spent_minutes", "cf.grant_code", "cf.programme"]
    {
        assert!(header.iter().any(|h| h == column), "{column} in {header:?}");
    }
    let records = csv_records(&csv.text);
    assert_eq!(records.len(), 4, "{}", csv.text);
    let row = |ticket: &Value| -> HashMap<String, String> {
        records
            .iter()
            .find(|r| r["id"] == id(ticket))
            .unwrap_or_else(|| panic!("{} in {}", id(ticket), csv.text))
            .clone()
    };
    assert_eq!(row(&t[0])["cf.grant_code"], "IPA-2026-14");
    assert_eq!(row(&t[0])["cf.programme"], "ipa");
    assert_eq!(row(&t[0])["tags"], "audit ipa");
    assert_eq!(row(&t[0])["status"], "resolved");
    assert_eq!(row(&t[0])["reference"], t[0]["reference"].to_string());
    assert_eq!(row(&t[1])["cf.grant_code"], "");
    assert_eq!(row(&t[1])["cf.programme"], "ipa");
    assert_eq!(row(&t[2])["cf.grant_code"], "HZ 77");
    assert_eq!(row(&t[2])["cf.programme"], "horizon");
    assert_eq!(row(&t[3])["cf.grant_code"], "");
    assert_eq!(row(&t[3])["cf.programme"], "");

    // The same as JSON.
    let json = app.get("/api/v1/reports/tickets", &net.coordinator.token).await.expect(200).body;
    let rows = report_rows(&json, &["rows", "tickets"]);
    assert_eq!(rows.len(), 4);
    let first = rows.iter().find(|r| r["id"] == t[0]["id"]).unwrap();
    assert_eq!(first["custom_fields"], json!({"grant_code": "IPA-2026-14", "programme": "ipa"}));
    assert_eq!(first["tags"], json!(["audit", "ipa"]));

    // Grouped by a field: opened and resolved per value.
    let grouped =
        app.get("/api/v1/reports/tickets?group_by=cf.programme", &net.coordinator.token).await.expect(200).body;
    let rows = report_rows(&grouped, &["rows", "groups"]);
    let by_key = |key: &str| rows.iter().find(|r| r["key"] == key).unwrap_or_else(|| panic!("{key} in {grouped:#}"));
    assert_eq!(by_key("ipa")["opened"], 2);
    assert_eq!(by_key("ipa")["resolved"], 1);
    assert_eq!(by_key("horizon")["opened"], 1);
    assert_eq!(by_key("horizon")["resolved"], 0);
    let opened: i64 = rows.iter().map(|r| r["opened"].as_i64().unwrap()).sum();
    assert!(opened == 3 || opened == 4, "at most one row for tickets without a value: {grouped:#}");
    let grouped_csv =
        app.get("/api/v1/reports/tickets?group_by=cf.programme&format=csv", &net.coordinator.token).await.expect(200);
    let records = csv_records(&grouped_csv.text);
    let ipa = records.iter().find(|r| r["key"] == "ipa").unwrap_or_else(|| panic!("{}", grouped_csv.text));
    assert_eq!(ipa["opened"], "2");
    assert_eq!(ipa["resolved"], "1");

    let problem = app.get("/api/v1/reports/tickets?group_by=cf.nope", &net.coordinator.token).await.problem(422);
    assert!(error_fields(&problem).iter().any(|f| f == "group_by" || f == "cf.nope"), "{problem}");
    app.get("/api/v1/reports/tickets", &net.requester_a.token).await.problem(403);
}
