//! A real Dovecot IMAP server for tests: its own configuration, TLS certificate (from a throw-away CA), user and
//! Maildir in a temporary folder, on free ports (IMAPS, and IMAP with STARTTLS; or IMAP without any TLS).
//! Messages are delivered by writing them into the Maildir.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use uuid::Uuid;

/// A running Dovecot.
pub struct Dovecot {
    /// Its folder.
    pub dir: PathBuf,
    /// The IMAPS port (not listening without TLS).
    pub port: u16,
    /// The IMAP port: STARTTLS offered (and required before login from other hosts), or no TLS at all.
    pub plain_port: u16,
    /// The CA that signed its certificate (PEM file).
    pub ca_file: String,
    /// The login.
    pub user: &'static str,
    /// The password.
    pub password: &'static str,
    child: Child,
}

fn run(command: &mut Command) {
    let output = command.output().expect("the command runs");
    assert!(output.status.success(), "{command:?}: {}", String::from_utf8_lossy(&output.stderr));
}

impl Dovecot {
    /// Starts Dovecot with TLS (IMAPS, and STARTTLS on the IMAP port); panics with a clear message when it is not
    /// installed (`.ci/run` installs dovecot-imapd).
    pub fn start() -> Dovecot {
        Dovecot::start_with(true)
    }

    /// Starts Dovecot without any TLS: its IMAP port offers no STARTTLS and takes plaintext logins.
    pub fn start_without_tls() -> Dovecot {
        Dovecot::start_with(false)
    }

