//! The first hour: the built `civicdesk` binary, with no `DATABASE_URL`, in an empty directory, creates and runs
//! its own PostgreSQL cluster, shares it with a second process, stops it on exit and finds its data again on the
//! next start; and when no server binaries are installed, it says what to install.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

/// A new empty directory, removed at the end of the test.
struct EmptyDir(PathBuf);

impl EmptyDir {
    fn new() -> EmptyDir {
        let dir = std::env::temp_dir().join(format!("civicdesk-first-run-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        EmptyDir(dir)
    }
}

impl Drop for EmptyDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `civicdesk <args>` in `dir`, as a newcomer runs it: no database settings at all.
fn civicdesk(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_civicdesk"));
    command.args(args).current_dir(dir).env("RUST_LOG", "info").env("OUTBOX_WORKER", "false");
    for variable in ["DATABASE_URL", "CIVICDESK_DATA_DIR", "POSTGRES_BIN_DIR", "SMTP_URL", "IMAP_URL"] {
        command.env_remove(variable);
    }
    command
}

fn running_as_root() -> bool {
    let output = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

/// A running `civicdesk serve`, its standard error going to a file.
struct Serve {
    child: Child,
    address: String,
    log: PathBuf,
}

impl Serve {
    async fn start(dir: &Path, name: &str) -> Serve {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.join(format!("{name}.log"));
        let child = civicdesk(dir, &["serve"])
            .env("LISTEN_ADDRESS", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let serve = Serve { child, address: format!("http://127.0.0.1:{port}"), log };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let ready = client.get(format!("{}/readyz", serve.address)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return serve;
            }
            assert!(Instant::now() < deadline, "serve did not become ready: {}", serve.log_text());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, as a service manager or Ctrl-C stops it, and waits for a clean exit.
    async fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "serve did not stop: {}", self.log_text());
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(status.success(), "serve exited with {status}: {}", self.log_text());
        self.log_text()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// The token of the first demo user with `role` in the table `seed --demo` prints.
fn demo_token(seed: &Output, role: &str) -> String {
    let table = String::from_utf8_lossy(&seed.stdout);
    let line = table.lines().find(|line| line.split_whitespace().next() == Some(role)).expect("a demo user");
    line.split_whitespace().last().unwrap().to_owned()
}

#[tokio::test]
async fn without_database_url_the_binary_runs_its_own_postgres_and_keeps_the_data() {
    let dir = EmptyDir::new();
    let data_dir = dir.0.join("civicdesk-data/postgres");
    let first = Serve::start(&dir.0, "first").await;
    assert!(data_dir.join("PG_VERSION").exists(), "the cluster lives in ./civicdesk-data/postgres");
    let log = first.log_text();
    assert!(log.contains("using the embedded PostgreSQL") && log.contains("(created and started)"), "{log}");
    let conf = std::fs::read_to_string(data_dir.join("civicdesk.conf")).unwrap();
    assert!(conf.contains("listen_addresses = ''"), "no TCP port: {conf}");
    if running_as_root() {
        use std::os::unix::fs::MetadataExt;
        // PostgreSQL refuses root: the cluster belongs to (and runs as) an unprivileged account.
        assert_ne!(std::fs::metadata(&data_dir).unwrap().uid(), 0, "the cluster does not run as root");
    }

    // A second process on the same directory shares the running server, and leaves it running.
    let seed = civicdesk(&dir.0, &["seed", "--demo"]).output().unwrap();
    assert!(seed.status.success(), "{}", String::from_utf8_lossy(&seed.stderr));
    assert!(String::from_utf8_lossy(&seed.stderr).contains("already running"));
    let token = demo_token(&seed, "requester");
    let client = reqwest::Client::new();
    let submitted = client
        .post(format!("{}/api/v1/tickets", first.address))
        .bearer_auth(&token)
        .json(&json!({"subject": "Registering our statute", "body": "Which court registers an association?",
            "category": "legal_registration"}))
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 201, "the server still runs after the second process left");
    let ticket: Value = submitted.json().await.unwrap();

    let log = first.stop().await;
    assert!(log.contains("stopped the embedded PostgreSQL"), "{log}");
    assert!(!data_dir.join("postmaster.pid").exists(), "the last process out stopped the server");

    let second = Serve::start(&dir.0, "second").await;
    let found = client
        .get(format!("{}/api/v1/tickets/{}", second.address, ticket["id"].as_str().unwrap()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(found.status(), 200);
    let found: Value = found.json().await.unwrap();
    assert_eq!(found["subject"], "Registering our statute");
    assert!(second.log_text().contains("(started)"), "reused, not created: {}", second.log_text());
    second.stop().await;
    assert!(!data_dir.join("postmaster.pid").exists());
}

#[tokio::test]
async fn without_server_binaries_the_error_says_what_to_install() {
    let dir = EmptyDir::new();
    let nothing = dir.0.join("no-postgres-here");
    std::fs::create_dir_all(&nothing).unwrap();
    let migrate = civicdesk(&dir.0, &["migrate"]).env("POSTGRES_BIN_DIR", &nothing).output().unwrap();
    assert!(!migrate.status.success());
    let said = String::from_utf8_lossy(&migrate.stderr);
    for needed in ["apt-get install postgresql", "brew install postgresql@17", "DATABASE_URL", "POSTGRES_BIN_DIR"] {
        assert!(said.contains(needed), "{needed:?} missing from: {said}");
    }
    // The mail pipe answers "try again later": the mail server keeps the message until the database is fixed.
    let mut ingest = civicdesk(&dir.0, &["ingest-email"])
        .env("POSTGRES_BIN_DIR", &nothing)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    ingest.stdin.take().unwrap().write_all(b"From: a@example.org\r\nSubject: hi\r\n\r\nHello\r\n").unwrap();
    assert_eq!(ingest.wait().unwrap().code(), Some(75));
}

#[tokio::test]
async fn as_root_a_data_directory_the_cluster_account_cannot_reach_is_a_clear_error() {
    if !running_as_root() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = EmptyDir::new();
    let private = dir.0.join("private");
    std::fs::create_dir_all(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let migrate =
        civicdesk(&dir.0, &["migrate"]).env("CIVICDESK_DATA_DIR", private.join("db/postgres")).output().unwrap();
    assert!(!migrate.status.success());
    let said = String::from_utf8_lossy(&migrate.stderr);
    assert!(said.contains("cannot enter") && said.contains("CIVICDESK_DATA_DIR"), "{said}");
}

#[tokio::test]
async fn as_root_an_unreachable_default_directory_moves_the_cluster_under_var_lib() {
    if !running_as_root() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    // A checkout under /root, say: the postgres account cannot enter the working directory.
    let dir = EmptyDir::new();
    let checkout = dir.0.join("checkout");
    std::fs::create_dir_all(&checkout).unwrap();
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o700)).unwrap();
    let migrate = civicdesk(&checkout, &["migrate"]).output().unwrap();
    let said = String::from_utf8_lossy(&migrate.stderr);
    assert!(migrate.status.success(), "{said}");
    let fallback = said.split("lives in ").nth(1).and_then(|rest| rest.split(" instead").next());
    let fallback = fallback.unwrap_or_else(|| panic!("no fallback named: {said}"));
    let fallback = PathBuf::from(fallback);
    assert!(fallback.starts_with("/var/lib/civicdesk") && fallback.join("PG_VERSION").exists(), "{said}");
    assert!(!fallback.join("postmaster.pid").exists(), "stopped when migrate exited");
    assert!(!checkout.join("civicdesk-data").exists(), "nothing left in the unreachable directory");
    // The next start finds it again.
    let again = civicdesk(&checkout, &["migrate"]).output().unwrap();
    assert!(again.status.success() && String::from_utf8_lossy(&again.stderr).contains("(started)"));
    std::fs::remove_dir_all(fallback.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn two_first_starts_at_once_make_one_cluster_and_a_killed_server_process_is_recovered() {
    let dir = EmptyDir::new();
    let data_dir = dir.0.join("civicdesk-data/postgres");
    // Two commands on an empty directory at the same moment: one creates the cluster, the other waits and uses it.
    let racing: Vec<Child> = (0..2)
        .map(|_| civicdesk(&dir.0, &["migrate"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    let outputs: Vec<Output> = racing.into_iter().map(|child| child.wait_with_output().unwrap()).collect();
    for output in &outputs {
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let created = outputs.iter().filter(|o| String::from_utf8_lossy(&o.stderr).contains("(created and started)"));
    assert_eq!(created.count(), 1, "exactly one of them created the cluster");
    assert!(!data_dir.join("postmaster.pid").exists(), "the last one out stopped it");

    // A serve killed outright (SIGKILL, the OOM killer) leaves the server running: the next start takes it over,
    // and stops it when it exits in turn.
    let mut killed = Serve::start(&dir.0, "killed").await;
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    assert!(data_dir.join("postmaster.pid").exists(), "the server outlives a killed civicdesk");
    let next = Serve::start(&dir.0, "next").await;
    assert!(next.log_text().contains("(already running)"), "{}", next.log_text());
    next.stop().await;
    assert!(!data_dir.join("postmaster.pid").exists(), "the next process out stopped it");
}
