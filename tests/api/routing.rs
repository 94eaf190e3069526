use std::collections::HashMap;

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, spawn_app};

/// An office with advisors whose profiles are set as given: (language list, categories, capacity).
struct Office {
    office: Value,
    advisors: Vec<TestUser>,
    coordinator: TestUser,
}

async fn office_with(app: &TestApp, code: &str, country: &str, profiles: &[(&[&str], &[&str], i32)]) -> Office {
    let office = app.create_office(code, country, false).await;
    let mut advisors = Vec::new();
    for (languages, categories, capacity) in profiles {
        let advisor = app.create_user("advisor", Some(&office), None).await;
        app.patch(
            &format!("/api/v1/advisors/{}", advisor.id),
            &app.admin_token,
            json!({"languages": languages, "categories": categories, "capacity": capacity}),
        )
        .await
        .expect(200);
        advisors.push(advisor);
    }
    let coordinator = app.create_user("coordinator", Some(&office), None).await;
    Office { office, advisors, coordinator }
}

async fn requester(app: &TestApp, country: &str, language: &str) -> (Value, TestUser) {
    let cso = app.create_organization(&format!("CSO {country} {language}"), country).await;
    let user = app.create_user("requester", None, Some(&cso)).await;
    app.patch(&format!("/api/v1/users/{}", user.id), &user.token, json!({"language": language})).await.expect(200);
    (cso, user)
}

async fn submit(app: &TestApp, token: &str, body: Value) -> Value {
    app.post("/api/v1/tickets", token, body).await.expect(201).body
}

fn ticket_body(subject: &str, category: &str) -> Value {
    json!({"subject": subject, "body": "Please help us.", "category": category})
}

async fn routed_event(app: &TestApp, ticket: &Value) -> Value {
    let events = app.get(&format!("/api/v1/tickets/{}/events", ticket["id"].as_str().unwrap()), &app.admin_token).await;
    events
        .expect(200)
        .body
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["kind"] == "routed")
        .cloned()
        .expect("a routed event")
}

/// Every category.
pub(crate) const ALL: &[&str] = &[
    "legal_registration",
    "funding",
    "financial_management",
    "capacity_building",
    "partnership_networking",
    "advocacy",
    "visibility",
    "other",
];

#[tokio::test]
async fn the_requesters_language_comes_first() {
    let app = spawn_app().await;
    let kosovo =
        office_with(&app, "XK", "XK", &[(&["sr", "en"], &["funding"], 10), (&["sq", "en"], &["funding"], 10)]).await;
    let (_, albanian) = requester(&app, "XK", "sq").await;
    let (_, serbian) = requester(&app, "XK", "sr-Latn").await;
    for _ in 0..3 {
        let ticket = submit(&app, &albanian.token, ticket_body("EU funding", "funding")).await;
        assert_eq!(ticket["assignee_id"], kosovo.advisors[1].user["id"], "the Albanian speaker, whatever the load");
        assert_eq!(ticket["office_id"], kosovo.office["id"]);
    }
    let ticket = submit(&app, &serbian.token, ticket_body("EU funding", "funding")).await;
    assert_eq!(ticket["assignee_id"], kosovo.advisors[0].user["id"]);
    // Nobody covering the category: the queue, even though both speak the language.
    let ticket = submit(&app, &albanian.token, ticket_body("Statute", "legal_registration")).await;
    assert!(ticket["assignee_id"].is_null());
    assert_eq!(ticket["office_id"], kosovo.office["id"]);
}

