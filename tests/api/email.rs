use std::collections::{HashMap, HashSet};
use std::time::Duration;

use civicdesk::config::Settings;
use civicdesk::email::reply_token::ReplyToken;
use civicdesk::email::worker::Worker;
use diesel::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Network, TestApp, spawn_app_with, spawn_network_with};
use crate::smtp_sink::{Mode, SmtpSink, free_port};

pub(crate) fn with_smtp(url: String) -> impl FnOnce(&mut Settings) {
    move |settings: &mut Settings| {
        settings.mail.smtp_url = Some(url);
        settings.mail.from = "civicdesk <support@desk.example.org>".to_owned();
        settings.mail.reply_to = "support@desk.example.org".to_owned();
        settings.mail.message_id_domain = "desk.example.org".to_owned();
        settings.mail.smtp_timeout = Duration::from_secs(5);
        settings.worker.in_serve = true;
    }
}

/// (recipient id, kind, status) of every outbox row, in creation order.
fn outbox(app: &TestApp) -> Vec<(Uuid, String, String)> {
    use civicdesk::schema::outbox::dsl::*;
    outbox.order(id.asc()).select((recipient_id, kind, status)).load::<(Uuid, String, String)>(&mut app.conn()).unwrap()
}

/// Waits until no notification is pending or being sent (or 10 seconds passed).
async fn drained(app: &TestApp) {
    for _ in 0..200 {
        if app.count("SELECT count(*) AS count FROM outbox WHERE status IN ('pending', 'sending')") == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the outbox did not drain: {:?}", outbox(app));
}

fn kinds_for(rows: &[(Uuid, String, String)], user: Uuid) -> Vec<String> {
    rows.iter().filter(|(r, _, _)| *r == user).map(|(_, k, _)| k.clone()).collect()
}

async fn network_with_sink() -> (Network, SmtpSink) {
    let sink = SmtpSink::start().await;
    let net = spawn_network_with(with_smtp(sink.url())).await;
    (net, sink)
}

#[tokio::test]
async fn each_person_is_told_what_concerns_them_and_nothing_else() {
    let (net, sink) = network_with_sink().await;
    let app = &net.app;
    let (requester, advisor) = (net.requester_a.id, net.advisor.id);

    // Submission: the requester's receipt, the routed advisor's assignment.
    let ticket = app.submit(&net.requester_a.token, "Statute change", "legal_registration").await;
    let path = format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap());
    drained(app).await;
    let rows = outbox(app);
    assert_eq!(kinds_for(&rows, requester), ["ticket_received"]);
    assert_eq!(kinds_for(&rows, advisor), ["ticket_assigned"]);

    // An internal note reaches nobody; a public staff reply with a status reaches the requester once.
    app.post(
        &format!("{path}/messages"),
        &net.advisor.token,
        json!({"body": "Check the 2019 statute", "internal": true}),
    )
    .await
    .expect(201);
    app.post(
        &format!("{path}/messages"),
        &net.advisor.token,
        json!({"body": "Please send the statute.", "status": "pending"}),
    )
    .await
    .expect(201);
    // The requester answers: the assignee hears of it.
    app.post(&format!("{path}/messages"), &net.requester_a.token, json!({"body": "Attached, thanks."}))
        .await
        .expect(201);
    // Status changes by staff reach the requester; the requester's own change reaches the assignee as a reopen.
    app.patch(&path, &net.advisor.token, json!({"status": "resolved"})).await.expect(200);
    app.patch(&path, &net.requester_a.token, json!({"status": "open"})).await.expect(200);
    app.patch(&path, &net.advisor.token, json!({"status": "closed"})).await.expect(200);
    drained(app).await;
    let rows = outbox(app);
    assert_eq!(kinds_for(&rows, requester), ["ticket_received", "staff_reply", "status_changed", "status_changed"]);
    assert_eq!(kinds_for(&rows, advisor), ["ticket_assigned", "requester_reply", "ticket_reopened"]);
    assert!(kinds_for(&rows, net.coordinator.id).is_empty());

    // The mail itself: every row was delivered to the right address.
    let mails = sink.wait_for(rows.len()).await;
    assert_eq!(mails.len(), rows.len());
    let to_requester = mails.iter().filter(|m| m.to == [net.requester_a.user["email"].as_str().unwrap()]).count();
    assert_eq!(to_requester, 4);
    let reply = mails.iter().find(|m| m.body("text/plain").unwrap().contains("Please send the statute.")).unwrap();
    assert_eq!(reply.to, [net.requester_a.user["email"].as_str().unwrap()]);
    assert!(
        !mails.iter().any(|m| m.body("text/plain").unwrap().contains("2019 statute")),
        "internal notes stay inside"
    );
}

