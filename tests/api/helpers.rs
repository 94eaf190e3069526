//! Spawns the real application on a random port against a fresh PostgreSQL database, and gives tests a client
//! and shortcuts to set up offices, organisations and users through the API itself.

use std::os::unix::process::CommandExt;
use std::process::ChildStdin;
use std::sync::LazyLock;

use civicdesk::config::Settings;
use civicdesk::db::embedded::{Cluster, ClusterConfig};
use civicdesk::db::{self, DbPool};
use civicdesk::startup::Application;
use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

/// The PostgreSQL server the tests create their databases on: `TEST_DATABASE_SERVER` (such as
/// `postgres://postgres@127.0.0.1:5432`) when set, otherwise a private cluster started for this test run.
enum TestServer {
    /// A server of the developer's.
    Url(String),
    /// The test run's own cluster, and the pipe whose end (when this process exits, however it exits) tells the
    /// reaper to stop the cluster and remove its directory.
    Cluster(Cluster, #[allow(dead_code)] ChildStdin),
}

static SERVER: LazyLock<TestServer> = LazyLock::new(|| match std::env::var("TEST_DATABASE_SERVER") {
    Ok(url) if !url.trim().is_empty() => TestServer::Url(url.trim().trim_end_matches('/').to_owned()),
    _ => private_cluster(),
});

/// Starts a throw-away cluster in a new temporary directory, the same way `civicdesk` starts its own, with a
/// reaper process that stops it and removes the directory once this test process has exited.
fn private_cluster() -> TestServer {
    let root = std::env::temp_dir().join(format!("civicdesk-tests-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&root).expect("a temporary directory");
    let data_dir = root.join("postgres");
    // Never waited for: it outlives this process on purpose, and is reparented when this process exits.
    #[allow(clippy::zombie_processes)]
    let reaper = std::process::Command::new("sh")
        .args(["-c", REAPER, "reaper"])
        .arg(&data_dir)
        .arg(&root)
        .arg(civicdesk::db::embedded::socket_dir(&data_dir))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        // Its own process group: a Ctrl-C of `cargo test` must not stop it before it has cleaned up.
        .process_group(0)
        .spawn()
        .expect("sh runs");
    let mut config = ClusterConfig::new(&data_dir, std::env::var_os("POSTGRES_BIN_DIR").map(Into::into));
    config.disposable = true;
    let cluster = Cluster::open(&config).unwrap_or_else(|error| panic!("the tests' PostgreSQL cluster: {error:#}"));
    TestServer::Cluster(cluster, reaper.stdin.expect("the reaper's stdin"))
}

/// Waits for its standard input to close (the test process has exited), then shuts the cluster down at once
/// (nothing in it is kept) and removes the directories. `$1` is the data directory, `$2` the temporary root, `$3`
/// the socket directory (the data directory itself, unless its path is long).
const REAPER: &str = r#"cat >/dev/null
pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ]; then
  kill -QUIT "$pid" 2>/dev/null
  i=0
  while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
fi
rm -rf "$2" "$3""#;

/// The URL of database `name` on the tests' PostgreSQL server.
pub fn server_database_url(name: &str) -> String {
    match &*SERVER {
        TestServer::Url(server) => format!("{server}/{name}"),
        TestServer::Cluster(cluster, _) => cluster.database_url(name),
    }
}

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var("TEST_LOG").is_ok() {
        civicdesk::telemetry::init(civicdesk::config::LogFormat::Text);
    }
});

/// A running application with its own database, dropped when the test ends.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The application's pool, for assertions on rows.
    pub pool: DbPool,
    /// The database URL.
    pub database_url: String,
    /// The database name.
    pub database_name: String,
    /// An HTTP client.
    pub client: reqwest::Client,
    /// A token of the bootstrapped admin.
    pub admin_token: String,
    /// The settings the application runs with.
    pub settings: Settings,
}

/// A user created for a test, with a token.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// The user as the API returned it.
    pub user: Value,
    /// Its id.
    pub id: Uuid,
    /// A bearer token.
    pub token: String,
}

/// A JSON answer: status, content type and body.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The Content-Type header.
    pub content_type: String,
    /// All headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
    /// The raw body (CSV, HTML, metrics).
    pub text: String,
}

impl Answer {
    async fn from(response: Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let text = response.text().await.expect("a body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, content_type, headers, body, text }
    }

    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Answer {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {:#}", self.body);
        self
    }

    /// Asserts an RFC 9457 problem document with this status and returns it.
    #[track_caller]
    pub fn problem(self, status: u16) -> Value {
        let answer = self.expect(status);
        assert_eq!(answer.content_type, "application/problem+json", "problem media type");
        assert_eq!(answer.body["status"], status, "problem status: {:#}", answer.body);
        assert!(answer.body["title"].is_string() && answer.body["detail"].is_string(), "{:#}", answer.body);
        answer.body
    }
}

/// Starts the application on a fresh database, with one admin.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with settings adjusted by `configure` (the outbox worker is off unless it turns it on).
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    LazyLock::force(&TRACING);
    let database_name = format!("civicdesk_test_{}", Uuid::new_v4().simple());
    let database_url = server_database_url(&database_name);
    let mut settings = Settings::for_database(&database_url);
    settings.mail.outbox_dir = std::env::temp_dir().join(&database_name);
    configure(&mut settings);
    let application = Application::build(&settings).await.expect("the application builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    let pool = application.pool();
    tokio::spawn(application.run_until_stopped());
    let mut conn = pool.get().expect("a connection");
    let (_, admin_token) =
        civicdesk::domain::users::bootstrap_admin(&mut conn, "admin@example.org", "Admin").expect("bootstrap admin");
    TestApp { address, pool, database_url, database_name, client: reqwest::Client::new(), admin_token, settings }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Best effort: a leftover database is harmless (and the test run's own cluster goes when the run ends).
        if let Ok(mut conn) = PgConnection::establish(&server_database_url("postgres")) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                db::quote_identifier(&self.database_name)
            ))
            .execute(&mut conn);
        }
    }
}