#[tokio::test]
async fn rules_are_tried_in_order_and_every_matcher_works() {
    let app = spawn_app().await;
    let regional = app.create_office("REG", "BA", true).await;
    let kosovo = office_with(&app, "XK", "XK", &[(&["sq"], ALL, 50)]).await;
    let serbia = office_with(&app, "RS", "RS", &[(&["sr"], ALL, 50), (&["sr"], ALL, 50)]).await;
    let (_, a) = requester(&app, "XK", "sq").await;
    let (cso_b, b) = requester(&app, "XK", "sq").await;
    let rule = |name: &str, position: i32, matchers: Value, target: Value| {
        let mut body = json!({"name": name, "position": position});
        for (key, value) in matchers.as_object().unwrap().iter().chain(target.as_object().unwrap()) {
            body[key] = value.clone();
        }
        body
    };
    let to_office = |office: &Value| json!({"target_office_id": office["id"]});
    let rules = [
        rule("keywords", 10, json!({"keywords": ["IPA", "civil society facility"]}), to_office(&regional)),
        rule("priority", 20, json!({"priorities": ["urgent"]}), to_office(&serbia.office)),
        rule("organisation", 30, json!({"organization_ids": [cso_b["id"]]}), to_office(&serbia.office)),
        rule(
            "country and category",
            40,
            json!({"countries": ["xk"], "categories": ["advocacy"]}),
            to_office(&serbia.office),
        ),
        rule(
            "one advisor",
            5,
            json!({"categories": ["visibility"]}),
            json!({"target_advisor_id": serbia.advisors[1].user["id"]}),
        ),
    ];
    for body in rules {
        app.post("/api/v1/routing-rules", &kosovo.coordinator.token, body).await.expect(201);
    }
    let listed = app.get("/api/v1/routing-rules", &kosovo.coordinator.token).await.expect(200).body;
    let names: Vec<_> = listed.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["one advisor", "keywords", "priority", "organisation", "country and category"]);

    let cases = [
        (
            &a,
            json!({"subject": "IPA call", "body": "x", "category": "funding", "priority": "urgent"}),
            &regional,
            Some("keywords"),
        ),
        (
            &a,
            json!({"subject": "Question", "body": "About the Civil Society Facility.", "category": "funding"}),
            &regional,
            Some("keywords"),
        ),
        (&a, json!({"subject": "Participation", "body": "x", "category": "funding"}), &kosovo.office, None),
        (
            &a,
            json!({"subject": "Now", "body": "x", "category": "funding", "priority": "urgent"}),
            &serbia.office,
            Some("priority"),
        ),
        (&b, json!({"subject": "Hi", "body": "x", "category": "funding"}), &serbia.office, Some("organisation")),
        (
            &a,
            json!({"subject": "Campaign", "body": "x", "category": "advocacy"}),
            &serbia.office,
            Some("country and category"),
        ),
        (
            &a,
            json!({"subject": "Logo", "body": "x", "category": "visibility", "priority": "urgent"}),
            &serbia.office,
            Some("one advisor"),
        ),
    ];
    for (who, body, office, rule) in cases {
        let ticket = submit(&app, &who.token, body.clone()).await;
        assert_eq!(ticket["office_id"], office["id"], "{body}");
        let event = routed_event(&app, &ticket).await;
        assert_eq!(event["details"]["rule"]["name"].as_str(), rule, "{body}");
        if rule == Some("one advisor") {
            assert_eq!(ticket["assignee_id"], serbia.advisors[1].user["id"]);
        }
    }
    // An inactive rule is skipped.
    let first = listed[0]["id"].as_str().unwrap();
    app.patch(&format!("/api/v1/routing-rules/{first}"), &app.admin_token, json!({"active": false})).await.expect(200);
    let ticket = submit(&app, &a.token, json!({"subject": "Logo", "body": "x", "category": "visibility"})).await;
    assert_eq!(ticket["office_id"], kosovo.office["id"]);
}

