//! docs/operations.md, "The event view": `GET /api/v1/events/{id}` tells one event's
//! whole story (the request as kept, each destination's attempts), and the dashboard
//! shows it at `/#/events/{id}` in a real browser (Debian's chromium), in both modes.

use std::time::{Duration, Instant};

use crate::deliver::{setup, Mode};
use crate::support::app::{App, Reply};
use crate::support::common::*;

const SIGNING: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const API_TOKEN: &str = "tok-9f2c4e7a51";

const SCRIPT: &str = r##"
const [url, shot, token] = args;
const page = await open(url, token, { width: 1100, height: 900 });
// The view asked before the token was given: ask again.
await page.evaluate(() => { location.hash = "#/"; });
await page.evaluate((u) => { location.hash = new URL(u).hash; }, url);
await page.waitForFunction(() => document.querySelectorAll('#event-detail section[data-destination="app"] .timeline li').length === 3);
const statuses = await page.$$eval('#event-detail section[data-destination="app"] .timeline li', (l) => l.map((li) => li.dataset.status));
const body = await page.locator("#event-body").textContent();
const other = await page.locator('#event-detail section[data-destination="audit"] h3').textContent();
// The header's pills, once a poll with the token has filled them (for the picture).
await page.waitForFunction(() => document.getElementById("updated").textContent.startsWith("updated"));
await page.screenshot({ path: shot, fullPage: true });
const html = await page.content();
console.log(JSON.stringify({ statuses, body, other, errors, html }));
await browser.close();
"##;

both_modes!(an_event_answered_500_500_then_200_tells_its_three_attempts_in_the_api_and_the_page);

fn an_event_answered_500_500_then_200_tells_its_three_attempts_in_the_api_and_the_page(mode: Mode) {
    let app = App::start(|_, n| Reply::status(if n < 2 { 500 } else { 200 }));
    let routes = format!(
        "routes:\n  - name: orders\n    path: /hooks/orders\n    verify: none\n    queue: {{QUEUE}}\n    event_id: {{ json: /id }}\n    event_type: {{ json: /type }}\n    forward_headers: [x-api-token, x-shop]\n    deliver:\n      - {{ name: app, url: \"{}\", backoff: {{ first: 100ms }}, sign: {{ secret: \"{SIGNING}\" }} }}\n      - {{ name: audit, url: \"{}\", filter: 'type == \"order.refunded\"' }}\n",
        app.url("/orders"),
        app.url("/audit"),
    );
    let (yaml, _rabbit) = setup(mode, &routes, &["app", "audit"]);
    let yaml = yaml.replace(
        "store: { path: \"{STORE}\" }",
        "store: { path: \"{STORE}\", archive: true }",
    );
    let g = Gateway::start(&yaml);
    let body = r#"{"id":"ev-1","type":"order.paid","amount":12}"#;
    let r = g.post(
        "/hooks/orders",
        &[
            ("content-type", "application/json"),
            ("x-api-token", API_TOKEN),
            ("x-shop", "acme"),
        ],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let deadline = Instant::now() + Duration::from_secs(20);
    let v = loop {
        let r = request(g.admin, "GET", "/api/v1/events/ev-1", &[AUTH], b"");
        let v = r.json();
        if v["destinations"][0]["status"] == "delivered" {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "not delivered: {v}\n{}",
            g.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(v["id"], "ev-1");
    assert_eq!(v["route"], "orders");
    assert_eq!(v["type"], "order.paid");
    assert_eq!(v["source"], "127.0.0.1");
    assert!(v["received_at"].as_str().unwrap().ends_with('Z'), "{v}");
    assert_eq!(v["body"], body);
    assert_eq!(v["headers"]["x-shop"], "acme");
    assert_eq!(
        v["headers"]["x-api-token"],
        format!("*** ({} bytes)", API_TOKEN.len())
    );
    let app_dest = &v["destinations"][0];
    assert_eq!(app_dest["name"], "app");
    let attempts = app_dest["attempts"].as_array().unwrap();
    let statuses: Vec<u64> = attempts
        .iter()
        .map(|a| a["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [500, 500, 200], "{v}");
    for a in attempts {
        assert!(a["duration_ms"].is_u64() && a["at"].as_str().unwrap().ends_with('Z'));
    }
    assert!(attempts[0]["error"]
        .as_str()
        .unwrap()
        .starts_with("HTTP 500"));
    assert_eq!(
        v["destinations"][1],
        serde_json::json!({"name": "audit", "status": "filtered", "attempts_made": 0, "attempts": []})
    );
    assert_eq!(
        request(g.admin, "GET", "/api/v1/events/nope", &[AUTH], b"").status,
        404
    );
    let text = v.to_string();
    for secret in [SIGNING, &SIGNING[6..], API_TOKEN, ADMIN_TOKEN] {
        assert!(!text.contains(secret), "{secret:?} in the API's answer");
    }

    let shots = shots_dir();
    let shot = shots.join(format!("event-view-{mode:?}.png"));
    let url = format!("http://127.0.0.1:{}/#/events/ev-1", g.admin);
    let page = browser(
        "event.mjs",
        SCRIPT,
        &[&url, shot.to_str().unwrap(), ADMIN_TOKEN],
        60,
    );
    assert_eq!(page["statuses"], serde_json::json!(["500", "500", "200"]));
    let shown: serde_json::Value = serde_json::from_str(page["body"].as_str().unwrap()).unwrap();
    assert_eq!(shown["amount"], 12, "the body, pretty-printed: {page}");
    assert!(
        page["other"].as_str().unwrap().contains("filtered"),
        "{page}"
    );
    assert_eq!(page["errors"], serde_json::json!([]), "errors in the page");
    let html = page["html"].as_str().unwrap();
    for secret in [SIGNING, &SIGNING[6..], API_TOKEN, ADMIN_TOKEN] {
        assert!(!html.contains(secret), "{secret:?} is in the page");
    }
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
    if matches!(mode, Mode::Store) {
        keep_screenshots(&shots, &["event-view-Store.png"]);
    }
}
