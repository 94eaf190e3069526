use reqwest::Method;
use serde_json::json;

use crate::helpers::spawn_network;

#[tokio::test]
async fn malformed_or_mistyped_tickets_are_refused_and_nothing_is_written() {
    let net = spawn_network().await;
    let app = &net.app;
    let token = &net.requester_a.token;
    let raw = |body: &'static str| {
        app.request(Method::POST, "/api/v1/tickets", Some(token)).header("content-type", "application/json").body(body)
    };
    app.send(raw("{\"subject\": ")).await.problem(400);
    app.send(raw("")).await.problem(400);
    app.send(raw("[1, 2]")).await.problem(422);
    app.send(raw("{\"subject\":\"a\",\"body\":\"b\",\"category\":\"other\"} trailing")).await.problem(400);

    let long_subject = "s".repeat(201);
    let long_body = "b".repeat(50_001);
    let cases = [
        (json!({"subject": 42, "body": "b", "category": "other"}), "subject"),
        (json!({"subject": "a", "body": "b", "category": "gardening"}), "category"),
        (json!({"subject": "a", "body": "b", "category": "other", "priority": "asap"}), "priority"),
        (json!({"subject": "a", "body": "b"}), "category"),
        (json!({"subject": "   ", "body": "b", "category": "other"}), "subject"),
        (json!({"subject": "a", "body": "", "category": "other"}), "body"),
        (json!({"subject": long_subject, "body": "b", "category": "other"}), "subject"),
        (json!({"subject": "a", "body": long_body, "category": "other"}), "body"),
        (json!({"subject": "two\nlines", "body": "b", "category": "other"}), "subject"),
        (json!({"subject": "a", "body": "b", "category": "other", "requester_id": "nope"}), "requester_id"),
        (json!({"subject": "a", "body": "b", "category": "other", "colour": "red"}), "body"),
    ];
    for (body, field) in cases {
        let problem = app.post("/api/v1/tickets", token, body.clone()).await.problem(422);
        let named = problem["errors"].as_array().unwrap().iter().any(|e| e["field"] == field)
            || problem["detail"].as_str().unwrap().contains(field);
        assert!(named, "{field} in {problem} for {body}");
    }
    let huge = format!("{{\"subject\":\"a\",\"category\":\"other\",\"body\":\"{}\"}}", "x".repeat(300 * 1024));
    app.send(
        app.request(Method::POST, "/api/v1/tickets", Some(token)).header("content-type", "application/json").body(huge),
    )
    .await
    .problem(413);
    app.send(app.request(Method::POST, "/api/v1/tickets", Some(token)).header("content-type", "text/plain").body("hi"))
        .await
        .problem(415);
    assert_eq!(app.count("SELECT count(*) AS count FROM tickets"), 0);
    assert_eq!(app.count("SELECT count(*) AS count FROM messages"), 0);
}

#[tokio::test]
async fn bad_paths_and_query_strings_are_client_errors() {
    let net = spawn_network().await;
    let app = &net.app;
    let token = &app.admin_token;
    app.get("/api/v1/users/not-a-uuid", token).await.problem(404);
    app.get("/api/v1/offices/123", token).await.problem(400);
    app.get("/api/v1/organizations/01900000-0000-7000-8000-000000000000", token).await.problem(404);
    app.get("/api/v1/tickets/01900000-0000-7000-8000-000000000000", token).await.problem(404);
    for query in [
        "limit=0",
        "limit=101",
        "limit=ten",
        "status=archived",
        "priority=asap",
        "category=x",
        "country=Z1",
        "assignee=someone",
        "office_id=1",
        "organization_id=x",
        "created_after=yesterday",
        "sort=subject",
        "q=%00",
    ] {
        let problem = app.get(&format!("/api/v1/tickets?{query}"), token).await.problem(422);
        assert!(problem["errors"][0]["field"].is_string(), "{query}: {problem}");
    }
    for cursor in ["garbage", "eyJmb28iOjF9", &"A".repeat(600)] {
        app.get(&format!("/api/v1/tickets?cursor={cursor}"), token).await.problem(400);
    }
    app.get("/api/v1/users?active=maybe", token).await.problem(422);
    app.get("/api/v1/users?role=boss", token).await.problem(422);
    app.get("/api/v1/organizations?country=Atlantis", token).await.problem(422);
}

#[tokio::test]
async fn patches_with_wrong_values_change_nothing() {
    let net = spawn_network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Keep me", "other").await;
    let path = format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap());
    let events_before = app.count("SELECT count(*) AS count FROM ticket_events");
    app.patch(&path, &net.advisor.token, json!({"status": "archived"})).await.problem(422);
    app.patch(&path, &net.advisor.token, json!({"priority": "urgent", "assignee_id": "not-a-uuid"})).await.problem(422);
    app.patch(
        &path,
        &net.advisor.token,
        json!({"priority": "urgent", "office_id": "01900000-0000-7000-8000-000000000000"}),
    )
    .await
    .problem(422);
    let unchanged = app.get(&path, &net.advisor.token).await.expect(200).body;
    assert_eq!(unchanged["priority"], "normal");
    assert_eq!(app.count("SELECT count(*) AS count FROM ticket_events"), events_before);
    let office = format!("/api/v1/offices/{}", net.kosovo["id"].as_str().unwrap());
    app.patch(&office, &app.admin_token, json!({"time_zone": "Mars/Base"})).await.problem(422);
    app.patch(&office, &app.admin_token, json!({"is_regional": "yes"})).await.problem(422);
}