#[tokio::test]
async fn load_is_balanced_within_one_ticket() {
    let app = spawn_app().await;
    let office = office_with(&app, "AL", "AL", &[(&["sq"], ALL, 100), (&["sq"], ALL, 100), (&["sq"], ALL, 100)]).await;
    let (_, requester) = requester(&app, "AL", "sq").await;
    let mut counts: HashMap<String, i64> = HashMap::new();
    for n in 0..52 {
        let ticket = submit(&app, &requester.token, ticket_body(&format!("Request {n}"), "other")).await;
        *counts.entry(ticket["assignee_id"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert_eq!(counts.len(), 3);
    let (min, max) = (counts.values().min().unwrap(), counts.values().max().unwrap());
    assert!(max - min <= 1, "{counts:?}");
    let listed = app
        .get(&format!("/api/v1/advisors?office_id={}", office.office["id"].as_str().unwrap()), &app.admin_token)
        .await;
    let loads: i64 =
        listed.expect(200).body.as_array().unwrap().iter().map(|a| a["open_tickets"].as_i64().unwrap()).sum();
    assert_eq!(loads, 52);
}

#[tokio::test]
async fn capacity_holds_when_tickets_arrive_at_the_same_instant() {
    let app = spawn_app().await;
    let office = office_with(&app, "MK", "MK", &[(&["mk"], ALL, 3), (&["mk"], ALL, 2)]).await;
    let (_, requester) = requester(&app, "MK", "mk").await;
    let submissions = (0..20).map(|n| submit(&app, &requester.token, ticket_body(&format!("Burst {n}"), "funding")));
    let tickets = futures_util::future::join_all(submissions).await;
    let assigned = tickets.iter().filter(|t| !t["assignee_id"].is_null()).count();
    assert_eq!(assigned, 5, "exactly the total capacity is assigned");
    for (advisor, capacity) in office.advisors.iter().zip([3, 2]) {
        let count = app.count(&format!("SELECT count(*) AS count FROM tickets WHERE assignee_id = '{}'", advisor.id));
        assert_eq!(count, capacity);
    }
    let alerts = app.count("SELECT count(*) AS count FROM ticket_events WHERE kind = 'coordinators_alerted'");
    assert_eq!(alerts, 15);
    let alert = app.count(&format!(
        "SELECT count(*) AS count FROM ticket_events WHERE kind = 'coordinators_alerted' AND details->'coordinator_ids' ? '{}'",
        office.coordinator.id
    ));
    assert_eq!(alert, 15, "the office's coordinators are named");
}

#[tokio::test]
async fn away_and_inactive_advisors_are_skipped() {
    let app = spawn_app().await;
    let office = office_with(&app, "ME", "ME", &[(&["sr"], ALL, 10), (&["sr"], ALL, 10), (&["sr"], ALL, 10)]).await;
    let (_, requester) = requester(&app, "ME", "sr").await;
    let [away, inactive, present] = [&office.advisors[0], &office.advisors[1], &office.advisors[2]];
    app.patch(&format!("/api/v1/advisors/{}", away.id), &away.token, json!({"available": false})).await.expect(200);
    app.patch(&format!("/api/v1/users/{}", inactive.id), &app.admin_token, json!({"active": false})).await.expect(200);
    for n in 0..4 {
        let ticket = submit(&app, &requester.token, ticket_body(&format!("T{n}"), "other")).await;
        assert_eq!(ticket["assignee_id"], present.user["id"]);
    }
    let event = routed_event(
        &app,
        &json!({"id": app.get("/api/v1/tickets?limit=1", &app.admin_token).await.body["items"][0]["id"]}),
    )
    .await;
    let reasons: HashMap<String, Value> = event["details"]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["advisor_id"].as_str().unwrap().to_owned(), c["excluded_because"].clone()))
        .collect();
    assert_eq!(reasons[&away.id.to_string()], "away");
    assert_eq!(reasons[&inactive.id.to_string()], "inactive");
    assert!(reasons[&present.id.to_string()].is_null());

    // Away until a moment that has passed counts as back.
    app.patch(
        &format!("/api/v1/advisors/{}", away.id),
        &away.token,
        json!({"available": false, "away_until": "2020-01-01T00:00:00Z"}),
    )
    .await
    .expect(200);
    let ticket = submit(&app, &requester.token, ticket_body("Back?", "other")).await;
    assert_eq!(ticket["assignee_id"], away.user["id"], "the returned advisor has the lowest load");
}

#[tokio::test]
async fn without_an_eligible_advisor_the_ticket_waits_and_coordinators_are_alerted() {
    let app = spawn_app().await;
    let regional = app.create_office("REG", "BA", true).await;
    let office = office_with(&app, "RS", "RS", &[(&["sr"], &["funding"], 5)]).await;
    let (_, serbian) = requester(&app, "RS", "sr").await;
    let ticket = submit(&app, &serbian.token, ticket_body("Audit", "financial_management")).await;
    assert!(ticket["assignee_id"].is_null());
    assert_eq!(ticket["office_id"], office.office["id"]);
    let events =
        app.get(&format!("/api/v1/tickets/{}/events", ticket["id"].as_str().unwrap()), &app.admin_token).await.body;
    let alert = events.as_array().unwrap().iter().find(|e| e["kind"] == "coordinators_alerted").unwrap();
    assert_eq!(alert["details"]["coordinator_ids"], json!([office.coordinator.user["id"]]));
    assert_eq!(alert["internal"], true);

    // A country without a national office goes to the regional office.
    let (_, turkish) = requester(&app, "TR", "tr").await;
    let ticket = submit(&app, &turkish.token, ticket_body("Merhaba", "other")).await;
    assert_eq!(ticket["office_id"], regional["id"]);
    let event = routed_event(&app, &ticket).await;
    assert!(event["details"]["target"].as_str().unwrap().contains("no national office"), "{event}");
}

#[tokio::test]
async fn the_explanation_names_the_rule_the_candidates_and_the_winner() {
    let app = spawn_app().await;
    let office = office_with(
        &app,
        "XK",
        "XK",
        &[(&["sq"], &["funding"], 2), (&["sr"], &["funding"], 2), (&["sq"], &["advocacy"], 2)],
    )
    .await;
    let (_, requester) = requester(&app, "XK", "sq").await;
    app.post("/api/v1/routing-rules", &app.admin_token,
             json!({"name": "Kosovo funding", "countries": ["XK"], "categories": ["funding"], "target_office_id": office.office["id"]}))
        .await
        .expect(201);
    let ticket = submit(&app, &requester.token, ticket_body("Grant", "funding")).await;
    let event = routed_event(&app, &ticket).await;
    assert_eq!(event["internal"], true);
    assert!(event["actor_id"].is_null(), "routing acts as the system");
    assert_eq!(event["new_value"], office.advisors[0].user["id"]);
    let details = &event["details"];
    assert_eq!(details["rule"]["name"], "Kosovo funding");
    assert_eq!(details["office_code"], "XK");
    assert_eq!(details["assignee_id"], office.advisors[0].user["id"]);
    let candidates = details["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 3);
    assert_eq!(candidates[0]["advisor_id"], office.advisors[0].user["id"]);
    assert_eq!(candidates[0]["speaks_language"], true);
    assert_eq!(candidates[1]["advisor_id"], office.advisors[1].user["id"], "eligible but does not speak sq");
    assert_eq!(candidates[2]["excluded_because"], "does not cover funding");
    assert!(details["outcome"].as_str().unwrap().contains("speaks sq"), "{details}");

    let seen_by_requester =
        app.get(&format!("/api/v1/tickets/{}/events", ticket["id"].as_str().unwrap()), &requester.token).await;
    assert!(seen_by_requester.body.as_array().unwrap().iter().all(|e| e["kind"] != "routed"));
}

#[tokio::test]
async fn deactivating_or_setting_away_an_advisor_reroutes_their_open_tickets() {
    let app = spawn_app().await;
    let office = office_with(&app, "AL", "AL", &[(&["sq"], ALL, 20), (&["en"], ALL, 20)]).await;
    let (_, requester) = requester(&app, "AL", "sq").await;
    let leaving = &office.advisors[0];
    let staying = &office.advisors[1];
    let mut open = Vec::new();
    for n in 0..3 {
        open.push(submit(&app, &requester.token, ticket_body(&format!("Open {n}"), "other")).await);
    }
    let done = submit(&app, &requester.token, ticket_body("Done", "other")).await;
    let done_path = format!("/api/v1/tickets/{}", done["id"].as_str().unwrap());
    app.patch(&done_path, &leaving.token, json!({"status": "resolved"})).await.expect(200);
    assert!(open.iter().all(|t| t["assignee_id"] == leaving.user["id"]));

    app.patch(&format!("/api/v1/users/{}", leaving.id), &app.admin_token, json!({"active": false})).await.expect(200);
    for ticket in &open {
        let path = format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap());
        let now = app.get(&path, &app.admin_token).await.expect(200).body;
        assert_eq!(now["assignee_id"], staying.user["id"]);
        let kinds: Vec<String> = app
            .get(&format!("{path}/events"), &app.admin_token)
            .await
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(kinds[kinds.len() - 2..], ["routed".to_owned(), "assignee_changed".to_owned()]);
    }
    assert_eq!(
        app.get(&done_path, &app.admin_token).await.body["assignee_id"],
        leaving.user["id"],
        "finished work stays"
    );

    // Setting the remaining advisor away returns their tickets to the office queue.
    app.patch(&format!("/api/v1/advisors/{}", staying.id), &staying.token, json!({"available": false}))
        .await
        .expect(200);
    let queue = app.get("/api/v1/tickets?assignee=unassigned&status=new", &app.admin_token).await.expect(200).body;
    assert_eq!(queue["items"].as_array().unwrap().len(), 3);
    let alerts = app.count("SELECT count(*) AS count FROM ticket_events WHERE kind = 'coordinators_alerted'");
    assert_eq!(alerts, 3);
}

#[tokio::test]
async fn staff_route_a_ticket_again_on_demand() {
    let app = spawn_app().await;
    let office = office_with(&app, "TR", "TR", &[(&["tr"], ALL, 10)]).await;
    let advisor = &office.advisors[0];
    app.patch(&format!("/api/v1/advisors/{}", advisor.id), &advisor.token, json!({"available": false}))
        .await
        .expect(200);
    let (_, requester) = requester(&app, "TR", "tr").await;
    let ticket = submit(&app, &requester.token, ticket_body("Kapasite", "capacity_building")).await;
    assert!(ticket["assignee_id"].is_null());
    let path = format!("/api/v1/tickets/{}/route", ticket["reference"]);

    app.post(&path, &requester.token, json!({})).await.problem(403);
    app.patch(&format!("/api/v1/advisors/{}", advisor.id), &advisor.token, json!({"available": true}))
        .await
        .expect(200);
    let routed =
        app.send(app.request(reqwest::Method::POST, &path, Some(&office.coordinator.token))).await.expect(200).body;
    assert_eq!(routed["assignee_id"], advisor.user["id"]);
    let event = routed_event(&app, &ticket).await;
    assert_eq!(event["actor_id"], office.coordinator.user["id"]);

    app.patch(
        &format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap()),
        &advisor.token,
        json!({"status": "closed"}),
    )
    .await
    .expect(200);
    app.send(app.request(reqwest::Method::POST, &path, Some(&office.coordinator.token))).await.problem(409);
}

