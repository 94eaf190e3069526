//! Satisfaction: the signed links of the "resolved" email (opening one records nothing; its button does) and the
//! API.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use civicdesk::config::Settings;
use civicdesk::domain::satisfaction::RatingToken;
use diesel::RunQueryDsl;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Network, TestApp, spawn_network_with};
use crate::smtp_sink::SmtpSink;

/// The path and query of the link that records `rating` in a plain-text notification (the labels are in the
/// recipient's language).
fn link(text: &str, rating: &str) -> String {
    let suffix = format!("?rating={rating}");
    let line = text.lines().find(|l| l.trim_end().ends_with(&suffix)).unwrap_or_else(|| panic!("a link in {text}"));
    let url = line.split_whitespace().last().unwrap();
    let path = url.strip_prefix("https://desk.example.org").unwrap_or_else(|| panic!("link on PUBLIC_URL: {url}"));
    path.to_owned()
}

#[tokio::test]
async fn the_resolved_email_carries_signed_rating_links() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let net = spawn_network_with(move |settings| {
        settings.mail.smtp_url = Some(url);
        settings.mail.public_url = "https://desk.example.org".to_owned();
        settings.mail.smtp_timeout = Duration::from_secs(5);
        settings.worker.in_serve = true;
        settings.worker.poll_interval = Duration::from_millis(50);
    })
    .await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Board minutes", "legal_registration").await;
    let path = format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap());
    // Receipt + assignment, then the resolution reply.
    sink.wait_for(2).await;
    let reply = json!({"body": "The template is attached to the guide.", "status": "resolved"});
    app.post(&format!("{path}/messages"), &net.advisor.token, reply).await.expect(201);
    let messages = sink.wait_for(3).await;
    let to_requester =
        |m: &&crate::smtp_sink::Received| m.to.iter().any(|to| to == net.requester_a.user["email"].as_str().unwrap());
    let resolved = messages[2..].iter().find(to_requester).unwrap_or_else(|| panic!("{messages:?}"));
    let text = resolved.body("text/plain").unwrap();
    let satisfied = link(&text, "satisfied");
    let unsatisfied = link(&text, "not_satisfied");
    assert!(text.contains("I kënaqur: https://desk.example.org/"), "in the requester's language: {text}");
    assert!(resolved.body("text/html").unwrap().contains("Jo i kënaqur</a>"));
    // Only the requester's resolved email has the links.
    assert!(messages[..2].iter().all(|m| !m.body("text/plain").unwrap().contains("/api/v1/satisfaction/")));

    // The links carry their issue time (the dated token format).
    let token = satisfied.split('/').next_back().unwrap().split('?').next().unwrap().to_owned();
    assert_eq!(token.len(), 90, "a dated token: {token}");
    assert_eq!(unsatisfied, format!("/api/v1/satisfaction/{token}?rating=not_satisfied"), "one token for both");

    // Opening a link records nothing: it shows the choice with a button that posts to the same path.
    let page = app.send(app.request(reqwest::Method::GET, &unsatisfied, None)).await.expect(200);
    assert!(page.content_type.starts_with("text/html"));
    assert!(page.text.contains("not satisfied"), "{}", page.text);
    assert!(page.text.contains(&format!("<form method=\"post\" action=\"{token}\">")), "{}", page.text);
    let shown = app.get(&path, &net.advisor.token).await.expect(200).body;
    assert_eq!(shown["satisfaction"], serde_json::Value::Null, "opening the link rated nothing");

    // The button records it, with a comment; then the other link's button changes the rating and keeps it.
    let form_path = format!("/api/v1/satisfaction/{token}");
    app.send(post_form(app, &form_path, "rating=not_satisfied&comment=Took+a+while")).await.expect(200);
    assert_eq!(app.get(&path, &net.advisor.token).await.expect(200).body["satisfaction"], "not_satisfied");
    let page = app.send(app.request(reqwest::Method::GET, &satisfied, None)).await.expect(200);
    assert!(page.text.contains("You already rated this request: <strong>not satisfied</strong>"), "{}", page.text);
    app.send(post_form(app, &form_path, "rating=satisfied")).await.expect(200);
    let rating = app.get(&format!("{path}/satisfaction"), &net.advisor.token).await.expect(200).body;
    assert_eq!(rating["rating"], "satisfied");
    assert_eq!(rating["comment"], "Took a while");
    assert_eq!(rating["rated_by"], net.requester_a.user["id"]);

    // A tampered link is refused, and so is a made-up one, on GET and POST; the rating stays.
    let mut tampered = form_path.clone().into_bytes();
    let at = "/api/v1/satisfaction/".len() + 5;
    tampered[at] = if tampered[at] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    app.send(app.request(reqwest::Method::GET, &format!("{tampered}?rating=not_satisfied"), None)).await.problem(403);
    app.send(post_form(app, &tampered, "rating=not_satisfied")).await.problem(403);
    app.send(app.request(reqwest::Method::GET, "/api/v1/satisfaction/abc?rating=satisfied", None)).await.problem(403);
    app.send(post_form(app, "/api/v1/satisfaction/abc", "rating=not_satisfied")).await.problem(403);
    app.send(app.request(reqwest::Method::GET, &satisfied.replace("rating=satisfied", "rating=meh"), None))
        .await
        .problem(422);
    app.send(post_form(app, &form_path, "rating=meh")).await.problem(422);
    let rating = app.get(&format!("{path}/satisfaction"), &net.advisor.token).await.expect(200).body;
    assert_eq!(rating["rating"], "satisfied");
    assert_eq!(
        app.count("SELECT count(*) AS count FROM ticket_events WHERE kind = 'satisfaction_rated'"),
        2,
        "each recorded rating is in the trail, and only those"
    );
}

