use std::io::Write;
use std::process::{Command, Stdio};

use civicdesk::config::Settings;
use civicdesk::email::reply_token::ReplyToken;
use diesel::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Answer, Network, TestApp, TestUser, spawn_network_with};
use crate::smtp_sink::SmtpSink;

pub(crate) const INBOUND_SECRET: &str = "inbound-secret-for-tests-0123456789";
pub(crate) const DOMAIN: &str = "desk.example.org";

pub(crate) fn inbound(settings: &mut Settings) {
    settings.mail.from = format!("civicdesk <support@{DOMAIN}>");
    settings.mail.reply_to = format!("support@{DOMAIN}");
    settings.mail.message_id_domain = DOMAIN.to_owned();
    settings.inbound.http_secret = Some(INBOUND_SECRET.to_owned());
}

pub(crate) async fn network() -> Network {
    spawn_network_with(inbound).await
}

/// A network whose notifications go out (the worker runs in `serve`) to `sink`; `configure` adjusts the rest.
pub(crate) async fn network_with_mail(sink: &SmtpSink, configure: impl FnOnce(&mut Settings)) -> Network {
    spawn_network_with(|s| {
        inbound(s);
        s.mail.smtp_url = Some(sink.url());
        s.worker.in_serve = true;
        configure(s);
    })
    .await
}

pub(crate) fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/email/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub(crate) fn secret(app: &TestApp) -> Vec<u8> {
    use civicdesk::schema::app_secrets::dsl::*;
    app_secrets.filter(name.eq("reply_token_key")).select(value).first(&mut app.conn()).unwrap()
}

/// The signed reply address a notification about `ticket` to `user` carries.
pub(crate) fn reply_address(app: &TestApp, ticket: &Value, user: &TestUser) -> String {
    let token = ReplyToken { ticket_reference: ticket["reference"].as_i64().unwrap(), recipient_id: user.id };
    token.address(&format!("support@{DOMAIN}"), &secret(app))
}

pub(crate) fn thread_root(ticket: &Value) -> String {
    format!("<ticket-{}@{DOMAIN}>", ticket["id"].as_str().unwrap())
}

/// A fixture with its placeholders filled in.
pub(crate) fn fill(template: &str, from: &str, to: &str, ticket: &Value, in_reply_to: &str) -> Vec<u8> {
    template
        .replace("{{FROM}}", from)
        .replace("{{TO}}", to)
        .replace("{{REF}}", &ticket["reference"].to_string())
        .replace("{{IN_REPLY_TO}}", in_reply_to)
        .replace("{{MESSAGE_ID}}", &format!("{}@mail.example.org", Uuid::new_v4()))
        .into_bytes()
}

pub(crate) fn plain(from: &str, to: &str, subject: &str, extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{}@mail.example.org>\r\n{extra_headers}\
         Date: Sat, 28 Nov 2026 10:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        Uuid::new_v4()
    )
    .into_bytes()
}

pub(crate) async fn post_email(app: &TestApp, raw: Vec<u8>) -> Answer {
    let request = app
        .request(Method::POST, "/api/v1/inbound/email", None)
        .bearer_auth(INBOUND_SECRET)
        .header("content-type", "message/rfc822")
        .body(raw);
    app.send(request).await
}

/// The fixture `name`, filled in as `user`'s reply to the notification they got about `ticket`.
pub(crate) fn reply_from(app: &TestApp, user: &TestUser, ticket: &Value, name: &str) -> Vec<u8> {
    fill(&fixture(name), &email(user), &reply_address(app, ticket, user), ticket, &thread_root(ticket))
}

pub(crate) fn email(user: &TestUser) -> String {
    user.user["email"].as_str().unwrap().to_owned()
}

pub(crate) async fn messages(app: &TestApp, ticket: &Value) -> Vec<Value> {
    let path = format!("/api/v1/tickets/{}/messages", ticket["id"].as_str().unwrap());
    app.get(&path, &app.admin_token).await.expect(200).body.as_array().unwrap().clone()
}