#[tokio::test]
async fn nobody_is_told_about_their_own_action() {
    let (net, _sink) = network_with_sink().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Own actions", "funding").await;
    let path = format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap());
    // The requester closes their own ticket: no status mail to them.
    app.patch(&path, &net.requester_a.token, json!({"status": "closed"})).await.expect(200);
    // An advisor who takes a ticket themselves gets no assignment mail.
    let other = app.submit(&net.requester_b.token, "Taken by the coordinator", "funding").await;
    let other_path = format!("/api/v1/tickets/{}", other["id"].as_str().unwrap());
    app.patch(&other_path, &net.coordinator.token, json!({"assignee_id": net.coordinator.user["id"]}))
        .await
        .expect(200);
    drained(app).await;
    let rows = outbox(app);
    assert_eq!(kinds_for(&rows, net.requester_a.id), ["ticket_received"]);
    assert!(kinds_for(&rows, net.coordinator.id).is_empty());
}

#[tokio::test]
async fn coordinators_hear_of_tickets_nobody_can_take() {
    let (net, sink) = network_with_sink().await;
    let app = &net.app;
    let away = json!({"available": false});
    app.patch(&format!("/api/v1/advisors/{}", net.advisor.id), &net.advisor.token, away).await.expect(200);
    app.submit(&net.requester_a.token, "Nobody home", "advocacy").await;
    drained(app).await;
    let rows = outbox(app);
    assert_eq!(kinds_for(&rows, net.coordinator.id), ["ticket_unassigned"]);
    let mails = sink.wait_for(2).await;
    let alert = mails.iter().find(|m| m.to == [net.coordinator.user["email"].as_str().unwrap()]).unwrap();
    assert!(alert.body("text/plain").unwrap().contains("Askush"), "the coordinator reads Albanian (sq)");
}

#[tokio::test]
async fn notifications_thread_are_marked_automatic_and_carry_a_signed_reply_address() {
    let (net, sink) = network_with_sink().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Threading", "visibility").await;
    let ticket_id = ticket["id"].as_str().unwrap();
    app.post(&format!("/api/v1/tickets/{ticket_id}/messages"), &net.advisor.token, json!({"body": "Answer"}))
        .await
        .expect(201);
    drained(app).await;
    let mails = sink.wait_for(3).await;
    let secret: Vec<u8> = {
        use civicdesk::schema::app_secrets::dsl::*;
        app_secrets.filter(name.eq("reply_token_key")).select(value).first(&mut app.conn()).unwrap()
    };
    let sent_ids: HashSet<String> = {
        use civicdesk::schema::outbox::dsl::*;
        outbox.select(message_id).load::<Option<String>>(&mut app.conn()).unwrap().into_iter().flatten().collect()
    };
    let thread = format!("<ticket-{ticket_id}@desk.example.org>");
    for mail in &mails {
        assert_eq!(mail.from, "support@desk.example.org", "the envelope sender");
        let message_id = mail.header("Message-ID").unwrap();
        assert!(sent_ids.contains(&message_id), "{message_id} is recorded in the outbox");
        assert!(message_id.ends_with("@desk.example.org>"));
        assert_eq!(mail.header("In-Reply-To").unwrap(), thread);
        assert_eq!(mail.header("References").unwrap(), thread);
        assert_eq!(mail.header("Auto-Submitted").unwrap(), "auto-generated");
        assert_eq!(mail.header("X-Auto-Response-Suppress").unwrap(), "All");
        assert!(mail.header("Subject").unwrap().starts_with(&format!("[#{}] Threading", ticket["reference"])));
        let reply_to = mail.header("Reply-To").unwrap();
        let address = reply_to.trim_matches(['<', '>']);
        let token = ReplyToken::from_address(address).expect("a token in the local part");
        let decoded = ReplyToken::decode(token, &secret).expect("the token verifies");
        assert_eq!(decoded.ticket_reference, ticket["reference"].as_i64().unwrap());
        let recipient = mail.to[0].as_str();
        let user = app.count(&format!(
            "SELECT count(*) AS count FROM users WHERE id = '{}' AND email = '{recipient}'",
            decoded.recipient_id
        ));
        assert_eq!(user, 1, "the token names the recipient");
        assert!(address.starts_with("support+") && address.ends_with("@desk.example.org"));
        // Multipart: plain text and HTML.
        let parsed = mail.parsed();
        assert_eq!(parsed.ctype.mimetype, "multipart/alternative");
        assert!(mail.body("text/plain").unwrap().starts_with("##- Please type your reply above this line -##"));
        assert!(mail.body("text/html").unwrap().contains("<html"));
    }
}

