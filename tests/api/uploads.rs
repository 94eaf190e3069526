//! Files through the API: upload first, then attach by id.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Network, TestApp, spawn_network, spawn_network_with};

const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n";
const EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8\x00\x00\x00\x00\x00\x00\x00\x40\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x00\x00\x00PE\x00\x00";

/// Uploads `data` as `token`, named by `disposition` (a `Content-Disposition` value), claimed as `content_type`.
async fn upload(app: &TestApp, token: &str, disposition: &str, content_type: &str, data: &[u8]) -> (u16, Value) {
    let request = app
        .request(Method::POST, "/api/v1/uploads", Some(token))
        .header("Content-Type", content_type)
        .header("Content-Disposition", disposition)
        .body(data.to_vec());
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn statute(net: &Network) -> Value {
    let (status, body) = upload(
        &net.app,
        &net.requester_a.token,
        "attachment; filename*=UTF-8''statuti%202026.pdf",
        "application/pdf",
        PDF,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body
}

#[tokio::test]
async fn upload_then_attach_to_a_new_ticket_and_a_reply() {
    let net = spawn_network().await;
    let app = &net.app;
    let uploaded = statute(&net).await;
    assert_eq!(uploaded["filename"], "statuti 2026.pdf");
    assert_eq!(uploaded["content_type"], "application/pdf");
    assert_eq!(uploaded["size"], PDF.len());
    assert_eq!(uploaded["sha256"].as_str().unwrap().len(), 64);
    assert!(uploaded["expires_at"].is_string());

    let body = json!({"subject": "Statute", "body": "Attached.", "category": "legal_registration",
        "attachment_ids": [uploaded["id"]]});
    let ticket = app.post("/api/v1/tickets", &net.requester_a.token, body).await.expect(201).body;
    let path = format!("/api/v1/tickets/{}/messages", ticket["id"].as_str().unwrap());
    let first = app.get(&path, &net.requester_a.token).await.expect(200).body[0].clone();
    let attachment = &first["attachments"][0];
    assert_eq!(attachment["filename"], "statuti 2026.pdf");
    assert_eq!(attachment["sha256"], uploaded["sha256"]);
    let download = app
        .request(Method::GET, attachment["download_url"].as_str().unwrap(), Some(&net.requester_a.token))
        .send()
        .await
        .unwrap();
    assert_eq!(download.bytes().await.unwrap().as_ref(), PDF);
    // Another CSO cannot download it.
    app.get(attachment["download_url"].as_str().unwrap(), &net.requester_b.token).await.problem(404);

    // The same upload twice: 409, and nothing changes.
    let again = json!({"body": "Once more", "attachment_ids": [uploaded["id"]]});
    let problem = app.post(&path, &net.requester_a.token, again).await.problem(409);
    assert!(problem["detail"].as_str().unwrap().contains("attached already"), "{problem}");
    assert_eq!(app.count("SELECT count(*) AS count FROM messages"), 1, "no half-written reply");

    // A reply with two fresh uploads (the same content is stored once).
    let second = statute(&net).await;
    let (_, notes) =
        upload(app, &net.requester_a.token, "attachment; filename=\"notes.txt\"", "text/plain", b"notes").await;
    let reply = json!({"body": "Two files", "attachment_ids": [second["id"], notes["id"]]});
    let posted = app.post(&path, &net.requester_a.token, reply).await.expect(201).body;
    assert_eq!(posted["attachments"].as_array().unwrap().len(), 2, "{posted}");
    assert_eq!(app.count("SELECT count(*) AS count FROM files"), 2, "the PDF once, the notes once");

    // An internal note's file stays with staff, like the note.
    let (_, draft) = upload(app, &net.advisor.token, "attachment; filename=draft.txt", "text/plain", b"draft").await;
    let note = json!({"body": "Our draft", "internal": true, "attachment_ids": [draft["id"]]});
    let noted = app.post(&path, &net.advisor.token, note).await.expect(201).body;
    let url = noted["attachments"][0]["download_url"].as_str().unwrap().to_owned();
    app.get(&url, &net.requester_a.token).await.problem(404);
    let staff = app.request(Method::GET, &url, Some(&net.advisor.token)).send().await.unwrap();
    assert_eq!(staff.status(), 200);
    let seen = app.get(&path, &net.requester_a.token).await.expect(200).body;
    assert!(!seen.to_string().contains("draft.txt"), "{seen}");
}

#[tokio::test]
async fn someone_elses_or_an_expired_upload_cannot_be_attached() {
    let net = spawn_network().await;
    let app = &net.app;
    let uploaded = statute(&net).await;
    let ticket = app.submit(&net.requester_b.token, "Other CSO", "funding").await;
    let path = format!("/api/v1/tickets/{}/messages", ticket["id"].as_str().unwrap());
    let body = json!({"body": "Not mine", "attachment_ids": [uploaded["id"]]});
    app.post(&path, &net.requester_b.token, body).await.problem(404);

    let mine = statute(&net).await;
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE uploads SET expires_at = now() - interval '1 minute' WHERE id = '{}'",
            mine["id"].as_str().unwrap()
        )),
        &mut app.conn(),
    )
    .unwrap();
    let own = app.submit(&net.requester_a.token, "Expired", "funding").await;
    let path = format!("/api/v1/tickets/{}/messages", own["id"].as_str().unwrap());
    let problem = app
        .post(&path, &net.requester_a.token, json!({"body": "Late", "attachment_ids": [mine["id"]]}))
        .await
        .problem(410);
    assert!(problem["detail"].as_str().unwrap().contains("expired"), "{problem}");
    // The background pass removes it.
    let pool = app.pool.clone();
    let gone =
        civicdesk::db::run(&pool, |conn| civicdesk::domain::uploads::remove_expired(conn, chrono::Utc::now(), 100))
            .await
            .unwrap();
    assert_eq!(gone, 1);
    assert_eq!(app.count("SELECT count(*) AS count FROM uploads"), 1, "the attached-or-fresh one stays");
    assert_eq!(app.count("SELECT count(*) AS count FROM files"), 1, "its content, still held by the other upload");
    diesel::RunQueryDsl::execute(diesel::sql_query("UPDATE uploads SET expires_at = now()"), &mut app.conn()).unwrap();
    let pool = app.pool.clone();
    civicdesk::db::run(&pool, |conn| civicdesk::domain::uploads::remove_expired(conn, chrono::Utc::now(), 100))
        .await
        .unwrap();
    assert_eq!(app.count("SELECT count(*) AS count FROM files"), 0, "held by nothing: removed");
    assert_eq!(app.count("SELECT count(*) AS count FROM file_chunks"), 0);
}