impl TestApp {
    /// A request to `path` with `token`, if any.
    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let builder = self.client.request(method, format!("{}{}", self.address, path));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// Sends a request and reads the answer.
    pub async fn send(&self, builder: RequestBuilder) -> Answer {
        Answer::from(builder.send().await.expect("the request is sent")).await
    }

    /// GET `path` as `token`.
    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.send(self.request(Method::GET, path, Some(token))).await
    }

    /// POST JSON to `path` as `token`.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(self.request(Method::POST, path, Some(token)).json(&body)).await
    }

    /// PATCH JSON to `path` as `token`.
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(self.request(Method::PATCH, path, Some(token)).json(&body)).await
    }

    /// A database connection for assertions.
    pub fn conn(&self) -> db::DbConn {
        self.pool.get().expect("a connection")
    }

    /// Counts rows with a SQL query returning one bigint column named `count`.
    pub fn count(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            count: i64,
        }
        diesel::sql_query(sql).get_result::<Count>(&mut self.conn()).expect("count query").count
    }

    /// Creates an office through the API.
    pub async fn create_office(&self, code: &str, country: &str, regional: bool) -> Value {
        let body = json!({
            "code": code, "name": format!("{code} office"), "country": country,
            "time_zone": "Europe/Belgrade", "contact_email": format!("{}@offices.example.org", code.to_lowercase()),
            "is_regional": regional,
        });
        self.post("/api/v1/offices", &self.admin_token, body).await.expect(201).body
    }

    /// Creates an organisation through the API.
    pub async fn create_organization(&self, name: &str, country: &str) -> Value {
        let body = json!({ "name": name, "country": country, "contact_email": "info@cso.example.org" });
        self.post("/api/v1/organizations", &self.admin_token, body).await.expect(201).body
    }

    /// Creates a user through the API and gives them a token.
    pub async fn create_user(&self, role: &str, office: Option<&Value>, organization: Option<&Value>) -> TestUser {
        let email = format!("{role}-{}@example.org", Uuid::new_v4().simple());
        let body = json!({
            "name": format!("Test {role}"), "email": email, "role": role, "language": "sq",
            "office_id": office.map(|o| o["id"].clone()), "organization_id": organization.map(|o| o["id"].clone()),
        });
        let user = self.post("/api/v1/users", &self.admin_token, body).await.expect(201).body;
        let id: Uuid = user["id"].as_str().expect("id").parse().expect("uuid");
        let token = self
            .post(&format!("/api/v1/users/{id}/tokens"), &self.admin_token, json!({"label": "test"}))
            .await
            .expect(201)
            .body["token_secret"]
            .as_str()
            .expect("secret")
            .to_owned();
        TestUser { user, id, token }
    }

    /// Submits a ticket as `token`.
    pub async fn submit(&self, token: &str, subject: &str, category: &str) -> Value {
        let body = json!({ "subject": subject, "body": format!("Details about {subject}"), "category": category });
        self.post("/api/v1/tickets", token, body).await.expect(201).body
    }
}

/// A small network: a regional office, a national office for Kosovo, two CSOs there with a requester each,
/// an advisor and a coordinator of the Kosovo office.
pub struct Network {
    /// The application.
    pub app: TestApp,
    /// The regional office.
    pub regional: Value,
    /// The Kosovo office.
    pub kosovo: Value,
    /// First CSO (Kosovo).
    pub cso_a: Value,
    /// Second CSO (Kosovo).
    pub cso_b: Value,
    /// A requester of CSO A.
    pub requester_a: TestUser,
    /// A requester of CSO B.
    pub requester_b: TestUser,
    /// An advisor of the Kosovo office.
    pub advisor: TestUser,
    /// A coordinator of the Kosovo office.
    pub coordinator: TestUser,
}

/// Spawns the application and sets up a [`Network`].
pub async fn spawn_network() -> Network {
    spawn_network_with(|_| {}).await
}

/// Like [`spawn_network`], with settings adjusted by `configure`.
pub async fn spawn_network_with(configure: impl FnOnce(&mut Settings)) -> Network {
    let app = spawn_app_with(configure).await;
    let regional = app.create_office("REGIONAL", "BA", true).await;
    let kosovo = app.create_office("XK", "XK", false).await;
    let cso_a = app.create_organization("Green Valley", "XK").await;
    let cso_b = app.create_organization("Open Doors", "XK").await;
    let requester_a = app.create_user("requester", None, Some(&cso_a)).await;
    let requester_b = app.create_user("requester", None, Some(&cso_b)).await;
    let advisor = app.create_user("advisor", Some(&kosovo), None).await;
    let coordinator = app.create_user("coordinator", Some(&kosovo), None).await;
    Network { app, regional, kosovo, cso_a, cso_b, requester_a, requester_b, advisor, coordinator }
}
