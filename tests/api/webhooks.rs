//! Webhooks end to end: a real receiver, signatures checked by an implementation of the test's own, retries,
//! permanent refusals, redelivery, secret rotation, order per ticket, filters, and the addresses a delivery may
//! never reach.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Network, TestApp, spawn_app_with, spawn_network_with};
use crate::webhook_receiver::{Receiver, verifies};

/// Settings whose worker delivers webhooks quickly, to loopback receivers, retrying after `retry_base`.
fn fast_webhooks(settings: &mut civicdesk::config::Settings, retry_base: Duration) {
    settings.worker.in_serve = true;
    settings.worker.poll_interval = Duration::from_millis(20);
    settings.webhooks.allow_http = true;
    settings.webhooks.allow_private = true;
    settings.webhooks.retry_base = retry_base;
    settings.webhooks.retry_max = retry_base * 4;
}

/// A network with [`fast_webhooks`].
async fn network() -> Network {
    spawn_network_with(|settings| fast_webhooks(settings, Duration::from_millis(50))).await
}

async fn subscribe(app: &TestApp, body: Value) -> Value {
    app.post("/api/v1/webhooks", &app.admin_token, body).await.expect(201).body
}

async fn deliveries(app: &TestApp, webhook: &Value) -> Vec<Value> {
    let path = format!("/api/v1/webhooks/{}/deliveries?limit=100", webhook["id"].as_str().unwrap());
    app.get(&path, &app.admin_token).await.expect(200).body["items"].as_array().unwrap().clone()
}

