//! Saved replies (issue #15): bodies in seven languages with placeholders, language fallbacks, refusal of unknown
//! placeholders at save time, macro actions, usage counts, scopes and the search filters.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Answer, Network, TestApp, TestUser, spawn_network, spawn_network_with};

const LANGUAGES: [&str; 7] = ["en", "sq", "sr", "sr-Latn", "mk", "bs", "tr"];

/// One body per language, each with the four placeholders.
fn bodies() -> Value {
    json!({
        "en": "Dear {{ requester.name }}, thank you for request #{{ ticket.reference }}. {{ advisor.name }}, {{ office.name }}",
        "sq": "I nderuar {{ requester.name }}, faleminderit për kërkesën #{{ ticket.reference }}. {{ advisor.name }}, {{ office.name }}",
        "sr": "Поштовани {{ requester.name }}, хвала на захтеву #{{ ticket.reference }}. {{ advisor.name }}, {{ office.name }}",
        "sr-Latn": "Poštovani {{ requester.name }}, hvala na zahtevu #{{ ticket.reference }}. {{ advisor.name }}, {{ office.name }}",
        "mk": "Почитувани {{ requester.name }}, ви благодариме за барањето #{{ ticket.reference }}. {{ advisor.name }}, {{ office.name }}",
        "bs": "Poštovani/a {{ requester.name }}, hvala na zahtjevu #{{ ticket.reference }}. {{ advisor.name }}, {{ office.name }}",
        "tr": "Sayın {{ requester.name }}, #{{ ticket.reference }} numaralı talebiniz için teşekkürler. {{ advisor.name }}, {{ office.name }}",
    })
}

/// What a body of [`bodies`] reads as once filled in.
fn rendered(language: &str, requester: &str, ticket: &Value, advisor: &str, office: &str) -> String {
    bodies()[language]
        .as_str()
        .unwrap()
        .replace("{{ requester.name }}", requester)
        .replace("{{ ticket.reference }}", &ticket["reference"].to_string())
        .replace("{{ advisor.name }}", advisor)
        .replace("{{ office.name }}", office)
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| errors.iter().map(|e| e["field"].as_str().unwrap_or("").to_owned()).collect())
        .unwrap_or_default()
}

fn error_message(problem: &Value, field: &str) -> String {
    problem["errors"]
        .as_array()
        .and_then(|errors| errors.iter().find(|e| e["field"] == field))
        .and_then(|e| e["message"].as_str())
        .unwrap_or_else(|| panic!("an error for {field}: {problem}"))
        .to_owned()
}

async fn delete(app: &TestApp, path: &str, token: &str) -> Answer {
    app.send(app.request(Method::DELETE, path, Some(token))).await
}

/// The rows of a report: `rows` as the contract has it (or the name the implementation gives them).
fn report_rows<'a>(body: &'a Value, names: &[&str]) -> &'a Vec<Value> {
    names.iter().find_map(|name| body[*name].as_array()).unwrap_or_else(|| panic!("{names:?} in {body:#}"))
}

