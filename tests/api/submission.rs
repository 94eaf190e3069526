//! Submission without office-wide locks (issue #13): the open-ticket counts kept on advisor profiles, the repair
//! command, one advisor locked at a time, and the process's copy of the network's configuration.

use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, spawn_app};
use crate::routing::ALL;

/// An office with `advisors` advisors (every category, Albanian, capacity 50) and a requester of its country.
async fn office(app: &TestApp, code: &str, advisors: usize) -> (Value, Vec<TestUser>, TestUser) {
    let office = app.create_office(code, code, false).await;
    let mut staff = Vec::new();
    for _ in 0..advisors {
        let advisor = app.create_user("advisor", Some(&office), None).await;
        let profile = json!({"languages": ["sq"], "categories": ALL, "capacity": 50});
        app.patch(&format!("/api/v1/advisors/{}", advisor.id), &app.admin_token, profile).await.expect(200);
        staff.push(advisor);
    }
    let cso = app.create_organization(&format!("CSO {code}"), code).await;
    let requester = app.create_user("requester", None, Some(&cso)).await;
    (office, staff, requester)
}

fn ticket(subject: &str) -> Value {
    json!({"subject": subject, "body": "We need help with the budget annex.", "category": "funding"})
}

/// Advisor profiles whose open-ticket count is not the number of their new, open and pending tickets.
fn wrong_counts(app: &TestApp) -> i64 {
    app.count(
        "SELECT count(*) AS count FROM advisor_profiles p WHERE p.open_tickets <> \
         (SELECT count(*) FROM tickets t WHERE t.assignee_id = p.user_id AND t.status IN ('new', 'open', 'pending'))",
    )
}

fn open_count(app: &TestApp, advisor: &TestUser) -> i64 {
    app.count(&format!("SELECT open_tickets::bigint AS count FROM advisor_profiles WHERE user_id = '{}'", advisor.id))
}

#[tokio::test]
async fn open_counts_follow_every_change_to_a_ticket() {
    let app = spawn_app().await;
    let (_, advisors, requester) = office(&app, "AL", 3).await;
    let mut tickets = Vec::new();
    for n in 0..9 {
        tickets.push(app.post("/api/v1/tickets", &requester.token, ticket(&format!("T{n}"))).await.expect(201).body);
    }
    assert_eq!(wrong_counts(&app), 0, "after submissions");
    assert!(advisors.iter().all(|a| open_count(&app, a) == 3), "spread evenly");
    let path = |n: usize| format!("/api/v1/tickets/{}", tickets[n]["id"].as_str().unwrap());

    // Reassign, unassign, resolve, close, reopen, pending: each moves the counts.
    let target = &advisors[0];
    app.patch(&path(1), &app.admin_token, json!({"assignee_id": target.user["id"]})).await.expect(200);
    app.patch(&path(2), &app.admin_token, json!({"assignee_id": null})).await.expect(200);
    app.patch(&path(3), &app.admin_token, json!({"status": "resolved"})).await.expect(200);
    app.patch(&path(4), &app.admin_token, json!({"status": "closed"})).await.expect(200);
    app.patch(&path(5), &app.admin_token, json!({"status": "pending"})).await.expect(200);
    assert_eq!(wrong_counts(&app), 0, "after edits");
    app.patch(&path(3), &requester.token, json!({"status": "open"})).await.expect(200);
    app.patch(&path(6), &app.admin_token, json!({"status": "resolved", "assignee_id": target.user["id"]}))
        .await
        .expect(200);
    assert_eq!(wrong_counts(&app), 0, "after a reopen and a change of both at once");

    // Re-routing on demand, an advisor going away and one being deactivated hand tickets on.
    let route = format!("/api/v1/tickets/{}/route", tickets[7]["id"].as_str().unwrap());
    app.send(app.request(reqwest::Method::POST, &route, Some(&app.admin_token))).await.expect(200);
    let away = &advisors[1];
    app.patch(&format!("/api/v1/advisors/{}", away.id), &away.token, json!({"available": false})).await.expect(200);
    assert_eq!(open_count(&app, away), 0, "an away advisor's tickets went to colleagues");
    assert_eq!(wrong_counts(&app), 0, "after re-routing and going away");
    app.patch(&format!("/api/v1/users/{}", advisors[2].id), &app.admin_token, json!({"active": false}))
        .await
        .expect(200);
    assert_eq!(wrong_counts(&app), 0, "after a deactivation");
    let routable = app.count(&format!(
        "SELECT count(*) AS count FROM advisor_profiles WHERE routable AND user_id = '{}'",
        advisors[2].id
    ));
    assert_eq!(routable, 0, "a deactivated advisor's profile says they take no work");
    let listed = app.get(&format!("/api/v1/advisors/{}", target.id), &app.admin_token).await.expect(200).body;
    assert_eq!(listed["open_tickets"].as_i64().unwrap(), open_count(&app, target));
    assert!(open_count(&app, target) > 3);
}

