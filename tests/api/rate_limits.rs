//! Rate limits: one budget per token shared by two server processes, reads and writes apart, the IETF headers,
//! 429 with `Retry-After` and a problem body, failed authentication refused, and `RATE_LIMIT=off`.

use std::time::Duration;

use chrono::Timelike;
use civicdesk::domain::rate_limits::RateLimitSettings;
use civicdesk::startup::Application;
use serde_json::json;

use crate::helpers::spawn_app_with;

/// Waits, if the minute is nearly over, for the next one: a test's requests then fall in one window.
async fn start_of_a_window() {
    let second = chrono::Utc::now().second();
    if second >= 45 {
        tokio::time::sleep(Duration::from_secs(u64::from(61 - second))).await;
    }
}

fn limits(reads: i32, writes: i32, failures: i32) -> RateLimitSettings {
    RateLimitSettings {
        enabled: true,
        reads_per_minute: reads,
        writes_per_minute: writes,
        auth_failures_per_minute: failures,
        trust_forwarded: false,
    }
}

#[tokio::test]
async fn two_server_processes_share_one_budget() {
    let app = spawn_app_with(|settings| settings.rate_limit = limits(5, 100, 100)).await;
    let second = Application::build(&app.settings).await.unwrap();
    let second_address = format!("http://127.0.0.1:{}", second.port());
    tokio::spawn(second.run_until_stopped());
    start_of_a_window().await;
    for n in 0..5 {
        let base = if n % 2 == 0 { &app.address } else { &second_address };
        let answer = app.client.get(format!("{base}/api/v1/users")).bearer_auth(&app.admin_token).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 200, "request {n}");
        let policy = answer.headers()["ratelimit-policy"].to_str().unwrap().to_owned();
        assert_eq!(policy, "\"reads\";q=5;w=60");
        let state = answer.headers()["ratelimit"].to_str().unwrap().to_owned();
        assert!(state.starts_with(&format!("\"reads\";r={};t=", 4 - n)), "request {n}: {state}");
    }
    // The sixth read, on either process, is over the budget the two share.
    for base in [&app.address, &second_address] {
        let answer = app.client.get(format!("{base}/api/v1/users")).bearer_auth(&app.admin_token).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 429);
        let retry_after: u64 = answer.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry_after));
        assert!(answer.headers()["ratelimit"].to_str().unwrap().starts_with("\"reads\";r=0;t="));
        assert_eq!(answer.headers()["content-type"], "application/problem+json");
        let problem: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(problem["status"], 429);
        assert!(problem["detail"].as_str().unwrap().contains("reads"), "{problem:#}");
    }
    // Writes have a budget of their own; another token too.
    let body = json!({"code": "XK", "name": "Kosovo office", "country": "XK", "time_zone": "Europe/Belgrade", "contact_email": "xk@example.org"});
    let created = app.post("/api/v1/offices", &app.admin_token, body).await.expect(201);
    assert!(created.headers["ratelimit-policy"].to_str().unwrap().starts_with("\"writes\""));
    // Probes are never counted.
    let health = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert!(health.headers().get("ratelimit").is_none());
}

/// A `civicdesk serve` process of its own on the test's database; killed when dropped.
struct Process {
    child: std::process::Child,
    address: String,
}

impl Process {
    async fn start(database_url: &str, reads_per_minute: i32) -> Process {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_civicdesk"))
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("LISTEN_ADDRESS", format!("127.0.0.1:{port}"))
            .env("OUTBOX_WORKER", "false")
            .env("RATE_LIMIT", "on")
            .env("RATE_LIMIT_READS_PER_MINUTE", reads_per_minute.to_string())
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let process = Process { child, address: format!("http://127.0.0.1:{port}") };
        let client = reqwest::Client::new();
        for _ in 0..300 {
            let ready = client.get(format!("{}/readyz", process.address)).send().await;
            if ready.is_ok_and(|answer| answer.status().is_success()) {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("serve did not become ready");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn two_operating_system_processes_share_one_budget() {
    let app = spawn_app_with(|_| {}).await;
    let (first, second) = tokio::join!(Process::start(&app.database_url, 4), Process::start(&app.database_url, 4));
    start_of_a_window().await;
    let mut statuses = Vec::new();
    for n in 0..6 {
        let process = if n % 2 == 0 { &first } else { &second };
        let answer = app.client.get(format!("{}/api/v1/users", process.address)).bearer_auth(&app.admin_token);
        statuses.push(answer.send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429], "four reads a minute between the two processes");
}

#[tokio::test]
async fn failed_authentication_from_one_address_is_refused_after_a_few() {
    let app = spawn_app_with(|settings| settings.rate_limit = limits(1000, 1000, 3)).await;
    start_of_a_window().await;
    for n in 0..3 {
        let guess = format!("cd_{n}aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        let answer = app.get("/api/v1/users", &guess).await;
        answer.problem(401);
    }
    // The address has failed too often: a further guess is told to wait (429, not 401), while a good token from
    // the same address (an office behind one NAT) still works.
    let refused = app.get("/api/v1/users", "cd_4aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").await;
    assert!(refused.headers.contains_key("retry-after"));
    let problem = refused.problem(429);
    assert!(problem["detail"].as_str().unwrap().contains("failed authentications"), "{problem:#}");
    app.get("/api/v1/users", &app.admin_token).await.expect(200);
}

#[tokio::test]
async fn made_up_tokens_draw_on_the_address_budget() {
    let app = spawn_app_with(|settings| settings.rate_limit = limits(3, 100, 1000)).await;
    start_of_a_window().await;
    // A rating link needs no token: a new made-up token each time must not give a new budget.
    for n in 0..3 {
        let path = format!("/api/v1/satisfaction/not-a-real-link-{n}");
        let answer = app.send(app.request(reqwest::Method::GET, &path, Some(&format!("cd_made_up_{n}")))).await;
        assert_ne!(answer.status.as_u16(), 429, "request {n}");
    }
    let answer = app.send(app.request(reqwest::Method::GET, "/api/v1/satisfaction/x", Some("cd_made_up_9"))).await;
    answer.problem(429);
}

#[tokio::test]
async fn rate_limit_off_counts_nothing() {
    let app = spawn_app_with(|settings| settings.rate_limit = RateLimitSettings::off()).await;
    for _ in 0..3 {
        let answer = app.get("/api/v1/users", &app.admin_token).await.expect(200);
        assert!(!answer.headers.contains_key("ratelimit"));
    }
    assert_eq!(app.count("SELECT count(*) FROM rate_limit_hits"), 0);
}
