use serde_json::{Value, json};

use crate::helpers::{Network, spawn_app, spawn_network};

fn id(value: &Value) -> &str {
    value["id"].as_str().unwrap()
}

#[tokio::test]
async fn a_requester_submits_a_ticket_for_their_organization() {
    let net = spawn_network().await;
    let app = &net.app;
    let body = json!({"subject": "  EU grant budget  ", "body": "How do we fill in the budget annex?",
                      "category": "funding", "priority": "high"});
    let answer = app.post("/api/v1/tickets", &net.requester_a.token, body).await.expect(201);
    let ticket = answer.body;
    assert_eq!(answer.headers["location"], format!("/api/v1/tickets/{}", id(&ticket)).as_str());
    assert_eq!(ticket["subject"], "EU grant budget");
    assert_eq!(ticket["status"], "new");
    assert_eq!(ticket["priority"], "high");
    assert_eq!(ticket["category"], "funding");
    assert_eq!(ticket["country"], "XK");
    assert_eq!(ticket["organization_id"], net.cso_a["id"]);
    assert_eq!(ticket["requester_id"], net.requester_a.user["id"]);
    assert_eq!(ticket["office_id"], net.kosovo["id"], "the national office of the country takes it");
    assert_eq!(ticket["channel"], "api");
    assert_eq!(ticket["assignee_id"], net.advisor.user["id"], "routed to the office's only advisor");
    assert!(ticket["reference"].as_i64().unwrap() >= 1000);

    // The body is the first message, and the audit trail starts with "created", all in the database.
    let messages = app.get(&format!("/api/v1/tickets/{}/messages", id(&ticket)), &net.requester_a.token).await;
    let messages = messages.expect(200).body;
    assert_eq!(messages[0]["body"], "How do we fill in the budget annex?");
    let events = app.get(&format!("/api/v1/tickets/{}/events", id(&ticket)), &net.advisor.token).await.expect(200).body;
    assert_eq!(events[0]["kind"], "created");
    assert_eq!(events[0]["actor_id"], net.requester_a.user["id"]);
    assert_eq!(events[1]["kind"], "routed");
    assert_eq!(app.count("SELECT count(*) AS count FROM ticket_events"), 2);
}

#[tokio::test]
async fn a_ticket_reads_by_uuid_or_reference() {
    let net = spawn_network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Registration", "legal_registration").await;
    let reference = ticket["reference"].as_i64().unwrap();
    for path in [
        format!("/api/v1/tickets/{}", id(&ticket)),
        format!("/api/v1/tickets/{reference}"),
        format!("/api/v1/tickets/%23{reference}"),
    ] {
        let read = app.get(&path, &net.requester_a.token).await.expect(200).body;
        assert_eq!(read["id"], ticket["id"], "{path}");
    }
    app.get("/api/v1/tickets/999999", &net.requester_a.token).await.problem(404);
    app.get("/api/v1/tickets/not-a-ticket", &net.requester_a.token).await.problem(404);
}

#[tokio::test]
async fn countries_without_an_office_go_to_the_regional_office() {
    let net = spawn_network().await;
    let app = &net.app;
    let turkish = app.create_organization("Istanbul Initiative", "TR").await;
    let requester = app.create_user("requester", None, Some(&turkish)).await;
    let ticket = app.submit(&requester.token, "Visibility", "visibility").await;
    assert_eq!(ticket["office_id"], net.regional["id"]);
    assert_eq!(ticket["country"], "TR");
}

#[tokio::test]
async fn without_any_office_submission_is_refused_and_nothing_is_written() {
    let app = spawn_app().await;
    let cso = app.create_organization("Lonely", "AL").await;
    let requester = app.create_user("requester", None, Some(&cso)).await;
    let body = json!({"subject": "Hello", "body": "Anyone?", "category": "other"});
    let problem = app.post("/api/v1/tickets", &requester.token, body).await.problem(409);
    assert!(problem["detail"].as_str().unwrap().contains("office"));
    assert_eq!(app.count("SELECT count(*) AS count FROM tickets"), 0);
    assert_eq!(app.count("SELECT count(*) AS count FROM messages"), 0);
}

