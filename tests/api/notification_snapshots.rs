//! A notification says what happened as it was when it happened: it is rendered from the snapshot captured in the
//! change's transaction, however late it is sent.

use std::time::Duration;

use civicdesk::config::Settings;
use civicdesk::email::worker::Worker;
use diesel::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Network, TestApp, spawn_network_with};
use crate::smtp_sink::{Mode, Received, SmtpSink};

/// The application sends through `sink`, but only when the test runs a worker by hand.
fn through(sink: &SmtpSink) -> impl FnOnce(&mut Settings) {
    let url = sink.url();
    move |settings: &mut Settings| {
        crate::email::with_smtp(url)(settings);
        settings.worker.in_serve = false;
    }
}

/// Runs one worker until nothing more is due (retries included, for up to 10 seconds).
async fn drain(app: &TestApp) {
    let worker = Worker::build(&app.settings, app.pool.clone()).await.unwrap();
    for _ in 0..200 {
        worker.deliver_due().await.unwrap();
        if app.count("SELECT count(*) AS count FROM outbox WHERE status IN ('pending', 'sending')") == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the outbox did not drain");
}

fn text(mail: &Received) -> String {
    mail.body("text/plain").expect("a text part")
}

fn html(mail: &Received) -> String {
    mail.body("text/html").expect("an HTML part")
}

/// The mails sent to `email`, in the order they were sent.
fn to<'a>(mails: &'a [Received], user: &Value) -> Vec<&'a Received> {
    mails.iter().filter(|m| m.to == [user["email"].as_str().unwrap()]).collect()
}

async fn rename(app: &TestApp, id: Uuid, name: &str) {
    app.patch(&format!("/api/v1/users/{id}"), &app.admin_token, json!({ "name": name })).await.expect(200);
}

async fn network(sink: &SmtpSink) -> Network {
    let net = spawn_network_with(through(sink)).await;
    rename(&net.app, net.advisor.id, "Besa Gashi").await;
    net
}

#[tokio::test]
async fn a_reply_then_a_resolution_a_moment_later_make_two_emails_each_true_to_its_moment() {
    let sink = SmtpSink::start().await;
    let net = network(&sink).await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Ndryshimi i statutit", "legal_registration").await;
    let path = format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap());
    // Both changes are queued before anything is sent, as when the worker is a second behind.
    app.post(&format!("{path}/messages"), &net.advisor.token, json!({"body": "The statute is registered."}))
        .await
        .expect(201);
    app.patch(&path, &net.advisor.token, json!({"status": "resolved"})).await.expect(200);
    drain(app).await;

    let mails = sink.wait_for(4).await;
    let requester = to(&mails, &net.requester_a.user);
    assert_eq!(requester.len(), 3, "receipt, reply, resolution");
    let reply = requester.iter().find(|m| text(m).contains("The statute is registered.")).unwrap();
    let resolution = requester.iter().find(|m| text(m).contains("Kërkesa juaj tani është: e zgjidhur.")).unwrap();
    for part in [text(reply), html(reply)] {
        assert!(part.contains("e hapur"), "the reply says open: {part}");
        assert!(!part.contains("zgjidhur"), "and nothing of the later resolution: {part}");
        // (HTML writes the slashes of a link as `&#x2f;`.)
        assert!(!part.contains("satisfaction"), "no rating links before the resolution: {part}");
    }
    assert!(text(reply).contains("Statusi: e hapur"), "{}", text(reply));
    for part in [text(resolution), html(resolution)] {
        assert!(!part.contains("e hapur"), "the resolution says resolved throughout: {part}");
        assert!(part.contains("satisfaction"), "with the rating links: {part}");
    }
    assert!(text(resolution).contains("Statusi: e zgjidhur"), "{}", text(resolution));
    let receipt = requester.iter().find(|m| text(m).contains("E kemi marrë kërkesën tuaj")).unwrap();
    assert!(text(receipt).contains("Statusi: e re"), "the receipt says new: {}", text(receipt));
}