#[tokio::test]
async fn replies_from_every_client_and_language_land_with_only_the_new_text() {
    let net = network().await;
    let app = &net.app;
    let fixtures = [
        "gmail_en",
        "outlook_desktop_bs_cp1250",
        "outlook_web_en",
        "apple_mail_en",
        "thunderbird_sq",
        "iphone_sr_cp1251",
        "html_only_mk_iso8859_5",
        "turkish_cp1254",
        "bosnian_iso8859_2",
        "attachment_rfc2231",
        "outlook_tr_iso8859_9",
    ];
    for name in fixtures {
        let ticket = app.submit(&net.requester_a.token, &format!("Fixture {name}"), "funding").await;
        let raw = reply_from(app, &net.requester_a, &ticket, &format!("{name}.eml"));
        let taken = post_email(app, raw).await.expect(200).body;
        assert_eq!(taken["outcome"], "added", "{name}: {taken}");
        assert_eq!(taken["ticket_id"], ticket["id"], "{name}");
        assert!(taken["reason"].as_str().unwrap().contains("signed reply address"), "{name}: {taken}");
        let conversation = messages(app, &ticket).await;
        let reply = conversation.last().unwrap();
        let expected = fixture(&format!("{name}.txt"));
        assert_eq!(reply["body"].as_str().unwrap(), expected.trim_end(), "{name}");
        assert_eq!(reply["channel"], "email");
        assert_eq!(reply["author_id"], net.requester_a.user["id"]);
        assert!(reply["inbound_email_id"].is_string());
    }
}

#[tokio::test]
async fn attachments_are_kept_and_served_to_those_who_may_see_them() {
    let net = network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "With a file", "funding").await;
    let raw = reply_from(app, &net.requester_a, &ticket, "attachment_rfc2231.eml");
    post_email(app, raw).await.expect(200);
    let reply = messages(app, &ticket).await.pop().unwrap();
    let attachment = &reply["attachments"][0];
    assert_eq!(attachment["filename"], "budžet 2026.csv");
    assert_eq!(attachment["content_type"], "text/csv");
    assert_eq!(attachment["size"], 16);
    assert_eq!(attachment["sha256"], "261004a96e2faeda37f1997fcb3828ca6627f5383dd7843cad08db6e74f47259");
    let path = format!("/api/v1/attachments/{}", attachment["id"].as_str().unwrap());
    assert_eq!(attachment["download_url"], path);
    // The assignee's notification of the reply carries the file.
    let noted = app.count(
        "SELECT count(*) AS count FROM outbox WHERE kind = 'requester_reply' \
         AND snapshot->'message'->'attachments'->0->>'filename' = 'budžet 2026.csv'",
    );
    assert_eq!(noted, 1);
    let response = app.request(Method::GET, &path, Some(&net.requester_a.token)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert!(response.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"col1;col2\r\n1;2\r\n");
    app.get(&path, &net.requester_b.token).await.problem(404);

    // Staff can read the original email; requesters cannot.
    let original = format!(
        "/api/v1/tickets/{}/messages/{}/original",
        ticket["id"].as_str().unwrap(),
        reply["id"].as_str().unwrap()
    );
    let raw = app.request(Method::GET, &original, Some(&net.advisor.token)).send().await.unwrap();
    assert_eq!(raw.headers()["content-type"], "message/rfc822");
    assert!(String::from_utf8_lossy(&raw.bytes().await.unwrap()).contains("Content-Disposition: attachment"));
    app.get(&original, &net.requester_a.token).await.problem(403);
}

