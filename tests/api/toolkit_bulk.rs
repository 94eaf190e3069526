//! Bulk updates (issue #15): each ticket by the rules of a single PATCH (refusals reported, the rest applied), one
//! audit event per change per ticket, one email per recipient, Idempotency-Key, and the limits.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Answer, Network, TestApp, spawn_network};
use crate::inbound::{email, network_with_mail};
use crate::smtp_sink::SmtpSink;

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

async fn bulk(app: &TestApp, token: &str, body: Value) -> Answer {
    app.post("/api/v1/tickets/bulk", token, body).await
}

async fn bulk_with_key(app: &TestApp, token: &str, key: &str, body: &Value) -> Answer {
    app.send(app.request(Method::POST, "/api/v1/tickets/bulk", Some(token)).header("Idempotency-Key", key).json(body))
        .await
}

/// A ticket of requester A brought to `status` by the advisor.
async fn ticket_in(net: &Network, status: &str) -> Value {
    let app = &net.app;
    let ticket =
        app.submit(&net.requester_a.token, &format!("Bulk {status} {}", Uuid::new_v4().simple()), "funding").await;
    if status != "new" {
        app.patch(&format!("/api/v1/tickets/{}", id(&ticket)), &net.advisor.token, json!({"status": status}))
            .await
            .expect(200);
    }
    ticket
}

async fn events_of(app: &TestApp, ticket: &Value, kind: &str) -> Vec<Value> {
    let events = app.get(&format!("/api/v1/tickets/{}/events", id(ticket)), &app.admin_token).await.expect(200).body;
    events.as_array().unwrap().iter().filter(|e| e["kind"] == kind).cloned().collect()
}

async fn status_of(app: &TestApp, ticket: &Value) -> Value {
    app.get(&format!("/api/v1/tickets/{}", id(ticket)), &app.admin_token).await.expect(200).body["status"].clone()
}

