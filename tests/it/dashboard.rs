//! The dashboard in a real browser (Debian's chromium, driven by playwright-core from an
//! npm folder the test installs once under `~/.cache`): against a gateway under traffic,
//! the live figures change, a rejected request is listed with its reason, a dead letter
//! is replayed with its button and delivered, an event is found by id, and a destination
//! is paused and resumed with its button. Screenshots
//! go to `<target>/tmp/dashboard/`. No secret or expected MAC appears in the page.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::support::app::{App, Reply};
use crate::support::common::*;

const CHROMIUM: &str = "/usr/bin/chromium";
const SECRET: &str = "dash-secret-Qm47";

const SCRIPT: &str = r##"
import { chromium } from "playwright-core";
const [url, shots, deadId, chromiumPath, token] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
page.setDefaultTimeout(20000);
await page.goto(url);
// The API needs the admin token: the page asks for it once.
await page.locator("#token-form").waitFor();
await page.fill("#token", token);
await page.click("#token-form button");
// The 401s that asked for the token are the browser's console errors until then.
await page.waitForFunction(() => document.getElementById("updated").textContent.startsWith("updated"));
errors.length = 0;
const total = '#routes tr[data-route="traffic"] td:nth-child(5)';
const rate = '#routes tr[data-route="traffic"] td:nth-child(2)';
await page.locator(total).waitFor();
const first = Number(await page.locator(total).textContent());
await page.waitForFunction(([sel, n]) => Number(document.querySelector(sel)?.textContent) > n, [total, first]);
await page.waitForFunction((sel) => parseFloat(document.querySelector(sel)?.textContent) > 0, rate);
const second = Number(await page.locator(total).textContent());
const liveRate = await page.locator(rate).textContent();
const rejection = page.locator("#rejections tbody tr", { hasText: "signature_invalid" }).first();
await rejection.waitFor();
const rejectionText = await rejection.textContent();
const button = page.locator(`#dead button[data-id="${deadId}"]`);
await button.waitFor();
await page.screenshot({ path: shots + "/1-live-rejection-dead-letter.png", fullPage: true });
await button.click();
await page.waitForFunction((id) => document.getElementById("replay-status").textContent.includes("replayed " + id), deadId);
await page.waitForFunction((id) => !document.querySelector(`#dead button[data-id="${id}"]`), deadId);
await page.fill("#search-id", deadId);
await page.click("#search button");
await page.locator("#search-table").waitFor();
const found = await page.locator("#search-table").textContent();
await page.screenshot({ path: shots + "/2-replayed-and-found.png", fullPage: true });
// Pause the destination with its button, then resume it.
const state = '#destinations tr:has(button[data-destination="orders/app"]) td:nth-child(8)';
await page.click('#destinations button[data-destination="orders/app"]');
await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === "paused", state);
const pausedButton = await page.locator('#destinations button[data-destination="orders/app"]').textContent();
await page.screenshot({ path: shots + "/3-paused.png", fullPage: true });
await page.click('#destinations button[data-destination="orders/app"]');
await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === "delivering", state);
const html = await page.content();
const text = await page.innerText("body");
console.log(JSON.stringify({ first, second, liveRate, rejectionText, found, pausedButton, errors, html, text }));
await browser.close();
"##;

/// The npm folder with playwright-core, named by the hash of what it holds.
fn folder() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        npm_folder(
            "hookgate-test-browser",
            PLAYWRIGHT,
            &[("dashboard.mjs", SCRIPT)],
        )
    })
    .clone()
}

