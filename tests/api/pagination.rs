use std::collections::HashSet;

use serde_json::Value;

use crate::helpers::spawn_network;

#[tokio::test]
async fn cursor_pages_neither_skip_nor_repeat_while_tickets_arrive() {
    let net = spawn_network().await;
    let app = &net.app;
    let mut existing = Vec::new();
    for n in 0..7 {
        existing.push(app.submit(&net.requester_a.token, &format!("Ticket {n}"), "other").await);
    }
    for sort in ["-created_at", "created_at"] {
        let mut seen: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        let mut arrivals = 0;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/tickets?sort={sort}&limit=3&cursor={c}"),
                None => format!("/api/v1/tickets?sort={sort}&limit=3"),
            };
            let page = app.get(&path, &net.advisor.token).await.expect(200).body;
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= 3);
            seen.extend(items.iter().map(|t: &Value| t["id"].as_str().unwrap().to_owned()));
            // New tickets arrive between pages.
            app.submit(&net.requester_b.token, "Arrived meanwhile", "other").await;
            arrivals += 1;
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
            assert!(arrivals < 50, "the walk ends");
        }
        let unique: HashSet<_> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{sort}: no ticket twice");
        for ticket in &existing {
            assert!(seen.contains(&ticket["id"].as_str().unwrap().to_owned()), "{sort}: no ticket skipped");
        }
        if sort == "-created_at" {
            assert_eq!(seen.len(), existing.len(), "newer arrivals are before the first page, not in the walk");
        }
    }
}

#[tokio::test]
async fn a_cursor_only_continues_the_order_it_came_from() {
    let net = spawn_network().await;
    let app = &net.app;
    for n in 0..3 {
        app.submit(&net.requester_a.token, &format!("T{n}"), "other").await;
    }
    let page = app.get("/api/v1/tickets?limit=1", &net.advisor.token).await.expect(200).body;
    let cursor = page["next_cursor"].as_str().unwrap();
    app.get(&format!("/api/v1/tickets?limit=1&sort=updated_at&cursor={cursor}"), &net.advisor.token).await.problem(400);
    app.get(&format!("/api/v1/tickets?limit=1&cursor={cursor}"), &net.advisor.token).await.expect(200);
}