#[tokio::test]
async fn the_repair_command_finds_and_corrects_wrong_counts() {
    let app = spawn_app().await;
    let (_, advisors, requester) = office(&app, "MK", 2).await;
    for n in 0..4 {
        app.post("/api/v1/tickets", &requester.token, ticket(&format!("T{n}"))).await.expect(201);
    }
    let command = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_civicdesk"))
            .args(["admin", "repair-open-counts"])
            .args(args)
            .env("DATABASE_URL", &app.database_url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("the binary runs")
    };
    let fine = command(&["--check"]);
    assert!(fine.status.success(), "{}", String::from_utf8_lossy(&fine.stderr));
    assert!(fine.stdout.is_empty());

    diesel::sql_query(format!("UPDATE advisor_profiles SET open_tickets = 17 WHERE user_id = '{}'", advisors[0].id))
        .execute(&mut app.conn())
        .unwrap();
    let check = command(&["--check"]);
    assert_eq!(check.status.code(), Some(1), "a wrong count fails the check");
    let printed = String::from_utf8_lossy(&check.stdout);
    assert!(printed.contains(&format!("advisor {}: recorded 17 open tickets, has 2", advisors[0].id)), "{printed}");
    assert_eq!(open_count(&app, &advisors[0]), 17, "--check changes nothing");

    let repair = command(&[]);
    assert!(repair.status.success(), "{}", String::from_utf8_lossy(&repair.stderr));
    assert!(String::from_utf8_lossy(&repair.stdout).contains("recorded 17 open tickets, has 2"));
    assert_eq!(wrong_counts(&app), 0);
    assert!(command(&["--check"]).status.success());
}

