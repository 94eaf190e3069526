//! Merging tickets (issue #15), end to end: conversation, tags and time move to the target, the source closes and
//! keeps resolving to the target, both requesters are told once by email, and an email reply to the source's
//! notification lands on the target; and the refusals.

use std::collections::HashSet;
use std::time::Duration;

use diesel::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, TestUser, spawn_network};
use crate::inbound::{email, network_with_mail, plain, post_email};
use crate::smtp_sink::SmtpSink;

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
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

/// The Message-IDs of the `kind` notifications sent to `user`.
fn sent_ids(app: &TestApp, user: &TestUser, of_kind: &str) -> Vec<Option<String>> {
    use civicdesk::schema::outbox::dsl::*;
    outbox
        .filter(kind.eq(of_kind))
        .filter(recipient_id.eq(user.id))
        .select(message_id)
        .load::<Option<String>>(&mut app.conn())
        .unwrap()
}

async fn post_message(app: &TestApp, ticket: &Value, token: &str, body: &str) -> Value {
    app.post(&format!("/api/v1/tickets/{}/messages", id(ticket)), token, json!({"body": body})).await.expect(201).body
}

async fn merge(app: &TestApp, source: &Value, token: &str, body: Value) -> crate::helpers::Answer {
    app.post(&format!("/api/v1/tickets/{}/merge", id(source)), token, body).await
}