/// The key links are signed with in the tests below (`MAIL_SECRET`).
const SECRET: &str = "the test key that signs the rating links";

/// A POST of a form body to `path`, without an API token.
fn post_form(app: &TestApp, path: &str, body: &'static str) -> reqwest::RequestBuilder {
    app.request(reqwest::Method::POST, path, None)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
}

/// A network whose links are signed with [`SECRET`], and a ticket of requester A that an advisor resolved.
async fn resolved_ticket(configure: impl FnOnce(&mut Settings)) -> (Network, Uuid) {
    let net = spawn_network_with(|settings| {
        settings.mail.secret = Some(SECRET.to_owned());
        configure(settings);
    })
    .await;
    let ticket = net.app.submit(&net.requester_a.token, "Audit of the grant", "funding").await;
    let id: Uuid = ticket["id"].as_str().unwrap().parse().unwrap();
    let resolve = json!({"status": "resolved"});
    net.app.patch(&format!("/api/v1/tickets/{id}"), &net.advisor.token, resolve).await.expect(200);
    (net, id)
}

/// The path of the link with `token`.
fn link_path(token: RatingToken) -> String {
    format!("/api/v1/satisfaction/{}", token.encode(SECRET.as_bytes()))
}

/// Ratings, events and queued notifications, to show that nothing was written.
fn written(app: &TestApp) -> [i64; 3] {
    ["satisfaction_ratings", "ticket_events", "outbox"]
        .map(|table| app.count(&format!("SELECT count(*) AS count FROM {table}")))
}

