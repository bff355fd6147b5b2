//! docs/operations.md, "The dashboard": the charts of the last 15 minutes
//! (`GET /api/v1/series` and the page's SVG, which change while traffic flows) and the
//! rejection view (`/#/rejections/{seq}`: reason, masked headers, body size and hash,
//! Replay when the request was captured), in a real browser (Debian's chromium).
//! Screenshots go to `<target>/tmp/dashboard/` (and to `$HOOKGATE_SCREENSHOTS`, for the
//! pictures in docs/).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::app::{App, Reply};
use crate::support::common::*;

const SECRET: &str = "charts-secret-Zr81";

const SCRIPT: &str = r##"
const [url, shots, token] = args;
const page = await open(url, token, { width: 1280, height: 1000 });
const routeChart = '#route-charts figure[data-chart="rate:traffic"]';
const destChart = '#destination-charts figure[data-chart="rate:traffic/app"]';
await page.locator(routeChart + " polyline").first().waitFor();
await page.locator(destChart + " polyline").first().waitFor();
const size = async (sel) => page.$eval(sel + " svg", (s) => { const r = s.getBoundingClientRect(); return [r.width, r.height]; });
const sizes = { route: await size(routeChart), destination: await size(destChart), time: await size('#route-charts figure[data-chart="time:traffic"]'), backlog: await size('#destination-charts figure[data-chart="backlog:traffic/app"]') };
const points = (sel) => page.$eval(sel + ' polyline[data-series="accepted"], ' + sel + ' polyline[data-series="delivered"]', (p) => p.getAttribute("points"));
const before = { route: await points(routeChart), destination: await points(destChart) };
await page.waitForFunction(([sel, was]) => document.querySelector(sel + ' polyline[data-series="accepted"]').getAttribute("points") !== was, [routeChart, before.route]);
await page.waitForFunction(([sel, was]) => document.querySelector(sel + ' polyline[data-series="delivered"]').getAttribute("points") !== was, [destChart, before.destination]);
const after = { route: await points(routeChart), destination: await points(destChart) };
const legend = await page.locator(routeChart + " .legend").textContent();
await page.screenshot({ path: shots + "/charts.png", fullPage: false });
// The rejection view, from the rejection row's link.
await page.locator("#rejections tbody tr a").first().click();
await page.waitForFunction(() => document.querySelector("#event-detail dl") !== null);
await page.locator("#event-detail button", { hasText: "Replay" }).waitFor();
const rejection = await page.locator("#event-detail").innerText();
await page.screenshot({ path: shots + "/rejection-view.png", fullPage: true });
const html = await page.content();
console.log(JSON.stringify({ sizes, before, after, legend, rejection, errors, html }));
await browser.close();
"##;

