//! What requesters see of the advisors' toolkit (issue #15): no tags, no staff-only fields, no time entries, no
//! saved-reply bookkeeping, in the ticket, the listing, the messages, the events, and their notifications.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::spawn_network;

const TAG: &str = "tag-secret-x1";
const GRANT: &str = "G-SECRET-1";
const NOTE: &str = "Confidential call note";

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

#[track_caller]
fn hides_staff_things(ticket: &Value) {
    assert!(ticket.get("tags").is_none(), "no tags: {ticket}");
    assert!(ticket.get("time_spent_minutes").is_none(), "no time: {ticket}");
    assert_eq!(ticket["custom_fields"], json!({"programme": "ipa"}), "only requester-visible fields: {ticket}");
    let text = ticket.to_string();
    assert!(!text.contains(TAG) && !text.contains(GRANT) && !text.contains(NOTE), "{text}");
}

#[tokio::test]
async fn requesters_never_see_tags_staff_only_fields_or_time() {
    let net = spawn_network().await;
    let app = &net.app;
    for field in [
        json!({"key": "programme", "label": {"en": "Programme"}, "type": "select", "options": ["ipa", "horizon"],
               "visibility": "requesters"}),
        json!({"key": "grant_code", "label": {"en": "Grant code"}, "type": "text", "visibility": "staff"}),
    ] {
        app.post("/api/v1/custom-fields", &app.admin_token, field).await.expect(201);
    }
    let reply = app
        .post(
            "/api/v1/saved-replies",
            &net.advisor.token,
            json!({"name": "Signature", "scope": "personal", "bodies": {"en": "Regards", "sq": "Me respekt"}}),
        )
        .await
        .expect(201)
        .body;
    let ticket = app.submit(&net.requester_a.token, "What do you know about us", "funding").await;
    let path = format!("/api/v1/tickets/{}", id(&ticket));
    let staff = &net.advisor.token;
    app.send(app.request(Method::PUT, &format!("{path}/tags/{TAG}"), Some(staff))).await.expect(200);
    app.patch(&path, staff, json!({"custom_fields": {"programme": "ipa", "grant_code": GRANT}})).await.expect(200);
    app.post(&format!("{path}/time"), staff, json!({"minutes": 30, "note": NOTE})).await.expect(201);
    app.post(&format!("{path}/messages"), staff, json!({"body": "Public answer", "time_spent_minutes": 15}))
        .await
        .expect(201);
    app.post(&format!("{path}/messages"), staff, json!({"saved_reply_id": reply["id"]})).await.expect(201);

    // Staff see it all.
    let full = app.get(&path, staff).await.expect(200).body;
    assert_eq!(full["tags"], json!([TAG]));
    assert_eq!(full["time_spent_minutes"], 45);
    assert_eq!(full["custom_fields"], json!({"programme": "ipa", "grant_code": GRANT}));
    let staff_messages = app.get(&format!("{path}/messages"), staff).await.expect(200).body;
    assert_eq!(staff_messages.as_array().unwrap().last().unwrap()["saved_reply_id"], reply["id"]);

    // The requester and a colleague of the same organisation see none of it.
    let colleague = app.create_user("requester", None, Some(&net.cso_a)).await;
    for token in [&net.requester_a.token, &colleague.token] {
        hides_staff_things(&app.get(&path, token).await.expect(200).body);
        let listing = app.get("/api/v1/tickets", token).await.expect(200).body;
        let items = listing["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        hides_staff_things(&items[0]);
        let found = app.get("/api/v1/tickets?q=answer", token).await.expect(200).body;
        for item in found["items"].as_array().unwrap() {
            hides_staff_things(item);
        }

        let messages = app.get(&format!("{path}/messages"), token).await.expect(200).body;
        let messages = messages.as_array().unwrap();
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[2]["body"], "Me respekt", "the requester reads Albanian (sq)");
        for message in messages {
            assert!(message.get("saved_reply_id").is_none_or(Value::is_null), "{message}");
            assert!(message.get("time_spent_minutes").is_none_or(Value::is_null), "{message}");
        }

        let events = app.get(&format!("{path}/events"), token).await.expect(200).body;
        for event in events.as_array().unwrap() {
            let kind = event["kind"].as_str().unwrap();
            assert!(!kind.starts_with("tag_") && !kind.starts_with("time_"), "{event}");
            if kind == "custom_field_changed" {
                assert_eq!(event["details"]["key"], "programme", "{event}");
            }
            assert_eq!(event["internal"], false, "{event}");
        }
        let text = events.to_string();
        assert!(!text.contains(TAG) && !text.contains(GRANT) && !text.contains(NOTE), "{text}");

        app.get(&format!("{path}/time"), token).await.problem(403);
        app.get(&format!("/api/v1/tickets?tag={TAG}"), token).await.problem(403);
        app.get("/api/v1/tags", token).await.problem(403);
        app.get("/api/v1/saved-replies", token).await.problem(403);
        app.get("/api/v1/reports/time?group_by=advisor", token).await.problem(403);
        app.get("/api/v1/reports/tickets", token).await.problem(403);
        let definitions = app.get("/api/v1/custom-fields", token).await.expect(200).body;
        assert!(!definitions.to_string().contains("grant_code"), "{definitions}");
    }

    // Their own change answers the same way.
    let closed = app.patch(&path, &net.requester_a.token, json!({"status": "closed"})).await.expect(200).body;
    hides_staff_things(&closed);

    // Nor do their notifications carry any of it.
    let leaked = app.count(&format!(
        "SELECT count(*) AS count FROM outbox WHERE recipient_id = '{}' AND (snapshot::text LIKE '%{TAG}%' \
         OR snapshot::text LIKE '%{GRANT}%' OR snapshot::text LIKE '%{NOTE}%' \
         OR coalesce(sent_text, '') LIKE '%{GRANT}%')",
        net.requester_a.id
    ));
    assert_eq!(leaked, 0);
    assert!(
        app.count(&format!("SELECT count(*) AS count FROM outbox WHERE recipient_id = '{}'", net.requester_a.id)) >= 2,
        "the requester was notified (receipt and replies), just without staff things"
    );
}