/// Waits until no notification is pending or being sent (or 10 seconds passed).
async fn drained(app: &TestApp) {
    for _ in 0..200 {
        if app.count("SELECT count(*) AS count FROM outbox WHERE status IN ('pending', 'sending')") == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the outbox did not drain");
}

fn notifications(app: &TestApp, recipient: Uuid, kind: &str) -> i64 {
    app.count(&format!("SELECT count(*) AS count FROM outbox WHERE recipient_id = '{recipient}' AND kind = '{kind}'"))
}

#[tokio::test]
async fn each_ticket_follows_the_single_patch_rules_and_the_refused_are_reported() {
    let net = spawn_network().await;
    let app = &net.app;
    let serbia = app.create_office("RS", "RS", false).await;
    let serbian_cso = app.create_organization("Belgrade Forum", "RS").await;
    let serbian_requester = app.create_user("requester", None, Some(&serbian_cso)).await;
    app.create_user("advisor", Some(&serbia), None).await;
    let serbian = app.submit(&serbian_requester.token, "Not the Kosovo advisor's", "funding").await;
    let new = ticket_in(&net, "new").await;
    let open = ticket_in(&net, "open").await;
    let closed = ticket_in(&net, "closed").await;
    let resolved = ticket_in(&net, "resolved").await;
    let pending = ticket_in(&net, "pending").await;
    let missing = Uuid::now_v7().to_string();
    let pending_changes_before = events_of(app, &pending, "status_changed").await.len();

    let ids = [id(&new), id(&open), id(&serbian), id(&closed), id(&resolved), id(&pending), missing.clone(), id(&new)];
    let answer =
        bulk(app, &net.advisor.token, json!({"ids": ids, "changes": {"status": "pending"}})).await.expect(200).body;
    assert_eq!(answer["updated"], 2, "{answer:#}");
    assert_eq!(answer["unchanged"], 1);
    assert_eq!(answer["refused"], 4);
    let results = answer["results"].as_array().unwrap();
    let expected = [
        (id(&new), "updated", 200),
        (id(&open), "updated", 200),
        (id(&serbian), "refused", 404),
        (id(&closed), "refused", 409),
        (id(&resolved), "refused", 409),
        (id(&pending), "unchanged", 200),
        (missing.clone(), "refused", 404),
    ];
    assert_eq!(results.len(), expected.len(), "in the order of ids, duplicates once: {answer:#}");
    for (result, (ticket, outcome, status)) in results.iter().zip(expected) {
        assert_eq!(result["id"], ticket.as_str());
        assert_eq!(result["outcome"], outcome, "{result}");
        assert_eq!(result["status"], status, "{result}");
        if outcome == "refused" {
            assert!(result["detail"].is_string(), "{result}");
            assert!(result.get("ticket").is_none_or(Value::is_null), "nothing about a refused ticket: {result}");
        } else {
            assert_eq!(result["ticket"]["id"], ticket.as_str());
            assert_eq!(result["ticket"]["status"], "pending");
        }
    }
    assert!(!answer.to_string().contains("Not the Kosovo advisor's"), "the hidden ticket is not described");

    // What was applied was applied, what was refused was left alone.
    assert_eq!(status_of(app, &new).await, "pending");
    assert_eq!(status_of(app, &open).await, "pending");
    assert_eq!(status_of(app, &closed).await, "closed");
    assert_eq!(status_of(app, &resolved).await, "resolved");
    assert_eq!(status_of(app, &serbian).await, "new");
    let changes = events_of(app, &new, "status_changed").await;
    assert_eq!(changes.len(), 1, "one event for the ticket listed twice: {changes:#?}");
    assert_eq!(changes[0]["new_value"], "pending");
    assert_eq!(changes[0]["actor_id"], net.advisor.user["id"]);
    assert_eq!(events_of(app, &pending, "status_changed").await.len(), pending_changes_before);
    assert!(events_of(app, &closed, "status_changed").await.iter().all(|e| e["new_value"] != "pending"));
    assert!(events_of(app, &serbian, "status_changed").await.is_empty());

    // Several changes at once: one event per change per ticket.
    let answer = bulk(
        app,
        &net.advisor.token,
        json!({"ids": [id(&new), id(&open)], "changes": {"priority": "high", "add_tags": ["Grant-Report"]}}),
    )
    .await
    .expect(200)
    .body;
    assert_eq!(answer["updated"], 2);
    for ticket in [&new, &open] {
        let priority = events_of(app, ticket, "priority_changed").await;
        assert_eq!(priority.len(), 1);
        assert_eq!(priority[0]["new_value"], "high");
        let tagged = events_of(app, ticket, "tag_added").await;
        assert_eq!(tagged.len(), 1);
        assert_eq!(tagged[0]["new_value"], "grant-report");
        let read = app.get(&format!("/api/v1/tickets/{}", id(ticket)), &net.advisor.token).await.expect(200).body;
        assert_eq!(read["priority"], "high");
        assert_eq!(read["tags"], json!(["grant-report"]));
    }
    let removed = bulk(
        app,
        &net.advisor.token,
        json!({"ids": [id(&new), id(&open), id(&pending)], "changes": {"remove_tags": ["grant-report"]}}),
    )
    .await
    .expect(200)
    .body;
    assert_eq!((removed["updated"].clone(), removed["unchanged"].clone()), (json!(2), json!(1)));
}

#[tokio::test]
async fn invalid_bulk_requests_are_refused_whole() {
    let net = spawn_network().await;
    let app = &net.app;
    let ticket = ticket_in(&net, "new").await;
    let events_before = app.count("SELECT count(*) AS count FROM ticket_events");

    let too_many: Vec<String> = (0..501).map(|_| Uuid::now_v7().to_string()).collect();
    let problem =
        bulk(app, &net.advisor.token, json!({"ids": too_many, "changes": {"priority": "high"}})).await.problem(422);
    assert!(problem["errors"][0]["field"].as_str().unwrap().starts_with("ids"), "{problem}");
    let mut five_hundred: Vec<String> = (0..499).map(|_| Uuid::now_v7().to_string()).collect();
    five_hundred.push(id(&ticket));
    let at_limit = bulk(app, &net.advisor.token, json!({"ids": five_hundred, "changes": {"priority": "high"}}))
        .await
        .expect(200)
        .body;
    assert_eq!(at_limit["updated"], 1);
    assert_eq!(at_limit["refused"], 499);

    let events_before_refusals = app.count("SELECT count(*) AS count FROM ticket_events");
    assert!(events_before_refusals > events_before);
    for body in [
        json!({"ids": [], "changes": {"priority": "low"}}),
        json!({"ids": ["not-a-uuid"], "changes": {"priority": "low"}}),
        json!({"ids": [id(&ticket)], "changes": {"status": "nope"}}),
        json!({"ids": [id(&ticket)], "changes": {"priority": "asap"}}),
        json!({"ids": [id(&ticket)], "changes": {"add_tags": ["bad tag!"]}}),
        json!({"ids": [id(&ticket)], "changes": {"assignee_id": "nobody"}}),
        json!({"ids": [id(&ticket)]}),
    ] {
        bulk(app, &net.advisor.token, body.clone()).await.problem(422);
    }
    assert_eq!(app.count("SELECT count(*) AS count FROM ticket_events"), events_before_refusals);
    bulk(app, &net.requester_a.token, json!({"ids": [id(&ticket)], "changes": {"status": "closed"}}))
        .await
        .problem(403);
    assert_eq!(status_of(app, &ticket).await, "new");
}

#[tokio::test]
async fn an_idempotency_key_replays_the_answer_without_applying_twice() {
    let net = spawn_network().await;
    let app = &net.app;
    let first = ticket_in(&net, "new").await;
    let second = ticket_in(&net, "open").await;
    let body = json!({"ids": [id(&first), id(&second)], "changes": {"add_tags": ["reviewed"], "priority": "urgent"}});

    let original = bulk_with_key(app, &net.advisor.token, "bulk-1", &body).await.expect(200);
    assert!(original.headers.get("idempotent-replayed").is_none_or(|v| v != "true"));
    assert_eq!(original.body["updated"], 2);
    let replay = bulk_with_key(app, &net.advisor.token, "bulk-1", &body).await.expect(200);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.body, original.body, "the same answer, word for word");
    for ticket in [&first, &second] {
        assert_eq!(events_of(app, ticket, "tag_added").await.len(), 1, "applied once");
        assert_eq!(events_of(app, ticket, "priority_changed").await.len(), 1, "applied once");
    }

    // The same key with another body is a mistake.
    let other = json!({"ids": [id(&first)], "changes": {"priority": "low"}});
    let problem = bulk_with_key(app, &net.advisor.token, "bulk-1", &other).await.problem(422);
    assert_eq!(problem["errors"][0]["field"], "Idempotency-Key");
    let read = app.get(&format!("/api/v1/tickets/{}", id(&first)), &net.advisor.token).await.expect(200).body;
    assert_eq!(read["priority"], "urgent");

    // Another key is another request: nothing left to change.
    let again = bulk_with_key(app, &net.advisor.token, "bulk-2", &body).await.expect(200);
    assert!(again.headers.get("idempotent-replayed").is_none_or(|v| v != "true"));
    assert_eq!(again.body["unchanged"], 2);
    assert_eq!(again.body["updated"], 0);
    // Keys are the caller's own.
    let theirs = bulk_with_key(app, &net.coordinator.token, "bulk-1", &other).await.expect(200);
    assert_eq!(theirs.body["updated"], 1);
}

