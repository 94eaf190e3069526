//! The change feed: commit order, a cursor that neither skips nor repeats while others write (including a
//! transaction that commits after later ones), and what each role sees.

use std::collections::HashSet;
use std::time::Duration;

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_network};

/// Reads the feed from `after` until a page comes back empty; returns the events and the last cursor.
async fn drain(app: &TestApp, token: &str, mut after: String, query: &str) -> (Vec<Value>, String) {
    let mut events = Vec::new();
    loop {
        let path = format!("/api/v1/events?limit=7&after={after}{query}");
        let page = app.get(&path, token).await.expect(200).body;
        let items = page["items"].as_array().unwrap().clone();
        let next = page["next_cursor"].as_str().unwrap().to_owned();
        if items.is_empty() {
            if !after.is_empty() {
                assert_eq!(next, after, "an empty page gives the same cursor back");
            }
            return (events, next);
        }
        events.extend(items);
        after = next;
    }
}

/// Keeps reading from `after` (as a polling client does) until the events read satisfy `enough` (at most 10 s):
/// the feed waits for every transaction older than its events, in any database of the cluster the tests share.
async fn follow(
    app: &TestApp,
    token: &str,
    mut after: String,
    query: &str,
    enough: impl Fn(&[Value]) -> bool,
) -> (Vec<Value>, String) {
    let mut events = Vec::new();
    for _ in 0..200 {
        let (more, next) = drain(app, token, after, query).await;
        events.extend(more);
        after = next;
        if enough(&events) {
            return (events, after);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the feed never got there: {events:#?}");
}

fn ids(events: &[Value]) -> Vec<i64> {
    events.iter().map(|event| event["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn a_transaction_that_commits_late_is_waited_for_not_skipped() {
    let net = spawn_network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Statute change", "legal_registration").await;
    let ticket_id = ticket["id"].as_str().unwrap().to_owned();
    // The late writer's event is on another ticket: its foreign key holds a share lock on that ticket's row.
    let other = app.submit(&net.requester_b.token, "Another request", "other").await;
    let late = other["id"].as_str().unwrap().to_owned();
    let total = usize::try_from(app.count("SELECT count(*) FROM ticket_events")).unwrap();
    let (before, cursor) = follow(app, &app.admin_token, String::new(), "", |events| events.len() >= total).await;
    assert!(!before.is_empty());

    // A writer takes an event id and holds its transaction open...
    let database_url = app.database_url.clone();
    let (taken, wait_taken) = std::sync::mpsc::channel();
    let (commit, wait_commit) = std::sync::mpsc::channel::<()>();
    let writer = std::thread::spawn(move || {
        let mut conn = PgConnection::establish(&database_url).unwrap();
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            diesel::sql_query(format!(
                "INSERT INTO ticket_events (ticket_id, kind, internal, details) \
                 VALUES ('{late}', 'priority_changed', false, '{{}}')"
            ))
            .execute(conn)?;
            taken.send(()).unwrap();
            wait_commit.recv().unwrap();
            Ok(())
        })
        .unwrap();
    });
    wait_taken.recv().unwrap();
    // ...while a later change commits with a larger id.
    let path = format!("/api/v1/tickets/{ticket_id}/messages");
    app.post(&path, &net.advisor.token, json!({"body": "A later change"})).await.expect(201);
    let (meanwhile, same) = drain(app, &app.admin_token, cursor.clone(), "").await;
    assert!(meanwhile.is_empty(), "nothing past a transaction still running: {meanwhile:#?}");
    assert_eq!(same, cursor);

    commit.send(()).unwrap();
    writer.join().unwrap();
    let (after, _) = follow(app, &app.admin_token, cursor, "", |events| events.len() >= 2).await;
    let kinds: Vec<&str> = after.iter().map(|event| event["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"priority_changed"), "the late commit comes first (it started first): {kinds:?}");
    assert!(kinds.contains(&"message_added"), "{kinds:?}");
}

#[tokio::test]
async fn concurrent_writers_neither_gaps_nor_repeats() {
    let net = spawn_network().await;
    let app = &net.app;
    let mut tickets = Vec::new();
    for n in 0..4 {
        let ticket = app.submit(&net.requester_a.token, &format!("Request {n}"), "other").await;
        tickets.push(ticket["id"].as_str().unwrap().to_owned());
    }
    // Four writers post messages while a reader follows the feed.
    let writers: Vec<_> = tickets
        .iter()
        .map(|ticket| {
            let (client, address, token) = (app.client.clone(), app.address.clone(), net.advisor.token.clone());
            let path = format!("{address}/api/v1/tickets/{ticket}/messages");
            tokio::spawn(async move {
                for n in 0..15 {
                    let body = json!({"body": format!("Reply {n}"), "internal": n % 3 == 0});
                    let answer = client.post(&path).bearer_auth(&token).json(&body).send().await.unwrap();
                    assert_eq!(answer.status().as_u16(), 201);
                }
            })
        })
        .collect();
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut done = false;
    while !done {
        done = writers.iter().all(|writer| writer.is_finished());
        let (events, next) = drain(app, &app.admin_token, cursor, "").await;
        seen.extend(events);
        cursor = next;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let total: i64 = app.count("SELECT count(*) FROM ticket_events");
    let already = seen.len();
    let (rest, _) =
        follow(app, &app.admin_token, cursor, "", |rest| i64::try_from(already + rest.len()).unwrap() >= total).await;
    seen.extend(rest);
    let seen = ids(&seen);
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no event twice");
    let all: Vec<i64> = diesel::sql_query("SELECT id FROM ticket_events ORDER BY id")
        .load::<IdRow>(&mut app.conn())
        .unwrap()
        .into_iter()
        .map(|row| row.id)
        .collect();
    let all: HashSet<i64> = all.into_iter().collect();
    assert_eq!(unique, all, "every event, none missing");
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

#[tokio::test]
async fn each_role_sees_what_it_may_and_filters_and_bad_cursors_are_clear() {
    let net = spawn_network().await;
    let app = &net.app;
    let mine = app.submit(&net.requester_a.token, "Ours", "legal_registration").await;
    let theirs = app.submit(&net.requester_b.token, "Theirs", "legal_registration").await;
    let path = format!("/api/v1/tickets/{}/messages", mine["id"].as_str().unwrap());
    app.post(&path, &net.advisor.token, json!({"body": "Internal", "internal": true})).await.expect(201);
    app.post(&path, &net.advisor.token, json!({"body": "Public"})).await.expect(201);

    // Everything written so far is committed: wait until the admin's feed shows it all.
    let total = usize::try_from(app.count("SELECT count(*) FROM ticket_events")).unwrap();
    follow(app, &app.admin_token, String::new(), "", |events| events.len() >= total).await;
    let (requester, _) = drain(app, &net.requester_a.token, String::new(), "").await;
    assert!(!requester.is_empty());
    assert!(requester.iter().all(|event| event["ticket_id"] == mine["id"]), "only their CSO's tickets");
    assert!(requester.iter().all(|event| event["internal"] == false), "no staff-only events");
    let (other, _) = drain(app, &net.requester_b.token, String::new(), "").await;
    assert!(other.iter().all(|event| event["ticket_id"] == theirs["id"]));
    let (staff, _) = drain(app, &app.admin_token, String::new(), "").await;
    assert!(staff.iter().any(|event| event["internal"] == true));
    assert!(staff.len() > requester.len() + other.len() - 1);

    let (messages, _) = drain(app, &app.admin_token, String::new(), "&types=message_added").await;
    assert_eq!(messages.len(), 2, "{messages:#?}");
    app.get("/api/v1/events?types=nonsense", &app.admin_token).await.problem(422);
    app.get("/api/v1/events?limit=0", &app.admin_token).await.problem(422);
    app.get("/api/v1/events?after=garbage", &app.admin_token).await.problem(400);
    app.send(app.request(reqwest::Method::GET, "/api/v1/events", None)).await.problem(401);
}
