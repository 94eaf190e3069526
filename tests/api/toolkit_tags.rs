//! Tags (issue #15): normalisation, idempotent PUT/DELETE, filters, counts, audit events, and requesters never
//! seeing any of it.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Answer, Network, TestApp, spawn_network};

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

async fn put(app: &TestApp, path: &str, token: &str) -> Answer {
    app.send(app.request(Method::PUT, path, Some(token))).await
}

async fn delete(app: &TestApp, path: &str, token: &str) -> Answer {
    app.send(app.request(Method::DELETE, path, Some(token))).await
}

/// PUT `/tickets/{ticket}/tags/{tag}` as `token` (the tag already percent-encoded when it needs to be).
async fn tag(app: &TestApp, ticket: &Value, tag: &str, token: &str) -> Answer {
    put(app, &format!("/api/v1/tickets/{}/tags/{tag}", id(ticket)), token).await
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("an array: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| errors.iter().map(|e| e["field"].as_str().unwrap_or("").to_owned()).collect())
        .unwrap_or_default()
}

fn ids(page: &Value) -> Vec<String> {
    let mut ids: Vec<String> = page["items"].as_array().unwrap().iter().map(id).collect();
    ids.sort();
    ids
}

fn sorted(tickets: &[&Value]) -> Vec<String> {
    let mut ids: Vec<String> = tickets.iter().map(|t| id(t)).collect();
    ids.sort();
    ids
}

async fn events(app: &TestApp, ticket: &Value, token: &str) -> Vec<Value> {
    app.get(&format!("/api/v1/tickets/{}/events", id(ticket)), token).await.expect(200).body.as_array().unwrap().clone()
}

fn kinds(events: &[Value], kind: &str) -> Vec<Value> {
    events.iter().filter(|e| e["kind"] == kind).cloned().collect()
}

#[tokio::test]
async fn tags_are_normalised_and_bad_ones_refused() {
    let net = spawn_network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "IPA grant question", "funding").await;

    // "  IPA-2026 " is trimmed and lower-cased.
    let answer = tag(app, &ticket, "%20%20IPA-2026%20", &net.advisor.token).await.expect(200).body;
    assert_eq!(strings(&answer["tags"]), ["ipa-2026"]);

    // Characters outside a-z 0-9 - _ : are refused, naming the field `tag`.
    for bad in ["bad%20tag%21", "na%C3%AFve", "semi%3Bcolon", "%20%20"] {
        let problem = tag(app, &ticket, bad, &net.advisor.token).await.problem(422);
        assert_eq!(error_fields(&problem), ["tag"], "{bad}: {problem}");
    }
    // At most 50 characters.
    let problem = tag(app, &ticket, &"a".repeat(51), &net.advisor.token).await.problem(422);
    assert_eq!(error_fields(&problem), ["tag"]);
    let fifty = "b".repeat(50);
    let answer = tag(app, &ticket, &fifty, &net.advisor.token).await.expect(200).body;
    assert!(strings(&answer["tags"]).contains(&fifty));
    // The other allowed characters, and the answer is sorted.
    let answer = tag(app, &ticket, "eu_funds:2026", &net.advisor.token).await.expect(200).body;
    assert_eq!(strings(&answer["tags"]), [fifty.as_str(), "eu_funds:2026", "ipa-2026"]);

    let read = app.get(&format!("/api/v1/tickets/{}", id(&ticket)), &net.advisor.token).await.expect(200).body;
    assert_eq!(strings(&read["tags"]), [fifty.as_str(), "eu_funds:2026", "ipa-2026"]);
    assert_eq!(app.count("SELECT count(*) AS count FROM tickets"), 1);
}

