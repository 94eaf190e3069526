//! Hostile mail through parse and strip, and through the HTTP way in: the hostile corpus, then mutated and random
//! messages. No panic, bounded time, and over HTTP a clear 2xx or 4xx, never a 5xx.

use std::time::{Duration, Instant};

use civicdesk::domain::inbound::{InboundSettings, UnknownSenders};
use civicdesk::email::inbound::read;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::inbound::{network, post_email};

/// Generous: debug builds on a loaded 2-core machine; a quadratic path on these inputs takes minutes.
const PER_MESSAGE: Duration = Duration::from_secs(5);

fn settings() -> InboundSettings {
    InboundSettings {
        secret: vec![7; 32],
        reply_to: "support@desk.example.org".to_owned(),
        message_id_domain: "desk.example.org".to_owned(),
        max_message_bytes: 25 * 1024 * 1024,
        max_attachment_bytes: 10 * 1024 * 1024,
        max_attachments: 20,
        file_policy: Default::default(),
        unknown_senders: UnknownSenders::Unaffiliated,
        unaffiliated_country: None,
        trusted_authserv_id: Some("mx.desk.example.org".to_owned()),
        new_tickets_per_sender_hour: 10,
    }
}

fn corpus(folder: &str) -> Vec<(String, Vec<u8>)> {
    let dir = format!("{}/tests/fixtures/email/{folder}", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|x| x == "eml"))
        .map(|path| (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap()))
        .collect();
    files.sort();
    files
}

/// Parses and strips one message as ingestion does; returns how long it took.
fn read_and_strip(raw: &[u8], settings: &InboundSettings) -> Duration {
    let started = Instant::now();
    if let Ok(reading) = read::read(raw, settings) {
        let mail = reading.into_mail(
            "<fuzz@test>".to_owned(),
            Some("##- Please type your reply above this line -##\nHello Arta,"),
            settings,
        );
        assert!(mail.reply_text.chars().count() <= raw.len() * 4 + 64, "text larger than its input");
    }
    let _ = read::headline(raw);
    started.elapsed()
}

fn insert(bytes: &mut Vec<u8>, at: usize, what: &[u8]) {
    bytes.splice(at..at, what.iter().copied());
}

fn mutate(raw: &[u8], rng: &mut StdRng) -> Vec<u8> {
    let mut bytes = raw.to_vec();
    for _ in 0..rng.random_range(1..6) {
        let at = if bytes.is_empty() { 0 } else { rng.random_range(0..bytes.len()) };
        match rng.random_range(0..9) {
            0 => bytes.truncate(at),
            1 => {
                if let Some(b) = bytes.get_mut(at) {
                    *b = rng.random();
                }
            }
            2 => bytes.insert(at, 0),
            3 => {
                let end = (at + rng.random_range(1..200)).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                let times = rng.random_range(1..20);
                bytes.splice(at..at, copy.iter().cycle().take(copy.len() * times).copied());
            }
            4 => insert(&mut bytes, at, &b"<blockquote><div>&nbsp;\xd1\x87&#x;&".repeat(rng.random_range(1..300))),
            5 => insert(&mut bytes, at, b"=?utf-8?b?0JfQtA?= =?x-unknown?q?=ZZ?="),
            6 => insert(&mut bytes, at, &b"\r\n--b1\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n".repeat(50)),
            7 => insert(&mut bytes, at, "\r\n> Më 28 nëntor, civicdesk shkroi:\r\n>> ".as_bytes()),
            _ => {
                let end = (at + rng.random_range(0..64)).min(bytes.len());
                bytes.drain(at..end);
            }
        }
    }
    bytes
}

#[test]
fn hostile_mutated_and_random_messages_parse_and_strip_in_bounded_time() {
    let settings = settings();
    let mut inputs = corpus("hostile");
    assert!(inputs.len() >= 20, "the hostile corpus is there");
    let replies = corpus("");
    let mut rng = StdRng::seed_from_u64(20261201);
    for round in 0..400 {
        let (name, raw) = &replies[round % replies.len()];
        inputs.push((format!("{name} mutated #{round}"), mutate(raw, &mut rng)));
    }
    for round in 0..50 {
        let length = rng.random_range(0..20_000);
        inputs.push((format!("random #{round}"), (0..length).map(|_| rng.random::<u8>()).collect()));
    }
    for (name, raw) in &inputs {
        let took = read_and_strip(raw, &settings);
        assert!(took < PER_MESSAGE, "{name} took {took:?}");
    }
}

#[test]
fn deep_and_large_html_converts_in_bounded_time() {
    let settings = settings();
    let cases = [
        ("blockquotes", "<blockquote>".repeat(50_000)),
        ("divs", "<div>".repeat(100_000) + "text"),
        ("styles", "<style>p{}".repeat(50_000)),
        ("entities", "&nbsp;ч&amp;&#x;&".repeat(100_000)),
        ("tables", "<table><tr><td>".repeat(20_000)),
    ];
    for (name, html) in cases {
        let raw = format!(
            "From: a@b.org\r\nSubject: x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>{html}</body></html>"
        );
        let took = read_and_strip(raw.as_bytes(), &settings);
        assert!(took < PER_MESSAGE * 2, "{name} took {took:?}");
    }
}

#[tokio::test]
async fn the_hostile_corpus_over_http_gets_clear_answers_and_the_service_stays_up() {
    let net = network().await;
    let app = &net.app;
    for (name, raw) in corpus("hostile") {
        let raw = String::from_utf8_lossy(&raw)
            .replace("{{FROM}}", "hostile@elsewhere.example.net")
            .replace("{{TO}}", "support@desk.example.org")
            .replace("{{REF}}", "1")
            .replace("{{IN_REPLY_TO}}", "<nothing@elsewhere.example.net>")
            .replace("{{MESSAGE_ID}}", &format!("{}@hostile.example.net", uuid::Uuid::new_v4()));
        let answer = post_email(app, raw.into_bytes()).await;
        assert!(
            answer.status.is_success() || [413, 422].contains(&answer.status.as_u16()),
            "{name}: {} {}",
            answer.status,
            answer.body
        );
    }
    app.get("/healthz", &app.admin_token).await.expect(200);
    let not_stored = app.count("SELECT count(*) AS count FROM inbound_emails WHERE status = 'received'");
    assert_eq!(not_stored, 0, "every message ended processed or failed");
    let panicked =
        app.count("SELECT count(*) AS count FROM inbound_emails WHERE reason LIKE '%failed on this message%'");
    assert_eq!(panicked, 0, "no message made the parser panic (a caught panic is recorded with that reason)");
}
