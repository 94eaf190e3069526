use reqwest::Method;

use crate::helpers::spawn_app;

#[tokio::test]
async fn probes_answer_without_a_token() {
    let app = spawn_app().await;
    let health = app.send(app.request(Method::GET, "/healthz", None)).await.expect(200);
    assert_eq!(health.body["status"], "ok");
    let ready = app.send(app.request(Method::GET, "/readyz", None)).await.expect(200);
    assert_eq!(ready.body["status"], "ok");
    assert!(health.headers.contains_key("x-request-id"), "every answer carries a request id");
}

#[tokio::test]
async fn a_client_request_id_is_echoed() {
    let app = spawn_app().await;
    let answer = app.send(app.request(Method::GET, "/healthz", None).header("x-request-id", "trace-42")).await;
    assert_eq!(answer.headers["x-request-id"], "trace-42");
}

#[tokio::test]
async fn openapi_document_describes_every_route() {
    let app = spawn_app().await;
    let doc = app.send(app.request(Method::GET, "/openapi.json", None)).await.expect(200).body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/v1/tickets",
        "/api/v1/tickets/{ticket}",
        "/api/v1/tickets/{ticket}/messages",
        "/api/v1/tickets/{ticket}/events",
        "/api/v1/users",
        "/api/v1/users/{id}/tokens",
        "/api/v1/users/{id}/tokens/{token_id}",
        "/api/v1/offices/{id}",
        "/api/v1/organizations/{id}",
        "/api/v1/admin/inbound",
        "/api/v1/admin/inbound/{id}/retry",
        "/api/v1/admin/inbound/{id}/raw",
        "/healthz",
        "/readyz",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    let submit = &doc["paths"]["/api/v1/tickets"]["post"];
    for status in ["201", "400", "401", "409", "413", "415", "422"] {
        assert!(submit["responses"][status].is_object(), "POST /tickets documents {status}");
    }
    assert!(submit["responses"]["422"]["content"]["application/problem+json"].is_object());
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let inbound = &doc["paths"]["/api/v1/inbound/email"]["post"]["responses"];
    for status in ["200", "422", "503"] {
        assert!(inbound[status].is_object(), "POST /inbound/email documents {status}");
    }
    for schema in ["InboundPage", "InboundEmail", "InboundStatus", "Ingested"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "schema {schema}");
    }
    let categories = &doc["components"]["schemas"]["Category"]["enum"];
    assert_eq!(categories.as_array().unwrap().len(), 8);
}

#[tokio::test]
async fn unknown_routes_are_problem_documents() {
    let app = spawn_app().await;
    app.send(app.request(Method::GET, "/api/v1/nothing-here", None)).await.problem(404);
}

#[tokio::test]
async fn methods_a_resource_does_not_take_are_405_with_allow() {
    let app = spawn_app().await;
    let answer = app.send(app.request(Method::PUT, "/api/v1/tickets", Some(&app.admin_token))).await;
    assert_eq!(answer.headers["allow"], "GET, POST");
    answer.problem(405);
    let trace = app.send(app.request(Method::TRACE, "/healthz", None)).await;
    assert_eq!(trace.headers["allow"], "GET");
    trace.problem(405);
}

#[tokio::test]
async fn metrics_report_traffic_tickets_and_the_outbox() {
    let net = crate::helpers::spawn_network().await;
    let app = &net.app;
    let ticket = app.submit(&net.requester_a.token, "Measured", "funding").await;
    app.get(&format!("/api/v1/tickets/{}", ticket["id"].as_str().unwrap()), &net.requester_a.token).await.expect(200);
    app.get("/api/v1/tickets/not-there", &net.requester_a.token).await.problem(404);
    let response = app.request(Method::GET, "/metrics", None).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.unwrap();
    for expected in [
        "civicdesk_http_requests_total{route=\"/api/v1/tickets\",method=\"POST\",status=\"201\"} 1",
        "civicdesk_http_requests_total{route=\"/api/v1/tickets/{ticket}\",method=\"GET\",status=\"200\"} 1",
        "civicdesk_http_requests_total{route=\"/api/v1/tickets/{ticket}\",method=\"GET\",status=\"404\"} 1",
        "civicdesk_http_request_duration_seconds_bucket{route=\"/api/v1/tickets\",method=\"POST\",le=\"+Inf\"} 1",
        "civicdesk_tickets{status=\"new\"} 1",
        "civicdesk_outbox_notifications{status=\"pending\"} 2",
        "civicdesk_outbox_oldest_pending_age_seconds ",
        "civicdesk_db_pool_max_connections 10",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(!text.contains("not-there"), "raw paths never become labels");
}
