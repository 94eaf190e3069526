//! The HTML part of a notification in a real browser engine: headless Chromium lays out the email of each language
//! on a phone-sized screen, and a script in the page reports what a reader would meet (language and direction,
//! anything wider than the screen, the weakest text contrast, the details table, the links). The screenshots it
//! takes on the way are the ones in docs/email.md.
//!
//! Chromium is found as `CIVICDESK_BROWSER`, else `chromium`, `chromium-browser` or `google-chrome` on the PATH
//! (Debian: `apt-get install chromium`; `.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::process::Command;

use civicdesk::config::Settings;
use civicdesk::email::worker::Worker;
use serde::Deserialize;
use serde_json::json;

use crate::helpers::spawn_network_with;
use crate::smtp_sink::SmtpSink;

/// The languages with a catalog, as a requester would set them.
const LANGUAGES: &[&str] = &["en", "sq", "sr", "sr-Latn", "mk", "bs", "tr"];

/// What the script in the page reports.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Layout {
    lang: String,
    dir: String,
    direction: String,
    /// How much wider than the screen the page is, in CSS pixels.
    overflow: f64,
    card_max_width: String,
    /// The weakest contrast ratio of any visible text against its background, and that text.
    contrast: f64,
    contrast_text: String,
    smallest_font: f64,
    rows: Vec<String>,
    links: Vec<String>,
}

/// Measures a page in the browser, the window `width` pixels wide.
const CHECK: &str = r#"<script>
(function () {
  function rgb(text) {
    var m = /rgba?\(([^)]+)\)/.exec(text);
    if (!m) return null;
    var p = m[1].split(',').map(parseFloat);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  }
  function luminance(c) {
    function channel(v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }
    return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  }
  function background(element) {
    for (var e = element; e; e = e.parentElement) {
      var c = rgb(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  }
  var worst = 21, worstText = '', smallest = 100;
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    var node = walker.currentNode, element = node.parentElement;
    if (!node.textContent.trim() || element.getClientRects().length === 0) continue;
    var style = getComputedStyle(element);
    var a = luminance(rgb(style.color)), b = luminance(background(element));
    var ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < worst) { worst = ratio; worstText = node.textContent.trim().slice(0, 60); }
    smallest = Math.min(smallest, parseFloat(style.fontSize));
  }
  var card = document.querySelector('table[role=presentation] table[role=presentation]');
  var result = {
    lang: document.documentElement.lang,
    dir: document.documentElement.dir,
    direction: getComputedStyle(document.body).direction,
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    cardMaxWidth: card ? getComputedStyle(card).maxWidth : '',
    contrast: worst,
    contrastText: worstText,
    smallestFont: smallest,
    rows: Array.prototype.map.call(document.querySelectorAll('th[scope=row]'), function (th) { return th.textContent.trim(); }),
    links: Array.prototype.map.call(document.querySelectorAll('a[href]'), function (a) { return a.getAttribute('href'); })
  };
  var out = document.createElement('pre');
  out.id = 'layout-check';
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
})();
</script>"#;

fn browser() -> PathBuf {
    if let Some(path) = std::env::var_os("CIVICDESK_BROWSER") {
        return PathBuf::from(path);
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(name).arg("--version").output().is_ok_and(|out| out.status.success()) {
            return PathBuf::from(name);
        }
    }
    panic!("this test needs Chromium: apt-get install chromium, or set CIVICDESK_BROWSER to a Chromium or Chrome");
}