#[tokio::test]
async fn downloads_resume_with_ranges_and_revalidate_with_a_strong_etag() {
    let net = network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "With a file to resume", "funding").await;
    let raw = reply_from(app, &net.requester_a, &ticket, "attachment_rfc2231.eml");
    post_email(app, raw).await.expect(200);
    let reply = messages(app, &ticket).await.pop().unwrap();
    let path = format!("/api/v1/attachments/{}", reply["attachments"][0]["id"].as_str().unwrap());
    let token = net.requester_a.token.as_str();
    let get = |headers: &[(&str, &str)]| {
        let mut request = app.request(Method::GET, &path, Some(token));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    let whole = get(&[]).await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    let etag = whole.headers()["etag"].to_str().unwrap().to_owned();
    // The content's SHA-256, quoted: a strong validator.
    assert_eq!(etag.len(), 66, "{etag}");
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{etag}");

    let part = get(&[("Range", "bytes=5-9")]).await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 5-9/16");
    assert_eq!(part.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(part.bytes().await.unwrap().as_ref(), b"col2\r");
    let tail = get(&[("Range", "bytes=-3")]).await.unwrap();
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.bytes().await.unwrap().as_ref(), b"2\r\n");
    let open_ended = get(&[("Range", "bytes=10-")]).await.unwrap();
    assert_eq!(open_ended.headers()["content-range"], "bytes 10-15/16");

    // If-Range: the range applies only to the same content; another tag gets the whole file.
    let resumed = get(&[("Range", "bytes=0-3"), ("If-Range", &etag)]).await.unwrap();
    assert_eq!(resumed.status(), 206);
    let changed = get(&[("Range", "bytes=0-3"), ("If-Range", "\"something-else\"")]).await.unwrap();
    assert_eq!(changed.status(), 200);
    assert_eq!(changed.bytes().await.unwrap().len(), 16);

    // Past the end: 416 with the length; nonsense or several ranges: the whole file.
    let beyond = get(&[("Range", "bytes=100-200")]).await.unwrap();
    assert_eq!(beyond.status(), 416);
    assert_eq!(beyond.headers()["content-range"], "bytes */16");
    assert_eq!(beyond.headers()["content-type"], "application/problem+json");
    assert_eq!(get(&[("Range", "pages=1-2")]).await.unwrap().status(), 200);
    assert_eq!(get(&[("Range", "bytes=0-1, 4-5")]).await.unwrap().status(), 200);

    // The client's copy is current: 304, no body.
    let cached = get(&[("If-None-Match", &etag)]).await.unwrap();
    assert_eq!(cached.status(), 304);
    assert!(cached.bytes().await.unwrap().is_empty());
    // Someone who may not see the ticket learns nothing, ranges or not.
    let other = app
        .request(Method::GET, &path, Some(&net.requester_b.token))
        .header("Range", "bytes=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn headers_and_the_subject_match_only_for_people_who_may_see_the_ticket() {
    let net = network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Matching", "funding").await;
    let reference = ticket["reference"].to_string();
    let support = format!("support@{DOMAIN}");

    // In-Reply-To with our thread root, no token.
    let headers = format!("In-Reply-To: {}\r\n", thread_root(&ticket));
    let taken =
        post_email(app, plain(&email(&net.requester_a), &support, "Re: Matching", &headers, "By headers.")).await;
    assert!(taken.expect(200).body["reason"].as_str().unwrap().contains("In-Reply-To"));
    // Only the reference in the subject, from a colleague of the same CSO.
    let colleague = app.create_user("requester", None, Some(&net.cso_a)).await;
    let subject = format!("Re: [#{reference}] Matching");
    let taken =
        post_email(app, plain(&email(&colleague), &support, &subject, "", "By subject.")).await.expect(200).body;
    assert_eq!(taken["outcome"], "added");
    assert!(taken["reason"].as_str().unwrap().contains("subject"));
    // Staff answer by email through their own reply address.
    let own = reply_address(app, &ticket, &net.advisor);
    let taken =
        post_email(app, plain(&email(&net.advisor), &own, &subject, "", "Staff by email.")).await.expect(200).body;
    assert_eq!(taken["outcome"], "added", "{taken}");
    let path = format!("/api/v1/tickets/{}/messages", ticket["id"].as_str().unwrap());
    let visible = app.get(&path, &net.requester_a.token).await.expect(200).body;
    assert_eq!(visible.as_array().unwrap().len(), 4);

    // Another CSO quoting the reference, or the headers, never lands on it as them: it is kept for staff only.
    let taken = post_email(app, plain(&email(&net.requester_b), &support, &subject, &headers, "Let me in."))
        .await
        .expect(200)
        .body;
    assert_eq!(taken["outcome"], "unverified", "{taken}");
    assert_eq!(taken["ticket_id"], ticket["id"]);
    assert_eq!(app.get(&path, &net.requester_a.token).await.body.as_array().unwrap().len(), 4);
    assert_eq!(app.get(&path, &net.requester_b.token).await.status, 404);
    let note = messages(app, &ticket).await.pop().unwrap();
    assert_eq!(note["internal"], true);
    assert_eq!(note["unverified_sender"], email(&net.requester_b).as_str());
    assert!(note["author_id"].is_null());
}

#[tokio::test]
async fn spoofed_senders_and_tampered_tokens_never_land() {
    let net = network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Private", "legal_registration").await;
    let token_for_a = reply_address(app, &ticket, &net.requester_a);
    // Someone else using A's reply address: kept for staff, never posted as anyone.
    let taken = post_email(app, plain(&email(&net.requester_b), &token_for_a, "Re: Private", "", "Spoof"))
        .await
        .expect(200)
        .body;
    assert_eq!(taken["outcome"], "unverified");
    assert!(taken["reason"].as_str().unwrap().contains("may not see"), "{taken}");
    let path = format!("/api/v1/tickets/{}/messages", ticket["id"].as_str().unwrap());
    assert_eq!(app.get(&path, &net.requester_a.token).await.body.as_array().unwrap().len(), 1);
    // A tampered token, from the right person: the token is ignored (logged), the mail is not lost.
    let (local, domain) = token_for_a.split_once('@').unwrap();
    let mut tampered: Vec<char> = local.chars().collect();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == 'a' { 'b' } else { 'a' };
    let tampered = format!("{}@{domain}", tampered.into_iter().collect::<String>());
    let taken =
        post_email(app, plain(&email(&net.requester_a), &tampered, "Hello", "", "Tampered")).await.expect(200).body;
    assert_eq!(taken["outcome"], "created");
    assert!(taken["reason"].as_str().unwrap().contains("did not verify"), "{taken}");
    let public = app.get(&path, &net.requester_a.token).await.body;
    assert_eq!(public.as_array().unwrap().len(), 1, "nothing public landed on the private ticket");
}

#[tokio::test]
async fn a_forwarded_mail_is_a_new_request_not_a_reply() {
    let net = network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Budget annex", "funding").await;
    let raw = reply_from(app, &net.requester_a, &ticket, "forward_gmail.eml");
    let taken = post_email(app, raw).await.expect(200).body;
    assert_eq!(taken["outcome"], "created");
    assert_ne!(taken["ticket_id"], ticket["id"]);
    let new = json!({"id": taken["ticket_id"]});
    let body = messages(app, &new).await[0]["body"].as_str().unwrap().to_owned();
    assert!(body.contains("Forwarded message") && body.contains("here is the answer"), "the forward keeps its content");
}

#[tokio::test]
async fn automatic_mail_changes_nothing_and_notifies_nobody() {
    let net = network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Budget annex", "funding").await;
    let outbox_before = app.count("SELECT count(*) AS count FROM outbox");
    for name in ["out_of_office.eml", "bulk_newsletter.eml"] {
        let raw = reply_from(app, &net.requester_a, &ticket, name);
        let taken = post_email(app, raw).await.expect(200).body;
        assert_eq!(taken["outcome"], "ignored", "{name}");
        assert!(taken["reason"].as_str().unwrap().starts_with("automatic mail"), "{name}: {taken}");
    }
    let loopback = plain(
        &format!("support@{DOMAIN}"),
        &format!("support@{DOMAIN}"),
        "[#1] x",
        "Auto-Submitted: auto-generated\r\n",
        "our own",
    );
    assert_eq!(post_email(app, loopback).await.expect(200).body["outcome"], "ignored");
    assert_eq!(messages(app, &ticket).await.len(), 1);
    assert_eq!(app.count("SELECT count(*) AS count FROM outbox"), outbox_before);
}

#[tokio::test]
async fn a_bounce_marks_the_notification_failed_on_the_ticket() {
    let sink = SmtpSink::start().await;
    let net = network_with_mail(&sink, |_| {}).await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Budget annex", "funding").await;
    sink.wait_for(2).await;
    let sent: String = {
        use civicdesk::schema::outbox::dsl::*;
        let mut found = None;
        for _ in 0..100 {
            found = outbox
                .filter(kind.eq("ticket_received"))
                .select(message_id)
                .first::<Option<String>>(&mut app.conn())
                .unwrap();
            if found.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        found.expect("the receipt was sent")
    };
    let raw =
        fill(&fixture("bounce_dsn.eml"), "MAILER-DAEMON@mx.example.org", &format!("support@{DOMAIN}"), &ticket, &sent);
    let taken = post_email(app, raw).await.expect(200).body;
    assert_eq!(taken["outcome"], "bounce", "{taken}");
    let failed = app.get("/api/v1/admin/outbox?status=failed", &app.admin_token).await.expect(200).body;
    let item = &failed["items"][0];
    assert_eq!(item["message_id"], sent.as_str());
    assert!(item["last_error"].as_str().unwrap().contains("550 5.1.1"), "{item}");
    let events =
        app.get(&format!("/api/v1/tickets/{}/events", ticket["id"].as_str().unwrap()), &net.advisor.token).await.body;
    assert!(events.as_array().unwrap().iter().any(|e| e["kind"] == "delivery_failed"));
    let seen_by_requester = app
        .get(&format!("/api/v1/tickets/{}/events", ticket["id"].as_str().unwrap()), &net.requester_a.token)
        .await
        .body;
    assert!(seen_by_requester.as_array().unwrap().iter().all(|e| e["kind"] != "delivery_failed"));
    assert_eq!(messages(app, &ticket).await.len(), 1);
}

#[tokio::test]
async fn replies_reopen_tickets_and_a_reply_to_a_closed_one_opens_a_follow_up() {
    let net = network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Statute", "legal_registration").await;
    let path = format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap());
    let to = reply_address(app, &ticket, &net.requester_a);
    app.patch(&path, &net.advisor.token, json!({"status": "resolved"})).await.expect(200);
    post_email(app, plain(&email(&net.requester_a), &to, "Re: Statute", "", "One more question.")).await.expect(200);
    assert_eq!(app.get(&path, &net.advisor.token).await.body["status"], "open");
    let notified = app.count(&format!(
        "SELECT count(*) AS count FROM outbox WHERE kind = 'requester_reply' AND recipient_id = '{}'",
        net.advisor.id
    ));
    assert_eq!(notified, 1, "the assignee hears of the reply");

    app.patch(&path, &net.advisor.token, json!({"status": "closed"})).await.expect(200);
    let taken =
        post_email(app, plain(&email(&net.requester_a), &to, "Re: Statute", "", "Back again.")).await.expect(200).body;
    assert_eq!(taken["outcome"], "follow_up");
    let follow_up =
        app.get(&format!("/api/v1/tickets/{}", taken["ticket_id"].as_str().unwrap()), &net.advisor.token).await.body;
    assert_eq!(follow_up["follow_up_of"], ticket["id"]);
    assert_eq!(follow_up["subject"], "Statute");
    assert_eq!(follow_up["channel"], "email");
    let old_events = app.get(&format!("{path}/events"), &net.advisor.token).await.body;
    assert!(
        old_events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "follow_up_created" && e["new_value"] == follow_up["id"])
    );
    assert_eq!(app.get(&path, &net.advisor.token).await.body["status"], "closed");
}