#[tokio::test]
async fn a_merge_moves_everything_to_the_target_tells_both_requesters_once_and_mail_follows() {
    let sink = SmtpSink::start().await;
    let net = network_with_mail(&sink, |_| {}).await;
    let app = &net.app;
    let colleague = app.create_user("requester", None, Some(&net.cso_a)).await;

    // Two tickets of one organisation, by two of its people, with messages interleaved in time.
    let target = app.submit(&colleague.token, "Budget annex, part one", "funding").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let source = app.submit(&net.requester_a.token, "Budget annex, part two", "funding").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    post_message(app, &target, &net.advisor.token, "Target answer").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    post_message(app, &source, &net.advisor.token, "Source answer").await;
    let tag = |ticket: &Value, tag: &str| {
        app.request(Method::PUT, &format!("/api/v1/tickets/{}/tags/{tag}", id(ticket)), Some(&net.advisor.token))
    };
    app.send(tag(&source, "from-source")).await.expect(200);
    app.send(tag(&target, "on-target")).await.expect(200);
    app.post(&format!("/api/v1/tickets/{}/time", id(&source)), &net.advisor.token, json!({"minutes": 20}))
        .await
        .expect(201);
    let source_reference = source["reference"].as_i64().unwrap();
    let target_reference = target["reference"].as_i64().unwrap();

    // A notification the source's requester got before the merge, and its signed reply address.
    drained(app).await;
    let before = sink.wait_for(6).await;
    let about_source = before
        .iter()
        .find(|m| {
            m.to == [email(&net.requester_a)]
                && m.header("Subject").unwrap().starts_with(&format!("[#{source_reference}]"))
        })
        .expect("a notification about the source");
    let reply_to = about_source.header("Reply-To").unwrap().trim_matches(['<', '>']).to_owned();
    let mails_before = sink.messages().len();

    let merged =
        merge(app, &source, &net.advisor.token, json!({"into": target_reference.to_string()})).await.expect(200);
    assert_eq!(merged.body["id"], target["id"], "the answer is the target");

    // The conversation: in order of time, the source's messages marked.
    let messages = app.get(&format!("/api/v1/tickets/{}/messages", id(&target)), &app.admin_token).await.expect(200);
    let messages = messages.body.as_array().unwrap().clone();
    let bodies: Vec<&str> = messages.iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(
        bodies,
        [
            "Details about Budget annex, part one",
            "Details about Budget annex, part two",
            "Target answer",
            "Source answer"
        ]
    );
    let marks: Vec<&Value> = messages.iter().map(|m| &m["merged_from"]).collect();
    assert_eq!(marks, [&Value::Null, &source["id"], &Value::Null, &source["id"]]);
    assert!(messages.iter().all(|m| m["ticket_id"] == target["id"]));
    assert_eq!(app.count(&format!("SELECT count(*) AS count FROM messages WHERE ticket_id = '{}'", id(&source))), 0);

    // Tags and time moved too.
    let now = app.get(&format!("/api/v1/tickets/{}", id(&target)), &net.advisor.token).await.expect(200).body;
    assert_eq!(now["tags"], json!(["from-source", "on-target"]));
    assert_eq!(now["time_spent_minutes"], 20);
    let time = app.get(&format!("/api/v1/tickets/{}/time", id(&target)), &net.advisor.token).await.expect(200).body;
    assert_eq!(time["total_minutes"], 20);
    assert_eq!(time["items"][0]["ticket_id"], target["id"]);

    // The source: closed, pointing at the target; its reference answers the target.
    let by_reference = app.get(&format!("/api/v1/tickets/{source_reference}"), &net.advisor.token).await.expect(200);
    assert_eq!(by_reference.body["id"], target["id"]);
    assert_eq!(by_reference.body["merged_from"], json!({"id": source["id"], "reference": source_reference}));
    assert_eq!(by_reference.headers["content-location"], format!("/api/v1/tickets/{}", id(&target)).as_str());
    let by_id = app.get(&format!("/api/v1/tickets/{}", id(&source)), &net.requester_a.token).await.expect(200);
    assert_eq!(by_id.body["id"], target["id"], "the source's requester follows it to the target");
    let via_source =
        app.get(&format!("/api/v1/tickets/{}/messages", id(&source)), &app.admin_token).await.expect(200).body;
    assert_eq!(via_source.as_array().unwrap().len(), 4, "per-ticket endpoints act on the target");
    let closed = app.get("/api/v1/tickets?status=closed", &net.advisor.token).await.expect(200).body;
    let listed = closed["items"].as_array().unwrap().iter().find(|t| t["id"] == source["id"]).expect("listed");
    assert_eq!(listed["status"], "closed");
    assert_eq!(listed["merged_into"], target["id"]);
    assert_eq!(
        app.count(&format!("SELECT count(*) AS count FROM tickets WHERE id = '{}' AND status = 'closed'", id(&source))),
        1
    );

    // The audit trail, public to the requesters.
    let events = app.get(&format!("/api/v1/tickets/{}/events", id(&target)), &colleague.token).await.expect(200).body;
    let merged_in: Vec<&Value> = events.as_array().unwrap().iter().filter(|e| e["kind"] == "merged_in").collect();
    assert_eq!(merged_in.len(), 1, "{events:#}");
    assert_eq!(merged_in[0]["new_value"], source_reference.to_string());
    assert_eq!(merged_in[0]["internal"], false);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS count FROM ticket_events WHERE kind = 'merged' AND new_value = '{target_reference}'"
        )),
        1
    );

    // Both requesters are told, once each, by email.
    drained(app).await;
    for person in [&net.requester_a, &colleague] {
        let ids = sent_ids(app, person, "ticket_merged");
        assert_eq!(ids.len(), 1, "one merge notification for {}", email(person));
        let message_id = ids[0].clone().expect("sent");
        let mails = sink.wait_for(mails_before + 2).await;
        let received: Vec<_> =
            mails.iter().filter(|m| m.header("Message-ID").as_deref() == Some(message_id.as_str())).collect();
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].to, [email(person)]);
    }

    // A reply to the source's old notification lands on the target.
    let subject = format!("Re: {}", about_source.header("Subject").unwrap());
    let raw = plain(&email(&net.requester_a), &reply_to, &subject, "", "Here is the second part of the annex.");
    let taken = post_email(app, raw).await.expect(200).body;
    assert_eq!(taken["outcome"], "added", "{taken}");
    assert_eq!(taken["ticket_id"], target["id"]);
    let messages = app.get(&format!("/api/v1/tickets/{}/messages", id(&target)), &app.admin_token).await.expect(200);
    let last = messages.body.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["body"], "Here is the second part of the annex.");
    assert_eq!(last["author_id"], net.requester_a.user["id"]);
    assert_eq!(last["channel"], "email");
    assert_eq!(app.count(&format!("SELECT count(*) AS count FROM messages WHERE ticket_id = '{}'", id(&source))), 0);
    assert_eq!(
        app.count(&format!("SELECT count(*) AS count FROM tickets WHERE id = '{}' AND status = 'closed'", id(&source))),
        1,
        "the reply did not reopen the merged ticket"
    );
}

#[tokio::test]
async fn one_requester_of_both_tickets_is_told_once() {
    let net = spawn_network().await;
    let app = &net.app;
    let target = app.submit(&net.requester_a.token, "First", "funding").await;
    let source = app.submit(&net.requester_a.token, "Second", "funding").await;
    merge(app, &source, &net.advisor.token, json!({"into": id(&target)})).await.expect(200);
    let told = app.count(&format!(
        "SELECT count(*) AS count FROM outbox WHERE kind = 'ticket_merged' AND recipient_id = '{}'",
        net.requester_a.id
    ));
    assert_eq!(told, 1);
}