/// Runs headless Chromium on `page` with a fresh profile; returns what it printed.
fn chromium(browser: &Path, page: &Path, args: &[&str]) -> String {
    let profile = std::env::temp_dir().join(format!("civicdesk-chromium-{}", uuid::Uuid::new_v4().simple()));
    let output = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("Chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(output.status.success(), "Chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8")
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// Lays `html` out `width` pixels wide and reads the script's report.
fn measure(browser: &Path, dir: &Path, name: &str, html: &str, width: u32) -> Layout {
    let page = dir.join(format!("{name}-check.html"));
    std::fs::write(&page, html.replace("</body>", &format!("{CHECK}</body>"))).unwrap();
    let dom = chromium(browser, &page, &[&format!("--window-size={width},1200"), "--dump-dom"]);
    let start = dom.find("<pre id=\"layout-check\">").expect("the check ran") + "<pre id=\"layout-check\">".len();
    let end = start + dom[start..].find("</pre>").unwrap();
    serde_json::from_str(&unescape(&dom[start..end])).unwrap()
}

/// What is wrong with a layout: the language and direction it declares, anything wider than the phone, the
/// contrast and size of text, the details rows, the office's address and the rating links.
fn problems(layout: &Layout, language: &str, office_email: &str, rows: usize, rating_links: usize) -> Vec<String> {
    let checks = [
        (layout.lang == language, format!("lang {:?}", layout.lang)),
        (layout.dir == "ltr" && layout.direction == "ltr", format!("dir {:?} {:?}", layout.dir, layout.direction)),
        (layout.overflow <= 0.0, format!("{} px wider than a 360 px phone", layout.overflow)),
        (layout.card_max_width == "600px", format!("card max-width {:?}", layout.card_max_width)),
        (layout.contrast >= 4.5, format!("contrast {:.2} for {:?}", layout.contrast, layout.contrast_text)),
        (layout.smallest_font >= 13.0, format!("smallest text {} px", layout.smallest_font)),
        (layout.rows.len() >= rows && layout.rows.iter().all(|r| !r.is_empty()), format!("rows {:?}", layout.rows)),
        (layout.links.contains(&format!("mailto:{office_email}")), format!("links {:?}", layout.links)),
        (
            layout.links.iter().filter(|l| l.contains("/api/v1/satisfaction/")).count() == rating_links,
            format!("{rating_links} rating links in {:?}", layout.links),
        ),
    ];
    checks.into_iter().filter(|(ok, _)| !ok).map(|(_, what)| format!("{language}: {what}")).collect()
}

#[tokio::test]
async fn the_html_part_reads_well_in_a_browser_engine_in_every_language() {
    let browser = browser();
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let net = spawn_network_with(move |settings: &mut Settings| {
        crate::email::with_smtp(url)(settings);
        settings.worker.in_serve = false;
    })
    .await;
    let app = &net.app;
    app.patch(&format!("/api/v1/users/{}", net.advisor.id), &app.admin_token, json!({"name": "Besa Gashi"}))
        .await
        .expect(200);
    // Each language's requester gets a reply that resolves their request: the richest email (a quote, the status,
    // the rating buttons, the details table).
    let mut requesters = Vec::new();
    for language in LANGUAGES {
        let requester = app.create_user("requester", None, Some(&net.cso_a)).await;
        let body = json!({"language": language, "name": format!("Arta ({language})")});
        app.patch(&format!("/api/v1/users/{}", requester.id), &app.admin_token, body).await.expect(200);
        let ticket =
            app.submit(&requester.token, "Ndryshimi i statutit / Statute amendment", "legal_registration").await;
        let reply = json!({
            "body": "The amended statute is registered.\nYou will receive the court's decision by post within ten days.\n\
                     The register: https://register.example.org/organizations/civil-society/2026/statutes/amendments/\
                     green-valley-association-decision-of-the-registration-office.pdf",
            "status": "resolved",
        });
        app.post(&format!("/api/v1/tickets/{}/messages", ticket["id"].as_str().unwrap()), &net.advisor.token, reply)
            .await
            .expect(201);
        requesters.push((*language, requester));
    }
    let worker = Worker::build(&app.settings, app.pool.clone()).await.unwrap();
    while worker.deliver_due().await.unwrap() > 0 {}
    let mails = sink.wait_for(LANGUAGES.len() * 3).await;

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("email-layout");
    std::fs::create_dir_all(&dir).unwrap();
    let office_email = net.kosovo["contact_email"].as_str().unwrap().to_owned();
    let mut failures = Vec::new();
    for (language, requester) in &requesters {
        let email = requester.user["email"].as_str().unwrap();
        let reply = mails
            .iter()
            .filter(|m| m.to == [email])
            .find(|m| m.body("text/plain").unwrap().contains("The amended statute is registered."))
            .unwrap_or_else(|| panic!("the reply to {language}"));
        let html = reply.body("text/html").unwrap();
        let name = language.to_ascii_lowercase();
        std::fs::write(dir.join(format!("{name}.html")), &html).unwrap();
        let (browser, dir_for_task) = (browser.clone(), dir.clone());
        let layout =
            tokio::task::spawn_blocking(move || measure(&browser, &dir_for_task, &name, &html, 360)).await.unwrap();
        failures.extend(problems(&layout, language, &office_email, 5, 2));
    }
    // An advisor's email shows more of the ticket (organisation, priority, topic, due times): measured too.
    let advisor_email = net.advisor.user["email"].as_str().unwrap();
    let assignment = mails.iter().find(|m| m.to == [advisor_email]).expect("the advisor's assignment");
    let html = assignment.body("text/html").unwrap();
    std::fs::write(dir.join("advisor-sq.html"), &html).unwrap();
    let (browser_for_task, dir_for_task) = (browser.clone(), dir.clone());
    let layout =
        tokio::task::spawn_blocking(move || measure(&browser_for_task, &dir_for_task, "advisor-sq", &html, 360))
            .await
            .unwrap();
    failures.extend(problems(&layout, "sq", &office_email, 10, 0));
    assert!(failures.is_empty(), "{failures:#?}");

    // Screenshots as a desktop client shows them (the ones docs/email.md shows come from here).
    let browser_for_shots = browser.clone();
    tokio::task::spawn_blocking(move || {
        let phone = format!("--screenshot={}", dir.join("sq-phone.png").display());
        chromium(&browser_for_shots, &dir.join("sq.html"), &[&phone, "--window-size=360,900"]);
        let advisor = format!("--screenshot={}", dir.join("advisor-sq.png").display());
        chromium(&browser_for_shots, &dir.join("advisor-sq.html"), &[&advisor, "--window-size=720,900"]);
        for language in LANGUAGES {
            let name = language.to_ascii_lowercase();
            let shot = format!("--screenshot={}", dir.join(format!("{name}.png")).display());
            chromium(&browser_for_shots, &dir.join(format!("{name}.html")), &[&shot, "--window-size=720,1000"]);
            assert!(std::fs::metadata(dir.join(format!("{name}.png"))).unwrap().len() > 10_000, "a real picture");
        }
    })
    .await
    .unwrap();
}