#[tokio::test]
async fn limits_refuse_large_files_programs_and_nameless_uploads_and_store_nothing() {
    let net = spawn_network_with(|settings| {
        settings.uploads.max_file_bytes = 1000;
        settings.uploads.max_message_bytes = 150;
        settings.uploads.max_files = 2;
    })
    .await;
    let app = &net.app;
    let token = net.requester_a.token.as_str();
    let big = vec![b'a'; 1001];
    let (status, problem) = upload(app, token, "attachment; filename=big.txt", "text/plain", &big).await;
    assert_eq!(status, 413, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("1000 bytes"), "{problem}");
    // A program renamed to .pdf is refused by its content; a path and a bidi override leave the name.
    let (status, problem) = upload(app, token, "attachment; filename=\"statut.pdf\"", "application/pdf", EXE).await;
    assert_eq!(status, 415, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("program"), "{problem}");
    let (status, cleaned) = upload(
        app,
        token,
        "attachment; filename*=UTF-8''..%2F..%2Fetc%2Fvendim%E2%80%AEfdp.pdf",
        "application/pdf",
        PDF,
    )
    .await;
    assert_eq!(status, 201, "{cleaned}");
    assert_eq!(cleaned["filename"], "vendimfdp.pdf");
    let nameless = app
        .request(Method::POST, "/api/v1/uploads", Some(token))
        .header("Content-Type", "application/pdf")
        .body(PDF.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(nameless.status(), 422);
    let by_query = app
        .request(Method::POST, "/api/v1/uploads?filename=report.pdf", Some(token))
        .body(PDF.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 201);
    assert_eq!(app.count("SELECT count(*) AS count FROM uploads"), 2, "only the accepted ones");

    // Per message: more files than allowed, or more bytes together, is 413 and nothing is attached.
    let (_, a) = upload(app, token, "attachment; filename=a.txt", "text/plain", &[b'a'; 100]).await;
    let (_, b) = upload(app, token, "attachment; filename=b.txt", "text/plain", &[b'b'; 100]).await;
    let ticket = app.submit(token, "Limits", "funding").await;
    let path = format!("/api/v1/tickets/{}/messages", ticket["id"].as_str().unwrap());
    let together =
        app.post(&path, token, json!({"body": "Both", "attachment_ids": [a["id"], b["id"]]})).await.problem(413);
    assert!(together["detail"].as_str().unwrap().contains("150 bytes together"), "{together}");
    let three = json!({"body": "Three", "attachment_ids": [a["id"], b["id"], cleaned["id"]]});
    let many = app.post(&path, token, three).await.problem(413);
    assert!(many["detail"].as_str().unwrap().contains("at most 2 files"), "{many}");
    assert_eq!(app.count("SELECT count(*) AS count FROM attachments"), 0);
    assert_eq!(app.count("SELECT count(*) AS count FROM uploads WHERE attachment_id IS NOT NULL"), 0);
}

/// A `multipart/form-data` body of `fields` and `files` (field name, file name, type, content), as curl -F sends.
fn form(fields: &[(&str, &str)], files: &[(&str, &str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "------------------------civicdesk0123456789";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes(),
        );
    }
    for (name, file_name, content_type, data) in files {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
                 Content-Type: {content_type}\r\n\r\n"
            )
            .bytes(),
        );
        body.extend_from_slice(data);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn a_ticket_and_a_reply_with_files_in_one_multipart_request() {
    let net = spawn_network().await;
    let app = &net.app;
    let token = net.requester_a.token.as_str();
    let (content_type, body) = form(
        &[("subject", "Statute and budget"), ("body", "Both attached."), ("category", "legal_registration")],
        &[("files", "statut.pdf", "application/pdf", PDF), ("files", "buxheti.csv", "text/csv", b"a;b\r\n1;2\r\n")],
    );
    let response = app
        .request(Method::POST, "/api/v1/tickets", Some(token))
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let ticket: Value = response.json().await.unwrap();
    let path = format!("/api/v1/tickets/{}/messages", ticket["id"].as_str().unwrap());
    let first = app.get(&path, token).await.expect(200).body[0].clone();
    let names: Vec<&str> =
        first["attachments"].as_array().unwrap().iter().map(|a| a["filename"].as_str().unwrap()).collect();
    assert_eq!(names, ["statut.pdf", "buxheti.csv"], "{first}");
    assert_eq!(first["attachments"][1]["content_type"], "text/csv");

    // A staff note as form fields, `internal=true` read as the boolean it is.
    let (content_type, body) =
        form(&[("body", "Checked"), ("internal", "true")], &[("files", "memo.txt", "text/plain", b"memo")]);
    let response = app
        .request(Method::POST, &path, Some(&net.advisor.token))
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let note: Value = response.json().await.unwrap();
    assert_eq!(note["internal"], true, "{note}");
    assert_eq!(note["attachments"][0]["filename"], "memo.txt");

    // A program among the files refuses the whole request: no ticket, no upload.
    let before = app.count("SELECT count(*) AS count FROM tickets");
    let (content_type, body) = form(
        &[("subject", "Tool"), ("body", "Run it"), ("category", "other")],
        &[("files", "ok.pdf", "application/pdf", PDF), ("files", "run.pdf", "application/pdf", EXE)],
    );
    let response = app
        .request(Method::POST, "/api/v1/tickets", Some(token))
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(app.count("SELECT count(*) AS count FROM tickets"), before);
    assert_eq!(app.count("SELECT count(*) AS count FROM uploads WHERE attachment_id IS NULL"), 0);
}

/// The attachment parts of a mail: (file name, type, content).
fn attached(mail: &crate::smtp_sink::Received) -> Vec<(String, String, Vec<u8>)> {
    fn walk(part: &mailparse::ParsedMail<'_>, found: &mut Vec<(String, String, Vec<u8>)>) {
        let disposition = part.get_content_disposition();
        if disposition.disposition == mailparse::DispositionType::Attachment {
            let name = disposition.params.get("filename").cloned().unwrap_or_default();
            found.push((name, part.ctype.mimetype.clone(), part.get_body_raw().unwrap_or_default()));
        }
        for sub in &part.subparts {
            walk(sub, found);
        }
    }
    let mut found = Vec::new();
    walk(&mail.parsed(), &mut found);
    found
}

#[tokio::test]
async fn a_staff_reply_s_files_reach_the_requester_attached_or_as_links_over_the_limit() {
    let sink = crate::smtp_sink::SmtpSink::start().await;
    let url = sink.url();
    let net = spawn_network_with(move |settings| {
        crate::email::with_smtp(url)(settings);
        settings.worker.in_serve = false;
        settings.mail.attachments_max_bytes = 200;
        settings.mail.public_url = "https://desk.example.org".to_owned();
    })
    .await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Template please", "funding").await;
    let path = format!("/api/v1/tickets/{}/messages", ticket["id"].as_str().unwrap());
    let (_, template) = upload(
        app,
        &net.advisor.token,
        "attachment; filename*=UTF-8''formulari%20i%20buxhetit.pdf",
        "application/pdf",
        PDF,
    )
    .await;
    let reply = json!({"body": "The template is attached.", "attachment_ids": [template["id"]]});
    app.post(&path, &net.advisor.token, reply).await.expect(201);
    // Over the limit together (PDF.len() + 300 > 200): links instead.
    let (_, big) = upload(app, &net.advisor.token, "attachment; filename=annex.txt", "text/plain", &[b'x'; 300]).await;
    let second = json!({"body": "And the annex.", "attachment_ids": [big["id"]]});
    let posted = app.post(&path, &net.advisor.token, second).await.expect(201).body;
    // An internal note's file goes nowhere.
    let (_, draft) = upload(app, &net.advisor.token, "attachment; filename=draft.txt", "text/plain", b"draft").await;
    let note = json!({"body": "Internal", "internal": true, "attachment_ids": [draft["id"]]});
    app.post(&path, &net.advisor.token, note).await.expect(201);

    let worker = civicdesk::email::worker::Worker::build(&app.settings, app.pool.clone()).await.unwrap();
    while worker.deliver_due().await.unwrap() > 0 {}
    let mails = sink.wait_for(4).await;
    let requester = net.requester_a.user["email"].as_str().unwrap();
    let to_requester: Vec<_> = mails.iter().filter(|m| m.to == [requester]).collect();
    let with_template = to_requester
        .iter()
        .find(|m| m.body("text/plain").unwrap().contains("The template is attached."))
        .expect("the reply");
    let files = attached(with_template);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].0, "formulari i buxhetit.pdf");
    assert_eq!(files[0].1, "application/pdf");
    assert_eq!(files[0].2, PDF);
    assert!(with_template.body("text/plain").unwrap().contains("formulari i buxhetit.pdf"), "listed too");

    let with_links = to_requester
        .iter()
        .find(|m| m.body("text/plain").unwrap().contains("And the annex."))
        .expect("the second reply");
    assert!(attached(with_links).is_empty(), "too large: not attached");
    let link =
        format!("https://desk.example.org/api/v1/attachments/{}", posted["attachments"][0]["id"].as_str().unwrap());
    assert!(with_links.body("text/plain").unwrap().contains(&link), "{}", with_links.body("text/plain").unwrap());
    assert!(mails.iter().all(|m| !String::from_utf8_lossy(&m.data).contains("draft.txt")), "notes stay inside");
}

