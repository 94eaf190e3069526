//! Hostile and failing mail: stored first, never a crash, permanent failures kept (and retried by an admin),
//! temporary ones left for the next delivery.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app_with};
use crate::inbound::{DOMAIN, inbound, messages, network, pipe, plain, post_email};

fn html_only(from: &str, subject: &str, html: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: support@{DOMAIN}\r\nSubject: {subject}\r\nMessage-ID: <{}@mail.example.org>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n",
        Uuid::new_v4()
    )
    .into_bytes()
}

#[tokio::test]
async fn nul_bytes_and_html_entities_next_to_cyrillic_are_taken_in_cleanly() {
    let net = network().await;
    let app = &net.app;
    let support = format!("support@{DOMAIN}");
    // NUL bytes in the subject and the Message-ID are cleaned away, not sent to PostgreSQL.
    let nul = format!(
        "From: someone@elsewhere.example.net\r\nTo: {support}\r\nSubject: Budget\0 question\r\n\
         Message-ID: <nul\0{}@mail.example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\0 there\r\n",
        Uuid::new_v4()
    );
    let taken = post_email(app, nul.clone().into_bytes()).await.expect(200).body;
    assert_eq!(taken["outcome"], "created", "{taken}");
    let ticket = app.get(&format!("/api/v1/tickets/{}", taken["ticket_id"].as_str().unwrap()), &app.admin_token).await;
    assert_eq!(ticket.body["subject"], "Budget question");
    assert_eq!(messages(app, &ticket.body).await[0]["body"], "Hello there");
    assert_eq!(pipe(app, nul.as_bytes(), &[]).0, 0, "the same message again is a duplicate, not a failure");

    // HTML-only mail with an entity before non-ASCII text (this panicked the hand-written converter).
    let html = "<div>Можемо&nbsp;четврток&nbsp;у&nbsp;10?&amp;ž &#x; &#99999999999; &четврток &nb</div>";
    let taken = post_email(app, html_only("drugi@elsewhere.example.net", "Sastanak", html)).await.expect(200).body;
    assert_eq!(taken["outcome"], "created", "{taken}");
    let body = messages(app, &json!({"id": taken["ticket_id"]})).await[0]["body"].as_str().unwrap().to_owned();
    assert!(body.starts_with("Можемо четврток у 10?&ž"), "{body:?}");
    let (code, _) = pipe(app, &html_only("treci@elsewhere.example.net", "x", html), &[]);
    assert_eq!(code, 0);
    app.get("/healthz", &app.admin_token).await.expect(200);
}

async fn failed(app: &TestApp) -> Vec<serde_json::Value> {
    let listing = app.get("/api/v1/admin/inbound?status=failed", &app.admin_token).await.expect(200).body;
    listing["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_permanent_failure_is_kept_refused_over_every_way_in_and_retried_after_a_fix() {
    // No office at all: nobody can take a ticket from anywhere.
    let app = spawn_app_with(|s| {
        inbound(s);
        s.inbound.unaffiliated_country = Some("ME".to_owned());
    })
    .await;
    let support = format!("support@{DOMAIN}");
    let first = plain("newcomer@elsewhere.example.net", &support, "Registration", "", "How do we register?");
    let refused = post_email(&app, first.clone()).await.problem(422);
    assert!(refused["detail"].as_str().unwrap().contains("no office can take tickets from ME"), "{refused}");
    // The same message again fails the same way (a relay retrying gets 422, not a second ticket attempt).
    post_email(&app, first.clone()).await.problem(422);
    let second = plain("other@elsewhere.example.net", &support, "Statute", "", "A question");
    let (code, _) = pipe(&app, &second, &[("INBOUND_UNAFFILIATED_COUNTRY", "ME")]);
    assert_eq!(code, 65, "a permanent failure is EX_DATAERR, not a temporary 75");

    let kept = failed(&app).await;
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(kept.iter().all(|e| e["status"] == "failed" && e["reason"].as_str().unwrap().contains("no office")));
    assert_eq!(app.count("SELECT count(*) AS count FROM tickets"), 0, "nothing half-written");
    assert_eq!(app.count("SELECT count(*) AS count FROM organizations"), 0);
    // Staff below admin may not list or retry.
    let advisor_office = app.create_office("ME", "ME", true).await;
    let advisor = app.create_user("advisor", Some(&advisor_office), None).await;
    app.get("/api/v1/admin/inbound", &advisor.token).await.problem(403);

    // With an office for Montenegro, a retry takes the message in.
    let id = kept.iter().find(|e| e["from_address"] == "newcomer@elsewhere.example.net").unwrap()["id"].clone();
    let retry = format!("/api/v1/admin/inbound/{}/retry", id.as_str().unwrap());
    app.post(&retry, &advisor.token, json!({})).await.problem(403);
    let taken = app.post(&retry, &app.admin_token, json!({})).await.expect(200).body;
    assert_eq!(taken["outcome"], "created", "{taken}");
    app.post(&retry, &app.admin_token, json!({})).await.problem(409);
    assert_eq!(failed(&app).await.len(), 1);
    let all = app.get("/api/v1/admin/inbound?limit=1", &app.admin_token).await.expect(200).body;
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    assert!(all["next_cursor"].is_string());
    let raw = format!("/api/v1/admin/inbound/{}/raw", id.as_str().unwrap());
    let response = app.request(Method::GET, &raw, Some(&app.admin_token)).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "message/rfc822");
    assert!(String::from_utf8_lossy(&response.bytes().await.unwrap()).contains("How do we register?"));
}

#[tokio::test]
async fn unreadable_mail_is_kept_as_failed_and_a_lost_database_is_temporary() {
    let net = network().await;
    let app = &net.app;
    post_email(app, b"\x00\x01\x02 not a message".to_vec()).await.problem(422);
    let kept = failed(app).await;
    assert_eq!(kept.len(), 1);
    assert!(kept[0]["reason"].as_str().unwrap().contains("not"), "{:?}", kept[0]);
    // A refused sender over the pipe is EX_NOUSER.
    let stranger = plain("stranger@nowhere.example.net", &format!("support@{DOMAIN}"), "Hi", "", "Let me in");
    assert_eq!(pipe(app, &stranger, &[("INBOUND_UNKNOWN_SENDERS", "reject")]).0, 67);
    // The database gone: 75 on the pipe and 503 over HTTP, nothing refused for good.
    let unreachable = [("DATABASE_URL", "postgres://postgres@127.0.0.1:1/civicdesk")];
    assert_eq!(pipe(app, &stranger, &unreachable).0, 75);
}
