//! Email throughput: how many notifications one worker delivers per second to a local SMTP sink, how many
//! replies per second the inbound core takes in, and what a 10 MB HTML part costs (time and peak memory).
//!
//! Run it with `bench/email.sh` or `cargo bench --bench email`. The sink is the SMTP server the integration tests
//! use, running in this process on a loopback port; set `BENCH_SMTP_URL` to measure against another server.

use std::time::Instant;

#[allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]
#[path = "../tests/api/smtp_sink.rs"]
mod smtp_sink;

use anyhow::Context;
use civicdesk::config::Settings;
use civicdesk::db;
use civicdesk::domain::caller::Caller;
use civicdesk::domain::tickets::{self, SubmitTicket};
use civicdesk::email::inbound::ingest;
use civicdesk::email::reply_token::ReplyToken;
use civicdesk::email::worker::Worker;
use civicdesk::models::inbound_email::InboundSource;
use civicdesk::models::office::NewOffice;
use civicdesk::models::organization::NewOrganization;
use civicdesk::models::outbox::{NewOutboxEntry, NotificationKind};
use civicdesk::models::user::NewUser;
use civicdesk::models::{Office, Organization, OutboxEntry, User};
use civicdesk::vocabulary::{Category, Role};
use diesel::{Connection, PgConnection, RunQueryDsl};
use uuid::Uuid;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn main() -> anyhow::Result<()> {
    // Each HTML shape in a process of its own, so that its peak memory is its own.
    if let Ok(shape) = std::env::var("BENCH_HTML_SHAPE") {
        return html_conversion(&shape);
    }
    println!("| 10 MB HTML part | input MB | text MB | convert s | peak RSS MiB | whole message s | peak RSS MiB |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (shape, _) in HTML_SHAPES {
        let output = std::process::Command::new(std::env::current_exe()?)
            .args(std::env::args().skip(1))
            .env("BENCH_HTML_SHAPE", shape)
            .output()?;
        anyhow::ensure!(output.status.success(), "{shape}: {}", String::from_utf8_lossy(&output.stderr));
        print!("{}", String::from_utf8_lossy(&output.stdout));
    }
    println!();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run())
}

/// The process's peak resident memory so far, in MiB (Linux `VmHWM`).
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// HTML as mail clients write it (Outlook's styled paragraphs, entities, quotes, Cyrillic and Albanian text),
/// element-dense paragraphs, and nesting 600,000 deep.
const HTML_SHAPES: &[(&str, &str)] = &[
    (
        "mail-like",
        "<div class=\"MsoNormal\">Përshëndetje,&nbsp;<b>Besa</b>! Буџетот за&nbsp;грантот &amp; документите.<br>\
         </div><p style=\"margin:0\">We will send the annex&nbsp;tomorrow &#8211; faleminderit.</p><blockquote>\
         <div>On Monday you wrote:<br>&gt; old text</div></blockquote>\n",
    ),
    ("dense paragraphs", "<p>Faleminderit, Besa! Буџетот.</p>\n"),
    ("deep nesting", "<div><blockquote>"),
];

/// One 10 MB HTML part of the shape `shape`: converted alone, then read as a whole message (quoted-printable,
/// parse, convert, strip); prints its row.
fn html_conversion(shape: &str) -> anyhow::Result<()> {
    let target: usize = env("BENCH_HTML_BYTES", "10485760").parse()?;
    let block = HTML_SHAPES.iter().find(|(name, _)| *name == shape).map(|(_, b)| *b).unwrap_or_default();
    let mut html = String::with_capacity(target + block.len() + 64);
    html.push_str("<html><head><style>p{margin:0}</style></head><body>");
    while html.len() < target {
        html.push_str(block);
    }
    html.push_str("</body></html>");
    let started = Instant::now();
    let text = civicdesk::email::inbound::html::html_to_text(&html);
    let convert = started.elapsed().as_secs_f64();
    let convert_peak = peak_mib();
    let raw = {
        let mut raw = String::from(
            "From: Bench Requester <requester@example.org>\r\nTo: support@example.org\r\nSubject: Big HTML\r\n\
             Message-ID: <bench-html@mail.example.org>\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
        );
        raw.push_str(&quoted_printable(&html));
        raw.into_bytes()
    };
    drop(html);
    let mut settings = Settings::for_database("postgres://unused@127.0.0.1/unused");
    settings.mail.reply_to = "support@example.org".into();
    let inbound = settings.inbound_settings(vec![0; 32]);
    let started = Instant::now();
    let reading = civicdesk::email::inbound::read::read(&raw, &inbound).map_err(|e| anyhow::anyhow!(e))?;
    let mail = reading.into_mail("<bench-html@mail.example.org>".into(), None, &inbound);
    let whole = started.elapsed().as_secs_f64();
    println!(
        "| {shape} | {:.1} | {:.2} | {convert:.3} | {convert_peak:.0} | {whole:.3} (QP {:.1} MB) | {:.0} |",
        target as f64 / 1e6,
        text.len().max(mail.full_text.len()) as f64 / 1e6,
        raw.len() as f64 / 1e6,
        peak_mib()
    );
    Ok(())
}

