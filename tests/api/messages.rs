use serde_json::json;

use crate::helpers::spawn_network;

#[tokio::test]
async fn internal_notes_are_for_staff_only() {
    let net = spawn_network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Audit", "financial_management").await;
    let path = format!("/api/v1/tickets/{}/messages", ticket["id"].as_str().unwrap());
    let note =
        app.post(&path, &net.advisor.token, json!({"body": "Check their 2025 accounts", "internal": true})).await;
    let note = note.expect(201).body;
    assert_eq!(note["internal"], true);
    assert_eq!(note["author_role"], "advisor");

    let staff_view = app.get(&path, &net.advisor.token).await.expect(200).body;
    assert_eq!(staff_view.as_array().unwrap().len(), 2);
    let requester_view = app.get(&path, &net.requester_a.token).await.expect(200).body;
    assert_eq!(requester_view.as_array().unwrap().len(), 1);
    assert!(!requester_view.to_string().contains("2025 accounts"));

    let events = app.get(&path.replace("messages", "events"), &net.requester_a.token).await.expect(200).body;
    assert!(events.as_array().unwrap().iter().all(|e| e["internal"] == false), "no trace of the note");

    app.post(&path, &net.requester_a.token, json!({"body": "sneaky", "internal": true})).await.problem(403);
    let ticket_after = app.get(&path.replace("/messages", ""), &net.advisor.token).await.expect(200).body;
    assert!(ticket_after["first_response_at"].is_null(), "an internal note is not a response");
    assert_eq!(ticket_after["status"], "new");
}

#[tokio::test]
async fn the_first_public_staff_reply_sets_the_first_response_time_once() {
    let net = spawn_network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Partners", "partnership_networking").await;
    let ticket_path = format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap());
    let path = format!("{ticket_path}/messages");
    app.post(&path, &net.requester_a.token, json!({"body": "Any news?"})).await.expect(201);
    assert!(app.get(&ticket_path, &net.advisor.token).await.expect(200).body["first_response_at"].is_null());

    app.post(&path, &net.advisor.token, json!({"body": "Here are three partners"})).await.expect(201);
    let answered = app.get(&ticket_path, &net.advisor.token).await.expect(200).body;
    let first = answered["first_response_at"].as_str().unwrap().to_owned();
    assert_eq!(answered["status"], "open", "a staff reply opens a new ticket");

    app.post(&path, &net.coordinator.token, json!({"body": "And a fourth"})).await.expect(201);
    let later = app.get(&ticket_path, &net.advisor.token).await.expect(200).body;
    assert_eq!(later["first_response_at"], first.as_str());
}

#[tokio::test]
async fn replies_move_the_status_as_people_expect() {
    let net = spawn_network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Training", "capacity_building").await;
    let ticket_path = format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap());
    let path = format!("{ticket_path}/messages");

    // Staff reply and wait on the requester in one step.
    app.post(&path, &net.advisor.token, json!({"body": "Which dates suit you?", "status": "pending"}))
        .await
        .expect(201);
    assert_eq!(app.get(&ticket_path, &net.advisor.token).await.expect(200).body["status"], "pending");
    // The requester's answer puts it back in the advisor's court.
    app.post(&path, &net.requester_a.token, json!({"body": "Next Tuesday"})).await.expect(201);
    assert_eq!(app.get(&ticket_path, &net.advisor.token).await.expect(200).body["status"], "open");
    // A reply to a resolved ticket reopens it.
    app.patch(&ticket_path, &net.advisor.token, json!({"status": "resolved"})).await.expect(200);
    app.post(&path, &net.requester_a.token, json!({"body": "One more thing"})).await.expect(201);
    let reopened = app.get(&ticket_path, &net.advisor.token).await.expect(200).body;
    assert_eq!(reopened["status"], "open");
    assert!(reopened["resolved_at"].is_null());

    app.post(&path, &net.requester_a.token, json!({"body": "x", "status": "closed"})).await.problem(403);
    app.post(&path, &net.advisor.token, json!({"body": "x", "status": "new"})).await.problem(409);

    app.patch(&ticket_path, &net.advisor.token, json!({"status": "closed"})).await.expect(200);
    let before = app.count("SELECT count(*) AS count FROM messages");
    let problem = app.post(&path, &net.requester_a.token, json!({"body": "Hello?"})).await.problem(409);
    assert!(problem["detail"].as_str().unwrap().contains("closed"));
    assert_eq!(app.count("SELECT count(*) AS count FROM messages"), before);
}

#[tokio::test]
async fn messages_and_events_are_recorded_together() {
    let net = spawn_network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Logo", "visibility").await;
    let path = format!("/api/v1/tickets/{}/messages", ticket["id"].as_str().unwrap());
    let message =
        app.post(&path, &net.advisor.token, json!({"body": "Use the EU emblem guide"})).await.expect(201).body;
    let events = app.get(&path.replace("messages", "events"), &net.advisor.token).await.expect(200).body;
    let added = events.as_array().unwrap().iter().find(|e| e["kind"] == "message_added").unwrap();
    assert_eq!(added["details"]["message_id"], message["id"]);
    assert_eq!(added["actor_id"], net.advisor.user["id"]);
}