/// Waits until `check` holds for the subscription's deliveries (at most 20 s).
async fn wait_deliveries(app: &TestApp, webhook: &Value, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..400 {
        let items = deliveries(app, webhook).await;
        if check(&items) {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("deliveries never got there: {:#}", Value::Array(deliveries(app, webhook).await));
}

#[tokio::test]
async fn deliveries_are_signed_retried_until_accepted_and_in_order_per_ticket() {
    let net = network().await;
    let app = &net.app;
    // The first attempt fails twice (503, then 500), then the receiver accepts everything.
    let receiver = Receiver::start(&[503, 500]);
    let hook = subscribe(app, json!({"url": receiver.url, "events": ["*"]})).await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{hook:#}");
    // The secret is shown once.
    let listed = app.get(&format!("/api/v1/webhooks/{}", hook["id"].as_str().unwrap()), &app.admin_token).await;
    assert!(listed.expect(200).body.get("secret").is_none());

    let ticket = app.submit(&net.requester_a.token, "Registration of our statute change", "legal_registration").await;
    let ticket_id = ticket["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/tickets/{ticket_id}");
    app.patch(&path, &net.advisor.token, json!({"priority": "high"})).await.expect(200);
    app.post(&format!("{path}/messages"), &net.advisor.token, json!({"body": "We will look at it."})).await.expect(201);
    app.patch(&path, &net.advisor.token, json!({"status": "pending"})).await.expect(200);

    let items =
        wait_deliveries(app, &hook, |items| items.len() >= 6 && items.iter().all(|item| item["status"] == "delivered"))
            .await;
    let received = receiver.received();
    // Every request is signed with the secret, as the Standard Webhooks scheme says.
    for request in &received {
        assert!(verifies(request, &secret), "signature {:?} does not verify", request.signature);
        assert_eq!(request.json["id"].as_str().unwrap(), request.id);
        let age = chrono::Utc::now().timestamp() - request.timestamp.parse::<i64>().unwrap();
        assert!((0..60).contains(&age), "timestamp {}", request.timestamp);
    }
    // The first delivery: three attempts with one id, the last accepted.
    let first = &received[0];
    assert_eq!(first.json["type"], "ticket.created");
    assert_eq!(first.json["data"]["ticket"]["id"], ticket_id.as_str());
    assert_eq!(received.iter().filter(|r| r.id == first.id).count(), 3);
    let created = items.iter().find(|item| item["id"] == first.id.as_str()).unwrap();
    assert_eq!(created["attempts"], 3, "{created:#}");
    assert_eq!(created["last_status_code"], 200);
    // In order per ticket: each accepted delivery's event comes after the one before.
    let mut accepted: Vec<&crate::webhook_receiver::Received> = Vec::new();
    for request in &received {
        if !accepted.iter().any(|seen| seen.id == request.id) {
            accepted.push(request);
        }
    }
    let event_ids: Vec<i64> =
        accepted.iter().map(|request| request.json["data"]["event"]["id"].as_i64().unwrap()).collect();
    assert!(event_ids.windows(2).all(|pair| pair[0] <= pair[1]), "out of order: {event_ids:?}");
    let types: Vec<&str> = accepted.iter().map(|request| request.json["type"].as_str().unwrap()).collect();
    for expected in ["ticket.created", "ticket.assigned", "ticket.updated", "message.created", "ticket.status_changed"]
    {
        assert!(types.contains(&expected), "{expected} missing from {types:?}");
    }
    // The reply opened the ticket, then it was set pending: each delivery shows the ticket as its change left it.
    let statuses: Vec<(&Value, &Value)> = accepted
        .iter()
        .filter(|request| request.json["type"] == "ticket.status_changed")
        .map(|request| (&request.json["data"]["event"]["new_value"], &request.json["data"]["ticket"]["status"]))
        .collect();
    assert_eq!(statuses, [(&json!("open"), &json!("open")), (&json!("pending"), &json!("pending"))]);
    let message = accepted.iter().find(|request| request.json["type"] == "message.created").unwrap();
    assert_eq!(message.json["data"]["message"]["body"], "We will look at it.");
    let updated = accepted.iter().find(|request| request.json["type"] == "ticket.updated").unwrap();
    assert!(updated.json["data"]["changes"].is_array(), "{:#}", updated.json);
}

#[tokio::test]
async fn a_gone_receiver_is_permanent_and_a_redelivery_sends_the_same_id_again() {
    let net = network().await;
    let app = &net.app;
    let receiver = Receiver::start(&[410]);
    let hook = subscribe(app, json!({"url": receiver.url, "events": ["ticket.created"]})).await;
    app.submit(&net.requester_a.token, "Audit of our EU grant", "financial_management").await;
    let items = wait_deliveries(app, &hook, |items| items.first().is_some_and(|item| item["status"] == "failed")).await;
    assert_eq!(items.len(), 1, "only ticket.created was asked for: {items:#?}");
    assert_eq!(items[0]["attempts"], 1, "a 410 is not retried: {:#}", items[0]);
    assert_eq!(items[0]["last_status_code"], 410);
    assert!(items[0]["last_response"].as_str().unwrap().contains("answered 410"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1, "no retry after a permanent refusal");
    let metrics = app.send(app.request(reqwest::Method::GET, "/metrics", None)).await.expect(200).text;
    assert!(metrics.contains("civicdesk_webhook_deliveries{status=\"failed\"} 1"), "{metrics}");
    assert!(metrics.contains("civicdesk_webhook_oldest_pending_age_seconds 0"), "{metrics}");

    let delivery = items[0]["id"].as_str().unwrap();
    let again =
        app.post(&format!("/api/v1/webhook-deliveries/{delivery}/redeliver"), &app.admin_token, json!({})).await;
    assert_eq!(again.expect(202).body["status"], "pending");
    let received = receiver.wait_for(2).await;
    assert_eq!(received[1].id, received[0].id, "a redelivery keeps its id");
    wait_deliveries(app, &hook, |items| items[0]["status"] == "delivered").await;
    // Someone else's delivery, or none at all.
    let missing = app.post(
        "/api/v1/webhook-deliveries/00000000-0000-0000-0000-000000000000/redeliver",
        &app.admin_token,
        json!({}),
    );
    missing.await.problem(404);
    let path = format!("/api/v1/webhook-deliveries/{delivery}/redeliver");
    app.post(&path, &net.coordinator.token, json!({})).await.problem(403);
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_during_the_overlap() {
    let net = network().await;
    let app = &net.app;
    let receiver = Receiver::start(&[]);
    let hook = subscribe(app, json!({"url": receiver.url, "events": ["ticket.created"]})).await;
    let id = hook["id"].as_str().unwrap();
    let old = hook["secret"].as_str().unwrap().to_owned();
    let rotated = app.post(&format!("/api/v1/webhooks/{id}/rotate-secret"), &app.admin_token, json!({})).await;
    let rotated = rotated.expect(200).body;
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(old, new);
    assert!(rotated["previous_secret_expires_at"].is_string(), "{rotated:#}");

    let ping = app.post(&format!("/api/v1/webhooks/{id}/ping"), &app.admin_token, json!({})).await.expect(202).body;
    assert_eq!(ping["event_type"], "webhook.ping");
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].json["type"], "webhook.ping");
    assert_eq!(received[0].signature.split(' ').count(), 2, "both signatures: {}", received[0].signature);
    assert!(verifies(&received[0], &old), "the old secret still verifies");
    assert!(verifies(&received[0], &new), "the new secret verifies");

    // A second rotation during the overlap would end the old secret's day at once: refused.
    let again = app.post(&format!("/api/v1/webhooks/{id}/rotate-secret"), &app.admin_token, json!({})).await;
    again.problem(409);
    // After the overlap only the new secret signs.
    diesel::RunQueryDsl::execute(
        diesel::sql_query("UPDATE webhooks SET previous_secret_expires_at = now() - interval '1 second'"),
        &mut app.conn(),
    )
    .unwrap();
    app.post(&format!("/api/v1/webhooks/{id}/ping"), &app.admin_token, json!({})).await.expect(202);
    let received = receiver.wait_for(2).await;
    assert_eq!(received[1].signature.split(' ').count(), 1);
    assert!(verifies(&received[1], &new) && !verifies(&received[1], &old));
}

#[tokio::test]
async fn filters_and_internal_notes() {
    let net = network().await;
    let app = &net.app;
    let public_only = Receiver::start(&[]);
    let with_internal = Receiver::start(&[]);
    let other_cso = Receiver::start(&[]);
    subscribe(app, json!({"url": public_only.url, "events": ["message.created"]})).await;
    subscribe(app, json!({"url": with_internal.url, "events": ["message.created"], "include_internal": true})).await;
    let cso_b = net.cso_b["id"].as_str().unwrap();
    subscribe(app, json!({"url": other_cso.url, "events": ["*"], "organization_id": cso_b})).await;

    let ticket = app.submit(&net.requester_a.token, "Partnership agreement", "partnership_networking").await;
    let path = format!("/api/v1/tickets/{}/messages", ticket["id"].as_str().unwrap());
    app.post(&path, &net.advisor.token, json!({"body": "Staff only", "internal": true})).await.expect(201);
    app.post(&path, &net.advisor.token, json!({"body": "Dear partner"})).await.expect(201);

    let internal = with_internal.wait_for(2).await;
    let bodies: Vec<&str> = internal.iter().map(|r| r.json["data"]["message"]["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["Staff only", "Dear partner"]);
    let public = public_only.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(public_only.received().len(), 1, "no internal note without include_internal");
    assert_eq!(public[0].json["data"]["message"]["body"], "Dear partner");
    assert!(other_cso.received().is_empty(), "another organisation's filter gets nothing");
}

#[tokio::test]
async fn subscriptions_are_validated_and_admin_only() {
    let net = network().await;
    let app = &net.app;
    let bad = app.post("/api/v1/webhooks", &app.admin_token, json!({"url": "ftp://example.org", "events": ["nope"]}));
    let problem = bad.await.problem(422);
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"url") && fields.contains(&"events"), "{problem:#}");
    let body = json!({"url": "https://hooks.example.org/x", "events": ["*"]});
    app.post("/api/v1/webhooks", &net.coordinator.token, body.clone()).await.problem(403);
    app.post("/api/v1/webhooks", &net.requester_a.token, body).await.problem(403);
    app.get("/api/v1/webhooks", &net.advisor.token).await.problem(403);
    let receiver = Receiver::start(&[]);
    let hook = subscribe(app, json!({"url": receiver.url, "events": ["ticket.created"]})).await;
    let path = format!("/api/v1/webhooks/{}", hook["id"].as_str().unwrap());
    let changed = app.patch(&path, &app.admin_token, json!({"active": false, "events": ["sla.breached"]})).await;
    let changed = changed.expect(200).body;
    assert_eq!(changed["active"], false);
    assert_eq!(changed["events"], json!(["sla.breached"]));
    app.submit(&net.requester_a.token, "Nobody hears this", "other").await;
    // Percent-encoding makes this URL longer than the limit: a clear 422, not a database error.
    let long = format!("https://hooks.example.org/{}", "é".repeat(700));
    let problem = app.post("/api/v1/webhooks", &app.admin_token, json!({"url": long, "events": ["*"]})).await;
    assert_eq!(problem.problem(422)["errors"][0]["field"], "url");
    let listed = app.get("/api/v1/webhooks", &app.admin_token).await.expect(200).body;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    app.send(app.request(reqwest::Method::DELETE, &path, Some(&app.admin_token))).await.expect(204);
    app.get(&path, &app.admin_token).await.problem(404);
    app.send(app.request(reqwest::Method::DELETE, &path, Some(&app.admin_token))).await.problem(404);
    assert!(app.get("/api/v1/webhooks", &app.admin_token).await.expect(200).body.as_array().unwrap().is_empty());
    // A change after the deletion still commits, and queues nothing for it.
    app.submit(&net.requester_a.token, "After the deletion", "other").await;
    assert_eq!(app.count("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"), 0);
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn odd_answers_are_stored_and_an_inactive_subscription_is_not_redelivered() {
    let net = network().await;
    let app = &net.app;
    // A NUL in the answer (PostgreSQL text refuses it) must not leave the delivery to be sent again and again.
    let receiver = Receiver::start_answering(&[200, 200], Some(b"ok\0\xff and more"));
    let hook = subscribe(app, json!({"url": receiver.url, "events": ["ticket.created"]})).await;
    app.submit(&net.requester_a.token, "First", "other").await;
    app.submit(&net.requester_a.token, "Second", "other").await;
    let items =
        wait_deliveries(app, &hook, |items| items.len() == 2 && items.iter().all(|item| item["status"] == "delivered"))
            .await;
    assert!(items[0]["last_response"].as_str().unwrap().starts_with("ok"), "{:#}", items[0]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 2, "each sent once");

    let path = format!("/api/v1/webhooks/{}", hook["id"].as_str().unwrap());
    app.patch(&path, &app.admin_token, json!({"active": false})).await.expect(200);
    let delivery = items[0]["id"].as_str().unwrap();
    let redeliver = format!("/api/v1/webhook-deliveries/{delivery}/redeliver");
    app.post(&redeliver, &app.admin_token, json!({})).await.problem(409);
}

#[tokio::test]
async fn no_delivery_reaches_a_private_loopback_or_metadata_address() {
    let app = spawn_app_with(|settings| {
        settings.worker.in_serve = true;
        settings.worker.poll_interval = Duration::from_millis(20);
        settings.webhooks.allow_http = true;
        settings.webhooks.allow_private = false;
        settings.webhooks.resolve = vec![("evil.test".to_owned(), "10.0.0.1".parse().unwrap())];
    })
    .await;
    let receiver = Receiver::start(&[]);
    // Literal addresses are refused when the subscription is made.
    for url in
        [receiver.url.as_str(), "https://169.254.169.254/latest/meta-data/", "https://[::1]/x", "https://10.1.2.3/"]
    {
        let problem = app.post("/api/v1/webhooks", &app.admin_token, json!({"url": url, "events": ["*"]})).await;
        let problem = problem.problem(422);
        assert_eq!(problem["errors"][0]["field"], "url", "{url}: {problem:#}");
    }
    // Names are checked when the delivery is made: one pinned to 10.0.0.1, and localhost.
    let port = receiver.url.split(':').nth(2).unwrap().split('/').next().unwrap().to_owned();
    for url in ["https://evil.test/hook".to_owned(), format!("http://localhost:{port}/hook")] {
        let hook = subscribe(&app, json!({"url": url, "events": ["*"]})).await;
        let id = hook["id"].as_str().unwrap();
        app.post(&format!("/api/v1/webhooks/{id}/ping"), &app.admin_token, json!({})).await.expect(202);
        let items = wait_deliveries(&app, &hook, |items| items[0]["status"] == "failed").await;
        let error = items[0]["last_error"].as_str().unwrap();
        assert!(error.contains("private or special-purpose address"), "{url}: {error}");
        assert_eq!(items[0]["attempts"], 1, "refused for good: {:#}", items[0]);
    }
    assert!(receiver.received().is_empty(), "nothing reached the loopback receiver");
}

#[tokio::test]
async fn a_subscription_failing_for_days_is_disabled_and_the_admins_are_told() {
    let outbox = std::env::temp_dir().join(format!("civicdesk-webhook-mail-{}", uuid::Uuid::new_v4().simple()));
    let dir = outbox.clone();
    let net = spawn_network_with(move |settings| {
        settings.mail.outbox_dir = dir;
        fast_webhooks(settings, Duration::from_millis(20));
        // "Three days" of failures, made short.
        settings.webhooks.disable_after = Duration::from_millis(300);
    })
    .await;
    let app = &net.app;
    let receiver = Receiver::start(&[500; 1000]);
    let hook = subscribe(app, json!({"url": receiver.url, "events": ["ticket.created"]})).await;
    app.submit(&net.requester_a.token, "Our server is down", "other").await;
    let path = format!("/api/v1/webhooks/{}", hook["id"].as_str().unwrap());
    let mut disabled = Value::Null;
    for _ in 0..200 {
        disabled = app.get(&path, &app.admin_token).await.expect(200).body;
        if disabled["active"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(disabled["active"], false, "{disabled:#}");
    assert!(disabled["disabled_at"].is_string() && disabled["disabled_reason"].is_string(), "{disabled:#}");
    let mut told = false;
    for _ in 0..100 {
        let mails: Vec<String> = std::fs::read_dir(&outbox)
            .map(|dir| dir.flatten().filter_map(|entry| std::fs::read_to_string(entry.path()).ok()).collect())
            .unwrap_or_default();
        if mails.iter().any(|mail| mail.contains("webhook disabled") && mail.contains("admin@example.org")) {
            told = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(told, "the admin was emailed");
    // Attempts stop while it is disabled; re-enabling clears its failure record.
    let attempts = receiver.received().len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), attempts);
    let enabled = app.patch(&path, &app.admin_token, json!({"active": true})).await.expect(200).body;
    assert!(enabled["disabled_at"].is_null() && enabled["failing_since"].is_null(), "{enabled:#}");
    let _ = std::fs::remove_dir_all(&outbox);
}