#[tokio::test]
async fn bad_rules_are_refused_with_the_field_named() {
    let app = spawn_app().await;
    let office = office_with(&app, "BA", "BA", &[(&["bs"], ALL, 10)]).await;
    let missing = "01900000-0000-7000-8000-000000000000";
    let cases = [
        (json!({"name": "x", "categories": ["gardening"], "target_office_id": office.office["id"]}), "categories[0]"),
        (json!({"name": "x", "target_office_id": office.office["id"]}), "countries"),
        (json!({"name": "x", "countries": [], "keywords": [], "target_office_id": office.office["id"]}), "countries"),
        (json!({"name": "x", "countries": ["BA"], "target_office_id": missing}), "target_office_id"),
        (json!({"name": "x", "countries": ["BA"]}), "target_office_id"),
        (
            json!({"name": "x", "countries": ["BA"], "target_office_id": office.office["id"], "target_advisor_id": office.advisors[0].user["id"]}),
            "target_office_id",
        ),
        (
            json!({"name": "x", "countries": ["BA"], "target_advisor_id": office.coordinator.user["id"]}),
            "target_advisor_id",
        ),
        (json!({"name": "x", "countries": ["Bosnia"], "target_office_id": office.office["id"]}), "countries[0]"),
        (json!({"name": "x", "keywords": [" "], "target_office_id": office.office["id"]}), "keywords[0]"),
        (
            json!({"name": "x", "organization_ids": [missing], "target_office_id": office.office["id"]}),
            "organization_ids[0]",
        ),
        (json!({"countries": ["BA"], "target_office_id": office.office["id"]}), "name"),
    ];
    for (body, field) in cases {
        let problem = app.post("/api/v1/routing-rules", &app.admin_token, body.clone()).await.problem(422);
        let named = problem["errors"].as_array().unwrap().iter().any(|e| e["field"] == field);
        assert!(named, "{field} for {body}: {problem}");
    }
    let good = json!({"name": "ok", "countries": ["BA"], "target_office_id": office.office["id"]});
    app.post("/api/v1/routing-rules", &office.advisors[0].token, good.clone()).await.problem(403);
    let rule = app.post("/api/v1/routing-rules", &app.admin_token, good).await.expect(201).body;
    let path = format!("/api/v1/routing-rules/{}", rule["id"].as_str().unwrap());
    app.patch(&path, &app.admin_token, json!({"countries": []})).await.problem(422);
    assert_eq!(app.count("SELECT count(*) AS count FROM routing_rules"), 1);
    app.send(app.request(reqwest::Method::DELETE, &path, Some(&app.admin_token))).await.expect(204);
    app.get(&path, &app.admin_token).await.problem(404);
}

