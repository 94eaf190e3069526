//! The toolkit's edges (issue #15): hostile parameters, merged tickets taking no changes, bulk updates meeting a
//! merged ticket, merges whose tags would overflow, a requester's replay hiding staff-only fields, and the
//! saved-replies report's scope.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::spawn_network;

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn hostile_parameters_are_refused_not_failed() {
    let net = spawn_network().await;
    let app = &net.app;
    for query in ["q=%00", "q=Bad%20Tag", &format!("q={}", "a".repeat(51)), "limit=0", "limit=501"] {
        let problem = app.get(&format!("/api/v1/tags?{query}"), &net.advisor.token).await.problem(422);
        assert!(problem["errors"][0]["field"].is_string(), "{query}: {problem}");
    }
    for key in ["%00", "Grant%20Code", &"k".repeat(51)] {
        app.get(&format!("/api/v1/custom-fields/{key}"), &app.admin_token).await.problem(404);
        let path = format!("/api/v1/custom-fields/{key}");
        app.patch(&path, &app.admin_token, json!({"position": 1})).await.problem(404);
        app.send(app.request(Method::DELETE, &path, Some(&app.admin_token))).await.problem(404);
    }
    let ticket = app.submit(&net.requester_a.token, "Tags", "other").await;
    let tag = format!("/api/v1/tickets/{}/tags/%00", id(&ticket));
    app.send(app.request(Method::PUT, &tag, Some(&net.advisor.token))).await.problem(422);
    app.get("/api/v1/tickets?tag=%00", &net.advisor.token).await.problem(422);
    app.get("/api/v1/tickets?cf.nothing=1", &net.advisor.token).await.problem(422);
    for template in ["{% for i in range(9) %}x{% endfor %}", "{{ 'x' * 100000000 }}", "{{ requester.name ~ 'x' }}"] {
        let body = json!({"name": "Bad", "scope": "personal", "bodies": {"en": template}});
        let problem = app.post("/api/v1/saved-replies", &net.advisor.token, body).await.problem(422);
        assert_eq!(problem["errors"][0]["field"], "bodies.en", "{template}: {problem}");
    }
    let body = json!({"name": "New", "scope": "personal", "bodies": {"en": "Hi"}, "actions": {"status": "new"}});
    let problem = app.post("/api/v1/saved-replies", &net.advisor.token, body).await.problem(422);
    assert_eq!(problem["errors"][0]["field"], "actions.status");
}

#[tokio::test]
async fn a_merged_ticket_takes_no_more_changes_and_bulk_reports_it() {
    let net = spawn_network().await;
    let app = &net.app;
    let source = app.submit(&net.requester_a.token, "Duplicate", "funding").await;
    let target = app.submit(&net.requester_a.token, "Original", "funding").await;
    let path = format!("/api/v1/tickets/{}/merge", id(&source));
    app.post(&path, &net.advisor.token, json!({"into": id(&target)})).await.expect(200);

    // Named by its id, the merged ticket stands for the target: a change there lands on the target.
    let patch = format!("/api/v1/tickets/{}", id(&source));
    let changed = app.patch(&patch, &net.advisor.token, json!({"priority": "high"})).await.expect(200).body;
    assert_eq!(changed["id"], id(&target).as_str());
    let source_now = app.count(&format!(
        "SELECT count(*) AS count FROM tickets WHERE id = '{}' AND priority = 'normal' AND status = 'closed'",
        id(&source)
    ));
    assert_eq!(source_now, 1, "the merged ticket itself is unchanged");

    // A bulk update names tickets exactly: the merged one is refused with 409, the other applies.
    let body = json!({"ids": [id(&source), id(&target)], "changes": {"priority": "urgent"}});
    let answer = app.post("/api/v1/tickets/bulk", &net.advisor.token, body).await.expect(200).body;
    assert_eq!(answer["results"][0]["outcome"], "refused", "{answer}");
    assert_eq!(answer["results"][0]["status"], 409, "{answer}");
    assert_eq!(answer["results"][1]["outcome"], "updated", "{answer}");
    assert_eq!(answer["results"][1]["ticket"]["priority"], "urgent");
    // The target's trail lists the merged ticket's events too, marked.
    let events = app.get(&format!("/api/v1/tickets/{}/events", id(&target)), &net.advisor.token).await.expect(200);
    let merged: Vec<&Value> =
        events.body.as_array().unwrap().iter().filter(|e| e["merged_from"] == id(&source).as_str()).collect();
    assert!(merged.iter().any(|e| e["kind"] == "created"), "the source's creation is in the target's trail");
    assert!(merged.iter().any(|e| e["kind"] == "merged"), "and its merge");
}

