//! deploy/monitoring against Debian's Prometheus (issue #29): a gateway with traffic
//! (accepted requests on two routes, a bad signature, an unknown path, a 503 at
//! `max_in_flight`, deliveries to a real application) is scraped every second with
//! alerts.yaml loaded. Every rule of the file is loaded, healthy, and its expression
//! evaluates; every dashboard query (with the values Grafana puts for its variables and
//! macros) and variable query returns series; every metric name they use has a sample in
//! the gateway's `/metrics` and is stored by Prometheus.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::app::{App, Reply};
use crate::support::common::*;

const PROMETHEUS: &str = "/usr/bin/prometheus";
const SECRET: &str = "monitoring-secret-Hx72";
const CONFIG: &str = r#"global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: ["{RULES}"]
scrape_configs:
  - { job_name: hookgate, static_configs: [{ targets: ["{TARGET}"] }] }
"#;

/// Debian's Prometheus on a free port, scraping `target` (job `hookgate`) and evaluating
/// `rules` every second; killed when dropped, so a failed assertion leaves none running.
struct Prometheus {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: &str, rules: &Path) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let text = CONFIG
            .replace("{RULES}", &rules.display().to_string())
            .replace("{TARGET}", target);
        let config = write(dir.path(), "prometheus.yml", &text);
        let tsdb = dir.path().join("tsdb");
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        Prometheus {
            child: Command::new(PROMETHEUS)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.tsdb.path={}", tsdb.display()))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
            port,
            dir,
        }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// GET `path` of the HTTP API (in HTTP/1.0: never chunked): its JSON, or None while
    /// Prometheus does not answer.
    fn try_get(&self, path: &str) -> Option<Value> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
            .ok()?;
        serde_json::from_slice(&read_response(&mut s).ok()?.body).ok()
    }

    fn get(&self, path: &str) -> Value {
        self.try_get(path)
            .unwrap_or_else(|| panic!("GET {path}: no JSON answer\n{}", self.logs()))
    }

    /// An instant query that must evaluate (`what` names it in the failure): its series.
    fn eval(&self, what: &str, expr: &str) -> Vec<Value> {
        let q: String = url::form_urlencoded::byte_serialize(expr.as_bytes()).collect();
        let v = self.get(&format!("/api/v1/query?query={q}"));
        assert_eq!(v["status"], "success", "{what}: {expr}\n{v}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// Once the target is up and scraped twice (a rate has two samples) and every rule
    /// evaluated once: the rule groups.
    fn wait_ready(&mut self) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("prometheus exited with {status}: {}", self.logs());
            }
            let targets = self.try_get("/api/v1/targets").unwrap_or_default();
            let groups = self.try_get("/api/v1/rules").unwrap_or_default()["data"]["groups"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let evaluated = !groups.is_empty()
                && groups
                    .iter()
                    .flat_map(|group| group["rules"].as_array().into_iter().flatten())
                    .all(|rule| rule["health"] != "unknown");
            if targets["data"]["activeTargets"][0]["health"] == "up"
                && evaluated
                && !self
                    .eval("a rate", "rate(hookgate_requests_total[1m])")
                    .is_empty()
            {
                return groups;
            }
            assert!(
                Instant::now() < deadline,
                "no scrape and evaluation within 30 s: {}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every panel's target expressions with the panel's title, rows' panels included.
fn panel_exprs(panels: &Value, into: &mut Vec<(String, String)>) {
    for panel in panels.as_array().into_iter().flatten() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("a target's expr");
            into.push((panel["title"].to_string(), expr.to_string()));
        }
        panel_exprs(&panel["panels"], into);
    }
}

/// `expr` as Grafana sends it: `$name` and `${name}` replaced by the values in `vars`;
/// any other variable or macro fails the test (a new one must be given a value here).
fn substitute(expr: &str, vars: &[(&str, String)]) -> String {
    let mut out = expr.to_string();
    for (name, value) in vars {
        out = out
            .replace(&format!("${{{name}}}"), value)
            .replace(&format!("${name}"), value);
    }
    assert!(!out.contains('$'), "a variable not set here: {expr}");
    out
}

/// The metric names in a PromQL expression that are hookgate's or the process's (`up`,
/// the only other one, is Prometheus's own).
fn metric_names(expr: &str, into: &mut BTreeSet<String>) {
    into.extend(
        expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .filter(|w| w.starts_with("hookgate_") || w.starts_with("process_"))
            .map(str::to_string),
    );
}

/// Requests accepted on both routes, a bad signature, an unknown path, a 503 (cause
/// max_in_flight, as in spec_table.rs: the only slot held by an unfinished body), and
/// the accepted orders delivered: the gateway's `/metrics` then.
fn traffic(g: &Gateway, app: &App) -> String {
    let body = br#"{"zen":"x"}"#;
    let sig = github_sig(SECRET, body);
    let signed = [
        ("x-github-event", "push"),
        ("x-hub-signature-256", sig.as_str()),
    ];
    assert_eq!(g.post("/hooks/github", &signed, body).status, 200);
    let wrong = github_sig("wrong", body);
    let bad = [
        ("x-github-event", "push"),
        ("x-hub-signature-256", wrong.as_str()),
    ];
    let r = g.post("/hooks/github", &bad, body);
    assert_eq!((r.status, r.error()), (401, "signature_invalid".into()));
    let r = g.post("/nowhere", &[], b"{}");
    assert_eq!((r.status, r.error()), (404, "not_found".into()));
    assert_eq!(g.post("/orders", &[], br#"{"id":"order-1"}"#).status, 200);
    let held = br#"{"id":"order-2"}"#;
    let mut slow = std::net::TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    let head = format!(
        "POST /orders HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{{",
        held.len()
    );
    slow.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let r = g.post("/orders", &[], br#"{"id":"order-3"}"#);
    assert_eq!((r.status, r.error()), (503, "unavailable".into()));
    slow.write_all(&held[1..]).unwrap();
    assert_eq!(read_response(&mut slow).unwrap().status, 200);
    let seen = app.wait_for(2, Duration::from_secs(10));
    assert_eq!(seen.len(), 2, "both orders delivered: {}", g.logs());
    g.metrics()
}

#[test]
fn prometheus_loads_every_rule_and_evaluates_every_rule_and_dashboard_query() {
    assert!(
        Path::new(PROMETHEUS).exists(),
        "this test runs Debian's Prometheus: apt-get install --no-install-recommends prometheus"
    );
    let monitoring = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/monitoring");
    let app = App::start(|_, _| Reply::status(200));
    let g = Gateway::start(&format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nstore: {{ path: \"{{STORE}}\" }}\nlimits: {{ max_in_flight: 1, request_timeout: 5s }}\nroutes:\n  - {{ name: github, path: /hooks/github, provider: github, secrets: [\"{SECRET}\"] }}\n  - {{ name: orders, path: /orders, verify: none, event_id: {{ json: /id }}, deliver: {{ name: app, url: \"{}\" }} }}\n",
        app.url("/orders")
    ));
    let text = traffic(&g, &app);
    let instance = format!("127.0.0.1:{}", g.admin);
    let mut prom = Prometheus::start(&instance, &monitoring.join("alerts.yaml"));
    let groups = prom.wait_ready();
    let mut used = BTreeSet::new();

    // Rules: every one of the file loaded and healthy, and its expression evaluates.
    let file: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(monitoring.join("alerts.yaml")).unwrap())
            .unwrap();
    let rules = file["groups"][0]["rules"].as_sequence().expect("rules");
    assert_eq!(groups.len(), 1, "one group: {groups:?}");
    assert_eq!(groups[0]["name"], "hookgate");
    let loaded = groups[0]["rules"].as_array().expect("loaded rules");
    assert_eq!(
        loaded.len(),
        rules.len(),
        "every rule of alerts.yaml loaded"
    );
    for rule in rules {
        let name = rule["alert"].as_str().expect("an alert name");
        let expr = rule["expr"].as_str().expect("an expr");
        let api = loaded.iter().find(|r| r["name"] == name);
        let api = api.unwrap_or_else(|| panic!("{name} is not loaded"));
        let healthy = api["health"] == "ok" && api["lastError"].as_str().unwrap_or("").is_empty();
        assert!(healthy, "{name}: {api}");
        prom.eval(name, expr);
        metric_names(expr, &mut used);
    }
    // HookgateDown selects the job named as README.md says.
    let up = prom.eval("HookgateDown's selector", r#"up{job=~"hookgate.*"}"#);
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(up[0]["value"][1], "1", "{up:?}");

    // Dashboard: every query for this test's job, instance, route and destination.
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(monitoring.join("dashboard.json")).unwrap())
            .unwrap();
    let vars = [
        ("__rate_interval", "1m".to_string()),
        ("__interval", "1m".to_string()),
        ("__range", "1m".to_string()),
        ("datasource", "hookgate".to_string()),
        ("job", "hookgate".to_string()),
        ("instance", instance),
        ("route", "orders".to_string()),
        ("destination", "app".to_string()),
    ];
    let mut exprs = Vec::new();
    panel_exprs(&dashboard["panels"], &mut exprs);
    assert!(!exprs.is_empty(), "no panel queries");
    for (title, expr) in &exprs {
        let q = substitute(expr, &vars);
        let series = prom.eval(&format!("panel {title}"), &q);
        assert!(!series.is_empty(), "panel {title}: no series for {q}");
        metric_names(expr, &mut used);
    }
    // Variables: each label_values() query finds the value given to it here.
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("variables");
    for var in variables.iter().filter(|v| v["type"] == "query") {
        let name = var["name"].as_str().expect("a variable name");
        let query = var["query"]["query"].as_str().expect("a query");
        let (selector, label) = query
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')')?.rsplit_once(','))
            .unwrap_or_else(|| panic!("variable {name}: not label_values(selector, label)"));
        let series = prom.eval(&format!("variable {name}"), &substitute(selector, &vars));
        let want = &vars.iter().find(|v| v.0 == name).expect("a value").1;
        assert!(
            series
                .iter()
                .any(|s| s["metric"][label.trim()] == want.as_str()),
            "variable {name}: no {want} in {series:?}"
        );
        metric_names(selector, &mut used);
    }

    // Every metric name used has a sample in /metrics and is stored by Prometheus.
    let exported: BTreeSet<&str> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let stored = prom.get("/api/v1/label/__name__/values");
    let stored: BTreeSet<&str> = stored["data"]
        .as_array()
        .expect("metric names")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for name in used.iter().map(String::as_str) {
        assert!(exported.contains(name), "no {name} in /metrics:\n{text}");
        assert!(stored.contains(name), "{name} not stored by Prometheus");
    }
}