#[tokio::test]
async fn advisors_manage_their_availability_and_managers_the_rest() {
    let app = spawn_app().await;
    let office = office_with(&app, "XK", "XK", &[(&["sq"], ALL, 10)]).await;
    let advisor = &office.advisors[0];
    let path = format!("/api/v1/advisors/{}", advisor.id);
    let away =
        app.patch(&path, &advisor.token, json!({"available": false, "away_until": "2099-01-01T08:00:00Z"})).await;
    let away = away.expect(200).body;
    assert_eq!(away["available_now"], false);
    let back = app.patch(&path, &advisor.token, json!({"available": true})).await.expect(200).body;
    assert!(back["away_until"].is_null());
    app.patch(&path, &advisor.token, json!({"capacity": 99})).await.problem(403);
    let colleague = app.create_user("advisor", Some(&office.office), None).await;
    app.patch(&path, &colleague.token, json!({"available": false})).await.problem(403);
    let changed =
        app.patch(&path, &office.coordinator.token, json!({"capacity": 4, "languages": ["sq-AL", "SR", "sq"]})).await;
    let changed = changed.expect(200).body;
    assert_eq!(changed["capacity"], 4);
    assert_eq!(changed["languages"], json!(["sq", "sr"]));
    app.patch(&path, &office.coordinator.token, json!({"capacity": 0})).await.problem(422);
    app.patch(&path, &office.coordinator.token, json!({"languages": ["klingon!"]})).await.problem(422);
    app.get(&format!("/api/v1/advisors/{}", office.coordinator.id), &app.admin_token).await.problem(404);
    let (_, requester) = requester(&app, "XK", "sq").await;
    app.get("/api/v1/advisors", &requester.token).await.problem(403);
    // A new advisor starts with a profile covering everything in their own language.
    let fresh = app.get(&format!("/api/v1/advisors/{}", colleague.id), &app.admin_token).await.expect(200).body;
    assert_eq!(fresh["categories"].as_array().unwrap().len(), 8);
    assert_eq!(fresh["languages"], json!(["sq"]));
}

