use serde_json::json;

use crate::helpers::{spawn_app, spawn_network};

#[tokio::test]
async fn coordinators_manage_offices_and_everyone_reads_them() {
    let net = spawn_network().await;
    let app = &net.app;
    let body = json!({"code": "al", "name": "Albania office", "country": "al", "time_zone": "Europe/Tirane",
                      "contact_email": "tirana@example.org"});
    let office = app.post("/api/v1/offices", &net.coordinator.token, body.clone()).await.expect(201);
    assert_eq!(office.body["code"], "AL");
    assert_eq!(office.body["country"], "AL");
    let path = office.headers["location"].to_str().unwrap().to_owned();
    app.post("/api/v1/offices", &net.advisor.token, body.clone()).await.problem(403);
    app.post("/api/v1/offices", &net.requester_a.token, body).await.problem(403);

    let changed = app.patch(&path, &net.coordinator.token, json!({"name": "Tirana office"})).await.expect(200);
    assert_eq!(changed.body["name"], "Tirana office");
    app.patch(&path, &net.advisor.token, json!({"name": "Nope"})).await.problem(403);

    let listed = app.get("/api/v1/offices", &net.requester_a.token).await.expect(200).body;
    let codes: Vec<_> = listed.as_array().unwrap().iter().map(|o| o["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["REGIONAL", "AL", "XK"], "regional first, then by code");
    app.get(&path, &net.advisor.token).await.expect(200);
}

#[tokio::test]
async fn offices_are_unique_by_code_and_country_and_there_is_one_regional_office() {
    let app = spawn_app().await;
    app.create_office("RS", "RS", false).await;
    app.create_office("REG", "BA", true).await;
    let again = |code: &str, country: &str, regional: bool| {
        json!({"code": code, "name": "x", "country": country, "time_zone": "Europe/Belgrade",
               "contact_email": "x@example.org", "is_regional": regional})
    };
    for (body, words) in [
        (again("rs", "ME", false), "code"),
        (again("RS2", "RS", false), "national office"),
        (again("REG2", "TR", true), "regional office"),
    ] {
        let problem = app.post("/api/v1/offices", &app.admin_token, body).await.problem(409);
        assert!(problem["detail"].as_str().unwrap().contains(words), "{problem}");
    }
}

#[tokio::test]
async fn office_fields_are_validated_together() {
    let app = spawn_app().await;
    let body =
        json!({"code": "!", "name": " ", "country": "YU", "time_zone": "Europe/Atlantis", "contact_email": "nope"});
    let problem = app.post("/api/v1/offices", &app.admin_token, body).await.problem(422);
    let mut fields: Vec<_> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    fields.sort();
    assert_eq!(fields, ["code", "contact_email", "country", "name", "time_zone"]);
    assert_eq!(app.count("SELECT count(*) AS count FROM offices"), 0);
}

#[tokio::test]
async fn organizations_are_managed_by_staff_and_private_to_their_people() {
    let net = spawn_network().await;
    let app = &net.app;
    let body = json!({"name": "Women for Change", "country": "mk", "registration_number": "4021-22",
                      "contact_email": "office@wfc.example.org"});
    let created = app.post("/api/v1/organizations", &net.coordinator.token, body.clone()).await.expect(201).body;
    assert_eq!(created["country"], "MK");
    app.post("/api/v1/organizations", &net.coordinator.token, body).await.problem(409);
    app.post(
        "/api/v1/organizations",
        &net.advisor.token,
        json!({"name": "x", "country": "AL", "contact_email": "a@b.org"}),
    )
    .await
    .problem(403);

    let path = format!("/api/v1/organizations/{}", created["id"].as_str().unwrap());
    let cleared = app.patch(&path, &app.admin_token, json!({"registration_number": null})).await.expect(200).body;
    assert!(cleared["registration_number"].is_null());

    let own = format!("/api/v1/organizations/{}", net.cso_a["id"].as_str().unwrap());
    app.get(&own, &net.requester_a.token).await.expect(200);
    app.get(&own, &net.requester_b.token).await.problem(404);
    let visible = app.get("/api/v1/organizations", &net.requester_b.token).await.expect(200).body;
    assert_eq!(visible["items"].as_array().unwrap().len(), 1);
    assert_eq!(visible["items"][0]["id"], net.cso_b["id"]);

    let staff_view = app.get("/api/v1/organizations?country=XK&q=green", &net.advisor.token).await.expect(200).body;
    assert_eq!(staff_view["items"].as_array().unwrap().len(), 1);
    assert_eq!(staff_view["items"][0]["name"], "Green Valley");
}