#[tokio::test]
async fn opening_a_link_shows_the_choice_and_records_nothing() {
    let (net, ticket) = resolved_ticket(|_| {}).await;
    let app = &net.app;
    let token = RatingToken::issued(ticket, net.requester_a.id, Utc::now());
    let path = link_path(token);
    let before = written(app);

    let page = app.send(app.request(reqwest::Method::GET, &format!("{path}?rating=satisfied"), None)).await.expect(200);
    assert!(page.content_type.starts_with("text/html"), "{}", page.content_type);
    assert_eq!(page.headers["cache-control"], "no-store");
    assert_eq!(page.headers["x-robots-tag"], "noindex");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    let reference =
        app.get(&format!("/api/v1/tickets/{ticket}"), &net.advisor.token).await.expect(200).body["reference"]
            .as_i64()
            .unwrap();
    let text = &page.text;
    assert!(text.contains(&format!("#{reference}")) && text.contains("<strong>satisfied</strong>"), "{text}");
    let token_text = token.encode(SECRET.as_bytes());
    assert!(text.contains(&format!("<form method=\"post\" action=\"{token_text}\">")), "posts to itself: {text}");
    assert!(text.contains("<input type=\"hidden\" name=\"rating\" value=\"satisfied\">"), "{text}");
    assert!(text.contains("<textarea id=\"comment\" name=\"comment\"") && text.contains("<label for=\"comment\">"));
    assert_eq!(text.matches("<button").count(), 1, "one button: {text}");
    assert!(!text.contains("src=") && !text.contains("href=") && !text.contains("http"), "no external assets: {text}");
    assert!(!text.contains("already"), "{text}");
    let head = app.send(app.request(reqwest::Method::HEAD, &format!("{path}?rating=not_satisfied"), None)).await;
    assert_eq!(head.expect(200).text, "");
    assert_eq!(written(app), before, "GET and HEAD wrote no rating, no event and no notification");
    assert_eq!(app.get(&format!("/api/v1/tickets/{ticket}/satisfaction"), &net.advisor.token).await.status, 404);

    // Once rated, the page says so, and opening it still records nothing.
    app.send(post_form(app, &path, "rating=satisfied")).await.expect(200);
    let rated = written(app);
    assert_eq!(rated[0], before[0] + 1);
    let page = app.send(app.request(reqwest::Method::GET, &format!("{path}?rating=not_satisfied"), None)).await;
    let text = page.expect(200).text;
    assert!(text.contains("You already rated this request: <strong>satisfied</strong>"), "{text}");
    assert!(text.contains("changes your answer to <strong>not satisfied</strong>"), "{text}");
    let page = app.send(app.request(reqwest::Method::GET, &format!("{path}?rating=satisfied"), None)).await;
    assert!(page.expect(200).text.contains("You already told us you are <strong>satisfied</strong>"));
    assert_eq!(written(app), rated);
    let rating = app.get(&format!("/api/v1/tickets/{ticket}/satisfaction"), &net.advisor.token).await.expect(200);
    assert_eq!(rating.body["rating"], "satisfied");

    // Older than the default 30 days: gone, with a way out.
    let old = link_path(RatingToken::issued(ticket, net.requester_a.id, Utc::now() - TimeDelta::days(31)));
    let gone = app.send(app.request(reqwest::Method::GET, &format!("{old}?rating=satisfied"), None)).await.problem(410);
    assert!(gone["detail"].as_str().unwrap().contains("reply to the email"), "{gone}");
}

