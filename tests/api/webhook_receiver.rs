//! A webhook receiver for the tests: a real HTTP server on a free loopback port that records every request and
//! answers with the statuses it is told to (200 once they run out), and an HMAC-SHA256 of its own (built from
//! SHA-256 alone, not from the crate the service signs with) to verify signatures independently.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// `Webhook-Id`.
    pub id: String,
    /// `Webhook-Timestamp`.
    pub timestamp: String,
    /// `Webhook-Signature`.
    pub signature: String,
    /// The raw body.
    pub body: Vec<u8>,
    /// The body as JSON.
    pub json: Value,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    answers: VecDeque<u16>,
    body: Option<Vec<u8>>,
}

/// A running receiver.
pub struct Receiver {
    state: Arc<Mutex<State>>,
    /// Its URL.
    pub url: String,
}

impl Receiver {
    /// Starts a receiver that answers `answers` in turn, then 200.
    pub fn start(answers: &[u16]) -> Receiver {
        Receiver::start_answering(answers, None)
    }

    /// Like [`Receiver::start`], answering `body` (instead of `answered <status>`).
    pub fn start_answering(answers: &[u16], body: Option<&[u8]>) -> Receiver {
        let answers = answers.iter().copied().collect();
        let state = Arc::new(Mutex::new(State { received: Vec::new(), answers, body: body.map(<[u8]>::to_vec) }));
        let shared = web::Data::from(state.clone());
        let server = HttpServer::new(move || App::new().app_data(shared.clone()).default_service(web::to(record)))
            .workers(1)
            .bind(("127.0.0.1", 0))
            .unwrap();
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Receiver { state, url: format!("http://127.0.0.1:{port}/hook") }
    }

    /// What it got so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Waits until it got at least `count` requests (at most 20 s).
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..400 {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the receiver got {} requests, not {count}", self.received().len());
    }
}

async fn record(state: web::Data<Mutex<State>>, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let header =
        |name: &str| request.headers().get(name).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
    let received = Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        body: body.to_vec(),
    };
    let mut state = state.lock().unwrap();
    state.received.push(received);
    let status = state.answers.pop_front().unwrap_or(200);
    let body = state.body.clone().unwrap_or_else(|| format!("answered {status}").into_bytes());
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).body(body)
}

/// HMAC-SHA256 (RFC 2104), from SHA-256 alone.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

/// Whether one of the signatures of `received` is the Standard Webhooks signature made with `secret`.
pub fn verifies(received: &Received, secret: &str) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").expect("a whsec_ secret")).unwrap();
    let mut signed = format!("{}.{}.", received.id, received.timestamp).into_bytes();
    signed.extend_from_slice(&received.body);
    let expected = format!("v1,{}", STANDARD.encode(hmac_sha256(&key, &signed)));
    received.signature.split(' ').any(|signature| signature == expected)
}

#[test]
fn hmac_matches_rfc_4231() {
    // RFC 4231, test case 2.
    let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}