    fn start_with(tls: bool) -> Dovecot {
        assert!(Path::new("/usr/sbin/dovecot").exists(), "the IMAP tests need Dovecot: apt-get install dovecot-imapd");
        let dir = std::env::temp_dir().join(format!("civicdesk-dovecot-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
        std::fs::write(
            dir.join("leaf.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        run(Command::new("openssl").args(["req", "-x509"]).args(ec).args([
            "-keyout",
            &path("ca.key"),
            "-out",
            &path("ca.pem"),
            "-days",
            "2",
            "-subj",
            "/CN=civicdesk test CA",
        ]));
        run(Command::new("openssl").args(["req"]).args(ec).args([
            "-keyout",
            &path("key.pem"),
            "-out",
            &path("leaf.csr"),
            "-subj",
            "/CN=localhost",
        ]));
        run(Command::new("openssl").args([
            "x509",
            "-req",
            "-in",
            &path("leaf.csr"),
            "-CA",
            &path("ca.pem"),
            "-CAkey",
            &path("ca.key"),
            "-CAcreateserial",
            "-out",
            &path("cert.pem"),
            "-days",
            "2",
            "-extfile",
            &path("leaf.ext"),
        ]));
        let port = crate::smtp_sink::free_port();
        let plain_port = crate::smtp_sink::free_port();
        let ssl = match tls {
            true => {
                format!("ssl = required\nssl_cert = <{dir}/cert.pem\nssl_key = <{dir}/key.pem", dir = dir.display())
            }
            // Loopback counts as secure for Dovecot anyway; said outright so the test does not depend on it.
            false => "ssl = no\ndisable_plaintext_auth = no".to_owned(),
        };
        let imaps_port = if tls { port } else { 0 };
        let user = "desk";
        let password = "imap-secret";
        std::fs::write(dir.join("passwd"), format!("{user}:{{PLAIN}}{password}::::::\n")).unwrap();
        let home = dir.join("home").join(user);
        for sub in ["Maildir/new", "Maildir/cur", "Maildir/tmp"] {
            std::fs::create_dir_all(home.join(sub)).unwrap();
        }
        run(Command::new("chown").args(["-R", "nobody:nogroup", &path("home")]));
        let config = format!(
            r#"protocols = imap
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
{ssl}
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={dir}/home/%u
}}
mail_location = maildir:~/Maildir
# IDLE notices Maildir deliveries through inotify; this is the fallback, short for the tests.
mailbox_idle_check_interval = 1 secs
namespace inbox {{
  inbox = yes
  mailbox Processed {{
    auto = create
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = {plain_port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
    ssl = yes
  }}
}}
"#,
            dir = dir.display()
        );
        std::fs::write(dir.join("dovecot.conf"), config).unwrap();
        let mut child = Command::new("/usr/sbin/dovecot")
            .args(["-F", "-c", &path("dovecot.conf")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dovecot starts");
        let listening = |port| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        // Many tests start their Dovecot at once on two cores: give it time, and say why when it never comes up.
        let mut waited = 0;
        while !(listening(plain_port) && (!tls || listening(port))) {
            waited += 1;
            if waited == 400 {
                let _ = child.kill();
                let log = std::fs::read_to_string(dir.join("dovecot.log")).unwrap_or_default();
                panic!("Dovecot is not listening on {plain_port} and {port} after 20 s:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Dovecot { ca_file: path("ca.pem"), dir, port, plain_port, user, password, child }
    }

    fn maildir(&self) -> PathBuf {
        self.dir.join("home").join(self.user).join("Maildir")
    }

    /// Puts a message into the INBOX, as a mail server would.
    pub fn deliver(&self, raw: &[u8]) {
        let name = format!("{}.{}.localhost", chrono::Utc::now().timestamp(), Uuid::new_v4().simple());
        let tmp = self.maildir().join("tmp").join(&name);
        std::fs::write(&tmp, raw).unwrap();
        std::fs::rename(&tmp, self.maildir().join("new").join(&name)).unwrap();
        run(Command::new("chown").args(["-R", "nobody:nogroup", &self.dir.join("home").to_string_lossy()]));
    }

    /// Messages of a folder's `cur` (the INBOX's when `None`), with whether each is flagged \Seen.
    pub fn seen_in(&self, folder: Option<&str>) -> Vec<bool> {
        let base = match folder {
            Some(name) => self.maildir().join(format!(".{name}")),
            None => self.maildir(),
        };
        let Ok(entries) = std::fs::read_dir(base.join("cur")) else { return Vec::new() };
        entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().rsplit_once(":2,").is_some_and(|(_, flags)| flags.contains('S')))
            .collect()
    }

    /// The Maildir flags of each message of a folder (the INBOX's when `None`), such as `"FS"` for \\Flagged
    /// \\Seen; `""` for a message not looked at yet.
    pub fn flags_in(&self, folder: Option<&str>) -> Vec<String> {
        let base = match folder {
            Some(name) => self.maildir().join(format!(".{name}")),
            None => self.maildir(),
        };
        let mut flags: Vec<String> = ["cur", "new"]
            .iter()
            .filter_map(|sub| std::fs::read_dir(base.join(sub)).ok())
            .flat_map(|entries| entries.flatten())
            .map(|e| e.file_name().to_string_lossy().rsplit_once(":2,").map(|(_, f)| f.to_owned()).unwrap_or_default())
            .collect();
        flags.sort();
        flags
    }

    /// All messages of a folder, seen or not.
    pub fn count_in(&self, folder: &str) -> usize {
        let base = self.maildir().join(format!(".{folder}"));
        ["cur", "new"].iter().map(|sub| std::fs::read_dir(base.join(sub)).map(|d| d.count()).unwrap_or(0)).sum()
    }

    /// Messages still in the INBOX's `new` (never looked at).
    pub fn unread_new(&self) -> usize {
        std::fs::read_dir(self.maildir().join("new")).map(|d| d.count()).unwrap_or(0)
    }

    /// `imaps://desk:...@localhost:<port>/INBOX`.
    pub fn url(&self) -> String {
        format!("imaps://{}:{}@localhost:{}/INBOX", self.user, self.password, self.port)
    }

    /// `imap://desk:...@localhost:<plain port>/INBOX` (STARTTLS).
    pub fn starttls_url(&self) -> String {
        format!("imap://{}:{}@localhost:{}/INBOX", self.user, self.password, self.plain_port)
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