#[tokio::test]
async fn non_latin_text_arrives_intact_in_the_recipients_language() {
    let (net, sink) = network_with_sink().await;
    let app = &net.app;
    let macedonian = app.create_organization("Граѓанска иницијатива", "XK").await;
    let requester = app.create_user("requester", None, Some(&macedonian)).await;
    app.patch(
        &format!("/api/v1/users/{}", requester.id),
        &requester.token,
        json!({"language": "mk", "name": "Ана Петровска"}),
    )
    .await
    .expect(200);
    let subject = "Грант: ë ç ş ğ ı İ — „наводници“";
    let body = json!({"subject": subject, "body": "Прашање за буџетот. Çok teşekkürler, faleminderit për ndihmën.", "category": "funding"});
    let ticket = app.post("/api/v1/tickets", &requester.token, body).await.expect(201).body;
    let path = format!("/api/v1/tickets/{}/messages", ticket["id"].as_str().unwrap());
    app.post(&path, &net.advisor.token, json!({"body": "Одговор: ş ğ ı ë ç ✓"})).await.expect(201);
    drained(app).await;
    let mails = sink.wait_for(3).await;
    let to_requester: Vec<_> = mails.iter().filter(|m| m.to == [requester.user["email"].as_str().unwrap()]).collect();
    assert_eq!(to_requester.len(), 2);
    for mail in to_requester {
        assert_eq!(mail.header("Subject").unwrap(), format!("[#{}] {subject}", ticket["reference"]));
        let text = mail.body("text/plain").unwrap();
        assert!(text.contains("Здраво, Ана Петровска,"), "{text}");
        let html = mail.body("text/html").unwrap();
        assert!(html.contains("Ана Петровска"));
    }
    let reply = mails.iter().find(|m| m.body("text/plain").unwrap().contains("одговори на вашето барање")).unwrap();
    assert!(reply.body("text/plain").unwrap().contains("> Одговор: ş ğ ı ë ç ✓"));
}

#[tokio::test]
async fn mail_queued_while_the_server_is_down_is_delivered_once_when_it_returns() {
    let port = free_port();
    let net = spawn_network_with(with_smtp(format!("smtp://127.0.0.1:{port}"))).await;
    let app = &net.app;
    for n in 0..4 {
        app.submit(&net.requester_a.token, &format!("While down {n}"), "other").await;
    }
    // Nothing listens: every attempt fails, is recorded and rescheduled.
    let failed_once = "SELECT count(*) AS count FROM outbox WHERE attempts > 0 AND last_error IS NOT NULL";
    for _ in 0..200 {
        if app.count(failed_once) == 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.count(failed_once), 8, "{:?}", outbox(app));
    assert_eq!(app.count("SELECT count(*) AS count FROM outbox WHERE status = 'sent'"), 0);

    let sink = SmtpSink::start_on(port).await;
    drained(app).await;
    let mails = sink.wait_for(8).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mails_after = sink.messages();
    assert_eq!(mails_after.len(), mails.len(), "no late duplicates");
    let ids: HashSet<String> = mails.iter().map(|m| m.header("Message-ID").unwrap()).collect();
    assert_eq!(mails.len(), 8);
    assert_eq!(ids.len(), 8, "each notification once");
    assert_eq!(app.count("SELECT count(*) AS count FROM outbox WHERE status = 'sent'"), 8);
}