#[tokio::test]
async fn the_button_records_the_rating_as_a_form_or_json() {
    let (net, ticket) = resolved_ticket(|_| {}).await;
    let app = &net.app;
    let path = link_path(RatingToken::issued(ticket, net.requester_a.id, Utc::now()));
    let events = |kind: &str| {
        app.count(&format!(
            "SELECT count(*) AS count FROM ticket_events WHERE ticket_id = '{ticket}' AND kind = '{kind}' \
             AND actor_id = '{}' AND new_value = 'not_satisfied'",
            net.requester_a.id
        ))
    };

    let thanks = app.send(post_form(app, &path, "rating=not_satisfied&comment=Slow+%C3%A7+answers")).await.expect(200);
    assert!(thanks.content_type.starts_with("text/html"));
    assert_eq!(thanks.headers["cache-control"], "no-store");
    assert!(thanks.text.contains("Thank you") && thanks.text.contains("<strong>not satisfied</strong>"));
    assert!(thanks.text.contains("Your comment was saved."), "{}", thanks.text);
    assert_eq!(events("satisfaction_rated"), 1, "the rating is in the trail, by the requester");
    let rating = app.get(&format!("/api/v1/tickets/{ticket}/satisfaction"), &net.advisor.token).await.expect(200);
    assert_eq!(
        (rating.body["rating"].as_str(), rating.body["comment"].as_str()),
        (Some("not_satisfied"), Some("Slow ç answers"))
    );

    let json = app.request(reqwest::Method::POST, &path, None).json(&json!({"rating": "satisfied"}));
    let thanks = app.send(json).await.expect(200);
    assert!(!thanks.text.contains("Your comment was saved."), "{}", thanks.text);
    let rating = app.get(&format!("/api/v1/tickets/{ticket}/satisfaction"), &net.advisor.token).await.expect(200);
    assert_eq!(
        (rating.body["rating"].as_str(), rating.body["comment"].as_str()),
        (Some("satisfied"), Some("Slow ç answers"))
    );
    let long = app
        .request(reqwest::Method::POST, &path, None)
        .json(&json!({"rating": "satisfied", "comment": "x".repeat(2001)}));
    app.send(long).await.problem(422);
    app.send(app.request(reqwest::Method::POST, &path, None).json(&json!({"comment": "no rating"}))).await.problem(422);

    // Hostile input: clear 4xx answers, nothing recorded; bytes that are not UTF-8 are replaced, as browsers do.
    app.send(post_form(app, &path, "rating=satisfied&comment=%C3%A7%C3")).await.expect(200);
    let rating = app.get(&format!("/api/v1/tickets/{ticket}/satisfaction"), &net.advisor.token).await.expect(200);
    assert_eq!(rating.body["comment"], "ç\u{fffd}");
    let before = written(app);
    app.send(post_form(app, &path, "rating=satisfied&comment=a%00b")).await.problem(422);
    let huge = app
        .request(reqwest::Method::POST, &path, None)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("rating=satisfied&comment={}", "x".repeat(100_000)));
    app.send(huge).await.problem(413);
    let multibyte = format!("/api/v1/satisfaction/{}", "ç".repeat(45));
    app.send(app.request(reqwest::Method::GET, &format!("{multibyte}?rating=satisfied"), None)).await.problem(403);
    let long = format!("/api/v1/satisfaction/{}", "a".repeat(5000));
    app.send(post_form(app, &long, "rating=satisfied")).await.problem(403);
    assert_eq!(written(app), before);

    // The rules of today stay: a ticket that is not resolved cannot be rated, by GET or POST.
    let open = app.submit(&net.requester_a.token, "Still open", "funding").await;
    let open: Uuid = open["id"].as_str().unwrap().parse().unwrap();
    let open_path = link_path(RatingToken::issued(open, net.requester_a.id, Utc::now()));
    app.send(app.request(reqwest::Method::GET, &format!("{open_path}?rating=satisfied"), None)).await.problem(409);
    app.send(post_form(app, &open_path, "rating=satisfied")).await.problem(409);
    // A link names its requester: pointed at another one, it finds no ticket.
    let other = link_path(RatingToken::issued(ticket, net.requester_b.id, Utc::now()));
    app.send(post_form(app, &other, "rating=not_satisfied")).await.problem(404);
}

#[tokio::test]
async fn an_expired_link_is_gone_on_get_and_post() {
    let (net, ticket) = resolved_ticket(|settings| settings.satisfaction_link_days = 5).await;
    let app = &net.app;
    let expired = link_path(RatingToken::issued(ticket, net.requester_a.id, Utc::now() - TimeDelta::days(6)));
    let before = written(app);

    let gone =
        app.send(app.request(reqwest::Method::GET, &format!("{expired}?rating=satisfied"), None)).await.problem(410);
    let detail = gone["detail"].as_str().unwrap();
    assert!(
        detail.contains("expired") && detail.contains("5 days") && detail.contains("reply to the email"),
        "{detail}"
    );
    assert_eq!(gone["title"], "Gone");
    app.send(post_form(app, &expired, "rating=satisfied&comment=Late")).await.problem(410);
    assert_eq!(written(app), before, "an expired link records nothing");

    // Within SATISFACTION_LINK_DAYS, it works.
    let recent = link_path(RatingToken::issued(ticket, net.requester_a.id, Utc::now() - TimeDelta::days(4)));
    app.send(app.request(reqwest::Method::GET, &format!("{recent}?rating=satisfied"), None)).await.expect(200);
    app.send(post_form(app, &recent, "rating=satisfied")).await.expect(200);
}