#[tokio::test]
async fn demo_seed_is_idempotent() {
    let app = spawn_app().await;
    let seed = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_civicdesk"))
            .args(["seed", "--demo"])
            .env("DATABASE_URL", &app.database_url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("the binary runs")
    };
    let first = seed();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let counts = || {
        ["offices", "users", "organizations", "routing_rules", "advisor_profiles"]
            .map(|table| app.count(&format!("SELECT count(*) AS count FROM {table}")))
    };
    let after_first = counts();
    assert_eq!(after_first[0], 8, "regional + AL BA XK ME MK RS TR");
    assert!(seed().status.success());
    assert_eq!(counts(), after_first);
    let zones = app.count(
        "SELECT count(*) AS count FROM offices WHERE (code, time_zone) IN \
        (('AL','Europe/Tirane'),('BA','Europe/Sarajevo'),('XK','Europe/Belgrade'),('ME','Europe/Podgorica'),\
         ('MK','Europe/Skopje'),('RS','Europe/Belgrade'),('TR','Europe/Istanbul'))",
    );
    assert_eq!(zones, 7);

    // The printed tokens work, and a demo request from Kosovo about funding reaches a Kosovo funding advisor.
    let output = String::from_utf8(first.stdout).unwrap();
    let arta = output.lines().find(|l| l.contains("arta@")).unwrap().split_whitespace().last().unwrap().to_owned();
    let ticket = submit(&app, &arta, ticket_body("EU grant budget", "funding")).await;
    let advisor =
        app.get(&format!("/api/v1/advisors/{}", ticket["assignee_id"].as_str().unwrap()), &app.admin_token).await.body;
    assert!(advisor["categories"].as_array().unwrap().contains(&json!("funding")));
    assert!(advisor["languages"].as_array().unwrap().contains(&json!("sq")));
}