#[test]
fn the_charts_move_with_traffic_and_a_rejection_has_its_own_view() {
    let app = App::start(|_, n| Reply::status(if n % 10 == 9 { 500 } else { 200 }));
    let g = Gateway::start(&format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}}, token: {ADMIN_TOKEN} }}\nstore: {{ path: \"{{STORE}}\", rejections: {{ capture_body: true }} }}\nroutes:\n  - name: traffic\n    path: /traffic\n    verify: none\n    event_id: {{ header: X-Id }}\n    deliver: {{ name: app, url: \"{}\", backoff: {{ first: 50ms }} }}\n  - {{ name: github, path: /hooks/github, provider: github, secrets: [\"{SECRET}\"] }}\n",
        app.url("/in")
    ));
    let bad = br#"{"zen":"refused"}"#;
    let wrong = github_sig("not-the-secret", bad);
    // Steady traffic while the API and the page watch, bounded by a flag and a time limit;
    // a refused GitHub request now and then.
    // When the pictures in docs/ are made, the traffic runs longer first and changes
    // pace every half minute, so that the charts have a shape to show.
    let picture = std::env::var_os("HOOKGATE_SCREENSHOTS").is_some();
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let (stop, port, wrong) = (stop.clone(), g.port, wrong.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            let until = start + Duration::from_secs(if picture { 400 } else { 120 });
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) && Instant::now() < until {
                n += 1;
                let _ = try_request(
                    port,
                    "POST",
                    "/traffic",
                    &[("x-id", &format!("c-{n}"))],
                    b"{}",
                );
                if n % 20 == 0 {
                    let h = [
                        ("x-github-event", "push"),
                        ("x-hub-signature-256", wrong.as_str()),
                    ];
                    let _ = try_request(port, "POST", "/hooks/github", &h, bad);
                }
                let fast = picture && start.elapsed().as_secs() / 30 % 2 == 1;
                std::thread::sleep(Duration::from_millis(if fast { 8 } else { 20 }));
            }
            n
        })
    };

    // The API: after two steps, samples with the traffic's requests and deliveries.
    let deadline = Instant::now() + Duration::from_secs(30);
    let samples = loop {
        let v = request(g.admin, "GET", "/api/v1/series", &[AUTH], b"").json();
        let s = v["samples"].as_array().cloned().unwrap_or_default();
        let moving = |s: &serde_json::Value| {
            s["routes"]["traffic"]["accepted"].as_u64() > Some(0)
                && s["destinations"]["traffic/app"]["delivered"].as_u64() > Some(0)
        };
        if s.iter().filter(|s| moving(s)).count() >= 2 {
            assert_eq!(v["step_seconds"], 5, "{v}");
            break s;
        }
        assert!(Instant::now() < deadline, "no samples: {v}\n{}", g.logs());
        std::thread::sleep(Duration::from_millis(500));
    };
    let last = samples.last().unwrap();
    assert!(
        last["routes"]["traffic"]["p99_ms"].as_f64() > Some(0.0),
        "{last}"
    );
    assert!(
        samples
            .iter()
            .any(|s| s["routes"]["github"]["refused"].as_u64() > Some(0)),
        "{samples:?}"
    );
    let at = last["at"].as_i64().unwrap();
    let newer = request(
        g.admin,
        "GET",
        &format!("/api/v1/series?since={at}"),
        &[AUTH],
        b"",
    );
    assert!(newer.json()["samples"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["at"].as_i64() > Some(at)));
    assert_eq!(
        request(g.admin, "GET", "/api/v1/series", &[], b"").status,
        401
    );
    assert_eq!(
        request(g.admin, "GET", "/api/v1/series?since=x", &[AUTH], b"").status,
        400
    );

    if picture {
        std::thread::sleep(Duration::from_secs(240));
    }
    let shots = shots_dir();
    let url = format!("http://127.0.0.1:{}/", g.admin);
    let page = browser(
        "charts.mjs",
        SCRIPT,
        &[&url, shots.to_str().unwrap(), ADMIN_TOKEN],
        120,
    );
    stop.store(true, Ordering::SeqCst);
    let sent = traffic.join().unwrap();
    for (chart, wh) in page["sizes"].as_object().unwrap() {
        let (w, h) = (wh[0].as_f64().unwrap(), wh[1].as_f64().unwrap());
        assert!(w >= 200.0 && h >= 60.0, "{chart}'s chart is {w}x{h}");
    }
    assert_ne!(page["before"]["route"], page["after"]["route"], "{page}");
    assert_ne!(page["before"]["destination"], page["after"]["destination"]);
    assert!(
        page["after"]["route"].as_str().unwrap().split(' ').count() >= 3,
        "{page}"
    );
    assert!(
        page["legend"].as_str().unwrap().contains("accepted"),
        "{page}"
    );
    assert_eq!(page["errors"], serde_json::json!([]), "errors in the page");
    let rejection = page["rejection"].as_str().unwrap();
    for shown in [
        "signature_invalid",
        "no configured secret matches the signature",
        &format!("{} bytes, SHA-256 ", bad.len()),
        &format!("*** ({} bytes)", wrong.len()),
    ] {
        assert!(
            rejection.contains(shown),
            "{shown:?} not in the view: {rejection}"
        );
    }
    let html = page["html"].as_str().unwrap();
    for secret in [
        SECRET,
        ADMIN_TOKEN,
        wrong.as_str(),
        &github_sig(SECRET, bad),
    ] {
        assert!(!html.contains(secret), "{secret:?} is in the page");
    }
    keep_screenshots(&shots, &["charts.png", "rejection-view.png"]);
    assert!(sent > 100, "only {sent} requests sent");
}
