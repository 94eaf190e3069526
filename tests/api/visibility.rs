use serde_json::json;

use crate::helpers::spawn_network;

#[tokio::test]
async fn a_cso_never_reads_lists_searches_or_touches_another_csos_ticket() {
    let net = spawn_network().await;
    let app = &net.app;
    let secret = app.submit(&net.requester_a.token, "Confidential whistleblower case", "legal_registration").await;
    let ticket = secret["id"].as_str().unwrap();
    let reference = secret["reference"].as_i64().unwrap();
    let outsider = &net.requester_b.token;

    for path in [
        format!("/api/v1/tickets/{ticket}"),
        format!("/api/v1/tickets/{reference}"),
        format!("/api/v1/tickets/{ticket}/messages"),
        format!("/api/v1/tickets/{ticket}/events"),
    ] {
        app.get(&path, outsider).await.problem(404);
    }
    for query in ["", "?q=whistleblower", &format!("?organization_id={}", net.cso_a["id"].as_str().unwrap())] {
        let page = app.get(&format!("/api/v1/tickets{query}"), outsider).await.expect(200).body;
        assert!(page["items"].as_array().unwrap().is_empty(), "{query}");
    }
    app.post(&format!("/api/v1/tickets/{ticket}/messages"), outsider, json!({"body": "Let me in"})).await.problem(404);
    app.patch(&format!("/api/v1/tickets/{ticket}"), outsider, json!({"status": "closed"})).await.problem(404);
    assert_eq!(app.count("SELECT count(*) AS count FROM messages"), 1, "nothing was written");

    // A colleague of the same CSO does see it.
    let colleague = app.create_user("requester", None, Some(&net.cso_a)).await;
    app.get(&format!("/api/v1/tickets/{ticket}"), &colleague.token).await.expect(200);
}

#[tokio::test]
async fn advisors_see_their_office_queue_and_their_assignments_only() {
    let net = spawn_network().await;
    let app = &net.app;
    let serbia = app.create_office("RS", "RS", false).await;
    let serbian_cso = app.create_organization("Belgrade Forum", "RS").await;
    let serbian_requester = app.create_user("requester", None, Some(&serbian_cso)).await;
    let serbian_ticket = app.submit(&serbian_requester.token, "Serbian request", "advocacy").await;
    let kosovo_ticket = app.submit(&net.requester_a.token, "Kosovo request", "advocacy").await;
    let serbian_path = format!("/api/v1/tickets/{}", serbian_ticket["id"].as_str().unwrap());

    let page = app.get("/api/v1/tickets", &net.advisor.token).await.expect(200).body;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], kosovo_ticket["id"]);
    app.get(&serbian_path, &net.advisor.token).await.problem(404);

    // Assigned across offices, the ticket becomes visible to the advisor.
    let serbian_advisor = app.create_user("advisor", Some(&serbia), None).await;
    app.patch(&serbian_path, &serbian_advisor.token, json!({"assignee_id": net.advisor.user["id"]})).await.expect(200);
    app.get(&serbian_path, &net.advisor.token).await.expect(200);
    let page = app.get("/api/v1/tickets", &net.advisor.token).await.expect(200).body;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);

    // Coordinators see everything.
    let all = app.get("/api/v1/tickets", &net.coordinator.token).await.expect(200).body;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
}