#[tokio::test]
async fn links_sent_before_links_were_dated_work_for_a_while_after_the_resolution() {
    let (net, ticket) = resolved_ticket(|_| {}).await;
    let app = &net.app;
    let legacy = RatingToken { ticket_id: ticket, recipient_id: net.requester_a.id, issued_at: None };
    let path = link_path(legacy);
    assert_eq!(path.len(), "/api/v1/satisfaction/".len() + 77, "the format of the first release");

    app.send(app.request(reqwest::Method::GET, &format!("{path}?rating=satisfied"), None)).await.expect(200);
    app.send(post_form(app, &path, "rating=satisfied")).await.expect(200);
    let rating = app.get(&format!("/api/v1/tickets/{ticket}/satisfaction"), &net.advisor.token).await.expect(200);
    assert_eq!(rating.body["rating"], "satisfied");

    // Thirty days after the ticket was resolved, the link is gone.
    diesel::sql_query(format!("UPDATE tickets SET resolved_at = now() - interval '31 days' WHERE id = '{ticket}'"))
        .execute(&mut app.conn())
        .unwrap();
    let before = written(app);
    app.send(app.request(reqwest::Method::GET, &format!("{path}?rating=not_satisfied"), None)).await.problem(410);
    app.send(post_form(app, &path, "rating=not_satisfied")).await.problem(410);
    assert_eq!(written(app), before);
}

#[tokio::test]
async fn requesters_rate_their_resolved_tickets_through_the_api() {
    let net = spawn_network_with(|_| {}).await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Donor report", "funding").await;
    let path = format!("/api/v1/tickets/{}/satisfaction", ticket["id"].as_str().unwrap());
    let good = json!({"rating": "satisfied", "comment": "Clear advice"});

    app.post(&path, &net.requester_a.token, good.clone()).await.problem(409);
    app.get(&path, &net.requester_a.token).await.problem(404);
    app.patch(
        &format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap()),
        &net.advisor.token,
        json!({"status": "resolved"}),
    )
    .await
    .expect(200);
    app.post(&path, &net.advisor.token, good.clone()).await.problem(403);
    app.post(&path, &net.requester_b.token, good.clone()).await.problem(404);
    app.post(&path, &net.requester_a.token, json!({"rating": "great"})).await.problem(422);
    app.post(&path, &net.requester_a.token, json!({"rating": "satisfied", "comment": "x".repeat(2001)}))
        .await
        .problem(422);
    let rated = app.post(&path, &net.requester_a.token, good).await.expect(200).body;
    assert_eq!(rated["rating"], "satisfied");
    assert_eq!(rated["comment"], "Clear advice");
    let again = app.get(&path, &net.coordinator.token).await.expect(200).body;
    assert_eq!(again["rating"], "satisfied");
}

#[tokio::test]
async fn the_link_endpoints_are_in_the_openapi_document() {
    let app = crate::helpers::spawn_app().await;
    let doc = app.send(app.request(reqwest::Method::GET, "/openapi.json", None)).await.expect(200).body;
    let link = &doc["paths"]["/api/v1/satisfaction/{token}"];
    for method in ["get", "post"] {
        for status in ["200", "403", "409", "410", "422"] {
            assert!(link[method]["responses"][status].is_object(), "{method} documents {status}: {link:#}");
        }
        assert!(link[method]["responses"]["200"]["content"]["text/html"].is_object(), "{link:#}");
        assert!(link[method]["responses"]["410"]["content"]["application/problem+json"].is_object(), "{link:#}");
    }
    let body = &link["post"]["requestBody"]["content"];
    for media in ["application/x-www-form-urlencoded", "application/json"] {
        assert_eq!(body[media]["schema"]["$ref"], "#/components/schemas/RatingForm", "{body:#}");
    }
    assert!(doc["components"]["schemas"]["RatingForm"]["properties"]["comment"].is_object());
}