#[tokio::test]
async fn an_advisor_held_by_another_transaction_does_not_stop_the_office() {
    let app = spawn_app().await;
    let (_, advisors, requester) = office(&app, "RS", 2).await;
    // Another transaction holds the first advisor's profile (as a submission giving them a ticket would).
    let mut holder = PgConnection::establish(&app.database_url).unwrap();
    diesel::sql_query("BEGIN").execute(&mut holder).unwrap();
    diesel::sql_query(format!("SELECT 1 FROM advisor_profiles WHERE user_id = '{}' FOR UPDATE", advisors[0].id))
        .execute(&mut holder)
        .unwrap();
    let started = Instant::now();
    for n in 0..3 {
        let submitted = tokio::time::timeout(
            Duration::from_secs(10),
            app.post("/api/v1/tickets", &requester.token, ticket(&format!("Parallel {n}"))),
        )
        .await
        .expect("the submission does not wait for the held advisor")
        .expect(201)
        .body;
        assert_eq!(submitted["assignee_id"], advisors[1].user["id"], "the free advisor takes it");
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    diesel::sql_query("ROLLBACK").execute(&mut holder).unwrap();

    // When every advisor who could take it is held, the submission waits for them instead of leaving it unassigned.
    diesel::sql_query("BEGIN").execute(&mut holder).unwrap();
    diesel::sql_query("SELECT 1 FROM advisor_profiles FOR UPDATE").execute(&mut holder).unwrap();
    let pending = tokio::spawn({
        let (client, url, token) = (app.client.clone(), format!("{}/api/v1/tickets", app.address), requester.token);
        async move { client.post(url).bearer_auth(token).json(&ticket("Waits")).send().await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!pending.is_finished(), "it waits for the held advisors");
    diesel::sql_query("COMMIT").execute(&mut holder).unwrap();
    let answer = pending.await.unwrap();
    assert_eq!(answer.status(), 201);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["assignee_id"], advisors[0].user["id"], "the lower load wins once free");
    assert_eq!(wrong_counts(&app), 0);
}

#[tokio::test]
async fn a_held_advisor_who_speaks_the_language_is_waited_for_not_passed_over() {
    let app = spawn_app().await;
    let (_, advisors, requester) = office(&app, "MK", 2).await;
    let [speaker, other] = [&advisors[0], &advisors[1]];
    for (advisor, language) in [(speaker, "mk"), (other, "en")] {
        let profile = json!({"languages": [language]});
        app.patch(&format!("/api/v1/advisors/{}", advisor.id), &app.admin_token, profile).await.expect(200);
    }
    app.patch(&format!("/api/v1/users/{}", requester.id), &requester.token, json!({"language": "mk"}))
        .await
        .expect(200);
    let mut holder = PgConnection::establish(&app.database_url).unwrap();
    diesel::sql_query("BEGIN").execute(&mut holder).unwrap();
    diesel::sql_query(format!("SELECT 1 FROM advisor_profiles WHERE user_id = '{}' FOR UPDATE", speaker.id))
        .execute(&mut holder)
        .unwrap();
    let pending = tokio::spawn({
        let (client, url, token) = (app.client.clone(), format!("{}/api/v1/tickets", app.address), requester.token);
        async move { client.post(url).bearer_auth(token).json(&ticket("Регистрација")).send().await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!pending.is_finished(), "it waits for the advisor who speaks the requester's language");
    diesel::sql_query("COMMIT").execute(&mut holder).unwrap();
    let body: Value = pending.await.unwrap().json().await.unwrap();
    assert_eq!(body["assignee_id"], speaker.user["id"]);
    assert_eq!(open_count(&app, other), 0);
}

#[tokio::test]
async fn counts_stay_right_under_concurrent_submissions_and_changes() {
    let app = spawn_app().await;
    let (_, advisors, requester) = office(&app, "ME", 3).await;
    let mut first = Vec::new();
    for n in 0..6 {
        first.push(app.post("/api/v1/tickets", &requester.token, ticket(&format!("First {n}"))).await.expect(201).body);
    }
    let submissions = (0..15).map(|n| app.post("/api/v1/tickets", &requester.token, ticket(&format!("Burst {n}"))));
    let app = &app;
    let changes = first.iter().enumerate().map(|(n, t)| {
        let path = format!("/api/v1/tickets/{}", t["id"].as_str().unwrap());
        let change = match n % 3 {
            0 => json!({"status": "resolved"}),
            1 => json!({"assignee_id": advisors[n % advisors.len()].user["id"]}),
            _ => json!({"status": "pending", "assignee_id": null}),
        };
        async move { app.patch(&path, &app.admin_token, change).await }
    });
    let (submitted, changed) = futures_util::future::join(
        futures_util::future::join_all(submissions),
        futures_util::future::join_all(changes),
    )
    .await;
    assert!(submitted.iter().all(|answer| answer.status == 201));
    assert!(changed.iter().all(|answer| answer.status == 200));
    assert_eq!(wrong_counts(app), 0);
}

/// The office a submission with `subject` lands in.
async fn office_of(app: &TestApp, requester: &TestUser, subject: &str) -> Value {
    app.post("/api/v1/tickets", &requester.token, ticket(subject)).await.expect(201).body["office_id"].clone()
}

/// Submits until a ticket lands in `office` (true) or `within` has passed (false).
async fn lands_in(app: &TestApp, requester: &TestUser, office: &Value, within: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < within {
        if office_of(app, requester, "Budget for the grant").await == office["id"] {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn configuration_comes_from_memory_and_every_change_reaches_it() {
    let app = spawn_app().await;
    let (albania, _, requester) = office(&app, "AL", 1).await;
    let (kosovo, _, _) = office(&app, "XK", 1).await;
    assert_eq!(office_of(&app, &requester, "Budget for the grant").await, albania["id"]);

    // A rule written through the API applies to the very next submission.
    let rule = json!({"name": "Grants to Kosovo", "keywords": ["grant"], "target_office_id": kosovo["id"]});
    let rule = app.post("/api/v1/routing-rules", &app.admin_token, rule).await.expect(201).body;
    assert_eq!(office_of(&app, &requester, "Budget for the grant").await, kosovo["id"]);
    let rule_path = format!("/api/v1/routing-rules/{}", rule["id"].as_str().unwrap());
    app.patch(&rule_path, &app.admin_token, json!({"active": false})).await.expect(200);
    assert_eq!(office_of(&app, &requester, "Budget for the grant").await, albania["id"]);

    // The configuration is cached: a change that tells nobody (its trigger disabled) is not seen. (The
    // notifications of the changes above are heard first, and the next submission reads the network again.)
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(office_of(&app, &requester, "Budget for the grant").await, albania["id"]);
    let mut conn = app.conn();
    diesel::sql_query("ALTER TABLE routing_rules DISABLE TRIGGER routing_rules_network_changed")
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query(format!("UPDATE routing_rules SET active = true WHERE id = '{}'", rule["id"].as_str().unwrap()))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(office_of(&app, &requester, "Budget for the grant").await, albania["id"], "read from memory");
    // ...until a notification says the configuration changed.
    diesel::sql_query("SELECT pg_notify('civicdesk_network', 'routing_rules')").execute(&mut conn).unwrap();
    assert!(lands_in(&app, &requester, &kosovo, Duration::from_secs(5)).await, "the notification was heard");
    diesel::sql_query("ALTER TABLE routing_rules ENABLE TRIGGER routing_rules_network_changed")
        .execute(&mut conn)
        .unwrap();

    // A change made elsewhere (another process, psql) reaches this process through its trigger.
    diesel::sql_query(format!("UPDATE routing_rules SET active = false WHERE id = '{}'", rule["id"].as_str().unwrap()))
        .execute(&mut conn)
        .unwrap();
    assert!(lands_in(&app, &requester, &albania, Duration::from_secs(5)).await, "the trigger's notification");

    // The listener's connection is cut; a change made meanwhile is still seen (no cache while nobody listens,
    // and a fresh load on reconnect).
    let cut: Vec<Terminated> = diesel::sql_query(
        "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'civicdesk listener (civicdesk_network)'",
    )
    .load(&mut conn)
    .unwrap();
    assert_eq!(cut.len(), 1, "one listener per process");
    diesel::sql_query(format!("UPDATE routing_rules SET active = true WHERE id = '{}'", rule["id"].as_str().unwrap()))
        .execute(&mut conn)
        .unwrap();
    assert!(lands_in(&app, &requester, &kosovo, Duration::from_secs(10)).await, "seen after the reconnection");
    let listening = || {
        app.count(
            "SELECT count(*) AS count FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'civicdesk listener (civicdesk_network)'",
        )
    };
    let started = Instant::now();
    while listening() == 0 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(listening(), 1, "the listener reconnected");
    assert!(lands_in(&app, &requester, &kosovo, Duration::from_secs(1)).await);
}

#[derive(diesel::QueryableByName)]
struct Terminated {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    #[allow(dead_code)]
    done: bool,
}