#[tokio::test]
async fn an_email_delayed_by_an_smtp_outage_names_the_people_of_its_moment() {
    let sink = SmtpSink::start().await;
    let net = network(&sink).await;
    let app = &net.app;
    let drita = app.create_user("advisor", Some(&net.kosovo), None).await;
    rename(app, drita.id, "Drita Hoxha").await;
    let ticket = app.submit(&net.requester_a.token, "Buxheti i projektit", "funding").await;
    let path = format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap());
    assert_eq!(ticket["assignee_id"], net.advisor.user["id"], "routed to Besa: {ticket}");
    app.post(&format!("{path}/messages"), &net.advisor.token, json!({"body": "Please send the budget."}))
        .await
        .expect(201);

    // The mail server is down: every attempt fails and is put off.
    sink.set_mode(Mode::Unavailable);
    let worker = Worker::build(&app.settings, app.pool.clone()).await.unwrap();
    assert_eq!(worker.deliver_due().await.unwrap(), 3, "receipt, assignment, reply");
    assert_eq!(app.count("SELECT count(*) AS count FROM outbox WHERE status = 'pending' AND attempts = 1"), 3);
    assert!(sink.messages().is_empty());

    // Meanwhile the ticket moves on: another advisor takes it and the first one's name changes.
    app.patch(&path, &app.admin_token, json!({"assignee_id": drita.id})).await.expect(200);
    rename(app, net.advisor.id, "Besa Krasniqi").await;

    sink.set_mode(Mode::Accept);
    drain(app).await;
    let mails = sink.messages();
    let requester = to(&mails, &net.requester_a.user);
    let reply = requester.iter().find(|m| text(m).contains("Please send the budget.")).unwrap();
    for part in [text(reply), html(reply)] {
        assert!(part.contains("Besa Gashi"), "the advisor of that moment, by the name of that moment: {part}");
        assert!(!part.contains("Drita") && !part.contains("Krasniqi"), "nothing later: {part}");
    }
    assert!(text(reply).contains("Këshilltari: Besa Gashi"), "{}", text(reply));
    let assigned = to(&mails, &drita.user);
    assert_eq!(assigned.len(), 1, "Drita hears of her assignment");
    assert!(text(assigned[0]).contains("Këshilltari: Drita Hoxha"), "{}", text(assigned[0]));
}

/// The frozen snapshot of the first version, as `tests/fixtures/notification-snapshots/` keeps it.
fn stored_v1() -> Value {
    serde_json::from_str(include_str!("../fixtures/notification-snapshots/v1-staff-reply-resolved.json")).unwrap()
}

fn insert_row(app: &TestApp, ticket_id: Uuid, recipient: Uuid, kind: &str, snapshot: Option<(i32, Value)>) -> Uuid {
    use civicdesk::schema::outbox;
    let id = Uuid::now_v7();
    let (version, snapshot) = snapshot.unzip();
    diesel::insert_into(outbox::table)
        .values((
            outbox::id.eq(id),
            outbox::ticket_id.eq(Some(ticket_id)),
            outbox::recipient_id.eq(recipient),
            outbox::kind.eq(kind),
            outbox::details.eq(json!({})),
            outbox::snapshot.eq(snapshot),
            outbox::snapshot_version.eq(version),
        ))
        .execute(&mut app.conn())
        .unwrap();
    id
}

#[tokio::test]
async fn a_row_queued_by_an_earlier_release_renders_with_todays_templates() {
    let sink = SmtpSink::start().await;
    let net = network(&sink).await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Something else entirely", "other").await;
    let ticket_id: Uuid = ticket["id"].as_str().unwrap().parse().unwrap();
    diesel::sql_query("DELETE FROM outbox").execute(&mut app.conn()).unwrap();
    insert_row(app, ticket_id, net.requester_a.id, "staff_reply", Some((1, stored_v1())));
    drain(app).await;

    let mails = sink.wait_for(1).await;
    let mail = &mails[0];
    // Everything comes from the stored snapshot, nothing from the ticket as it is now.
    assert_eq!(mail.to, ["arta@greenvalley.example.org"]);
    assert_eq!(mail.header("Subject").unwrap(), "[#1042] Ndryshimi i statutit");
    let text = text(mail);
    for line in [
        "Përshëndetje Arta Krasniqi,",
        "Besa Gashi iu përgjigj kërkesës suaj:",
        "> The amended statute is registered.",
        "Kërkesa juaj tani është: e zgjidhur.",
        "Statusi: e zgjidhur",
        "Zyra: Kosovo office",
        "Kontakti juaj: Kosovo office, kosovo@desk.example.org",
    ] {
        assert!(text.contains(line), "{line:?} in {text}");
    }
    assert!(!text.contains("Something else entirely"), "{text}");
    assert!(text.contains("/api/v1/satisfaction/"), "the captured rating token is signed now: {text}");
    assert!(html(mail).contains("<html lang=\"sq\" dir=\"ltr\">"), "{}", html(mail));
}

