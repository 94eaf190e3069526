//! Mail taken in from an IMAP folder, against a real Dovecot: TLS and STARTTLS, each message once and marked only
//! after its commit, bad messages set aside, temporary failures left for later, and IDLE.

use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use civicdesk::config::ImapSettings;
use civicdesk::db::DbPool;
use civicdesk::domain::inbound::InboundSettings;
use civicdesk::email::imap::{FetchSummary, fetch_once, run_poller};
use uuid::Uuid;

use crate::helpers::{Network, TestApp};
use crate::imap_server::Dovecot;
use crate::inbound::{DOMAIN, email, messages, network, network_with_mail, plain, secret};
use crate::smtp_sink::SmtpSink;

/// A new request from requester A, as a mail server would deliver it.
fn new_request(net: &Network, subject: &str) -> Vec<u8> {
    plain(&email(&net.requester_a), &format!("support@{DOMAIN}"), subject, "", "Hello by IMAP")
}

fn tickets_titled(app: &TestApp, subject: &str) -> i64 {
    app.count(&format!("SELECT count(*) AS count FROM tickets WHERE subject = '{subject}' AND channel = 'email'"))
}

fn imap_settings(dovecot: &Dovecot) -> ImapSettings {
    let mut imap = ImapSettings::from_url(&dovecot.url()).unwrap();
    imap.ca_file = Some(dovecot.ca_file.clone());
    imap
}

fn inbound_settings(app: &TestApp) -> Arc<InboundSettings> {
    Arc::new(app.settings.inbound_settings(secret(app)))
}

/// `civicdesk fetch-mail` with the app's database, `url` and the extra variables.
fn fetch_mail(app: &TestApp, url: &str, extra: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_civicdesk"))
        .arg("fetch-mail")
        .env("DATABASE_URL", &app.database_url)
        .env("IMAP_URL", url)
        .env("MAIL_REPLY_TO", format!("support@{DOMAIN}"))
        .env("RUST_LOG", "warn")
        .envs(extra.iter().copied())
        .output()
        .expect("the binary runs")
}