/// Quoted-printable with soft line breaks every 76 characters, as a client would send it.
fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut line = 0;
    for byte in text.bytes() {
        let piece = match byte {
            b'\n' => {
                out.push_str("\r\n");
                line = 0;
                continue;
            }
            b'=' | 0..=31 | 127..=255 => format!("={byte:02X}"),
            _ => (byte as char).to_string(),
        };
        if line + piece.len() > 75 {
            out.push_str("=\r\n");
            line = 0;
        }
        line += piece.len();
        out.push_str(&piece);
    }
    out
}

/// A fresh database with one office, one CSO, one requester and one ticket; returns the requester and the
/// ticket's reference.
fn prepare(database_url: &str) -> anyhow::Result<(User, i64)> {
    let (server, name) = db::split_database_url(database_url)?;
    let mut admin = PgConnection::establish(&format!("{server}/postgres"))?;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db::quote_identifier(&name)))
        .execute(&mut admin)?;
    let mut conn = db::connect_and_migrate(database_url)?;
    Office::insert(
        &mut conn,
        &NewOffice {
            id: Uuid::now_v7(),
            code: "AL".into(),
            name: "Albania office".into(),
            country: "AL".into(),
            time_zone: "Europe/Tirane".into(),
            contact_email: "al@example.org".into(),
            is_regional: false,
        },
    )?;
    let organization = Organization::insert(
        &mut conn,
        &NewOrganization {
            id: Uuid::now_v7(),
            name: "Bench CSO".into(),
            country: "AL".into(),
            registration_number: None,
            contact_email: "cso@example.org".into(),
            email_domain: None,
            email_domain_verified: false,
        },
    )?;
    let requester = User::insert(
        &mut conn,
        &NewUser {
            id: Uuid::now_v7(),
            name: "Bench Requester".into(),
            email: "requester@example.org".into(),
            language: "sq".into(),
            role: Role::Requester,
            office_id: None,
            organization_id: Some(organization.id),
        },
    )?;
    let caller =
        Caller { user: requester.clone(), organization_name: None, organization_country: None, token_id: Uuid::nil() };
    let input = SubmitTicket {
        subject: "Benchmark ticket".into(),
        body: "Përshëndetje! A benchmark of the outbox.".into(),
        category: Category::Funding,
        priority: None,
        requester_id: None,
        attachment_ids: Vec::new(),
        custom_fields: Default::default(),
    };
    let network = civicdesk::domain::network::Network::load(&mut conn).map_err(|e| anyhow::anyhow!("{e}"))?;
    tickets::submit(&mut conn, &network, &caller, input, None, tickets::Origin::api(), &Default::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // The receipt's snapshot, sent again and again below.
    let (snapshot, snapshot_version): (Option<serde_json::Value>, Option<i32>) = {
        use civicdesk::schema::outbox::dsl::*;
        use diesel::{ExpressionMethods, QueryDsl};
        outbox
            .filter(kind.eq(NotificationKind::TicketReceived))
            .select((snapshot, snapshot_version))
            .first(&mut conn)?
    };
    let (snapshot, snapshot_version) = snapshot.zip(snapshot_version).context("the receipt has a snapshot")?;
    diesel::sql_query("DELETE FROM outbox").execute(&mut conn)?;
    let (ticket, ticket_reference): (Uuid, i64) = {
        use civicdesk::schema::tickets::dsl::*;
        use diesel::QueryDsl;
        tickets.select((id, reference)).first(&mut conn)?
    };
    let count: usize = env("BENCH_NOTIFICATIONS", "2000").parse()?;
    let entries: Vec<NewOutboxEntry> = (0..count)
        .map(|_| NewOutboxEntry {
            id: Uuid::now_v7(),
            ticket_id: Some(ticket),
            recipient_id: requester.id,
            kind: NotificationKind::TicketReceived,
            details: serde_json::json!({}),
            snapshot: snapshot.clone(),
            snapshot_version,
        })
        .collect();
    for chunk in entries.chunks(1000) {
        OutboxEntry::insert_all(&mut conn, chunk)?;
    }
    Ok((requester, ticket_reference))
}