#[tokio::test]
async fn put_and_delete_are_idempotent_and_audited_once() {
    let net = spawn_network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Audit question", "financial_management").await;
    let path = |t: &str| format!("/api/v1/tickets/{}/tags/{t}", id(&ticket));

    assert_eq!(strings(&put(app, &path("audit"), &net.advisor.token).await.expect(200).body["tags"]), ["audit"]);
    // Adding it again (in another case) changes nothing and records nothing.
    assert_eq!(strings(&put(app, &path("AUDIT"), &net.coordinator.token).await.expect(200).body["tags"]), ["audit"]);
    assert_eq!(strings(&put(app, &path("zeta"), &net.advisor.token).await.expect(200).body["tags"]), ["audit", "zeta"]);
    assert_eq!(
        strings(&put(app, &path("alpha"), &net.advisor.token).await.expect(200).body["tags"]),
        ["alpha", "audit", "zeta"]
    );

    let trail = events(app, &ticket, &net.advisor.token).await;
    let added = kinds(&trail, "tag_added");
    assert_eq!(added.len(), 3, "{trail:#?}");
    let values: Vec<&Value> = added.iter().map(|e| &e["new_value"]).collect();
    assert_eq!(values, [&json!("audit"), &json!("zeta"), &json!("alpha")]);
    assert!(added.iter().all(|e| e["internal"] == true));
    assert_eq!(added[0]["actor_id"], net.advisor.user["id"]);

    // Removing: present once, then absent (200 both times, one event).
    let removed = delete(app, &path("zeta"), &net.advisor.token).await.expect(200).body;
    assert_eq!(strings(&removed["tags"]), ["alpha", "audit"]);
    let again = delete(app, &path("zeta"), &net.advisor.token).await.expect(200).body;
    assert_eq!(strings(&again["tags"]), ["alpha", "audit"]);
    let never = delete(app, &path("never-there"), &net.advisor.token).await.expect(200).body;
    assert_eq!(strings(&never["tags"]), ["alpha", "audit"]);
    let trail = events(app, &ticket, &net.advisor.token).await;
    let removed = kinds(&trail, "tag_removed");
    assert_eq!(removed.len(), 1, "{trail:#?}");
    assert_eq!(removed[0]["old_value"], "zeta");
    assert_eq!(kinds(&trail, "tag_added").len(), 3);

    // PATCH replaces the whole set: one event per tag added or removed.
    let patched = app
        .patch(&format!("/api/v1/tickets/{}", id(&ticket)), &net.advisor.token, json!({"tags": ["Audit", "new-one"]}))
        .await
        .expect(200)
        .body;
    assert_eq!(strings(&patched["tags"]), ["audit", "new-one"]);
    let trail = events(app, &ticket, &net.advisor.token).await;
    assert_eq!(kinds(&trail, "tag_added").len(), 4);
    assert_eq!(kinds(&trail, "tag_removed").len(), 2, "alpha went");
    let problem = app
        .patch(&format!("/api/v1/tickets/{}", id(&ticket)), &net.advisor.token, json!({"tags": ["fine", "not fine!"]}))
        .await
        .problem(422);
    assert!(error_fields(&problem).iter().any(|f| f.starts_with("tag")), "{problem}");

    // At most 50 tags on a ticket.
    let many: Vec<String> = (0..51).map(|n| format!("t{n}")).collect();
    app.patch(&format!("/api/v1/tickets/{}", id(&ticket)), &net.advisor.token, json!({"tags": many}))
        .await
        .problem(422);
    let fifty: Vec<String> = (0..50).map(|n| format!("t{n}")).collect();
    app.patch(&format!("/api/v1/tickets/{}", id(&ticket)), &net.advisor.token, json!({"tags": fifty}))
        .await
        .expect(200);
    put(app, &path("one-too-many"), &net.advisor.token).await.problem(422);
    let read = app.get(&format!("/api/v1/tickets/{}", id(&ticket)), &net.advisor.token).await.expect(200).body;
    assert_eq!(read["tags"].as_array().unwrap().len(), 50);
}

/// Four Kosovo tickets tagged [ipa, audit], [ipa], [audit], [] and one Serbian ticket tagged [ipa, horizon].
async fn tagged(net: &Network) -> (Vec<Value>, Value) {
    let app = &net.app;
    let mut tickets = Vec::new();
    for (n, tags) in [vec!["ipa", "audit"], vec!["ipa"], vec!["audit"], vec![]].into_iter().enumerate() {
        let ticket = app.submit(&net.requester_a.token, &format!("Tagged {n}"), "funding").await;
        for t in tags {
            tag(app, &ticket, t, &net.advisor.token).await.expect(200);
        }
        tickets.push(ticket);
    }
    let serbia = app.create_office("RS", "RS", false).await;
    let cso = app.create_organization("Belgrade Forum", "RS").await;
    let requester = app.create_user("requester", None, Some(&cso)).await;
    let serbian_advisor = app.create_user("advisor", Some(&serbia), None).await;
    let serbian = app.submit(&requester.token, "Serbian IPA", "funding").await;
    for t in ["ipa", "horizon"] {
        tag(app, &serbian, t, &serbian_advisor.token).await.expect(200);
    }
    // The Kosovo advisor may not tag what they may not see.
    tag(app, &serbian, "sneaky", &net.advisor.token).await.problem(404);
    (tickets, serbian)
}

#[tokio::test]
async fn listings_filter_by_any_or_all_tags() {
    let net = spawn_network().await;
    let app = &net.app;
    let (t, serbian) = tagged(&net).await;
    let admin = &app.admin_token;
    let cases: Vec<(&str, Vec<&Value>)> = vec![
        ("tag=ipa", vec![&t[0], &t[1], &serbian]),
        ("tag=ipa,audit", vec![&t[0], &t[1], &t[2], &serbian]),
        ("tag=IPA", vec![&t[0], &t[1], &serbian]),
        ("tag=audit", vec![&t[0], &t[2]]),
        ("tag_all=ipa,audit", vec![&t[0]]),
        ("tag_all=ipa", vec![&t[0], &t[1], &serbian]),
        ("tag_all=ipa,horizon", vec![&serbian]),
        ("tag_all=audit,horizon", vec![]),
        ("tag=nothing-has-this", vec![]),
        ("tag=ipa&tag_all=audit", vec![&t[0]]),
        ("tag=horizon,audit&country=XK", vec![&t[0], &t[2]]),
    ];
    for (query, expected) in cases {
        let page = app.get(&format!("/api/v1/tickets?{query}"), admin).await.expect(200).body;
        assert_eq!(ids(&page), sorted(&expected), "{query}");
    }
    // Advisors only see their office's tickets through the filter too.
    let page = app.get("/api/v1/tickets?tag=ipa", &net.advisor.token).await.expect(200).body;
    assert_eq!(ids(&page), sorted(&[&t[0], &t[1]]));
}