#[tokio::test]
async fn a_server_that_fails_temporarily_is_retried_until_it_accepts() {
    let (net, sink) = network_with_sink().await;
    let app = &net.app;
    sink.set_mode(Mode::Unavailable);
    app.submit(&net.requester_a.token, "Greylisted", "other").await;
    let refused = "SELECT count(*) AS count FROM outbox WHERE last_error IS NOT NULL";
    for _ in 0..200 {
        if app.count(refused) == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.count(refused), 2, "both attempts were refused: {:?}", outbox(app));
    assert!(sink.messages().is_empty());
    sink.set_mode(Mode::TempFail);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(sink.messages().is_empty());
    sink.set_mode(Mode::Accept);
    drained(app).await;
    assert_eq!(sink.wait_for(2).await.len(), 2);
    let attempts = app.count("SELECT max(attempts)::bigint AS count FROM outbox");
    assert!(attempts > 1, "it took several attempts: {attempts}");
}

#[tokio::test]
async fn two_workers_draining_one_outbox_never_send_a_notification_twice() {
    let sink = SmtpSink::start().await;
    // The application's own worker is off; two separate workers share the outbox.
    let net = spawn_network_with(|s| {
        with_smtp(sink.url())(s);
        s.worker.in_serve = false;
        s.worker.batch_size = 5;
    })
    .await;
    let app = &net.app;
    for n in 0..30 {
        app.submit(&net.requester_a.token, &format!("Bulk {n}"), "other").await;
    }
    let queued = app.count("SELECT count(*) AS count FROM outbox");
    assert_eq!(queued, 60);
    let first = Worker::build(&app.settings, app.pool.clone()).await.unwrap();
    let second = Worker::build(&app.settings, app.pool.clone()).await.unwrap();
    let drain = |worker: Worker| async move {
        let mut total = 0;
        loop {
            let taken = worker.deliver_due().await.unwrap();
            if taken == 0 {
                return total;
            }
            total += taken;
        }
    };
    let (a, b) = tokio::join!(drain(first), drain(second));
    assert_eq!(a + b, 60);
    assert!(a > 0 && b > 0, "both workers took a share: {a} and {b}");
    let mails = sink.wait_for(60).await;
    let ids: HashSet<String> = mails.iter().map(|m| m.header("Message-ID").unwrap()).collect();
    assert_eq!(mails.len(), 60);
    assert_eq!(ids.len(), 60);
}

