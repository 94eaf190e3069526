use serde_json::json;

use crate::helpers::{spawn_app, spawn_network};

#[tokio::test]
async fn admins_create_list_and_read_users() {
    let net = spawn_network().await;
    let app = &net.app;
    let created = app
        .post(
            "/api/v1/users",
            &app.admin_token,
            json!({"name": "Ema Krasniqi", "email": "ema@Example.ORG", "role": "advisor",
                   "language": "SQ", "office_id": net.kosovo["id"]}),
        )
        .await
        .expect(201);
    let location = created.headers["location"].to_str().unwrap().to_owned();
    assert_eq!(created.body["email"], "ema@example.org");
    assert_eq!(created.body["language"], "sq");
    assert_eq!(created.body["active"], true);
    let read = app.get(&location, &net.coordinator.token).await.expect(200).body;
    assert_eq!(read["name"], "Ema Krasniqi");

    let advisors = app
        .get(&format!("/api/v1/users?role=advisor&office_id={}", net.kosovo["id"].as_str().unwrap()), &app.admin_token)
        .await
        .expect(200)
        .body;
    assert_eq!(advisors["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn only_admins_create_users_and_only_staff_list_them() {
    let net = spawn_network().await;
    let app = &net.app;
    let body = json!({"name": "X", "email": "x@example.org", "role": "admin"});
    app.post("/api/v1/users", &net.coordinator.token, body.clone()).await.problem(403);
    app.post("/api/v1/users", &net.requester_a.token, body).await.problem(403);
    app.get("/api/v1/users", &net.requester_a.token).await.problem(403);
    app.get("/api/v1/users", &net.advisor.token).await.expect(200);
    // A requester sees themselves only.
    app.get(&format!("/api/v1/users/{}", net.requester_a.id), &net.requester_a.token).await.expect(200);
    app.get(&format!("/api/v1/users/{}", net.advisor.id), &net.requester_a.token).await.problem(404);
}

#[tokio::test]
async fn email_addresses_are_unique_whatever_their_case() {
    let app = spawn_app().await;
    let problem = app
        .post(
            "/api/v1/users",
            &app.admin_token,
            json!({"name": "Other", "email": "ADMIN@example.org", "role": "admin"}),
        )
        .await
        .problem(409);
    assert!(problem["detail"].as_str().unwrap().contains("email"));
}

#[tokio::test]
async fn roles_need_the_right_affiliation() {
    let net = spawn_network().await;
    let app = &net.app;
    let cases = [
        (json!({"role": "requester"}), "organization_id"),
        (json!({"role": "advisor"}), "office_id"),
        (
            json!({"role": "coordinator", "office_id": net.kosovo["id"], "organization_id": net.cso_a["id"]}),
            "organization_id",
        ),
        (json!({"role": "requester", "organization_id": net.cso_a["id"], "office_id": net.kosovo["id"]}), "office_id"),
        (json!({"role": "advisor", "office_id": "01900000-0000-7000-8000-000000000000"}), "office_id"),
    ];
    for (mut body, field) in cases {
        body["name"] = json!("Someone");
        body["email"] = json!("someone@example.org");
        let problem = app.post("/api/v1/users", &app.admin_token, body.clone()).await.problem(422);
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    assert_eq!(app.count("SELECT count(*) AS count FROM users WHERE email = 'someone@example.org'"), 0);
}

#[tokio::test]
async fn users_change_their_own_name_and_language_but_not_their_role() {
    let net = spawn_network().await;
    let app = &net.app;
    let path = format!("/api/v1/users/{}", net.advisor.id);
    let changed =
        app.patch(&path, &net.advisor.token, json!({"name": "Besa", "language": "sr-latn"})).await.expect(200);
    assert_eq!(changed.body["name"], "Besa");
    assert_eq!(changed.body["language"], "sr-Latn");
    app.patch(&path, &net.advisor.token, json!({"role": "admin"})).await.problem(403);
    app.patch(&path, &net.requester_a.token, json!({"name": "Hijack"})).await.problem(403);
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_removed() {
    let app = spawn_app().await;
    let me = app.get("/api/v1/users/me", &app.admin_token).await.expect(200).body;
    let path = format!("/api/v1/users/{}", me["id"].as_str().unwrap());
    app.patch(&path, &app.admin_token, json!({"active": false})).await.problem(409);
    app.patch(&path, &app.admin_token, json!({"role": "advisor"})).await.problem(422);
    app.get("/api/v1/users/me", &app.admin_token).await.expect(200);
}

#[tokio::test]
async fn user_listing_pages_through_everyone_once() {
    let net = spawn_network().await;
    let app = &net.app;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/users?limit=2&cursor={c}"),
            None => "/api/v1/users?limit=2".to_owned(),
        };
        let page = app.get(&path, &app.admin_token).await.expect(200).body;
        for user in page["items"].as_array().unwrap() {
            seen.push(user["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let total = app.count("SELECT count(*) AS count FROM users");
    assert_eq!(seen.len() as i64, total);
    seen.dedup();
    assert_eq!(seen.len() as i64, total);
}

#[tokio::test]
async fn me_names_the_caller_and_delete_deactivates() {
    let net = spawn_network().await;
    let app = &net.app;
    let me = app.get("/api/v1/users/me", &net.advisor.token).await.expect(200).body;
    assert_eq!(me["id"], net.advisor.user["id"]);
    let renamed = app.patch("/api/v1/users/me", &net.advisor.token, json!({"name": "Renamed"})).await.expect(200).body;
    assert_eq!(renamed["name"], "Renamed");
    let tokens = app.get("/api/v1/users/me/tokens", &net.advisor.token).await.expect(200).body;
    assert_eq!(tokens.as_array().unwrap().len(), 1);
    let path = format!("/api/v1/users/{}", net.advisor.id);
    app.send(app.request(reqwest::Method::DELETE, &path, Some(&net.coordinator.token))).await.problem(403);
    let gone = app.send(app.request(reqwest::Method::DELETE, &path, Some(&app.admin_token))).await.expect(200).body;
    assert_eq!(gone["active"], false);
    app.get("/api/v1/users/me", &net.advisor.token).await.problem(401);
}
