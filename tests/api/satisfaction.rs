//! Satisfaction: the signed one-click links of the "resolved" email and the API.

use std::time::Duration;

use serde_json::json;

use crate::helpers::spawn_network_with;
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

    // One click records the rating, without a token; the page offers a comment form.
    let page = app.send(app.request(reqwest::Method::GET, &unsatisfied, None)).await.expect(200);
    assert!(page.content_type.starts_with("text/html"));
    assert!(page.text.contains("not satisfied") && page.text.contains("<form method=\"post\""), "{}", page.text);
    let shown = app.get(&path, &net.advisor.token).await.expect(200).body;
    assert_eq!(shown["satisfaction"], "not_satisfied");

    // The comment form, then the other link changes the rating and keeps the comment.
    let form_path = unsatisfied.split('?').next().unwrap().to_owned();
    let form = app
        .request(reqwest::Method::POST, &form_path, None)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("rating=not_satisfied&comment=Took+a+while");
    app.send(form).await.expect(200);
    app.send(app.request(reqwest::Method::GET, &satisfied, None)).await.expect(200);
    let rating = app.get(&format!("{path}/satisfaction"), &net.advisor.token).await.expect(200).body;
    assert_eq!(rating["rating"], "satisfied");
    assert_eq!(rating["comment"], "Took a while");
    assert_eq!(rating["rated_by"], net.requester_a.user["id"]);

    // A tampered link is refused, and so is a made-up one; the rating stays.
    let token_start = satisfied.find("/satisfaction/").unwrap() + "/satisfaction/".len();
    let mut tampered = satisfied.clone().into_bytes();
    tampered[token_start + 5] = if tampered[token_start + 5] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap().replace("rating=satisfied", "rating=not_satisfied");
    app.send(app.request(reqwest::Method::GET, &tampered, None)).await.problem(403);
    app.send(app.request(reqwest::Method::GET, "/api/v1/satisfaction/abc?rating=satisfied", None)).await.problem(403);
    app.send(app.request(reqwest::Method::GET, &satisfied.replace("rating=satisfied", "rating=meh"), None))
        .await
        .problem(422);
    let rating = app.get(&format!("{path}/satisfaction"), &net.advisor.token).await.expect(200).body;
    assert_eq!(rating["rating"], "satisfied");
    assert_eq!(
        app.count("SELECT count(*) AS count FROM ticket_events WHERE kind = 'satisfaction_rated'"),
        3,
        "each rating is in the trail"
    );
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