#[tokio::test]
async fn failures_become_dead_letters_that_admins_see_and_retry() {
    let sink = SmtpSink::start().await;
    let net = spawn_network_with(|s| {
        with_smtp(sink.url())(s);
        s.worker.max_attempts = 3;
    })
    .await;
    let app = &net.app;
    // A permanent refusal fails at once.
    sink.set_mode(Mode::RejectRecipients);
    app.submit(&net.requester_a.token, "Refused", "other").await;
    drained(app).await;
    assert_eq!(app.count("SELECT count(*) AS count FROM outbox WHERE status = 'failed' AND attempts = 1"), 2);
    // A temporary failure that never ends fails after the attempt limit.
    sink.set_mode(Mode::TempFail);
    app.submit(&net.requester_b.token, "Deferred", "other").await;
    drained(app).await;
    assert_eq!(app.count("SELECT count(*) AS count FROM outbox WHERE status = 'failed' AND attempts = 3"), 2);

    let failed = app.get("/api/v1/admin/outbox?status=failed", &app.admin_token).await.expect(200).body;
    let items = failed["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert!(items.iter().any(|i| i["last_error"].as_str().unwrap().contains("550")));
    assert!(items.iter().any(|i| i["last_error"].as_str().unwrap().contains("gave up after 3 attempts")));
    app.get("/api/v1/admin/outbox?status=failed", &net.coordinator.token).await.problem(403);
    app.get("/api/v1/admin/outbox?status=lost", &app.admin_token).await.problem(422);

    sink.set_mode(Mode::Accept);
    let id = items[0]["id"].as_str().unwrap();
    let retried =
        app.post(&format!("/api/v1/admin/outbox/{id}/retry"), &app.admin_token, json!({})).await.expect(200).body;
    assert_eq!(retried["status"], "pending");
    assert_eq!(retried["attempts"], 0);
    drained(app).await;
    assert_eq!(sink.wait_for(1).await.len(), 1);
    let entry = app.count(&format!("SELECT count(*) AS count FROM outbox WHERE id = '{id}' AND status = 'sent'"));
    assert_eq!(entry, 1);
    app.post(&format!("/api/v1/admin/outbox/{id}/retry"), &app.admin_token, json!({})).await.problem(409);
}

#[tokio::test]
async fn a_worker_that_dies_mid_send_leaves_its_mail_to_the_others_with_the_same_message_id() {
    let sink = SmtpSink::start().await;
    let net = spawn_network_with(|s| {
        with_smtp(sink.url())(s);
        s.worker.in_serve = false;
    })
    .await;
    let app = &net.app;
    app.submit(&net.requester_a.token, "Crash", "other").await;
    // A worker claims the notifications and dies before recording anything: its lease is short.
    let claimed = civicdesk::models::OutboxEntry::claim(
        &mut app.conn(),
        10,
        1.5,
        civicdesk::domain::notifications::snapshot::VERSION,
    )
    .unwrap();
    assert_eq!(claimed.len(), 2);
    let survivor = Worker::build(&app.settings, app.pool.clone()).await.unwrap();
    assert_eq!(survivor.deliver_due().await.unwrap(), 0, "leased rows are not taken");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(survivor.deliver_due().await.unwrap(), 2, "after the lease, they are due again");
    let mails = sink.wait_for(2).await;
    let by_id: HashMap<String, usize> = mails.iter().fold(HashMap::new(), |mut seen, m| {
        *seen.entry(m.header("Message-ID").unwrap()).or_default() += 1;
        seen
    });
    for entry in claimed {
        // Had the dead worker sent it, the copy would carry this very Message-ID.
        assert_eq!(by_id.get(&format!("<{}@desk.example.org>", entry.id)), Some(&1));
    }
}

#[tokio::test]
async fn without_smtp_mail_is_written_to_the_outbox_folder() {
    let app = spawn_app_with(|s| s.worker.in_serve = true).await;
    let office = app.create_office("AL", "AL", false).await;
    let cso = app.create_organization("Files", "AL").await;
    let requester = app.create_user("requester", None, Some(&cso)).await;
    let _ = office;
    app.submit(&requester.token, "On disk", "other").await;
    drained(&app).await;
    let files: Vec<_> = std::fs::read_dir(&app.settings.mail.outbox_dir).unwrap().flatten().collect();
    assert!(!files.is_empty());
    let content = std::fs::read_to_string(files[0].path()).unwrap();
    assert!(content.contains("On disk") || content.contains("=?utf-8?"), "{content}");
    let _ = std::fs::remove_dir_all(&app.settings.mail.outbox_dir);
}

#[tokio::test]
async fn nothing_is_queued_when_a_change_fails() {
    let (net, _sink) = network_with_sink().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Atomic", "other").await;
    drained(app).await;
    let before = app.count("SELECT count(*) AS count FROM outbox");
    let path = format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap());
    app.patch(
        &path,
        &net.advisor.token,
        json!({"status": "resolved", "office_id": Value::String(Uuid::nil().to_string())}),
    )
    .await
    .problem(422);
    assert_eq!(app.count("SELECT count(*) AS count FROM outbox"), before);
    assert_eq!(app.get(&path, &net.advisor.token).await.body["status"], "new");
}

#[tokio::test]
async fn nobody_gets_more_than_the_hourly_cap_of_notifications() {
    let (net, _sink) = network_with_sink().await;
    let app = &net.app;
    let cap = civicdesk::domain::notifications::MAX_NOTIFICATIONS_PER_HOUR;
    for n in 0..=cap {
        app.submit(&net.requester_a.token, &format!("Loop {n}"), "other").await;
    }
    let receipts = app.count(&format!(
        "SELECT count(*) AS count FROM outbox WHERE recipient_id = '{}' AND kind = 'ticket_received'",
        net.requester_a.id
    ));
    assert_eq!(receipts, cap, "the {}th receipt within the hour is dropped", cap + 1);
    assert_eq!(app.count("SELECT count(*) AS count FROM tickets"), cap + 1, "the tickets themselves are all there");
}