fn said(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[tokio::test]
async fn the_imap_poller_takes_each_message_once_and_flags_it_after_the_commit() {
    let dovecot = Dovecot::start();
    let sink = SmtpSink::start().await;
    let net = network_with_mail(&sink, |_| {}).await;
    let app = &net.app;
    // A notification goes out; the requester's reply to it comes back through the mailbox.
    let ticket = app.submit(&net.requester_a.token, "Over IMAP", "funding").await;
    let mails = sink.wait_for(2).await;
    let receipt = mails.iter().find(|m| m.to == [email(&net.requester_a)]).expect("the receipt");
    let headers = format!("In-Reply-To: {}\r\n", receipt.header("Message-ID").unwrap());
    let reply_to = receipt.header("Reply-To").unwrap().trim_matches(['<', '>']).to_owned();
    let reply = plain(
        &email(&net.requester_a),
        &reply_to,
        &format!("Re: {}", receipt.header("Subject").unwrap()),
        &headers,
        "Sent over IMAP.",
    );
    dovecot.deliver(&reply);
    dovecot.deliver(&plain(
        &email(&net.requester_b),
        &format!("support@{DOMAIN}"),
        "A new question",
        "",
        "Hello by IMAP",
    ));

    let settings = inbound_settings(app);
    let imap = imap_settings(&dovecot);
    let summary = fetch_once(&imap, &app.pool, &settings).await.unwrap();
    assert_eq!(summary.taken, 2, "{summary:?}");
    let conversation = messages(app, &ticket).await;
    assert_eq!(conversation.len(), 2);
    assert_eq!(conversation[1]["body"], "Sent over IMAP.");
    assert_eq!(dovecot.seen_in(None), vec![true, true], "flagged only after ingestion");
    assert_eq!(dovecot.unread_new(), 0);

    // Nothing new: nothing taken. The same reply delivered again: taken, but only once on the ticket.
    assert_eq!(fetch_once(&imap, &app.pool, &settings).await.unwrap().taken, 0);
    dovecot.deliver(&reply);
    assert_eq!(fetch_once(&imap, &app.pool, &settings).await.unwrap().taken, 1);
    assert_eq!(messages(app, &ticket).await.len(), 2);
    assert_eq!(app.count("SELECT count(*) AS count FROM inbound_emails WHERE source = 'imap'"), 2);
}

#[tokio::test]
async fn fetch_mail_moves_what_it_took_and_refuses_a_wrong_certificate() {
    let dovecot = Dovecot::start();
    let net = network().await;
    let app = &net.app;
    dovecot.deliver(&plain(&email(&net.requester_a), &format!("support@{DOMAIN}"), "Moved", "", "Please move me"));
    // Without trusting the test CA, the TLS handshake fails and nothing is taken.
    let untrusted = fetch_mail(app, &dovecot.url(), &[]);
    assert!(!untrusted.status.success());
    assert_eq!(dovecot.unread_new(), 1);
    let output = fetch_mail(app, &dovecot.url(), &[("IMAP_CA_FILE", &dovecot.ca_file), ("IMAP_MOVE_TO", "Processed")]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("taken 1"));
    assert_eq!(dovecot.count_in("Processed"), 1, "moved after ingestion");
    assert!(dovecot.seen_in(None).is_empty());
    assert_eq!(tickets_titled(app, "Moved"), 1);
}

#[tokio::test]
async fn starttls_upgrades_an_imap_url_before_the_login() {
    let dovecot = Dovecot::start();
    let net = network().await;
    let app = &net.app;
    dovecot.deliver(&new_request(&net, "Over STARTTLS"));

    // The upgrade checks the certificate like implicit TLS does: untrusted, no login and nothing taken.
    let untrusted = fetch_mail(app, &dovecot.starttls_url(), &[]);
    assert!(!untrusted.status.success(), "{}", said(&untrusted));
    assert!(said(&untrusted).contains("TLS handshake"), "{}", said(&untrusted));
    assert_eq!(dovecot.unread_new(), 1);

    let mut imap = ImapSettings::from_url(&dovecot.starttls_url()).unwrap();
    imap.ca_file = Some(dovecot.ca_file.clone());
    let summary = fetch_once(&imap, &app.pool, &inbound_settings(app)).await.unwrap();
    assert_eq!(summary, FetchSummary { taken: 1, refused: 0, left: 0 });
    assert_eq!(tickets_titled(app, "Over STARTTLS"), 1);
    assert_eq!(dovecot.seen_in(None), vec![true]);
}

#[tokio::test]
async fn an_imap_url_without_starttls_is_refused_unless_plaintext_is_allowed() {
    let dovecot = Dovecot::start_without_tls();
    let net = network().await;
    let app = &net.app;
    dovecot.deliver(&new_request(&net, "Over plaintext"));

    let refused = fetch_mail(app, &dovecot.starttls_url(), &[]);
    assert!(!refused.status.success(), "{}", said(&refused));
    assert!(said(&refused).contains("does not offer STARTTLS"), "{}", said(&refused));
    assert_eq!(dovecot.unread_new(), 1, "not even logged in");
    assert_eq!(tickets_titled(app, "Over plaintext"), 0);

    let allowed = fetch_mail(app, &dovecot.starttls_url(), &[("IMAP_ALLOW_PLAINTEXT", "true")]);
    assert!(allowed.status.success(), "{}", said(&allowed));
    assert!(said(&allowed).contains("taken 1"), "{}", said(&allowed));
    assert!(said(&allowed).contains("IMAP_ALLOW_PLAINTEXT"), "a warning: {}", said(&allowed));
    assert_eq!(tickets_titled(app, "Over plaintext"), 1);
}

const POISON: &[u8] = b"\x00\x01 not a message";

/// A message over the inbound size limit the test sets (2,000 bytes).
fn oversized(net: &Network) -> Vec<u8> {
    plain(&email(&net.requester_a), &format!("support@{DOMAIN}"), "Too large", "", &"x".repeat(3_000))
}

fn small_limit(app: &TestApp) -> Arc<InboundSettings> {
    let mut settings = app.settings.inbound_settings(secret(app));
    settings.max_message_bytes = 2_000;
    Arc::new(settings)
}

#[tokio::test]
async fn a_message_that_cannot_be_taken_in_goes_to_the_failed_folder_and_the_next_one_lands() {
    let dovecot = Dovecot::start();
    let net = network().await;
    let app = &net.app;
    dovecot.deliver(POISON);
    dovecot.deliver(&oversized(&net));
    // A permanent refusal: staff mail that answers no ticket.
    let support = format!("support@{DOMAIN}");
    dovecot.deliver(&plain(&email(&net.advisor), &support, "No ticket", "", "Staff mail without a ticket"));
    dovecot.deliver(&new_request(&net, "After the poison"));

    let mut imap = imap_settings(&dovecot);
    imap.failed_folder = Some("Failed".to_owned());
    let settings = small_limit(app);
    let summary = fetch_once(&imap, &app.pool, &settings).await.unwrap();
    assert_eq!(summary, FetchSummary { taken: 1, refused: 3, left: 0 });
    assert_eq!(tickets_titled(app, "After the poison"), 1);
    assert_eq!(dovecot.count_in("Failed"), 3, "created and moved there");
    assert_eq!(dovecot.flags_in(None), ["S"], "only the good one is left, seen");
    assert_eq!(tickets_titled(app, "Too large"), 0);
    // The unreadable and the refused ones are kept for administrators, with their reasons.
    let kept = app.get("/api/v1/admin/inbound?status=failed", &app.admin_token).await.expect(200).body;
    let reasons: Vec<&str> = kept["items"].as_array().unwrap().iter().map(|e| e["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("staff mail that matches no ticket")), "{reasons:?}");

    // Never fetched again; and a second bad one goes to the folder that now exists.
    assert_eq!(fetch_once(&imap, &app.pool, &settings).await.unwrap(), FetchSummary::default());
    dovecot.deliver(POISON);
    assert_eq!(fetch_once(&imap, &app.pool, &settings).await.unwrap().refused, 1);
    assert_eq!(dovecot.count_in("Failed"), 4);
}

#[tokio::test]
async fn without_a_failed_folder_a_message_that_cannot_be_taken_in_is_flagged_where_it_is() {
    let dovecot = Dovecot::start();
    let net = network().await;
    let app = &net.app;
    dovecot.deliver(POISON);
    dovecot.deliver(&oversized(&net));
    dovecot.deliver(&new_request(&net, "After the poison"));

    let imap = imap_settings(&dovecot);
    let settings = small_limit(app);
    let summary = fetch_once(&imap, &app.pool, &settings).await.unwrap();
    assert_eq!(summary, FetchSummary { taken: 1, refused: 2, left: 0 });
    assert_eq!(tickets_titled(app, "After the poison"), 1);
    assert_eq!(dovecot.flags_in(None), ["FS", "FS", "S"], "\\Flagged \\Seen, \\Flagged \\Seen, \\Seen");
    assert_eq!(fetch_once(&imap, &app.pool, &settings).await.unwrap(), FetchSummary::default());
}

/// A pool whose database does not exist: every connection attempt fails, quickly.
fn pool_without_database() -> DbPool {
    let gone = crate::helpers::server_database_url(&format!("civicdesk_gone_{}", Uuid::new_v4().simple()));
    diesel::r2d2::Pool::builder()
        .max_size(1)
        .min_idle(Some(0))
        .connection_timeout(Duration::from_millis(300))
        .build_unchecked(diesel::r2d2::ConnectionManager::new(gone))
}

#[tokio::test]
async fn a_temporary_failure_leaves_every_message_unseen_for_the_next_pass() {
    let dovecot = Dovecot::start();
    let net = network().await;
    let app = &net.app;
    dovecot.deliver(&new_request(&net, "First while down"));
    dovecot.deliver(&new_request(&net, "Second while down"));
    let imap = imap_settings(&dovecot);
    let settings = inbound_settings(app);

    let down = fetch_once(&imap, &pool_without_database(), &settings).await.unwrap();
    assert_eq!(down, FetchSummary { taken: 0, refused: 0, left: 2 });
    assert_eq!(dovecot.flags_in(None), ["", ""], "neither seen nor flagged");

    let up = fetch_once(&imap, &app.pool, &settings).await.unwrap();
    assert_eq!(up, FetchSummary { taken: 2, refused: 0, left: 0 });
    assert_eq!(tickets_titled(app, "First while down") + tickets_titled(app, "Second while down"), 2);
}

/// Waits up to `seconds` for `count` emails to have come in over IMAP.
async fn wait_for_imap_emails(app: &TestApp, count: i64, seconds: u64) -> bool {
    for _ in 0..seconds * 10 {
        // Processed, not merely stored: a message is stored before it is applied.
        let sql = "SELECT count(*) AS count FROM inbound_emails WHERE source = 'imap' AND status <> 'received'";
        if app.count(sql) >= count {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn the_poller_idles_takes_mail_as_it_arrives_and_stops_when_told() {
    let dovecot = Dovecot::start();
    let net = network().await;
    let app = &net.app;
    dovecot.deliver(&new_request(&net, "Before the poller"));
    let mut imap = imap_settings(&dovecot);
    // An hour between polls: only IDLE can bring the second message in within seconds.
    imap.poll_interval = Duration::from_secs(3_600);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let poller = tokio::spawn(run_poller(imap, app.pool.clone(), inbound_settings(app), stopped));

    assert!(wait_for_imap_emails(app, 1, 10).await, "the first pass");
    // Give it a moment to start idling, then deliver as a mail server would.
    tokio::time::sleep(Duration::from_millis(500)).await;
    dovecot.deliver(&new_request(&net, "While idling"));
    assert!(wait_for_imap_emails(app, 2, 10).await, "IDLE noticed the delivery");
    assert_eq!(tickets_titled(app, "While idling"), 1);
    // Flagged right after the commit the count saw.
    for _ in 0..50 {
        if dovecot.flags_in(None) == ["S", "S"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(dovecot.flags_in(None), ["S", "S"]);

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), poller).await.expect("the poller stops").unwrap();
}