#[tokio::test]
async fn the_same_message_is_taken_once_whatever_the_way_in() {
    let net = network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Twice", "funding").await;
    let raw =
        plain(&email(&net.requester_a), &reply_address(app, &ticket, &net.requester_a), "Re: Twice", "", "Only once.");
    let first = post_email(app, raw.clone()).await.expect(200).body;
    assert_eq!(first["duplicate"], false);
    let second = post_email(app, raw.clone()).await.expect(200).body;
    assert_eq!(second["duplicate"], true);
    assert_eq!(second["ticket_id"], ticket["id"]);
    let (code, _) = pipe(app, &raw, &[]);
    assert_eq!(code, 0);
    assert_eq!(messages(app, &ticket).await.len(), 2);
    assert_eq!(app.count("SELECT count(*) AS count FROM inbound_emails"), 1);
}

#[tokio::test]
async fn unknown_senders_join_their_organisation_or_the_unaffiliated_queue() {
    let net = network().await;
    let app = &net.app;
    let path = format!("/api/v1/organizations/{}", net.cso_a["id"].as_str().unwrap());
    let support = format!("support@{DOMAIN}");
    // A domain nobody verified lets nobody in: an outsider at it lands in the Unaffiliated queue.
    let set = app.patch(&path, &net.coordinator.token, json!({"email_domain": "GreenValley.example.org"})).await;
    assert_eq!(set.expect(200).body["email_domain_verified"], false);
    let outsider = plain("mallory@greenvalley.example.org", &support, "Hello", "", "Let me see your tickets");
    let taken = post_email(app, outsider).await.expect(200).body;
    assert!(taken["reason"].as_str().unwrap().contains("Unaffiliated"), "{taken}");
    let mallory = app.count("SELECT count(*) AS count FROM users WHERE email = 'mallory@greenvalley.example.org' AND organization_id IS NOT DISTINCT FROM (SELECT id FROM organizations WHERE email_domain = 'greenvalley.example.org')");
    assert_eq!(mallory, 0, "an unverified domain joins nobody to the CSO");
    // Only admins verify a domain, and public webmail domains are nobody's.
    app.patch(&path, &net.coordinator.token, json!({"email_domain_verified": true})).await.problem(403);
    for webmail in ["gmail.com", "outlook.com", "yahoo.fr", "mail.ru", "gmx.de", "icloud.com", "yandex.ru"] {
        let refused = app.patch(&path, &app.admin_token, json!({"email_domain": webmail})).await.problem(422);
        assert!(refused["detail"].as_str().unwrap().contains("webmail"), "{webmail}: {refused}");
    }
    let verified = app.patch(&path, &app.admin_token, json!({"email_domain_verified": true})).await.expect(200);
    assert_eq!(verified.body["email_domain_verified"], true);
    let newcomer = plain(
        "Drita Kelmendi <drita@greenvalley.example.org>",
        &support,
        "First request",
        "Content-Language: sq\r\n",
        "Hello!",
    );
    let taken = post_email(app, newcomer).await.expect(200).body;
    assert_eq!(taken["outcome"], "created");
    let user = app.count("SELECT count(*) AS count FROM users WHERE email = 'drita@greenvalley.example.org' AND role = 'requester' AND language = 'sq' AND name = 'Drita Kelmendi'");
    assert_eq!(user, 1);
    let ticket =
        app.get(&format!("/api/v1/tickets/{}", taken["ticket_id"].as_str().unwrap()), &app.admin_token).await.body;
    assert_eq!(ticket["organization_id"], net.cso_a["id"]);

    let stranger = plain("someone@elsewhere.example.net", &support, "A question", "", "Who are you?");
    let taken = post_email(app, stranger).await.expect(200).body;
    assert_eq!(taken["outcome"], "created");
    let ticket =
        app.get(&format!("/api/v1/tickets/{}", taken["ticket_id"].as_str().unwrap()), &app.admin_token).await.body;
    assert_eq!(
        ticket["country"], net.regional["country"],
        "the Unaffiliated queue lives in the regional office's country"
    );
    assert_eq!(ticket["office_id"], net.regional["id"]);
}

