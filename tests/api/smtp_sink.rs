//! A small SMTP server for tests: it speaks SMTP over TCP on a port of its own, keeps what it receives, and can be
//! told to be unavailable (421), to refuse recipients (550), to fail deliveries temporarily (451), or to stop
//! listening altogether.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// How the sink answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Accept everything.
    Accept,
    /// Greet with 421 and hang up (a temporary failure).
    Unavailable,
    /// Refuse every recipient with 550 (a permanent failure).
    RejectRecipients,
    /// Answer the end of DATA with 451 (a temporary failure).
    TempFail,
}

/// One message received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The envelope sender.
    pub from: String,
    /// The envelope recipients.
    pub to: Vec<String>,
    /// The message as sent.
    pub data: Vec<u8>,
}

impl Received {
    /// The message parsed.
    pub fn parsed(&self) -> mailparse::ParsedMail<'_> {
        mailparse::parse_mail(&self.data).expect("a parseable message")
    }

    /// The first value of a header, decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        use mailparse::MailHeaderMap;
        self.parsed().headers.get_first_value(name)
    }

    /// The decoded body of the first part with this content type.
    pub fn body(&self, content_type: &str) -> Option<String> {
        fn find(part: &mailparse::ParsedMail<'_>, content_type: &str) -> Option<String> {
            if part.ctype.mimetype == content_type {
                return part.get_body().ok();
            }
            part.subparts.iter().find_map(|p| find(p, content_type))
        }
        find(&self.parsed(), content_type)
    }
}

#[derive(Default)]
struct State {
    messages: Vec<Received>,
    mode: Option<Mode>,
}

/// A running sink.
pub struct SmtpSink {
    /// The port it listens on.
    pub port: u16,
    state: Arc<Mutex<State>>,
    tasks: Mutex<JoinSet<()>>,
}

impl SmtpSink {
    /// Starts a sink on a free port.
    pub async fn start() -> SmtpSink {
        Self::start_on(0).await
    }

    /// Starts a sink on `port` (0 for any).
    pub async fn start_on(port: u16) -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("the sink binds");
        let port = listener.local_addr().expect("an address").port();
        let state = Arc::new(Mutex::new(State { messages: Vec::new(), mode: Some(Mode::Accept) }));
        let mut tasks = JoinSet::new();
        let shared = state.clone();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                connections.spawn(serve(stream, shared.clone()));
            }
        });
        SmtpSink { port, state, tasks: Mutex::new(tasks) }
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Changes how the sink answers from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = Some(mode);
    }

    /// Everything received so far.
    pub fn messages(&self) -> Vec<Received> {
        self.state.lock().unwrap().messages.clone()
    }

    /// Waits until at least `count` messages arrived (or 10 seconds passed) and returns them all.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..200 {
            if self.messages().len() >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.messages()
    }

    /// Stops listening and drops every open connection, as a server that went down.
    pub fn stop(&self) {
        self.tasks.lock().unwrap().abort_all();
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A free local port with nothing listening on it (for a server that is down from the start).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn serve(stream: TcpStream, state: Arc<Mutex<State>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mode = || state.lock().unwrap().mode.unwrap_or(Mode::Accept);
    if mode() == Mode::Unavailable {
        let _ = write.write_all(b"421 sink unavailable, try later\r\n").await;
        return;
    }
    if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            b"250 OK\r\n"
        } else if upper.starts_with("RSET") {
            from.clear();
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = command[10..].trim().trim_matches(['<', '>']).to_owned();
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            if mode() == Mode::RejectRecipients {
                b"550 5.1.1 no such mailbox\r\n"
            } else {
                to.push(command[8..].trim().trim_matches(['<', '>']).to_owned());
                b"250 OK\r\n"
            }
        } else if upper == "DATA" {
            if write.write_all(b"354 go ahead\r\n").await.is_err() {
                return;
            }
            let mut data = Vec::new();
            loop {
                line.clear();
                match lines.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                data.extend_from_slice(unstuffed.as_bytes());
            }
            if mode() == Mode::TempFail {
                b"451 4.3.0 try again later\r\n"
            } else {
                let received = Received { from: from.clone(), to: std::mem::take(&mut to), data };
                state.lock().unwrap().messages.push(received);
                b"250 OK queued\r\n"
            }
        } else if upper.starts_with("QUIT") {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"502 not implemented\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}