#[tokio::test]
async fn everyone_gets_one_email_per_bulk_action() {
    let sink = SmtpSink::start().await;
    let net = network_with_mail(&sink, |_| {}).await;
    let app = &net.app;
    let a1 = app.submit(&net.requester_a.token, "Bulk mail one", "funding").await;
    let a2 = app.submit(&net.requester_a.token, "Bulk mail two", "funding").await;
    let b1 = app.submit(&net.requester_b.token, "Bulk mail three", "funding").await;
    // Created after the tickets were routed (to the only advisor), so the bulk assignment is a change for all three.
    let besa = app.create_user("advisor", Some(&net.kosovo), None).await;
    drained(app).await;
    let mails_before = sink.wait_for(6).await.len();
    let references: Vec<String> = [&a1, &a2, &b1].iter().map(|t| format!("#{}", t["reference"])).collect();

    let ids = json!([id(&a1), id(&a2), id(&b1)]);
    let assigned =
        bulk(app, &net.coordinator.token, json!({"ids": ids.clone(), "changes": {"assignee_id": besa.id}})).await;
    assert_eq!(assigned.expect(200).body["updated"], 3);
    for ticket in [&a1, &a2, &b1] {
        let changes = events_of(app, ticket, "assignee_changed").await;
        assert_eq!(changes.len(), 1, "one audit event per ticket");
        assert_eq!(changes[0]["new_value"], besa.id.to_string());
    }
    drained(app).await;
    assert_eq!(notifications(app, besa.id, "bulk_updated"), 1);
    assert_eq!(notifications(app, besa.id, "ticket_assigned"), 0, "not three separate emails");
    sink.wait_for(mails_before + 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mails = sink.messages();
    let to_besa: Vec<_> = mails.iter().filter(|m| m.to == [email(&besa)]).collect();
    assert_eq!(to_besa.len(), 1, "one email for three tickets");
    let text = to_besa[0].body("text/plain").unwrap();
    for reference in &references {
        assert!(text.contains(reference.as_str()), "{reference} in {text}");
    }
    assert_eq!(mails.len(), mails_before + 1, "nobody else was told of the assignment");

    // A status change: A has two tickets (one email listing both), B one (the usual email).
    let mails_before = sink.messages().len();
    let pending =
        bulk(app, &net.coordinator.token, json!({"ids": ids.clone(), "changes": {"status": "pending"}})).await;
    assert_eq!(pending.expect(200).body["updated"], 3);
    drained(app).await;
    assert_eq!(notifications(app, net.requester_a.id, "bulk_updated"), 1);
    assert_eq!(notifications(app, net.requester_a.id, "status_changed"), 0);
    assert_eq!(notifications(app, net.requester_b.id, "status_changed"), 1);
    assert_eq!(notifications(app, net.requester_b.id, "bulk_updated"), 0);
    sink.wait_for(mails_before + 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let to_a: Vec<_> =
        sink.messages()[mails_before..].iter().filter(|m| m.to == [email(&net.requester_a)]).cloned().collect();
    assert_eq!(to_a.len(), 1);
    let text = to_a[0].body("text/plain").unwrap();
    assert!(text.contains(references[0].as_str()) && text.contains(references[1].as_str()), "{text}");
    assert!(!text.contains(references[2].as_str()), "B's ticket is not A's business: {text}");
    let to_b: Vec<_> =
        sink.messages()[mails_before..].iter().filter(|m| m.to == [email(&net.requester_b)]).cloned().collect();
    assert_eq!(to_b.len(), 1);
    assert_eq!(sink.messages().len(), mails_before + 2, "two emails for the whole action");
}