/// Runs `civicdesk ingest-email` with `raw` on standard input; returns the exit code and standard output.
pub(crate) fn pipe(app: &TestApp, raw: &[u8], env: &[(&str, &str)]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_civicdesk"))
        .arg("ingest-email")
        .env("DATABASE_URL", &app.database_url)
        .env("MAIL_FROM", format!("civicdesk <support@{DOMAIN}>"))
        .env("MAIL_REPLY_TO", format!("support@{DOMAIN}"))
        .env("MAIL_MESSAGE_ID_DOMAIN", DOMAIN)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child.stdin.take().unwrap().write_all(raw).unwrap();
    let output = child.wait_with_output().unwrap();
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test]
async fn the_pipe_answers_with_sendmail_exit_codes() {
    let net = network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Piped", "funding").await;
    let raw = plain(
        &email(&net.requester_a),
        &reply_address(app, &ticket, &net.requester_a),
        "Re: Piped",
        "",
        "Through the pipe.",
    );
    let (code, stdout) = pipe(app, &raw, &[]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("\"outcome\":\"added\""));
    assert_eq!(messages(app, &ticket).await.len(), 2);

    assert_eq!(pipe(app, b"\x00\x01 not a message at all", &[]).0, 65);
    assert_eq!(
        pipe(app, &plain("x@y.org", "z@w.org", "big", "", &"x".repeat(5000)), &[("INBOUND_MAX_BYTES", "1000")]).0,
        65
    );
    let stranger = plain("stranger@nowhere.example.net", &format!("support@{DOMAIN}"), "Hi", "", "Let me in");
    assert_eq!(pipe(app, &stranger, &[("INBOUND_UNKNOWN_SENDERS", "reject")]).0, 67);
    let unreachable = [("DATABASE_URL", "postgres://postgres@127.0.0.1:1/civicdesk")];
    assert_eq!(pipe(app, &raw, &unreachable).0, 75);
}

