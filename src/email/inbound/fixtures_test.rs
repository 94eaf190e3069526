//! The reply fixtures: every `tests/fixtures/email/*.eml` with a `.txt` beside it must come out of parsing and reply
//! stripping as that text, and every `hostile/*.eml` must go through without a panic, in bounded time.

use crate::email::inbound::html::html_to_text;
use crate::email::inbound::parse::parse;
use crate::email::inbound::reply_text::reply_text;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn fixtures(folder: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(folder)
        .map(|entries| entries.filter_map(Result::ok).map(|entry| entry.path()).collect())
        .unwrap_or_default();
    paths.retain(|path| path.extension().is_some_and(|e| e == "eml"));
    paths.sort();
    paths
}

/// Placeholders replaced in the raw bytes: a fixture in a legacy charset must stay as it is.
fn substitute(raw: &[u8], name: &str) -> Vec<u8> {
    let pairs: [(&[u8], Vec<u8>); 5] = [
        (b"{{FROM}}", b"arta@greenvalley.example.org".to_vec()),
        (b"{{TO}}", b"support@desk.example.org".to_vec()),
        (b"{{REF}}", b"1042".to_vec()),
        (b"{{IN_REPLY_TO}}", b"<ticket-00000000-0000-0000-0000-000000000000@desk.example.org>".to_vec()),
        (b"{{MESSAGE_ID}}", format!("fixture-{name}@example.org").into_bytes()),
    ];
    let mut out = Vec::with_capacity(raw.len());
    let mut index = 0;
    'outer: while index < raw.len() {
        for (from, to) in &pairs {
            if raw[index..].starts_with(from) {
                out.extend_from_slice(to);
                index += from.len();
                continue 'outer;
            }
        }
        out.push(raw[index]);
        index += 1;
    }
    out
}

fn normalise(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\u{A0}', " ");
    let mut out: Vec<&str> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() && out.last().is_none_or(|last| last.is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|line| line.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

fn new_text(raw: &[u8]) -> Result<String, String> {
    let message = parse(raw, 10)?;
    let text = match (message.text, message.html) {
        (Some(text), _) => text,
        (None, Some(html)) => html_to_text(&html),
        (None, None) => String::new(),
    };
    Ok(reply_text(&text, None))
}

#[test]
fn every_reply_fixture_gives_its_text() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/email");
    let mut failures = Vec::new();
    let mut total = 0;
    for path in fixtures(&folder) {
        let expected_path = path.with_extension("txt");
        let Ok(expected) = std::fs::read_to_string(&expected_path) else { continue };
        total += 1;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let raw = std::fs::read(&path).unwrap_or_default();
        match new_text(&substitute(&raw, &name)) {
            Ok(actual) if normalise(&actual) == normalise(&expected) => {}
            Ok(actual) => failures.push(format!(
                "--- {name}\n  expected:\n{}\n  actual:\n{}",
                indent(&normalise(&expected)),
                indent(&normalise(&actual))
            )),
            Err(error) => failures.push(format!("--- {name}: {error}")),
        }
    }
    println!("reply fixtures: {}/{total} pass", total - failures.len());
    assert!(failures.is_empty(), "{} of {total} fixtures differ:\n{}", failures.len(), failures.join("\n"));
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("    |{line}")).collect::<Vec<_>>().join("\n")
}

#[test]
fn hostile_mail_never_panics_and_stays_fast() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/email/hostile");
    let mut slow = Vec::new();
    for path in fixtures(&folder) {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let raw = substitute(&std::fs::read(&path).unwrap_or_default(), &name);
        let start = Instant::now();
        if let Ok(message) = parse(&raw, 10) {
            let html = message.html.as_deref().map(html_to_text).unwrap_or_default();
            let _ = reply_text(&html, None);
            let _ = reply_text(message.text.as_deref().unwrap_or_default(), None);
        }
        let elapsed = start.elapsed();
        println!("hostile {name}: {elapsed:?}");
        if elapsed > Duration::from_secs(2) {
            slow.push(format!("{name}: {elapsed:?}"));
        }
    }
    assert!(slow.is_empty(), "too slow: {slow:?}");
}
