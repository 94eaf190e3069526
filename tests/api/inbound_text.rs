//! Exactly the new text, end to end: every reply fixture of `tests/fixtures/email/` (Gmail, Outlook, Apple Mail,
//! Thunderbird, Samsung, Yahoo, K-9, FairEmail, ProtonMail, ... in many languages, plain, flowed and HTML-only)
//! lands with the text its `.txt` says the person typed; and a reply in a language no rule knows is cut where the
//! quoted copy of our notification starts.

use serde_json::json;

use crate::inbound::{DOMAIN, email, messages, network, network_with_mail, plain, post_email, reply_from};
use crate::smtp_sink::SmtpSink;

/// The comparison the fixtures are written for: CRLF as LF, no trailing spaces, one blank line at most, no
/// leading or trailing blank lines, no-break spaces as spaces.
fn normalise(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\u{a0}', " ");
    let mut lines: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim_end) {
        if line.is_empty() && lines.last().is_none_or(|last| last.is_empty()) {
            continue;
        }
        lines.push(line);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines.join("\n")
}

/// The fixtures that have an expected text.
fn reply_fixtures() -> Vec<String> {
    let dir = format!("{}/tests/fixtures/email", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".txt")).map(str::to_owned))
        .filter(|name| std::path::Path::new(&format!("{dir}/{name}.eml")).exists())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn every_reply_fixture_lands_with_exactly_the_new_text() {
    let net = network().await;
    let app = &net.app;
    let names = reply_fixtures();
    assert!(names.len() >= 120, "{} fixtures", names.len());
    let mut wrong = Vec::new();
    for name in &names {
        let ticket = app.submit(&net.requester_a.token, &format!("Fixture {name}"), "funding").await;
        let raw = reply_from(app, &net.requester_a, &ticket, &format!("{name}.eml"));
        let answer = post_email(app, raw).await;
        if answer.status != 200 || answer.body["outcome"] != "added" {
            wrong.push(format!("{name}: {} {}", answer.status, answer.body));
            continue;
        }
        let body = messages(app, &ticket).await.pop().unwrap()["body"].as_str().unwrap().to_owned();
        let expected =
            std::fs::read_to_string(format!("{}/tests/fixtures/email/{name}.txt", env!("CARGO_MANIFEST_DIR"))).unwrap();
        if normalise(&body) != normalise(&expected) {
            wrong.push(format!("{name}:\n--- expected\n{}\n--- got\n{}", normalise(&expected), normalise(&body)));
        }
    }
    assert!(wrong.is_empty(), "{} of {} fixtures differ:\n\n{}", wrong.len(), names.len(), wrong.join("\n\n"));
}

#[tokio::test]
async fn a_reply_in_any_language_is_cut_where_our_notification_is_quoted() {
    let sink = SmtpSink::start().await;
    let net = network_with_mail(&sink, |_| {}).await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Ripoti ya mwaka", "funding").await;
    let path = format!("/api/v1/tickets/{}/messages", ticket["id"].as_str().unwrap());
    app.post(&path, &net.advisor.token, json!({"body": "Can you send the annual report?"})).await.expect(201);
    let mails = sink.wait_for(3).await;
    let notification = mails
        .iter()
        .find(|m| m.to == [email(&net.requester_a)] && m.body("text/plain").unwrap().contains("annual report"))
        .expect("the staff reply reached the requester");
    // Swahili, a language no quote-header rule knows; the client dropped our marker line from the quote.
    let quoted: String = notification
        .body("text/plain")
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with("##-"))
        .map(|line| format!("> {line}\r\n"))
        .collect();
    let body =
        format!("Ndiyo, tutaituma kesho.\r\nAsante sana!\r\n\r\nJumamosi, civicdesk alituandikia hivi:\r\n{quoted}");
    let headers = format!("In-Reply-To: {}\r\n", notification.header("Message-ID").unwrap());
    let to = format!("support@{DOMAIN}");
    let raw = plain(&email(&net.requester_a), &to, "Jibu: Ripoti ya mwaka", &headers, &body);
    let taken = post_email(app, raw).await.expect(200).body;
    assert_eq!(taken["outcome"], "added", "{taken}");
    let reply = messages(app, &ticket).await.pop().unwrap();
    assert_eq!(reply["body"], "Ndiyo, tutaituma kesho.\nAsante sana!");
}