#[tokio::test]
async fn the_http_way_in_is_guarded_and_refuses_bad_input_cleanly() {
    let net = network().await;
    let app = &net.app;
    let raw = plain("a@b.org", "support@desk.example.org", "x", "", "y");
    let unauthenticated = app
        .request(Method::POST, "/api/v1/inbound/email", None)
        .header("content-type", "message/rfc822")
        .body(raw.clone());
    app.send(unauthenticated).await.problem(401);
    let wrong = app
        .request(Method::POST, "/api/v1/inbound/email", None)
        .bearer_auth("wrong")
        .header("content-type", "message/rfc822")
        .body(raw.clone());
    app.send(wrong).await.problem(401);
    let json_body =
        app.request(Method::POST, "/api/v1/inbound/email", None).bearer_auth(INBOUND_SECRET).json(&json!({"a": 1}));
    app.send(json_body).await.problem(415);
    post_email(app, b"\x00\x01\x02".to_vec()).await.problem(422);
    let no_sender = b"Subject: hi\r\nMessage-ID: <x1@y>\r\n\r\nbody".to_vec();
    let refused = post_email(app, no_sender).await.problem(422);
    assert!(refused["detail"].as_str().unwrap().contains("no sender"), "{refused}");
    let deep = format!(
        "From: a@b.org\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n{}",
        "--x\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n".repeat(2000)
    );
    let answer = post_email(app, deep.into_bytes()).await;
    assert!(answer.status.is_success() || answer.status.is_client_error(), "hostile nesting: {}", answer.status);
    app.get("/healthz", &app.admin_token).await.expect(200);

    let closed = spawn_network_with(|_| {}).await;
    let request = closed
        .app
        .request(Method::POST, "/api/v1/inbound/email", None)
        .bearer_auth("x")
        .header("content-type", "message/rfc822")
        .body(raw);
    closed.app.send(request).await.problem(404);
}