#[tokio::test]
async fn merges_into_itself_a_closed_ticket_or_across_organisations_are_refused() {
    let net = spawn_network().await;
    let app = &net.app;
    let first = app.submit(&net.requester_a.token, "First", "funding").await;
    let second = app.submit(&net.requester_a.token, "Second", "funding").await;
    let closed = app.submit(&net.requester_a.token, "Closed", "funding").await;
    app.patch(&format!("/api/v1/tickets/{}", id(&closed)), &net.advisor.token, json!({"status": "closed"}))
        .await
        .expect(200);
    let other_cso = app.submit(&net.requester_b.token, "Other organisation", "funding").await;
    let serbia = app.create_office("RS", "RS", false).await;
    let serbian_cso = app.create_organization("Belgrade Forum", "RS").await;
    let serbian_requester = app.create_user("requester", None, Some(&serbian_cso)).await;
    let serbian = app.submit(&serbian_requester.token, "Serbian", "funding").await;
    let _ = serbia;
    let events_before = app.count("SELECT count(*) AS count FROM ticket_events");

    merge(app, &first, &net.advisor.token, json!({"into": id(&first)})).await.problem(409);
    merge(app, &first, &net.advisor.token, json!({"into": first["reference"].to_string()})).await.problem(409);
    merge(app, &first, &net.advisor.token, json!({"into": id(&closed)})).await.problem(409);
    // Across organisations: refused for advisors, and for coordinators unless they say so.
    merge(app, &other_cso, &net.advisor.token, json!({"into": id(&first)})).await.problem(409);
    merge(app, &other_cso, &net.advisor.token, json!({"into": id(&first), "across_organizations": true}))
        .await
        .problem(409);
    merge(app, &other_cso, &net.coordinator.token, json!({"into": id(&first)})).await.problem(409);
    // Not visible to the caller, or not there at all.
    merge(app, &first, &net.advisor.token, json!({"into": id(&serbian)})).await.problem(404);
    merge(app, &serbian, &net.advisor.token, json!({"into": id(&first)})).await.problem(404);
    merge(app, &first, &net.advisor.token, json!({"into": Uuid::now_v7().to_string()})).await.problem(404);
    // Requesters do not merge.
    merge(app, &second, &net.requester_a.token, json!({"into": id(&first)})).await.problem(403);
    assert_eq!(app.count("SELECT count(*) AS count FROM ticket_events"), events_before, "refusals change nothing");
    for ticket in [&first, &second, &other_cso] {
        let read = app.get(&format!("/api/v1/tickets/{}", id(ticket)), &app.admin_token).await.expect(200).body;
        assert_eq!(read["id"], ticket["id"]);
        assert_eq!(read["status"], "new");
        assert!(read["merged_into"].is_null());
    }

    // Once merged, neither a second merge of the source nor a merge into it (a cycle) is possible.
    merge(app, &second, &net.advisor.token, json!({"into": id(&first)})).await.expect(200);
    let source_row = |ticket: &Value| {
        app.count(&format!(
            "SELECT count(*) AS count FROM tickets WHERE id = '{}' AND merged_into = '{}'",
            id(ticket),
            id(&first)
        ))
    };
    assert_eq!(source_row(&second), 1);
    let problem = merge(app, &second, &net.advisor.token, json!({"into": id(&first)})).await.problem(409);
    assert!(problem["detail"].is_string());
    merge(app, &first, &net.advisor.token, json!({"into": id(&second)})).await.problem(409);
    let third = app.submit(&net.requester_a.token, "Third", "funding").await;
    merge(app, &third, &net.advisor.token, json!({"into": id(&second)})).await.problem(409);

    // A coordinator who means it merges across organisations.
    let across =
        merge(app, &other_cso, &net.coordinator.token, json!({"into": id(&first), "across_organizations": true}))
            .await
            .expect(200)
            .body;
    assert_eq!(across["id"], first["id"]);
    assert_eq!(source_row(&other_cso), 1);
    let ids: HashSet<String> = app
        .get(&format!("/api/v1/tickets/{}/messages", id(&first)), &app.admin_token)
        .await
        .expect(200)
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["merged_from"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids, HashSet::from([id(&second), id(&other_cso)]));
}