/// Takes in `count` replies to the ticket, one after another on one connection; returns replies per second.
fn inbound(settings: &Settings, requester: &User, reference: i64, count: usize) -> anyhow::Result<f64> {
    let mut conn = PgConnection::establish(&settings.database_url)?;
    let secret = civicdesk::domain::keys::signing_key(&mut conn, settings.mail.secret.as_deref())?;
    let inbound = settings.inbound_settings(secret.clone());
    let token = ReplyToken { ticket_reference: reference, recipient_id: requester.id };
    let to = token.address(&settings.mail.reply_to, &secret);
    let replies: Vec<Vec<u8>> = (0..count)
        .map(|n| {
            format!(
                "From: Bench Requester <{}>\r\nTo: {to}\r\nSubject: Re: [#{reference}] Benchmark ticket\r\n\
                 Message-ID: <bench-{n}-{}@mail.example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
                 Reply number {n}, faleminderit.\r\n\r\nOn Sat, 28 Nov 2026 at 09:00, civicdesk wrote:\r\n> earlier text\r\n",
                requester.email,
                Uuid::new_v4()
            )
            .into_bytes()
        })
        .collect();
    let started = Instant::now();
    for raw in &replies {
        ingest(&mut conn, &inbound, raw, InboundSource::Pipe).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

async fn run() -> anyhow::Result<()> {
    let sink = smtp_sink::SmtpSink::start().await;
    let smtp = std::env::var("BENCH_SMTP_URL").unwrap_or_else(|_| sink.url());
    let database_url = env("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/civicdesk_bench_outbox");
    let url = database_url.clone();
    let (requester, reference) = tokio::task::spawn_blocking(move || prepare(&url)).await??;

    let mut settings = Settings::for_database(&database_url);
    settings.mail.smtp_url = Some(smtp);
    settings.mail.from = "civicdesk <support@example.org>".into();
    settings.mail.reply_to = "support@example.org".into();
    settings.worker.batch_size = env("BENCH_BATCH", "64").parse()?;
    settings.mail.smtp_pool_size = env("BENCH_SMTP_CONNECTIONS", "8").parse()?;
    let pool = db::build_pool(&database_url, 8, std::time::Duration::from_secs(5))?;
    let worker = Worker::build(&settings, pool.clone()).await?;

    let total: i64 = {
        let pool = pool.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<i64> {
            use civicdesk::schema::outbox::dsl::*;
            use diesel::QueryDsl;
            Ok(outbox.count().get_result(&mut pool.get()?)?)
        })
        .await??
    };
    let started = Instant::now();
    let mut delivered = 0;
    loop {
        let taken = worker.deliver_due().await?;
        if taken == 0 {
            break;
        }
        delivered += taken;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("| outbox delivery | notifications | batch | SMTP connections | seconds | notifications/s |");
    println!("| --- | --- | --- | --- | --- | --- |");
    println!(
        "| one worker -> local SMTP sink | {delivered} of {total} | {} | {} | {seconds:.2} | {:.0} |",
        settings.worker.batch_size,
        settings.mail.smtp_pool_size,
        delivered as f64 / seconds
    );

    let replies: usize = env("BENCH_REPLIES", "1000").parse()?;
    let per_second = tokio::task::spawn_blocking(move || inbound(&settings, &requester, reference, replies)).await??;
    println!();
    println!("| inbound replies | replies | replies/s |");
    println!("| --- | --- | --- |");
    println!("| parse, match by signed token, strip, store, notify (one connection) | {replies} | {per_second:.0} |");
    Ok(())
}
