//! Nobody can act as someone else by email: forged staff mail, trusted MTA verdicts, floods from one sender.

use serde_json::{Value, json};

use crate::helpers::spawn_network_with;
use crate::inbound::{DOMAIN, email, inbound, messages, network_with_mail, plain, post_email};
use crate::smtp_sink::SmtpSink;

const AUTHSERV_ID: &str = "mx.desk.example.org";

async fn events(app: &crate::helpers::TestApp, ticket: &Value, token: &str) -> Vec<Value> {
    let path = format!("/api/v1/tickets/{}/events", ticket["id"].as_str().unwrap());
    app.get(&path, token).await.expect(200).body.as_array().unwrap().clone()
}

#[tokio::test]
async fn a_forged_staff_mail_is_kept_for_staff_and_never_mailed_to_the_cso() {
    let sink = SmtpSink::start().await;
    let net = network_with_mail(&sink, |s| s.inbound.trusted_authserv_id = Some(AUTHSERV_ID.to_owned())).await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Grant budget", "funding").await;
    let subject = format!("Re: [#{}] Grant budget", ticket["reference"]);
    let support = format!("support@{DOMAIN}");
    let before = sink.wait_for(2).await.len();

    // From: the coordinator, with the ticket's reference: anyone can write that.
    let forged = format!("Coordinator <{}>", email(&net.coordinator));
    let body = "Please send your bank details to this address.";
    let taken = post_email(app, plain(&forged, &support, &subject, "", body)).await.expect(200).body;
    assert_eq!(taken["outcome"], "unverified", "{taken}");
    assert!(taken["reason"].as_str().unwrap().contains("without their own reply address"), "{taken}");

    let path = format!("/api/v1/tickets/{}/messages", ticket["id"].as_str().unwrap());
    let seen_by_cso = app.get(&path, &net.requester_a.token).await.expect(200).body;
    assert_eq!(seen_by_cso.as_array().unwrap().len(), 1, "the CSO sees nothing of it");
    let note = messages(app, &ticket).await.pop().unwrap();
    assert_eq!((note["internal"].clone(), note["body"].clone()), (Value::Bool(true), Value::from(body)));
    assert!(note["author_id"].is_null() && note["author_role"].is_null());
    assert_eq!(note["unverified_sender"], email(&net.coordinator).as_str());
    // Staff may read the original, and the audit trail says what happened; the CSO sees neither.
    let original = format!("{path}/{}/original", note["id"].as_str().unwrap());
    let raw = app.request(reqwest::Method::GET, &original, Some(&net.advisor.token)).send().await.unwrap();
    assert_eq!(raw.status(), 200);
    assert!(events(app, &ticket, &net.advisor.token).await.iter().any(|e| e["kind"] == "unverified_mail"));
    assert!(events(app, &ticket, &net.requester_a.token).await.iter().all(|e| e["kind"] != "unverified_mail"));

    // An Authentication-Results header from anyone but our MTA changes nothing.
    let foreign = "Authentication-Results: mx.attacker.example; dmarc=pass header.from=example.org\r\n";
    let taken = post_email(app, plain(&forged, &support, &subject, foreign, "Still forged.")).await.expect(200).body;
    assert_eq!(taken["outcome"], "unverified");

    // Our MTA's DMARC pass for the coordinator's domain lets the coordinator answer without a token.
    let domain = email(&net.coordinator).rsplit_once('@').unwrap().1.to_owned();
    let pass =
        format!("Authentication-Results: {AUTHSERV_ID}; spf=pass; dmarc=pass (p=reject) header.from={domain}\r\n");
    let taken = post_email(app, plain(&forged, &support, &subject, &pass, "Verified answer.")).await.expect(200).body;
    assert_eq!(taken["outcome"], "added", "{taken}");
    let seen_by_cso = app.get(&path, &net.requester_a.token).await.expect(200).body;
    assert_eq!(seen_by_cso.as_array().unwrap().last().unwrap()["body"], "Verified answer.");

    // Only the verified answer was mailed to the requester.
    sink.wait_for(before + 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mails = sink.messages();
    let to_requester: Vec<String> =
        mails.iter().filter(|m| m.to == [email(&net.requester_a)]).filter_map(|m| m.body("text/plain")).collect();
    assert!(to_requester.iter().any(|text| text.contains("Verified answer.")));
    assert!(to_requester.iter().all(|text| !text.contains("bank details") && !text.contains("Still forged")));
}

#[tokio::test]
async fn new_tickets_by_email_are_capped_per_sender_and_hour() {
    let net = spawn_network_with(|s| {
        inbound(s);
        s.inbound.new_tickets_per_sender_hour = 2;
    })
    .await;
    let app = &net.app;
    let support = format!("support@{DOMAIN}");
    for n in 0..2 {
        let mail = plain("flood@elsewhere.example.net", &support, &format!("Question {n}"), "", "Hello");
        assert_eq!(post_email(app, mail).await.expect(200).body["outcome"], "created");
    }
    // Past the cap the mail is taken (a refusal would bounce to a sender who may be forged) but held back.
    let third = plain("flood@elsewhere.example.net", &support, "Question 3", "", "Hello");
    let held = post_email(app, third.clone()).await.expect(200).body;
    let again = post_email(app, third).await.expect(200).body;
    assert_eq!((again["duplicate"].clone(), again["outcome"].clone()), (json!(true), json!("ignored")));
    assert_eq!(held["outcome"], "ignored", "{held}");
    assert!(held["reason"].as_str().unwrap().contains("in the last hour"), "{held}");
    assert!(held["ticket_id"].is_null());
    let failed = app.get("/api/v1/admin/inbound?status=failed", &app.admin_token).await.expect(200).body;
    let item = &failed["items"][0];
    assert_eq!(item["outcome"], "ignored");
    assert_eq!(item["from_address"], "flood@elsewhere.example.net");
    assert_eq!(app.count("SELECT count(*) AS count FROM tickets WHERE subject = 'Question 3'"), 0);
    // Another sender is not held back.
    let other = plain("someone@elsewhere.example.net", &support, "Question", "", "Hello");
    assert_eq!(post_email(app, other).await.expect(200).body["outcome"], "created");
}

#[tokio::test]
async fn strangers_in_the_unaffiliated_queue_are_no_colleagues_of_each_other() {
    let net = crate::inbound::network().await;
    let app = &net.app;
    let support = format!("support@{DOMAIN}");
    let first = plain("one@elsewhere.example.net", &support, "Our statute", "", "A question");
    let first = post_email(app, first).await.expect(200).body;
    assert_eq!(first["outcome"], "created");
    let subject = format!("Re: [#{}] Our statute", first["ticket_reference"]);
    // Another stranger, also in the Unaffiliated queue, quoting the reference: kept for staff, posted as nobody.
    let intruder = plain("two@elsewhere.example.net", &support, "Hello", "", "First mail");
    assert_eq!(post_email(app, intruder).await.expect(200).body["outcome"], "created");
    let taken = post_email(app, plain("two@elsewhere.example.net", &support, &subject, "", "Writing on yours"))
        .await
        .expect(200);
    assert_eq!(taken.body["outcome"], "unverified", "{}", taken.body);
    // The requester themselves answers by subject as before.
    let own = post_email(app, plain("one@elsewhere.example.net", &support, &subject, "", "More")).await.expect(200);
    assert_eq!(own.body["outcome"], "added", "{}", own.body);
}

#[tokio::test]
async fn mail_our_mta_found_forged_is_held_in_nobodys_name() {
    let net = spawn_network_with(|s| {
        inbound(s);
        s.inbound.trusted_authserv_id = Some(AUTHSERV_ID.to_owned());
    })
    .await;
    let app = &net.app;
    let support = format!("support@{DOMAIN}");
    let ticket = app.submit(&net.requester_a.token, "Statute", "legal_registration").await;
    let requester = email(&net.requester_a);
    let domain = requester.rsplit_once('@').unwrap().1.to_owned();
    let fail = format!("Authentication-Results: {AUTHSERV_ID}; spf=fail; dmarc=fail (p=none) header.from={domain}\r\n");
    // On the requester's own ticket, by subject: a note for staff, not a reply in their name.
    let subject = format!("Re: [#{}] Statute", ticket["reference"]);
    let taken = post_email(app, plain(&requester, &support, &subject, &fail, "Forged reply")).await.expect(200).body;
    assert_eq!(taken["outcome"], "unverified", "{taken}");
    // A new request: held for an administrator (no ticket, no bounce), like a help desk's suspended tickets.
    let held = post_email(app, plain(&requester, &support, "New request", &fail, "Forged request")).await.expect(200);
    assert_eq!(held.body["outcome"], "unverified", "{}", held.body);
    assert!(held.body["ticket_id"].is_null());
    assert_eq!(app.count("SELECT count(*) AS count FROM tickets WHERE subject = 'New request'"), 0);
    let failed = app.get("/api/v1/admin/inbound?status=failed", &app.admin_token).await.expect(200).body;
    assert!(failed["items"][0]["reason"].as_str().unwrap().contains("DMARC fail"), "{failed}");
    // Without a verdict the requester's new request opens a ticket as before.
    let plain_request = plain(&requester, &support, "Another request", "", "Hello");
    assert_eq!(post_email(app, plain_request).await.expect(200).body["outcome"], "created");
}