#[tokio::test]
async fn hostile_names_ranges_and_forms_get_clear_answers() {
    let net = spawn_network().await;
    let app = &net.app;
    let token = net.requester_a.token.as_str();
    let post = |path: &str, content_type: &str, disposition: Option<&str>, body: Vec<u8>| {
        let mut request =
            app.request(Method::POST, path, Some(token)).header("Content-Type", content_type.to_owned()).body(body);
        if let Some(disposition) = disposition {
            request = request.header("Content-Disposition", disposition.to_owned());
        }
        request.send()
    };
    // A NUL, a right-to-left override and 300 multibyte characters in the name; an empty file.
    let name = format!("a%00b%E2%80%AE{}.txt", "%D1%91".repeat(300));
    let answer = post(&format!("/api/v1/uploads?filename={name}"), "text/plain", None, Vec::new()).await.unwrap();
    assert_eq!(answer.status(), 201);
    let upload: Value = answer.json().await.unwrap();
    let cleaned = upload["filename"].as_str().unwrap();
    assert!(cleaned.starts_with("ab") && !cleaned.contains('\u{0}') && !cleaned.contains('\u{202E}'), "{cleaned}");
    assert_eq!(cleaned.chars().count(), 200);
    assert_eq!(upload["size"], 0);
    // A malformed Content-Disposition names nothing: 422, not a 500.
    let answer = post("/api/v1/uploads", "text/plain", Some("attachment; filename*=garbage; ;="), b"x".to_vec()).await;
    assert_eq!(answer.unwrap().status(), 422);

    // Ranges that overflow or make no sense: the whole file or 416, never a 500.
    let ticket = app.submit(token, "Ranges", "funding").await;
    let path = format!("/api/v1/tickets/{}/messages", ticket["id"].as_str().unwrap());
    let posted =
        app.post(&path, token, json!({"body": "File", "attachment_ids": [upload["id"]]})).await.expect(201).body;
    let url = posted["attachments"][0]["download_url"].as_str().unwrap().to_owned();
    for (range, status) in
        [("bytes=99999999999999999999999-", 200), ("bytes=0-0", 416), ("bytes=-", 200), ("bytes=5-1", 416)]
    {
        let answer = app.request(Method::GET, &url, Some(token)).header("Range", range).send().await.unwrap();
        assert_eq!(answer.status(), status, "{range}");
    }

    // A multipart body cut short, one without its boundary, and fields beyond the JSON limit.
    let cut = b"--b\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\nhalf".to_vec();
    let answer = post("/api/v1/tickets", "multipart/form-data; boundary=b", None, cut).await.unwrap();
    assert_eq!(answer.status(), 400);
    assert_eq!(answer.headers()["content-type"], "application/problem+json");
    let answer = post("/api/v1/tickets", "multipart/form-data", None, b"--x--\r\n".to_vec()).await.unwrap();
    assert!(answer.status().is_client_error(), "{}", answer.status());
    let fields: Vec<(String, String)> = (0..300).map(|n| (format!("f{n}"), "x".repeat(1000))).collect();
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (content_type, body) = form(&pairs, &[]);
    let answer = post("/api/v1/tickets", &content_type, None, body).await.unwrap();
    assert_eq!(answer.status(), 413);
    assert_eq!(app.count("SELECT count(*) AS count FROM tickets"), 1, "only the ticket made above");
}