#[tokio::test]
async fn a_merge_whose_tags_would_overflow_is_refused_whole() {
    let net = spawn_network().await;
    let app = &net.app;
    let source = app.submit(&net.requester_a.token, "Many tags", "funding").await;
    let target = app.submit(&net.requester_a.token, "Many tags too", "funding").await;
    let tags = |prefix: &str| (0..30).map(|n| format!("{prefix}{n}")).collect::<Vec<_>>();
    for (ticket, prefix) in [(&source, "a"), (&target, "b")] {
        let path = format!("/api/v1/tickets/{}", id(ticket));
        app.patch(&path, &net.advisor.token, json!({"tags": tags(prefix)})).await.expect(200);
    }
    let path = format!("/api/v1/tickets/{}/merge", id(&source));
    let problem = app.post(&path, &net.advisor.token, json!({"into": id(&target)})).await.problem(409);
    assert!(problem["detail"].as_str().unwrap().contains("60 tags"), "{problem}");
    let merged = app.count("SELECT count(*) AS count FROM tickets WHERE merged_into IS NOT NULL");
    assert_eq!(merged, 0, "nothing was merged");

    // Shared tags count once: 30 + 30 with 20 in common is 40, within the limit.
    let mut shared = tags("a");
    shared.truncate(20);
    shared.extend(tags("c").into_iter().take(10));
    let target_path = format!("/api/v1/tickets/{}", id(&target));
    app.patch(&target_path, &net.advisor.token, json!({"tags": shared})).await.expect(200);
    let answer = app.post(&path, &net.advisor.token, json!({"into": id(&target)})).await.expect(200).body;
    assert_eq!(answer["tags"].as_array().unwrap().len(), 40, "{answer}");
}

#[tokio::test]
async fn a_requesters_replay_shows_no_staff_only_field() {
    let net = spawn_network().await;
    let app = &net.app;
    let field = json!({"key": "grant_code", "label": {"en": "Grant code"}, "type": "text"});
    app.post("/api/v1/custom-fields", &app.admin_token, field).await.expect(201);
    let submit = |key: &str| {
        app.request(Method::POST, "/api/v1/tickets", Some(&net.requester_a.token))
            .header("Idempotency-Key", key.to_owned())
            .json(&json!({"subject": "Replay me", "body": "Hello", "category": "funding"}))
    };
    let first = app.send(submit("replay-1")).await.expect(201).body;
    let path = format!("/api/v1/tickets/{}", id(&first));
    app.patch(&path, &net.advisor.token, json!({"custom_fields": {"grant_code": "IPA-SECRET"}})).await.expect(200);
    let replay = app.send(submit("replay-1")).await.expect(200).body;
    assert_eq!(replay["id"], first["id"]);
    assert!(!replay.to_string().contains("IPA-SECRET"), "{replay}");
    assert!(replay.get("tags").is_none() && replay.get("time_spent_minutes").is_none(), "{replay}");
}

#[tokio::test]
async fn the_saved_replies_report_keeps_to_the_callers_office_and_own_replies() {
    let net = spawn_network().await;
    let app = &net.app;
    let body = json!({"name": "Mine", "scope": "personal", "bodies": {"en": "Hello {{ requester.name }}"}});
    let mine = app.post("/api/v1/saved-replies", &net.advisor.token, body).await.expect(201).body;
    let ticket = app.submit(&net.requester_a.token, "Use it", "funding").await;
    let messages = format!("/api/v1/tickets/{}/messages", id(&ticket));
    app.post(&messages, &net.advisor.token, json!({"saved_reply_id": id(&mine)})).await.expect(201);

    let report = app.get("/api/v1/reports/saved-replies", &net.advisor.token).await.expect(200).body;
    assert_eq!(report["saved_replies"][0]["uses"], 1, "{report}");
    assert_eq!(report["saved_replies"][0]["name"], "Mine");
    let coordinator = app.get("/api/v1/reports/saved-replies", &app.admin_token).await.expect(200).body;
    assert_eq!(coordinator["saved_replies"][0]["uses"], 1, "managers see every reply: {coordinator}");
    app.get("/api/v1/reports/saved-replies", &net.requester_a.token).await.problem(403);
}

#[tokio::test]
async fn a_retired_fields_value_shows_in_no_answer() {
    let net = spawn_network().await;
    let app = &net.app;
    let field = json!({"key": "budget_line", "label": {"en": "Budget line"}, "type": "text"});
    app.post("/api/v1/custom-fields", &app.admin_token, field).await.expect(201);
    let source = app.submit(&net.requester_a.token, "Retired field", "funding").await;
    let target = app.submit(&net.requester_a.token, "Retired field too", "funding").await;
    for ticket in [&source, &target] {
        let path = format!("/api/v1/tickets/{}", id(ticket));
        let body = json!({"custom_fields": {"budget_line": "B-RETIRED"}});
        app.patch(&path, &net.advisor.token, body).await.expect(200);
    }
    let retire = app.request(Method::DELETE, "/api/v1/custom-fields/budget_line", Some(&app.admin_token));
    app.send(retire).await.expect(204);

    let body = json!({"ids": [id(&target)], "changes": {"priority": "high"}});
    let answer = app.post("/api/v1/tickets/bulk", &net.advisor.token, body).await.expect(200).body;
    assert_eq!(answer["updated"], 1, "{answer}");
    let path = format!("/api/v1/tickets/{}/merge", id(&source));
    let merged = app.post(&path, &net.advisor.token, json!({"into": id(&target)})).await.expect(200).body;
    let listed = app.get("/api/v1/tickets", &net.advisor.token).await.expect(200).body;
    for shown in [&answer, &merged, &listed] {
        assert!(!shown.to_string().contains("B-RETIRED"), "{shown}");
    }
    let stored = app.count("SELECT count(*) AS count FROM tickets WHERE custom_fields ? 'budget_line'");
    assert_eq!(stored, 2, "the values stay stored");
}