#[tokio::test]
async fn tag_counts_are_over_the_tickets_the_caller_may_see() {
    let net = spawn_network().await;
    let app = &net.app;
    tagged(&net).await;
    let pairs = |body: &Value| -> Vec<(String, i64)> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["tag"].as_str().unwrap().to_owned(), i["tickets"].as_i64().unwrap()))
            .collect()
    };
    let all = app.get("/api/v1/tags", &net.coordinator.token).await.expect(200).body;
    // Most used first, then by tag.
    assert_eq!(pairs(&all), [("ipa".to_owned(), 3), ("audit".to_owned(), 2), ("horizon".to_owned(), 1)]);
    let kosovo = app.get("/api/v1/tags", &net.advisor.token).await.expect(200).body;
    assert_eq!(pairs(&kosovo), [("audit".to_owned(), 2), ("ipa".to_owned(), 2)], "the Serbian ticket is not theirs");
    let prefixed = app.get("/api/v1/tags?q=h", &net.coordinator.token).await.expect(200).body;
    assert_eq!(pairs(&prefixed), [("horizon".to_owned(), 1)]);
    let prefixed = app.get("/api/v1/tags?q=IP", &net.coordinator.token).await.expect(200).body;
    assert_eq!(pairs(&prefixed), [("ipa".to_owned(), 3)]);
    let limited = app.get("/api/v1/tags?limit=1", &net.coordinator.token).await.expect(200).body;
    assert_eq!(pairs(&limited), [("ipa".to_owned(), 3)]);
    let none = app.get("/api/v1/tags?q=zzz", &net.coordinator.token).await.expect(200).body;
    assert!(pairs(&none).is_empty());
    // Removing a tag updates the counts.
    let page = app.get("/api/v1/tickets?tag=audit", &net.advisor.token).await.expect(200).body;
    for ticket in page["items"].as_array().unwrap() {
        delete(app, &format!("/api/v1/tickets/{}/tags/audit", id(ticket)), &net.advisor.token).await.expect(200);
    }
    let after = app.get("/api/v1/tags", &net.coordinator.token).await.expect(200).body;
    assert_eq!(pairs(&after), [("ipa".to_owned(), 3), ("horizon".to_owned(), 1)]);
    app.get("/api/v1/tags", &net.requester_a.token).await.problem(403);
}

#[tokio::test]
async fn requesters_never_see_or_touch_tags() {
    let net = spawn_network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Private labels", "advocacy").await;
    tag(app, &ticket, "difficult-requester", &net.advisor.token).await.expect(200);
    let path = format!("/api/v1/tickets/{}", id(&ticket));

    let staff = app.get(&path, &net.advisor.token).await.expect(200).body;
    assert_eq!(strings(&staff["tags"]), ["difficult-requester"]);
    let mine = app.get(&path, &net.requester_a.token).await.expect(200).body;
    assert!(mine.get("tags").is_none(), "no tags key for requesters: {mine}");
    let listing = app.get("/api/v1/tickets", &net.requester_a.token).await.expect(200).body;
    let item = &listing["items"][0];
    assert_eq!(item["id"], ticket["id"]);
    assert!(item.get("tags").is_none(), "{item}");
    assert!(!listing.to_string().contains("difficult-requester"));

    app.get("/api/v1/tickets?tag=difficult-requester", &net.requester_a.token).await.problem(403);
    app.get("/api/v1/tickets?tag_all=difficult-requester", &net.requester_a.token).await.problem(403);
    app.get("/api/v1/tags", &net.requester_a.token).await.problem(403);
    tag(app, &ticket, "mine", &net.requester_a.token).await.problem(403);
    delete(app, &format!("{path}/tags/difficult-requester"), &net.requester_a.token).await.problem(403);
    app.patch(&path, &net.requester_a.token, json!({"tags": []})).await.problem(403);

    // Their own closing of the ticket answers without tags too.
    let closed = app.patch(&path, &net.requester_a.token, json!({"status": "closed"})).await.expect(200).body;
    assert!(closed.get("tags").is_none(), "{closed}");

    let trail = events(app, &ticket, &net.requester_a.token).await;
    assert!(kinds(&trail, "tag_added").is_empty(), "{trail:#?}");
    assert!(!serde_json::to_string(&trail).unwrap().contains("difficult-requester"));
    let staff_trail = events(app, &ticket, &net.advisor.token).await;
    assert_eq!(kinds(&staff_trail, "tag_added").len(), 1);
    let still = app.get(&path, &net.advisor.token).await.expect(200).body;
    assert_eq!(strings(&still["tags"]), ["difficult-requester"], "the requester's attempts changed nothing");
}