#[tokio::test]
async fn a_notification_reply_comes_back_through_the_pipe_and_lands_once() {
    let sink = SmtpSink::start().await;
    let net = network_with_mail(&sink, |_| {}).await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Round trip", "funding").await;
    let path = format!("/api/v1/tickets/{}/messages", ticket["id"].as_str().unwrap());
    app.post(&path, &net.advisor.token, json!({"body": "Which year's budget?", "status": "pending"})).await.expect(201);
    let mails = sink.wait_for(3).await;
    let notification = mails
        .iter()
        .find(|m| m.to == [email(&net.requester_a)] && m.body("text/plain").unwrap().contains("Which year"))
        .expect("the staff reply reached the requester");
    let reply_to = notification.header("Reply-To").unwrap().trim_matches(['<', '>']).to_owned();
    let original = notification.body("text/plain").unwrap();
    let quoted: String = original.lines().map(|l| format!("> {l}\r\n")).collect();
    let body = format!(
        "The 2026 budget.\r\n\r\nOn Sat, 28 Nov 2026 at 10:00, civicdesk <support@{DOMAIN}> wrote:\r\n{quoted}"
    );
    let headers = format!(
        "In-Reply-To: {}\r\nReferences: {}\r\n",
        notification.header("Message-ID").unwrap(),
        notification.header("References").unwrap()
    );
    let subject = format!("Re: {}", notification.header("Subject").unwrap());
    let raw = plain(&format!("Arta <{}>", email(&net.requester_a)), &reply_to, &subject, &headers, &body);

    let (code, stdout) = pipe(app, &raw, &[]);
    assert_eq!(code, 0, "{stdout}");
    let conversation = messages(app, &ticket).await;
    assert_eq!(conversation.len(), 3);
    assert_eq!(conversation[2]["body"], "The 2026 budget.");
    let now = app.get(&format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap()), &app.admin_token).await.body;
    assert_eq!(now["status"], "open", "the answer takes the ticket out of pending");
    // The same reply posted by a relay too: taken once.
    assert_eq!(post_email(app, raw).await.expect(200).body["duplicate"], true);
    assert_eq!(messages(app, &ticket).await.len(), 3);
    // And the advisor hears of it by email.
    let to_advisor = sink.wait_for(4).await.into_iter().filter(|m| m.to == [email(&net.advisor)]).count();
    assert!(to_advisor >= 2, "assignment and the requester's reply");
}