fn dead_listed(g: &Gateway, id: &str) -> bool {
    let r = request(g.admin, "GET", "/api/v1/dead", &[AUTH], b"");
    r.status == 200 && r.text().contains(&format!(r#""id":"{id}""#))
}

#[test]
fn the_dashboard_shows_live_traffic_rejections_and_replays_a_dead_letter() {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "this test drives Debian's chromium: apt-get install chromium (.ci/run does)"
    );
    let healthy = Arc::new(AtomicBool::new(false));
    let h = healthy.clone();
    let app =
        App::start(move |_, _| Reply::status(if h.load(Ordering::SeqCst) { 200 } else { 500 }));
    let g = Gateway::start(&format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}}, token: {ADMIN_TOKEN} }}\nstore: {{ path: \"{{STORE}}\" }}\nroutes:\n  - {{ name: traffic, path: /traffic, verify: none, event_id: {{ header: X-Id }} }}\n  - name: orders\n    path: /orders\n    verify: none\n    event_id: {{ json: /id }}\n    event_type: {{ json: /type }}\n    deliver:\n      - {{ name: app, url: \"{}\", max_attempts: 2, backoff: {{ first: 100ms }} }}\n  - {{ name: github, path: /hooks/github, provider: github, secrets: [\"{SECRET}\"] }}\n",
        app.url("/orders")
    ));
    let dead_id = "order-dead-1";
    let body = format!(r#"{{"id":"{dead_id}","type":"order.paid"}}"#);
    assert_eq!(g.post("/orders", &[], body.as_bytes()).status, 200);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !dead_listed(&g, dead_id) {
        assert!(Instant::now() < deadline, "not dead-lettered: {}", g.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
    let gh_body = br#"{"zen":"x"}"#;
    let expected = github_sig(SECRET, gh_body);
    let r = g.post(
        "/hooks/github",
        &[
            ("x-github-event", "push"),
            ("x-hub-signature-256", &github_sig("wrong", gh_body)),
        ],
        gh_body,
    );
    assert_eq!(r.status, 401);
    healthy.store(true, Ordering::SeqCst);

    // Traffic while the browser looks: bounded by a stop flag and a time limit.
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let (stop, port) = (stop.clone(), g.port);
        std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(90);
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) && Instant::now() < until {
                n += 1;
                let id = format!("t-{n}");
                let _ = try_request(port, "POST", "/traffic", &[("x-id", &id)], b"{}");
                std::thread::sleep(Duration::from_millis(25));
            }
            n
        })
    };
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&shots).unwrap();
    let dir = folder();
    let out = Command::new("timeout")
        .arg("120")
        .arg("node")
        .arg(dir.join("dashboard.mjs"))
        .arg(format!("http://127.0.0.1:{}/", g.admin))
        .arg(&shots)
        .arg(dead_id)
        .arg(CHROMIUM)
        .arg(ADMIN_TOKEN)
        .current_dir(&dir)
        .output()
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    let sent = traffic.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser script failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    println!(
        "dashboard: traffic accepted {} -> {} while the page watched ({sent} sent, {} /s shown); rejection row {:?}; search {:?}; screenshots in {}",
        v["first"], v["second"], v["liveRate"], v["rejectionText"], v["found"], shots.display()
    );
    assert!(v["second"].as_f64() > v["first"].as_f64(), "{v}");
    let rejection = v["rejectionText"].as_str().unwrap();
    assert!(
        rejection.contains("github")
            && rejection.contains("no configured secret matches the signature"),
        "{rejection}"
    );
    assert!(v["found"].as_str().unwrap().contains(dead_id), "{v}");
    assert_eq!(
        v["pausedButton"], "Resume",
        "a paused destination offers Resume"
    );
    let log = g.logs();
    assert!(
        log.contains("destination paused") && log.contains("destination resumed"),
        "{log}"
    );
    assert_eq!(v["errors"], serde_json::json!([]), "errors in the page");
    // Replayed with the button: delivered to the application.
    let seen = app.wait_for(3, Duration::from_secs(10));
    assert_eq!(seen.len(), 3, "two failed attempts, then the replay");
    assert!(String::from_utf8_lossy(&seen[2].body).contains(dead_id));
    assert!(!dead_listed(&g, dead_id));
    assert!(g.logs().contains("dead letter replayed (admin API)"));
    for page in [v["html"].as_str().unwrap(), v["text"].as_str().unwrap()] {
        for secret in [SECRET, &expected, &expected[7..], ADMIN_TOKEN] {
            assert!(!page.contains(secret), "{secret:?} is in the page");
        }
    }
    for shot in [
        "1-live-rejection-dead-letter.png",
        "2-replayed-and-found.png",
        "3-paused.png",
    ] {
        assert!(std::fs::metadata(shots.join(shot)).unwrap().len() > 10_000);
    }
}
