//! Webhook throughput: how many deliveries one worker sends per second to a local receiver, signed, with every
//! attempt recorded, beside the ceiling: the least PostgreSQL work the job needs (take a batch of due deliveries
//! and mark it delivered, one statement per batch, no HTTP).
//!
//! Run it with `cargo bench --bench webhooks` (`bench/run.py` runs it too). `BENCH_DATABASE_URL` names the
//! database (created if missing; its webhook tables are emptied), `BENCH_DELIVERIES` how many (default 5000),
//! `BENCH_BATCH` the worker's batch (default 64), `BENCH_TICKETS` over how many tickets the ordered run spreads its
//! deliveries (default 200).

use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use civicdesk::config::Settings;
use civicdesk::db;
use civicdesk::webhooks::WebhookWorker;
use diesel::{Connection, PgConnection, RunQueryDsl};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// Empties the webhook tables and queues `count` deliveries for one subscription to `url`: pings (no ticket, so
/// no order to keep) or, with `tickets`, deliveries spread over that many tickets (kept in order per ticket).
fn prepare(database_url: &str, url: &str, count: i64, tickets: Option<i64>) -> anyhow::Result<()> {
    let mut conn = PgConnection::establish(database_url)?;
    diesel::sql_query("TRUNCATE webhook_deliveries, webhooks").execute(&mut conn)?;
    let (admin, _) = civicdesk::domain::users::bootstrap_admin(&mut conn, "bench-admin@example.org", "Bench")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    diesel::sql_query(format!(
        "INSERT INTO webhooks (id, url, events, secret, created_by) \
         VALUES (gen_random_uuid(), '{url}', '{{*}}', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', '{}')",
        admin.id
    ))
    .execute(&mut conn)?;
    let ticket = match tickets {
        None => "NULL::uuid".to_owned(),
        // Stand-in ticket ids: the order rule only compares them (no foreign key is needed for the measurement).
        Some(tickets) => format!("md5((n % {tickets})::text)::uuid"),
    };
    diesel::sql_query("ALTER TABLE webhook_deliveries DROP CONSTRAINT IF EXISTS webhook_deliveries_ticket_id_fkey")
        .execute(&mut conn)?;
    diesel::sql_query(format!(
        "INSERT INTO webhook_deliveries (webhook_id, ticket_id, event_type, data) \
         SELECT w.id, {ticket}, 'ticket.updated', \
                jsonb_build_object('ticket', jsonb_build_object('reference', n, 'subject', 'Bench ' || n, \
                    'status', 'open'), 'event', jsonb_build_object('id', n, 'kind', 'status_changed')) \
         FROM webhooks w, generate_series(1, {count}) AS n ORDER BY n"
    ))
    .execute(&mut conn)?;
    Ok(())
}

/// Restores the foreign key the preparation dropped.
fn restore(database_url: &str) -> anyhow::Result<()> {
    let mut conn = PgConnection::establish(database_url)?;
    diesel::sql_query("TRUNCATE webhook_deliveries, webhooks").execute(&mut conn)?;
    diesel::sql_query(
        "ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_ticket_id_fkey \
         FOREIGN KEY (ticket_id) REFERENCES tickets (id) ON DELETE CASCADE",
    )
    .execute(&mut conn)?;
    Ok(())
}

/// The ceiling: due deliveries taken in batches and marked delivered, one statement per batch.
fn ceiling(database_url: &str, batch: i64) -> anyhow::Result<(usize, f64)> {
    let mut conn = PgConnection::establish(database_url)?;
    let started = Instant::now();
    let mut done = 0;
    loop {
        let marked = diesel::sql_query(format!(
            "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = now(), \
                 last_attempt_at = now(), last_status_code = 200 \
             WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= now() \
                 ORDER BY seq LIMIT {batch} FOR UPDATE SKIP LOCKED)"
        ))
        .execute(&mut conn)?;
        if marked == 0 {
            break;
        }
        done += marked;
    }
    Ok((done, started.elapsed().as_secs_f64()))
}

async fn measure(worker: &WebhookWorker) -> anyhow::Result<(usize, f64)> {
    let started = Instant::now();
    let mut sent = 0;
    let mut idle = 0;
    while idle < 3 {
        match worker.deliver_due().await? {
            0 => {
                idle += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            taken => {
                idle = 0;
                sent += taken;
            }
        }
    }
    Ok((sent, started.elapsed().as_secs_f64()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let database_url = env("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/civicdesk_bench_webhooks");
    let count: i64 = env("BENCH_DELIVERIES", "5000").parse()?;
    let batch: i64 = env("BENCH_BATCH", "64").parse()?;
    let tickets: i64 = env("BENCH_TICKETS", "200").parse()?;
    let url = database_url.clone();
    tokio::task::spawn_blocking(move || db::connect_and_migrate(&url).map(drop)).await??;

    // The receiver: an actix server answering 200 at once, on its own threads.
    let server = HttpServer::new(|| App::new().default_service(web::to(|| async { HttpResponse::Ok().body("ok") })))
        .workers(2)
        .bind(("127.0.0.1", 0))?;
    let receiver = format!("http://127.0.0.1:{}/hook", server.addrs()[0].port());
    tokio::spawn(server.run());

    let mut settings = Settings::for_database(&database_url);
    settings.mail.outbox_dir = std::env::temp_dir().join("civicdesk-bench-webhooks-mail");
    settings.webhooks.allow_http = true;
    settings.webhooks.allow_private = true;
    settings.webhooks.batch_size = batch;
    let pool = db::build_pool(&database_url, 4, Duration::from_secs(5))?;
    let worker = WebhookWorker::new(&settings, pool)?;

    println!("| webhook delivery ({count} deliveries, batch {batch}) | sent | seconds | deliveries/s |");
    println!("| --- | --- | --- | --- |");
    for (label, spread) in [("independent (pings: no order to keep)", None), ("ordered, over tickets", Some(tickets))] {
        let (url, receiver_url) = (database_url.clone(), receiver.clone());
        tokio::task::spawn_blocking(move || prepare(&url, &receiver_url, count, spread)).await??;
        let (sent, seconds) = measure(&worker).await?;
        let label = match spread {
            Some(tickets) => format!("one worker -> local receiver, {label} ({tickets})"),
            None => format!("one worker -> local receiver, {label}"),
        };
        println!("| {label} | {sent} | {seconds:.2} | {:.0} |", sent as f64 / seconds);
    }
    let (url, receiver_url) = (database_url.clone(), receiver.clone());
    tokio::task::spawn_blocking(move || prepare(&url, &receiver_url, count, None)).await??;
    let url = database_url.clone();
    let (done, seconds) = tokio::task::spawn_blocking(move || ceiling(&url, batch)).await??;
    println!(
        "| ceiling: take {batch} and mark them delivered, one statement per batch, in PostgreSQL | {done} | {seconds:.2} | {:.0} |",
        done as f64 / seconds
    );
    let url = database_url.clone();
    tokio::task::spawn_blocking(move || restore(&url)).await??;
    Ok(())
}
