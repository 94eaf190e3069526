use serde_json::{Value, json};

use crate::helpers::{Network, spawn_network};

const ALL: [&str; 5] = ["new", "open", "pending", "resolved", "closed"];

/// What staff may do from each status.
fn staff_allowed(from: &str) -> &'static [&'static str] {
    match from {
        "new" => &["open", "pending", "resolved", "closed"],
        "open" => &["pending", "resolved", "closed"],
        "pending" => &["open", "resolved", "closed"],
        "resolved" => &["open", "closed"],
        _ => &[],
    }
}

/// The path of a ticket brought to `status` by staff.
async fn ticket_in(net: &Network, status: &str) -> String {
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, &format!("In {status}"), "other").await;
    let path = format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap());
    let route: &[&str] = match status {
        "new" => &[],
        "open" => &["open"],
        "pending" => &["pending"],
        "resolved" => &["resolved"],
        _ => &["closed"],
    };
    for step in route {
        app.patch(&path, &net.advisor.token, json!({"status": step})).await.expect(200);
    }
    path
}

#[tokio::test]
async fn staff_may_make_every_allowed_transition_and_no_other() {
    let net = spawn_network().await;
    let app = &net.app;
    for from in ALL {
        for to in ALL {
            if from == to {
                continue;
            }
            let path = ticket_in(&net, from).await;
            let answer = app.patch(&path, &net.advisor.token, json!({"status": to})).await;
            if staff_allowed(from).contains(&to) {
                let ticket = answer.expect(200).body;
                assert_eq!(ticket["status"], to, "{from} -> {to}");
                let was_or_is_resolved = to == "resolved" || (from == "resolved" && to == "closed");
                assert_eq!(ticket["resolved_at"].is_string(), was_or_is_resolved, "{from} -> {to}");
                assert_eq!(ticket["closed_at"].is_string(), to == "closed", "{from} -> {to}");
            } else {
                let problem = answer.problem(409);
                let allowed: Vec<&str> =
                    problem["allowed"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
                assert_eq!(allowed, staff_allowed(from), "{from} -> {to}");
                let current = app.get(&path, &net.advisor.token).await.expect(200).body;
                assert_eq!(current["status"], from, "a refused change changes nothing");
            }
        }
    }
}

#[tokio::test]
async fn every_status_change_is_in_the_audit_trail() {
    let net = spawn_network().await;
    let app = &net.app;
    let path = ticket_in(&net, "new").await;
    for status in ["open", "pending", "resolved", "open", "closed"] {
        app.patch(&path, &net.advisor.token, json!({"status": status})).await.expect(200);
    }
    let events = app.get(&format!("{path}/events"), &net.advisor.token).await.expect(200).body;
    let changes: Vec<(Value, Value)> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "status_changed")
        .map(|e| (e["old_value"].clone(), e["new_value"].clone()))
        .collect();
    let expected: Vec<(Value, Value)> =
        [("new", "open"), ("open", "pending"), ("pending", "resolved"), ("resolved", "open"), ("open", "closed")]
            .iter()
            .map(|(a, b)| (json!(a), json!(b)))
            .collect();
    assert_eq!(changes, expected);
    let reopened = app.get(&path, &net.advisor.token).await.expect(200).body;
    assert!(reopened["resolved_at"].is_null(), "reopening clears the resolution time");
}

#[tokio::test]
async fn requesters_may_only_close_or_reopen_their_own_ticket() {
    let net = spawn_network().await;
    let app = &net.app;
    let me = &net.requester_a.token;

    let pending = ticket_in(&net, "pending").await;
    let problem = app.patch(&pending, me, json!({"status": "open"})).await.problem(409);
    assert_eq!(problem["allowed"], json!(["closed"]));
    app.patch(&pending, me, json!({"priority": "urgent"})).await.problem(403);
    app.patch(&pending, me, json!({"assignee_id": null})).await.problem(403);

    let resolved = ticket_in(&net, "resolved").await;
    let reopened = app.patch(&resolved, me, json!({"status": "open"})).await.expect(200).body;
    assert_eq!(reopened["status"], "open");
    let closed = app.patch(&resolved, me, json!({"status": "closed"})).await.expect(200).body;
    assert_eq!(closed["status"], "closed");
    app.patch(&resolved, me, json!({"status": "open"})).await.problem(409);

    // A colleague may read the ticket but not close it for the requester.
    let colleague = app.create_user("requester", None, Some(&net.cso_a)).await;
    let open = ticket_in(&net, "open").await;
    app.patch(&open, &colleague.token, json!({"status": "closed"})).await.problem(403);
}

#[tokio::test]
async fn staff_change_priority_category_assignee_and_office() {
    let net = spawn_network().await;
    let app = &net.app;
    let path = ticket_in(&net, "new").await;
    let routed = app.get(&path, &net.coordinator.token).await.expect(200).body;
    assert_eq!(routed["assignee_id"], net.advisor.user["id"], "routing gave it to the office's advisor");
    let changed = app
        .patch(
            &path,
            &net.coordinator.token,
            json!({"priority": "urgent", "category": "advocacy",
               "assignee_id": net.coordinator.user["id"], "office_id": net.regional["id"]}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(changed["priority"], "urgent");
    assert_eq!(changed["category"], "advocacy");
    assert_eq!(changed["assignee_id"], net.coordinator.user["id"]);
    assert_eq!(changed["office_id"], net.regional["id"]);
    let unassigned = app.patch(&path, &net.coordinator.token, json!({"assignee_id": null})).await.expect(200).body;
    assert!(unassigned["assignee_id"].is_null());

    let kinds: Vec<String> = app
        .get(&format!("{path}/events"), &net.coordinator.token)
        .await
        .expect(200)
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "routed",
            "priority_changed",
            "category_changed",
            "assignee_changed",
            "office_changed",
            "assignee_changed"
        ]
    );

    let problem =
        app.patch(&path, &net.coordinator.token, json!({"assignee_id": net.requester_a.user["id"]})).await.problem(422);
    assert_eq!(problem["errors"][0]["field"], "assignee_id");
    // An unchanged value is not a change.
    let before = app.count("SELECT count(*) AS count FROM ticket_events");
    app.patch(&path, &net.coordinator.token, json!({"priority": "urgent"})).await.expect(200);
    assert_eq!(app.count("SELECT count(*) AS count FROM ticket_events"), before);
}