/// A requester of `organization` with this name and language, and a token.
async fn requester(app: &TestApp, organization: &Value, name: &str, language: &str) -> TestUser {
    let body = json!({
        "name": name, "email": format!("requester-{}@example.org", Uuid::new_v4().simple()), "role": "requester",
        "language": language, "organization_id": organization["id"],
    });
    let user = app.post("/api/v1/users", &app.admin_token, body).await.expect(201).body;
    assert_eq!(user["language"], language);
    let id: Uuid = user["id"].as_str().unwrap().parse().unwrap();
    let token = app
        .post(&format!("/api/v1/users/{id}/tokens"), &app.admin_token, json!({"label": "test"}))
        .await
        .expect(201)
        .body["token_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    TestUser { user, id, token }
}

async fn save(app: &TestApp, token: &str, body: Value) -> Value {
    app.post("/api/v1/saved-replies", token, body).await.expect(201).body
}

async fn use_reply(app: &TestApp, ticket: &Value, token: &str, body: Value) -> Answer {
    app.post(&format!("/api/v1/tickets/{}/messages", id(ticket)), token, body).await
}

/// The names `token` finds at `/saved-replies{query}`.
async fn list(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    names(&app.get(&format!("/api/v1/saved-replies{query}"), token).await.expect(200).body)
}

fn names(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_saved_reply_renders_in_each_requesters_language_with_the_placeholders_filled_in() {
    let net = spawn_network().await;
    let app = &net.app;
    let reply = save(
        app,
        &net.coordinator.token,
        json!({"name": "Thank you", "category": "general", "scope": "network", "bodies": bodies()}),
    )
    .await;
    assert_eq!(reply["name"], "Thank you");
    assert_eq!(reply["category"], "general");
    assert_eq!(reply["scope"], "network");
    assert_eq!(reply["office_id"], Value::Null);
    assert_eq!(reply["bodies"], bodies());
    assert_eq!(reply["usage_count"], 0);
    let reply_id = id(&reply);

    let people = [
        ("en", "Jane Smith"),
        ("sq", "Arta Krasniqi"),
        ("sr", "Милица Јовановић"),
        ("sr-Latn", "Milica Jovanović"),
        ("mk", "Ана Петровска"),
        ("bs", "Amra Hodžić"),
        ("tr", "Ayşe Yılmaz"),
    ];
    let advisor = net.advisor.user["name"].as_str().unwrap().to_owned();
    let office = net.kosovo["name"].as_str().unwrap().to_owned();
    assert_eq!(office, "XK office");
    let mut first_ticket = None;
    for (language, name) in people {
        let person = requester(app, &net.cso_a, name, language).await;
        let ticket = app.submit(&person.token, &format!("Question in {language}"), "funding").await;
        let message =
            use_reply(app, &ticket, &net.advisor.token, json!({"saved_reply_id": reply_id})).await.expect(201).body;
        let expected = rendered(language, name, &ticket, &advisor, &office);
        assert_eq!(message["body"], expected.as_str(), "{language}");
        assert_eq!(message["saved_reply_id"], reply_id.as_str(), "{language}");
        assert_eq!(message["internal"], false);
        // The requester reads the rendered text, not the template, and not where it came from.
        let theirs =
            app.get(&format!("/api/v1/tickets/{}/messages", id(&ticket)), &person.token).await.expect(200).body;
        let last = theirs.as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["body"], expected.as_str(), "{language}");
        assert!(!last["body"].as_str().unwrap().contains("{{"), "{language}");
        assert!(last.get("saved_reply_id").is_none_or(Value::is_null), "staff only: {last}");
        if first_ticket.is_none() {
            first_ticket = Some((ticket, name));
        }
    }
    assert_eq!(LANGUAGES.len(), people.len());

    let counted = app.get(&format!("/api/v1/saved-replies/{reply_id}"), &net.advisor.token).await.expect(200).body;
    assert_eq!(counted["usage_count"], 7);

    // Extra text goes after the rendered body, separated by a blank line.
    let (ticket, name) = first_ticket.unwrap();
    let message = use_reply(
        app,
        &ticket,
        &net.coordinator.token,
        json!({"saved_reply_id": reply_id, "body": "P.S. The deadline is 15 March."}),
    )
    .await
    .expect(201)
    .body;
    let coordinator = net.coordinator.user["name"].as_str().unwrap();
    let expected = format!("{}\n\nP.S. The deadline is 15 March.", rendered("en", name, &ticket, coordinator, &office));
    assert_eq!(message["body"], expected.as_str(), "advisor.name is whoever sends it");
    let counted = app.get(&format!("/api/v1/saved-replies/{reply_id}"), &net.advisor.token).await.expect(200).body;
    assert_eq!(counted["usage_count"], 8);

    // Usage in the reports.
    let report = app.get("/api/v1/reports/saved-replies", &net.coordinator.token).await.expect(200).body;
    let rows = report_rows(&report, &["rows", "saved_replies"]);
    let row = rows.iter().find(|r| r["saved_reply_id"] == reply_id.as_str()).unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(row["uses"], 8);
    assert_eq!(row["name"], "Thank you");
    app.get("/api/v1/reports/saved-replies", &net.requester_a.token).await.problem(403);
}

#[tokio::test]
async fn missing_languages_fall_back_to_the_primary_language_then_the_default_then_english() {
    let net = spawn_network().await;
    let app = &net.app;
    let english = "Hello {{ requester.name }} (en)";
    let serbian = "Здраво {{ requester.name }} (sr)";
    let reply = save(
        app,
        &net.coordinator.token,
        json!({"name": "Partial", "scope": "network", "bodies": {"en": english, "sr": serbian}}),
    )
    .await;
    let cases = [
        ("sr-Latn", "Milica Jovanović", "Здраво Milica Jovanović (sr)"),
        ("sr", "Марко Марковић", "Здраво Марко Марковић (sr)"),
        ("de", "Hans Müller", "Hello Hans Müller (en)"),
        ("bs", "Amra Hodžić", "Hello Amra Hodžić (en)"),
        ("en-GB", "Jane Smith", "Hello Jane Smith (en)"),
    ];
    for (language, name, expected) in cases {
        let person = requester(app, &net.cso_a, name, language).await;
        let ticket = app.submit(&person.token, &format!("Fallback {language}"), "funding").await;
        let message =
            use_reply(app, &ticket, &net.advisor.token, json!({"saved_reply_id": reply["id"]})).await.expect(201).body;
        assert_eq!(message["body"], expected, "{language}");
    }

    // No body in the requester's language, the default or English: refused, nothing posted. (Turkish only: not
    // the default language of any test network.)
    let turkish_only = save(
        app,
        &net.coordinator.token,
        json!({"name": "Turkish only", "scope": "network", "bodies": {"tr": "Merhaba {{ requester.name }}"}}),
    )
    .await;
    let german = requester(app, &net.cso_a, "Hans Weber", "de").await;
    let ticket = app.submit(&german.token, "Nothing in German", "funding").await;
    let problem =
        use_reply(app, &ticket, &net.advisor.token, json!({"saved_reply_id": turkish_only["id"]})).await.problem(422);
    assert_eq!(error_fields(&problem), ["saved_reply_id"]);
    assert_eq!(app.count(&format!("SELECT count(*) AS count FROM messages WHERE ticket_id = '{}'", id(&ticket))), 1);
    let unused = app.get(&format!("/api/v1/saved-replies/{}", id(&turkish_only)), &net.advisor.token).await;
    assert_eq!(unused.expect(200).body["usage_count"], 0, "a refused use is not counted");
    // A Turkish speaker gets it.
    let turkish = requester(app, &net.cso_a, "Ayşe Kaya", "tr").await;
    let ticket = app.submit(&turkish.token, "Türkçe", "funding").await;
    let message =
        use_reply(app, &ticket, &net.advisor.token, json!({"saved_reply_id": turkish_only["id"]})).await.expect(201);
    assert_eq!(message.body["body"], "Merhaba Ayşe Kaya");

    // Unknown saved replies are refused the same way.
    let problem = use_reply(app, &ticket, &net.advisor.token, json!({"saved_reply_id": Uuid::now_v7().to_string()}))
        .await
        .problem(422);
    assert_eq!(error_fields(&problem), ["saved_reply_id"]);
}

#[tokio::test]
async fn the_network_default_language_comes_before_english() {
    // ASSUMPTION for the engineer: the DEFAULT_LANGUAGE setting is `Settings::default_language` (a String).
    let net = spawn_network_with(|s| s.default_language = "sq".to_owned()).await;
    let app = &net.app;
    let with_albanian = save(
        app,
        &net.coordinator.token,
        json!({"name": "With Albanian", "scope": "network",
               "bodies": {"en": "Hello {{ requester.name }}", "sq": "Përshëndetje {{ requester.name }}"}}),
    )
    .await;
    let without_albanian = save(
        app,
        &net.coordinator.token,
        json!({"name": "Without Albanian", "scope": "network",
               "bodies": {"en": "Hello {{ requester.name }}", "tr": "Merhaba {{ requester.name }}"}}),
    )
    .await;
    let german = requester(app, &net.cso_a, "Hans Müller", "de").await;
    let ticket = app.submit(&german.token, "Default language", "funding").await;
    let first =
        use_reply(app, &ticket, &net.advisor.token, json!({"saved_reply_id": with_albanian["id"]})).await.expect(201);
    assert_eq!(first.body["body"], "Përshëndetje Hans Müller", "the network's default language first");
    let second = use_reply(app, &ticket, &net.advisor.token, json!({"saved_reply_id": without_albanian["id"]}))
        .await
        .expect(201);
    assert_eq!(second.body["body"], "Hello Hans Müller", "then English");
}

#[tokio::test]
async fn unknown_placeholders_and_broken_templates_are_refused_when_saved() {
    let net = spawn_network().await;
    let app = &net.app;
    let token = &net.coordinator.token;
    let attempt = |bodies: Value| json!({"name": "Broken", "scope": "network", "bodies": bodies});

    let problem = app
        .post("/api/v1/saved-replies", token, attempt(json!({"en": "Hello {{ requester.shoe_size }}", "sq": "Tung"})))
        .await
        .problem(422);
    assert_eq!(error_fields(&problem), ["bodies.en"]);
    assert!(error_message(&problem, "bodies.en").contains("requester.shoe_size"), "{problem}");

    let cases = [
        (json!({"en": "Fine", "sr-Latn": "Zdravo {{ requester.name "}), "bodies.sr-Latn", None),
        (json!({"en": "Hello {{ requester.name | shout }}"}), "bodies.en", None),
        (json!({"en": "Hello {{ secret }}"}), "bodies.en", Some("secret")),
        (json!({"tr": "{% if requester.name %}Merhaba"}), "bodies.tr", None),
        (json!({"mk": "{{ ticket.internal_notes }}"}), "bodies.mk", Some("ticket.internal_notes")),
    ];
    for (bodies, field, named) in cases {
        let problem = app.post("/api/v1/saved-replies", token, attempt(bodies.clone())).await.problem(422);
        assert_eq!(error_fields(&problem), [field], "{bodies}: {problem}");
        if let Some(named) = named {
            assert!(error_message(&problem, field).contains(named), "{bodies}: {problem}");
        }
    }
    for body in [
        json!({"name": "No bodies", "scope": "network", "bodies": {}}),
        json!({"name": "", "scope": "network", "bodies": {"en": "x"}}),
    ] {
        app.post("/api/v1/saved-replies", token, body).await.problem(422);
    }
    let listed = app.get("/api/v1/saved-replies", token).await.expect(200).body;
    assert!(listed["items"].as_array().unwrap().is_empty(), "nothing refused was stored: {listed:#}");

    // Every documented placeholder is accepted.
    let everything = save(
        app,
        token,
        json!({"name": "Everything", "scope": "network", "bodies": {
            "en": "{{ requester.email }} | {{ ticket.subject }} | {{ organization.name }} | {{ advisor.email }} | {{ office.email }}",
            "tr": "{{ requester.name }} {{ ticket.reference }} {{ ticket.status }} {{ ticket.priority }} {{ ticket.category }} {{ advisor.name }} {{ office.name }}",
        }}),
    )
    .await;
    let person = requester(app, &net.cso_a, "Jane Smith", "en").await;
    let ticket = app.submit(&person.token, "All placeholders", "funding").await;
    let message =
        use_reply(app, &ticket, &net.advisor.token, json!({"saved_reply_id": everything["id"]})).await.expect(201).body;
    let expected = format!(
        "{} | All placeholders | Green Valley | {} | xk@offices.example.org",
        person.user["email"].as_str().unwrap(),
        net.advisor.user["email"].as_str().unwrap()
    );
    assert_eq!(message["body"], expected.as_str());

    // Changing a body is checked the same way.
    let path = format!("/api/v1/saved-replies/{}", id(&everything));
    let problem =
        app.patch(&path, token, json!({"bodies": {"en": "ok", "tr": "{{ requester.shoe_size }}"}})).await.problem(422);
    assert_eq!(error_fields(&problem), ["bodies.tr"]);
    assert_eq!(app.get(&path, token).await.expect(200).body["bodies"], everything["bodies"], "unchanged");
    let renamed = app.patch(&path, token, json!({"name": "Everything, renamed"})).await.expect(200).body;
    assert_eq!(renamed["name"], "Everything, renamed");
}

#[tokio::test]
async fn a_saved_reply_with_actions_does_what_a_macro_does_in_one_call() {
    let net = spawn_network().await;
    let app = &net.app;
    let macro_reply = save(
        app,
        &net.coordinator.token,
        json!({"name": "Ask for documents", "category": "registration", "scope": "network",
               "bodies": {"sq": "Ju lutem dërgoni statutin, {{ requester.name }}.", "en": "Please send the statute, {{ requester.name }}."},
               "actions": {"status": "pending", "priority": "high", "add_tags": ["documents-requested"],
                           "remove_tags": ["new-request"]}}),
    )
    .await;
    assert_eq!(macro_reply["actions"]["status"], "pending");
    assert_eq!(macro_reply["actions"]["priority"], "high");
    let ticket = app.submit(&net.requester_a.token, "Statute change", "legal_registration").await;
    let path = format!("/api/v1/tickets/{}", id(&ticket));
    app.send(app.request(Method::PUT, &format!("{path}/tags/new-request"), Some(&net.advisor.token))).await.expect(200);

    let message = use_reply(app, &ticket, &net.advisor.token, json!({"saved_reply_id": macro_reply["id"]}))
        .await
        .expect(201)
        .body;
    assert_eq!(message["body"], "Ju lutem dërgoni statutin, Test requester.", "the requester reads Albanian (sq)");
    let after = app.get(&path, &net.advisor.token).await.expect(200).body;
    assert_eq!(after["status"], "pending");
    assert_eq!(after["priority"], "high");
    assert_eq!(after["tags"], json!(["documents-requested"]));
    let events = app.get(&format!("{path}/events"), &net.advisor.token).await.expect(200).body;
    let events = events.as_array().unwrap();
    let of = |kind: &str| -> Vec<&Value> { events.iter().filter(|e| e["kind"] == kind).collect() };
    let status = of("status_changed");
    assert_eq!(status.len(), 1, "one change, straight to pending: {events:#?}");
    assert_eq!((status[0]["old_value"].clone(), status[0]["new_value"].clone()), (json!("new"), json!("pending")));
    assert_eq!(of("priority_changed").len(), 1);
    assert_eq!(of("priority_changed")[0]["new_value"], "high");
    assert_eq!(of("tag_added").iter().filter(|e| e["new_value"] == "documents-requested").count(), 1);
    assert_eq!(of("tag_removed").len(), 1);
    assert_eq!(of("tag_removed")[0]["old_value"], "new-request");
    assert_eq!(of("message_added").len(), 1);

    // An explicit status in the request wins over the saved reply's.
    let other = app.submit(&net.requester_b.token, "Another statute", "legal_registration").await;
    use_reply(app, &other, &net.advisor.token, json!({"saved_reply_id": macro_reply["id"], "status": "resolved"}))
        .await
        .expect(201);
    let other_after = app.get(&format!("/api/v1/tickets/{}", id(&other)), &net.advisor.token).await.expect(200).body;
    assert_eq!(other_after["status"], "resolved");
    assert_eq!(other_after["priority"], "high");
    assert_eq!(other_after["tags"], json!(["documents-requested"]));

    let counted =
        app.get(&format!("/api/v1/saved-replies/{}", id(&macro_reply)), &net.advisor.token).await.expect(200).body;
    assert_eq!(counted["usage_count"], 2);

    // Requesters cannot use saved replies at all.
    let messages_before = app.count("SELECT count(*) AS count FROM messages");
    use_reply(app, &ticket, &net.requester_a.token, json!({"saved_reply_id": macro_reply["id"]})).await.problem(403);
    assert_eq!(app.count("SELECT count(*) AS count FROM messages"), messages_before);
    app.get("/api/v1/saved-replies", &net.requester_a.token).await.problem(403);
    app.post(
        "/api/v1/saved-replies",
        &net.requester_a.token,
        json!({"name": "Mine", "scope": "personal", "bodies": {"en": "x"}}),
    )
    .await
    .problem(403);
    let counted =
        app.get(&format!("/api/v1/saved-replies/{}", id(&macro_reply)), &net.advisor.token).await.expect(200).body;
    assert_eq!(counted["usage_count"], 2);

    // Actions are checked when saved.
    for actions in [json!({"status": "done"}), json!({"priority": "asap"}), json!({"add_tags": ["bad tag!"]})] {
        app.post(
            "/api/v1/saved-replies",
            &net.coordinator.token,
            json!({"name": "Bad actions", "scope": "network", "bodies": {"en": "x"}, "actions": actions}),
        )
        .await
        .problem(422);
    }
}

async fn other_advisor(net: &Network) -> TestUser {
    net.app.create_user("advisor", Some(&net.kosovo), None).await
}

#[tokio::test]
async fn each_advisor_finds_the_replies_they_may_use_and_no_other() {
    let net = spawn_network().await;
    let app = &net.app;
    let colleague = other_advisor(&net).await;
    let serbia = app.create_office("RS", "RS", false).await;
    let serbian_advisor = app.create_user("advisor", Some(&serbia), None).await;

    // Who may create what.
    let network_body = |name: &str| json!({"name": name, "scope": "network", "bodies": {"en": "x"}});
    app.post("/api/v1/saved-replies", &net.advisor.token, network_body("Not mine to share")).await.problem(403);
    let personal = save(
        app,
        &net.advisor.token,
        json!({"name": "My signature", "scope": "personal", "bodies": {"en": "Kind regards, {{ advisor.name }}"}}),
    )
    .await;
    assert_eq!(personal["scope"], "personal");
    assert_eq!(personal["owner_id"], net.advisor.user["id"]);
    let office = save(
        app,
        &net.advisor.token,
        json!({"name": "Kosovo office hours", "scope": "office", "office_id": net.kosovo["id"],
               "bodies": {"en": "We are open 9 to 17."}}),
    )
    .await;
    assert_eq!(office["office_id"], net.kosovo["id"]);
    app.post(
        "/api/v1/saved-replies",
        &net.advisor.token,
        json!({"name": "Regional hours", "scope": "office", "office_id": net.regional["id"], "bodies": {"en": "x"}}),
    )
    .await
    .problem(403);
    let problem = app
        .post(
            "/api/v1/saved-replies",
            &net.coordinator.token,
            json!({"name": "No office", "scope": "office", "bodies": {"en": "x"}}),
        )
        .await
        .problem(422);
    assert_eq!(error_fields(&problem), ["office_id"]);
    app.post(
        "/api/v1/saved-replies",
        &net.coordinator.token,
        json!({"name": "Network with office", "scope": "network", "office_id": net.kosovo["id"], "bodies": {"en": "x"}}),
    )
    .await
    .problem(422);
    for (name, category, bodies) in [
        ("Registration steps", "registration", json!({"en": "Steps", "sq": "Hapat"})),
        ("Budget annex", "funding", json!({"en": "The annex"})),
        ("Audit checklist", "funding", json!({"en": "Checklist", "tr": "Kontrol listesi"})),
    ] {
        save(
            app,
            &net.coordinator.token,
            json!({"name": name, "category": category, "scope": "network", "bodies": bodies}),
        )
        .await;
    }

    // Listings are by name and hold only what the caller may use.
    assert_eq!(
        list(app, &net.advisor.token, "").await,
        ["Audit checklist", "Budget annex", "Kosovo office hours", "My signature", "Registration steps"]
    );
    assert_eq!(
        list(app, &colleague.token, "").await,
        ["Audit checklist", "Budget annex", "Kosovo office hours", "Registration steps"],
        "another advisor's personal reply is theirs alone"
    );
    assert_eq!(list(app, &serbian_advisor.token, "").await, ["Audit checklist", "Budget annex", "Registration steps"]);
    assert_eq!(
        list(app, &net.coordinator.token, "").await,
        ["Audit checklist", "Budget annex", "Kosovo office hours", "Registration steps"]
    );

    // The search filters.
    assert_eq!(list(app, &net.advisor.token, "?q=budget").await, ["Budget annex"]);
    assert_eq!(list(app, &net.advisor.token, "?q=hours").await, ["Kosovo office hours"]);
    assert_eq!(list(app, &net.advisor.token, "?category=funding").await, ["Audit checklist", "Budget annex"]);
    assert_eq!(list(app, &net.advisor.token, "?language=sq").await, ["Registration steps"]);
    assert_eq!(list(app, &net.advisor.token, "?language=tr&category=funding").await, ["Audit checklist"]);
    assert_eq!(list(app, &net.advisor.token, "?language=mk").await, Vec::<String>::new());
    assert_eq!(list(app, &net.advisor.token, "?scope=personal").await, ["My signature"]);
    assert_eq!(list(app, &net.advisor.token, "?scope=office").await, ["Kosovo office hours"]);
    assert_eq!(list(app, &colleague.token, "?scope=personal").await, Vec::<String>::new());
    let first_page = app.get("/api/v1/saved-replies?limit=2", &net.advisor.token).await.expect(200).body;
    assert_eq!(names(&first_page), ["Audit checklist", "Budget annex"]);
    let cursor = first_page["next_cursor"].as_str().expect("a next page").to_owned();
    let second_page =
        app.get(&format!("/api/v1/saved-replies?limit=2&cursor={cursor}"), &net.advisor.token).await.expect(200).body;
    assert_eq!(names(&second_page), ["Kosovo office hours", "My signature"]);

    // Someone else's personal reply can neither be read nor used.
    let hidden = app.get(&format!("/api/v1/saved-replies/{}", id(&personal)), &colleague.token).await;
    assert!(hidden.status == 404 || hidden.status == 403, "{}", hidden.body);
    let ticket = app.submit(&net.requester_a.token, "Signature", "other").await;
    let problem =
        use_reply(app, &ticket, &colleague.token, json!({"saved_reply_id": personal["id"]})).await.problem(422);
    assert_eq!(error_fields(&problem), ["saved_reply_id"]);
    let mine =
        use_reply(app, &ticket, &net.advisor.token, json!({"saved_reply_id": personal["id"]})).await.expect(201).body;
    assert_eq!(mine["body"], "Kind regards, Test advisor");
    let changed = app
        .patch(&format!("/api/v1/saved-replies/{}", id(&personal)), &colleague.token, json!({"name": "Stolen"}))
        .await;
    assert!(changed.status == 404 || changed.status == 403, "{}", changed.body);
    let removed = delete(app, &format!("/api/v1/saved-replies/{}", id(&personal)), &colleague.token).await;
    assert!(removed.status == 404 || removed.status == 403, "{}", removed.body);

    // Deleting: gone from listings and no longer usable.
    delete(app, &format!("/api/v1/saved-replies/{}", id(&personal)), &net.advisor.token).await.expect(204);
    assert_eq!(list(app, &net.advisor.token, "?scope=personal").await, Vec::<String>::new());
    app.get(&format!("/api/v1/saved-replies/{}", id(&personal)), &net.advisor.token).await.problem(404);
    let problem =
        use_reply(app, &ticket, &net.advisor.token, json!({"saved_reply_id": personal["id"]})).await.problem(422);
    assert_eq!(error_fields(&problem), ["saved_reply_id"]);
}