#[tokio::test]
async fn a_row_queued_before_snapshots_gets_one_once_and_a_newer_version_waits_for_a_newer_worker() {
    let sink = SmtpSink::start().await;
    let net = network(&sink).await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Regjistrimi", "legal_registration").await;
    let ticket_id: Uuid = ticket["id"].as_str().unwrap().parse().unwrap();
    diesel::sql_query("DELETE FROM outbox").execute(&mut app.conn()).unwrap();
    let legacy = insert_row(app, ticket_id, net.requester_a.id, "ticket_received", None);
    let newer = insert_row(app, ticket_id, net.requester_a.id, "ticket_received", Some((99, json!({"new": "shape"}))));

    let worker = Worker::build(&app.settings, app.pool.clone()).await.unwrap();
    assert_eq!(worker.deliver_due().await.unwrap(), 1, "only the row this release can read is taken");
    let mails = sink.wait_for(1).await;
    assert_eq!(mails.len(), 1);
    assert!(text(&mails[0]).contains("Subjekti: Regjistrimi"), "{}", text(&mails[0]));
    let (version, status): (Option<i32>, String) = {
        use civicdesk::schema::outbox::dsl::*;
        outbox.find(legacy).select((snapshot_version, status)).first(&mut app.conn()).unwrap()
    };
    assert_eq!((version, status.as_str()), (Some(1), "sent"), "its snapshot is kept with it");

    let (status, tries): (String, i32) = {
        use civicdesk::schema::outbox::dsl::*;
        outbox.find(newer).select((status, attempts)).first(&mut app.conn()).unwrap()
    };
    assert_eq!((status.as_str(), tries), ("pending", 0), "left untouched for a worker of the release that wrote it");
}

#[tokio::test]
async fn a_dead_letter_retried_after_its_address_was_fixed_goes_to_the_new_address_and_says_the_same() {
    let sink = SmtpSink::start().await;
    let net = network(&sink).await;
    let app = &net.app;
    sink.set_mode(Mode::RejectRecipients);
    app.submit(&net.requester_a.token, "Raporti financiar", "financial_management").await;
    drain(app).await;
    let failed: Uuid = {
        use civicdesk::schema::outbox::dsl::*;
        outbox
            .filter(recipient_id.eq(net.requester_a.id).and(status.eq("failed")))
            .select(id)
            .first(&mut app.conn())
            .unwrap()
    };
    // The address was wrong: an admin fixes it (in the database: the API does not change addresses), and the
    // ticket moves on meanwhile.
    let fixed = format!("fixed-{}@example.org", Uuid::new_v4().simple());
    {
        use civicdesk::schema::users::dsl::*;
        diesel::update(users.find(net.requester_a.id)).set(email.eq(&fixed)).execute(&mut app.conn()).unwrap();
    }
    rename(app, net.advisor.id, "Besa Krasniqi").await;
    sink.set_mode(Mode::Accept);
    app.post(&format!("/api/v1/admin/outbox/{failed}/retry"), &app.admin_token, json!({})).await.expect(200);
    drain(app).await;
    let mails = sink.messages();
    let receipt = mails.iter().find(|m| m.to == [fixed.as_str()]).expect("sent to the fixed address");
    assert!(text(receipt).contains("Këshilltari: Besa Gashi"), "the rest as it was: {}", text(receipt));
}
