//! Scaling out on PostgreSQL alone: two `serve` processes behind a (simulated) load balancer and a separate
//! `worker` process, all on one database, deliver every notification once and record every escalation once.

use std::collections::HashSet;
use std::time::Duration;

use civicdesk::email::worker::Worker;
use civicdesk::startup::Application;
use diesel::prelude::*;
use tokio::sync::watch;

use crate::helpers::spawn_network_with;
use crate::smtp_sink::SmtpSink;

#[tokio::test]
async fn two_servers_and_a_worker_send_each_notice_once() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let net = spawn_network_with(move |settings| {
        settings.mail.smtp_url = Some(url);
        settings.mail.smtp_timeout = Duration::from_secs(5);
        settings.worker.in_serve = true;
        settings.worker.poll_interval = Duration::from_millis(20);
        settings.worker.sla_interval = Duration::from_millis(20);
        settings.worker.batch_size = 4;
    })
    .await;
    let app = &net.app;
    // A second serve process (its own HTTP server, outbox worker and escalation scheduler) on the same database,
    // and a third process that only runs `civicdesk worker`'s loops.
    let second = Application::build(&app.settings).await.unwrap();
    let second_address = format!("http://127.0.0.1:{}", second.port());
    tokio::spawn(second.run_until_stopped());
    let (_stop, stopped) = watch::channel(false);
    let worker = Worker::build(&app.settings, app.pool.clone()).await.unwrap();
    tokio::spawn(worker.run(stopped.clone()));
    tokio::spawn(civicdesk::escalation::run(app.pool.clone(), Duration::from_millis(20), stopped));

    // The load balancer sends requests to either server.
    let mut ids = Vec::new();
    for n in 0..12 {
        let base = if n % 2 == 0 { app.address.clone() } else { second_address.clone() };
        let body =
            serde_json::json!({"subject": format!("Request {n}"), "body": "Please advise.", "category": "other"});
        let answer = app.client.post(format!("{base}/api/v1/tickets")).bearer_auth(&net.requester_a.token).json(&body);
        let ticket: serde_json::Value = answer.send().await.unwrap().json().await.unwrap();
        ids.push(ticket["id"].as_str().unwrap().to_owned());
    }
    // Every ticket's first-response target passed an hour ago (so no pass, whatever its clock, finds one only
    // at its warning point): three schedulers race for the breaches.
    diesel::sql_query(
        "UPDATE tickets SET first_response_warn_at = now() - interval '2 hours', \
         first_response_due_at = now() - interval '1 hour'",
    )
    .execute(&mut app.conn())
    .unwrap();

    // 12 receipts + 12 assignments + 12 breaches x (coordinator + advisor) = 48 notifications.
    let mut breaches = 0;
    for _ in 0..200 {
        breaches = app.count("SELECT count(*) AS count FROM ticket_events WHERE kind = 'sla_breached'");
        let unsent = app.count("SELECT count(*) AS count FROM outbox WHERE status <> 'sent'");
        if breaches == 12 && unsent == 0 && sink.messages().len() >= 48 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.count("SELECT count(*) AS count FROM ticket_events WHERE kind = 'sla_breached'"), 12, "{breaches}");
    assert_eq!(app.count("SELECT count(*) AS count FROM ticket_events WHERE kind = 'sla_warning'"), 0);
    assert_eq!(app.count("SELECT count(*) AS count FROM outbox"), 48);
    assert_eq!(app.count("SELECT count(*) AS count FROM outbox WHERE status = 'sent'"), 48);
    let mails = sink.messages();
    let message_ids: HashSet<String> = mails.iter().map(|m| m.header("Message-ID").unwrap()).collect();
    assert_eq!(mails.len(), 48, "no notification was sent twice");
    assert_eq!(message_ids.len(), 48);
    assert_eq!(ids.len(), 12);
}