#[tokio::test]
async fn staff_submit_on_behalf_of_a_requester() {
    let net = spawn_network().await;
    let app = &net.app;
    let body = json!({"subject": "Phoned in", "body": "They called about an audit.", "category": "financial_management",
                      "requester_id": net.requester_b.user["id"]});
    let ticket = app.post("/api/v1/tickets", &net.advisor.token, body).await.expect(201).body;
    assert_eq!(ticket["requester_id"], net.requester_b.user["id"]);
    assert_eq!(ticket["organization_id"], net.cso_b["id"]);
    app.get(&format!("/api/v1/tickets/{}", id(&ticket)), &net.requester_b.token).await.expect(200);

    let without = json!({"subject": "x", "body": "y", "category": "other"});
    let problem = app.post("/api/v1/tickets", &net.advisor.token, without).await.problem(422);
    assert_eq!(problem["errors"][0]["field"], "requester_id");
    let staff_as_requester =
        json!({"subject": "x", "body": "y", "category": "other", "requester_id": net.advisor.user["id"]});
    app.post("/api/v1/tickets", &net.advisor.token, staff_as_requester).await.problem(422);
    let for_someone_else =
        json!({"subject": "x", "body": "y", "category": "other", "requester_id": net.requester_b.user["id"]});
    app.post("/api/v1/tickets", &net.requester_a.token, for_someone_else).await.problem(422);
}

async fn submit_with_key(net: &Network, key: &str, subject: &str) -> crate::helpers::Answer {
    let app = &net.app;
    let body = json!({"subject": subject, "body": "Same body", "category": "advocacy"});
    app.send(
        app.request(reqwest::Method::POST, "/api/v1/tickets", Some(&net.requester_a.token))
            .header("Idempotency-Key", key)
            .json(&body),
    )
    .await
}

