use diesel::prelude::*;
use reqwest::Method;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::helpers::{spawn_app, spawn_network};

#[tokio::test]
async fn requests_without_a_valid_token_are_refused() {
    let app = spawn_app().await;
    let missing = app.send(app.request(Method::GET, "/api/v1/tickets", None)).await;
    assert!(missing.headers.contains_key("www-authenticate"));
    missing.problem(401);
    app.get("/api/v1/tickets", "cd_not-a-real-token").await.problem(401);
    let forged = format!("cd_{}", "A".repeat(43));
    app.get("/api/v1/tickets", &forged).await.problem(401);
    let basic = app.send(app.request(Method::GET, "/api/v1/tickets", None).basic_auth("admin", Some("pw"))).await;
    basic.problem(401);
}

#[tokio::test]
async fn tokens_are_stored_as_sha256_only() {
    let net = spawn_network().await;
    let app = &net.app;
    use civicdesk::schema::api_tokens::dsl::*;
    let hashes: Vec<Vec<u8>> =
        api_tokens.filter(user_id.eq(net.advisor.id)).select(token_hash).load(&mut app.conn()).unwrap();
    assert_eq!(hashes, vec![Sha256::digest(net.advisor.token.as_bytes()).to_vec()]);
    let dump: i64 = app.count(&format!(
        "SELECT count(*) AS count FROM api_tokens WHERE token_prefix = '{}' OR label = '{}'",
        net.advisor.token, net.advisor.token
    ));
    assert_eq!(dump, 0, "the secret itself is stored nowhere");
}

#[tokio::test]
async fn users_list_create_and_revoke_their_own_tokens() {
    let net = spawn_network().await;
    let app = &net.app;
    let me = &net.requester_a;
    let path = format!("/api/v1/users/{}/tokens", me.id);
    let created = app.post(&path, &me.token, json!({"label": "portal"})).await.expect(201).body;
    let secret = created["token_secret"].as_str().unwrap().to_owned();
    assert_eq!(created["label"], "portal");
    assert!(secret.starts_with(created["prefix"].as_str().unwrap()));
    app.get("/api/v1/users/me", &secret).await.expect(200);

    let listed = app.get(&path, &me.token).await.expect(200).body;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains(&secret), "listings never show secrets");

    let revoke = format!("{path}/{}", created["id"].as_str().unwrap());
    let revoked = app.send(app.request(Method::DELETE, &revoke, Some(&me.token))).await.expect(200).body;
    assert!(revoked["revoked_at"].is_string());
    app.get("/api/v1/users/me", &secret).await.problem(401);
    app.get("/api/v1/users/me", &me.token).await.expect(200);

    // Someone else's tokens are off limits, except to admins.
    app.get(&path, &net.requester_b.token).await.problem(403);
    app.post(&path, &net.advisor.token, json!({})).await.problem(403);
    app.get(&path, &app.admin_token).await.expect(200);
}

#[tokio::test]
async fn a_token_can_be_created_without_a_body() {
    let net = spawn_network().await;
    let app = &net.app;
    let path = format!("/api/v1/users/{}/tokens", net.advisor.id);
    let created = app.send(app.request(Method::POST, &path, Some(&net.advisor.token))).await.expect(201).body;
    assert_eq!(created["label"], "api");
    let declared_but_empty =
        app.request(Method::POST, &path, Some(&net.advisor.token)).header("content-type", "application/json");
    app.send(declared_but_empty).await.expect(201);
}

#[tokio::test]
async fn deactivated_users_lose_access_at_once() {
    let net = spawn_network().await;
    let app = &net.app;
    app.get("/api/v1/users/me", &net.advisor.token).await.expect(200);
    app.patch(&format!("/api/v1/users/{}", net.advisor.id), &app.admin_token, json!({"active": false}))
        .await
        .expect(200);
    app.get("/api/v1/users/me", &net.advisor.token).await.problem(401);
}

#[tokio::test]
async fn bootstrap_command_prints_a_working_token_each_time() {
    let app = spawn_app().await;
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_civicdesk"))
            .args(["admin", "bootstrap", "--email", "Chief@Example.org", "--name", "Chief"])
            .env("DATABASE_URL", &app.database_url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("the binary runs")
    };
    let first = run();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let second = run();
    assert!(second.status.success());
    let first_token = String::from_utf8(first.stdout).unwrap().trim().to_owned();
    let second_token = String::from_utf8(second.stdout).unwrap().trim().to_owned();
    assert_ne!(first_token, second_token);
    for token in [&first_token, &second_token] {
        let me = app.get("/api/v1/users/me", token).await.expect(200).body;
        assert_eq!(me["role"], "admin");
        assert_eq!(me["email"], "Chief@example.org");
    }
    assert_eq!(app.count("SELECT count(*) AS count FROM users WHERE lower(email) = 'chief@example.org'"), 1);
}

#[tokio::test]
async fn a_change_made_elsewhere_reaches_the_token_cache_within_its_lifetime() {
    let net = crate::helpers::spawn_network_with(|s| s.auth_cache = std::time::Duration::from_millis(300)).await;
    let app = &net.app;
    app.get("/api/v1/users/me", &net.requester_a.token).await.expect(200);
    // Another process (or psql) deactivates the user: this process may still know the token for a moment.
    diesel::sql_query(format!("UPDATE users SET active = false WHERE id = '{}'", net.requester_a.id))
        .execute(&mut app.conn())
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    app.get("/api/v1/users/me", &net.requester_a.token).await.problem(401);
}