#[tokio::test]
async fn attachments_are_typed_by_their_content_and_programs_are_dropped_with_a_note() {
    // A Windows program's first bytes, and a small PDF.
    const EXE: &str = "TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAgAAAAAAAAAAAAAAAAAAA\
                       AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABQRQAA";
    const PDF: &str = "JVBERi0xLjcKJeLjz9MKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK";
    let net = network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Files of every kind", "funding").await;
    let template = "From: {{FROM}}\r\nTo: {{TO}}\r\nSubject: Re: [#{{REF}}] Files\r\nMessage-ID: <{{MESSAGE_ID}}>\r\n\
         In-Reply-To: {{IN_REPLY_TO}}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe documents.\r\n\
         --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"statut.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nEXE_DATA\r\n\
         --b\r\nContent-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename*=UTF-8''..%2F..%2Fvendim%E2%80%AEfdp.pdf\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nPDF_DATA\r\n\
         --b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"budget.xlsm\"\r\n\r\n\
         just text\r\n--b--\r\n"
        .replace("EXE_DATA", EXE)
        .replace("PDF_DATA", PDF);
    let to = reply_address(app, &ticket, &net.requester_a);
    let raw = fill(&template, &email(&net.requester_a), &to, &ticket, &thread_root(&ticket));
    let taken = post_email(app, raw).await.expect(200).body;
    assert_eq!(taken["outcome"], "added", "{taken}");
    let reply = messages(app, &ticket).await.pop().unwrap();
    let attachments = reply["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1, "only the real PDF is kept: {reply}");
    // No path, no right-to-left override; the type its content shows, not the one claimed.
    assert_eq!(attachments[0]["filename"], "vendimfdp.pdf");
    assert_eq!(attachments[0]["content_type"], "application/pdf");
    let body = reply["body"].as_str().unwrap();
    assert!(body.starts_with("The documents."), "{body}");
    assert!(body.contains("[attachment statut.pdf was not kept: its content is a program"), "{body}");
    assert!(body.contains("[attachment budget.xlsm was not kept: files ending in .xlsm can carry"), "{body}");
}

#[tokio::test]
async fn the_same_file_is_stored_once_in_chunks_and_ranges_read_across_them() {
    use base64::Engine;
    let net = network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "A large annual report", "financial_management").await;
    // A 600,000-byte PDF: three chunks of 256 KiB.
    let mut content = b"%PDF-1.7\n".to_vec();
    content.extend((0..600_000 - content.len()).map(|n| (n * 7 % 251) as u8));
    let encoded = base64::engine::general_purpose::STANDARD.encode(&content);
    let lines: Vec<&str> = encoded.as_bytes().chunks(76).map(|line| std::str::from_utf8(line).unwrap()).collect();
    let template = format!(
        "From: {{{{FROM}}}}\r\nTo: {{{{TO}}}}\r\nSubject: Re: [#{{{{REF}}}}] Report\r\nMessage-ID: <{{{{MESSAGE_ID}}}}>\r\n\
         In-Reply-To: {{{{IN_REPLY_TO}}}}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe report.\r\n\
         --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"raporti.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        lines.join("\r\n")
    );
    let to = reply_address(app, &ticket, &net.requester_a);
    for _ in 0..2 {
        let raw = fill(&template, &email(&net.requester_a), &to, &ticket, &thread_root(&ticket));
        assert_eq!(post_email(app, raw).await.expect(200).body["outcome"], "added");
    }
    let conversation = messages(app, &ticket).await;
    let ids: Vec<&str> = conversation.iter().filter_map(|m| m["attachments"][0]["id"].as_str()).collect::<Vec<_>>();
    assert_eq!(ids.len(), 2, "two attachments");
    assert_eq!(app.count("SELECT count(*) AS count FROM attachments"), 2);
    assert_eq!(app.count("SELECT count(*) AS count FROM files"), 1, "one content");
    assert_eq!(app.count("SELECT count(*) AS count FROM file_chunks"), 3);

    let path = format!("/api/v1/attachments/{}", ids[1]);
    let whole = app.request(Method::GET, &path, Some(&net.requester_a.token)).send().await.unwrap();
    assert_eq!(whole.headers()["content-type"], "application/pdf");
    assert_eq!(whole.bytes().await.unwrap().as_ref(), content.as_slice());
    for (start, end) in [(262_140_usize, 262_150_usize), (0, 0), (524_287, 524_288), (599_990, 599_999)] {
        let part = app
            .request(Method::GET, &path, Some(&net.requester_a.token))
            .header("Range", format!("bytes={start}-{end}"))
            .send()
            .await
            .unwrap();
        assert_eq!(part.status(), 206);
        assert_eq!(part.headers()["content-range"].to_str().unwrap(), format!("bytes {start}-{end}/600000"));
        assert_eq!(part.bytes().await.unwrap().as_ref(), &content[start..=end], "{start}-{end}");
    }
}