#[tokio::test]
async fn an_idempotency_key_makes_retries_safe() {
    let net = spawn_network().await;
    let app = &net.app;
    let first = submit_with_key(&net, "retry-1", "Campaign").await.expect(201).body;
    let replay = submit_with_key(&net, "retry-1", "Campaign").await.expect(200);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.body["id"], first["id"]);
    assert_eq!(app.count("SELECT count(*) AS count FROM tickets"), 1);

    let problem = submit_with_key(&net, "retry-1", "Another campaign").await.problem(422);
    assert_eq!(problem["errors"][0]["field"], "Idempotency-Key");
    // Keys belong to their caller: another requester's identical key is a new request.
    let other = app
        .send(
            app.request(reqwest::Method::POST, "/api/v1/tickets", Some(&net.requester_b.token))
                .header("Idempotency-Key", "retry-1")
                .json(&json!({"subject": "Campaign", "body": "Same body", "category": "advocacy"})),
        )
        .await
        .expect(201);
    assert_ne!(other.body["id"], first["id"]);
    assert_eq!(app.count("SELECT count(*) AS count FROM tickets"), 2);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_create_one_ticket() {
    let net = spawn_network().await;
    let attempts = (0..8).map(|_| submit_with_key(&net, "burst", "Burst"));
    let answers = futures_util::future::join_all(attempts).await;
    let ids: std::collections::HashSet<_> = answers
        .iter()
        .map(|a| {
            assert!(a.status == 201 || a.status == 200, "{:?}", a.body);
            a.body["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(answers.iter().filter(|a| a.status == 201).count(), 1);
    assert_eq!(net.app.count("SELECT count(*) AS count FROM tickets"), 1);
}

#[tokio::test]
async fn listing_filters_combine() {
    let net = spawn_network().await;
    let app = &net.app;
    // With the advisor away, routing leaves every ticket in its office queue.
    let away = json!({"available": false});
    app.patch(&format!("/api/v1/advisors/{}", net.advisor.id), &net.advisor.token, away).await.expect(200);
    let funding = app.submit(&net.requester_a.token, "Grant application", "funding").await;
    let legal = app.submit(&net.requester_a.token, "Statute change", "legal_registration").await;
    let other = app.submit(&net.requester_b.token, "Press release", "visibility").await;
    let albanian = app.create_organization("Tirana CSO", "AL").await;
    let al_requester = app.create_user("requester", None, Some(&albanian)).await;
    let in_albania = app.submit(&al_requester.token, "Networking event", "partnership_networking").await;
    app.patch(
        &format!("/api/v1/tickets/{}", id(&legal)),
        &net.advisor.token,
        json!({"status": "open", "priority": "urgent", "assignee_id": net.advisor.user["id"]}),
    )
    .await
    .expect(200);

    let ids = |page: &Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect()
    };
    let admin = &app.admin_token;
    let cases: Vec<(String, Vec<&Value>)> = vec![
        ("status=open".into(), vec![&legal]),
        ("status=new,open&sort=created_at".into(), vec![&funding, &legal, &other, &in_albania]),
        ("priority=urgent".into(), vec![&legal]),
        ("category=funding,visibility&sort=created_at".into(), vec![&funding, &other]),
        ("country=al".into(), vec![&in_albania]),
        (format!("office_id={}", id(&net.regional)), vec![&in_albania]),
        (format!("organization_id={}&sort=created_at", id(&net.cso_a)), vec![&funding, &legal]),
        (format!("assignee={}", net.advisor.id), vec![&legal]),
        ("assignee=unassigned&country=XK&sort=created_at".into(), vec![&funding, &other]),
        ("q=grant".into(), vec![&funding]),
        ("q=press%20release".into(), vec![&other]),
        ("q=%22budget%22".into(), vec![]),
    ];
    for (query, expected) in cases {
        let page = app.get(&format!("/api/v1/tickets?{query}"), admin).await.expect(200).body;
        let expected: Vec<String> = expected.iter().map(|t| id(t).to_owned()).collect();
        assert_eq!(ids(&page), expected, "{query}");
    }
    let mine = app.get("/api/v1/tickets?assignee=me", &net.advisor.token).await.expect(200).body;
    assert_eq!(ids(&mine), vec![id(&legal).to_owned()]);

    let created = legal["created_at"].as_str().unwrap();
    let after = app
        .get(&format!("/api/v1/tickets?created_after={}&sort=created_at", created.replace('+', "%2B")), admin)
        .await
        .expect(200)
        .body;
    assert_eq!(ids(&after), vec![id(&legal).to_owned(), id(&other).to_owned(), id(&in_albania).to_owned()]);
    let before = app.get(&format!("/api/v1/tickets?created_before={created}"), admin).await.expect(200).body;
    assert_eq!(ids(&before), vec![id(&funding).to_owned()]);

    let by_update = app.get("/api/v1/tickets?sort=-updated_at&limit=1", admin).await.expect(200).body;
    assert_eq!(ids(&by_update), vec![id(&legal).to_owned()], "the last changed ticket comes first");
}

#[tokio::test]
async fn search_covers_public_replies_but_never_internal_notes() {
    let net = spawn_network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Question", "other").await;
    let path = format!("/api/v1/tickets/{}/messages", id(&ticket));
    app.post(&path, &net.advisor.token, json!({"body": "Please send the statute"})).await.expect(201);
    app.post(&path, &net.advisor.token, json!({"body": "suspicious accounting", "internal": true})).await.expect(201);
    let found = app.get("/api/v1/tickets?q=statute", &net.requester_a.token).await.expect(200).body;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    let hidden = app.get("/api/v1/tickets?q=suspicious", &net.requester_a.token).await.expect(200).body;
    assert!(hidden["items"].as_array().unwrap().is_empty());
    let hidden_for_staff = app.get("/api/v1/tickets?q=suspicious", &app.admin_token).await.expect(200).body;
    assert!(hidden_for_staff["items"].as_array().unwrap().is_empty());
}
