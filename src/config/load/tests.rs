use super::locate::redact_value;
use super::*;

fn env(k: &str) -> Option<String> {
    (k == "GH_SECRET").then(|| "s3cret-value".to_string())
}

fn errors(yaml: &str) -> Vec<String> {
    match load_str(yaml, Path::new("t.yaml"), &env) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn redacted_values_keep_only_their_kind() {
    assert_eq!(
        redact_value(r#"invalid type: string "ab\"cd, expected x-SECRET", expected a sequence"#),
        "invalid type: string, expected a sequence"
    );
    assert_eq!(
        redact_value("invalid type: floating point `13579.2`, expected a secret string"),
        "invalid type: floating point, expected a secret string"
    );
    assert_eq!(redact_value("unknown field `x`"), "unknown field `x`");
}

#[test]
fn a_minimal_route_loads() {
    let c = load_str(
        "routes:\n  - name: gh\n    path: /hooks/gh\n    provider: github\n    secrets: [\"${GH_SECRET}\"]\n",
        Path::new("t.yaml"),
        &env,
    )
    .unwrap();
    assert_eq!(c.routes[0].queue, "hookgate.gh");
    assert_eq!(c.limits.max_body, 1 << 20);
    assert_eq!(c.admin_listen.to_string(), "127.0.0.1:9090");
}

#[test]
fn unknown_key_is_located() {
    // The rest of the file is valid: the unknown key is the one problem (the rest is
    // validated too, so that `check` reports every problem in one run).
    let e = errors("listen: 0.0.0.0:1\nlimits:\n  max_bdy: 1MiB\nroutes: [{ name: o, path: /o, verify: none }]\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("t.yaml:3:3: limits.max_bdy: unknown field `max_bdy`"),
        "{e:?}"
    );
}

#[test]
fn semantic_errors_are_all_collected_with_locations() {
    let e = errors(
        "limits:\n  max_body: 1PB\nroutes:\n  - name: Bad Name\n    path: /a\n  - name: b\n    path: /a\n    provider: nope\n    secrets: [x]\n",
    );
    assert!(
        e.iter()
            .any(|l| l.starts_with("t.yaml:2:13: limits.max_body: unknown size unit")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|l| l.starts_with("t.yaml:4:11: routes[0].name: route names are")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|l| l.starts_with("t.yaml:4:5: routes[0]: route has neither provider nor verify")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|l| l.starts_with("t.yaml:8:15: routes[1].provider: unknown provider \"nope\"")),
        "{e:?}"
    );
}

#[test]
fn missing_env_var_is_named_and_secrets_never_echoed() {
    let e = errors(
        "routes:\n  - name: a\n    path: /a\n    provider: github\n    secrets: [\"${NOPE}\"]\n",
    );
    assert_eq!(
        e,
        vec!["t.yaml:5:15: routes[0].secrets[0]: environment variable NOPE is not set"]
    );
    let e = errors(
        "routes:\n  - name: a\n    path: /a\n    provider: github\n    secrets: topsecret\n",
    );
    assert!(!e[0].contains("topsecret"), "{e:?}");
}

#[test]
fn fail_closed_without_verification_and_duplicates() {
    let e = errors("routes:\n  - name: a\n    path: /a\n    verify: none\n  - name: a\n    path: /a\n    verify: none\n");
    assert!(
        e.iter()
            .any(|l| l.contains("routes[1].name: route name \"a\" is used twice")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|l| l.contains("routes[1].path: path \"/a\" is used by two routes")),
        "{e:?}"
    );
    let e = errors("routes:\n  - name: a\n    path: /a\n    provider: github\n");
    assert!(e[0].contains("needs at least one secret"), "{e:?}");
}

#[test]
fn broker_names_are_bounded() {
    let long = "x".repeat(256);
    let e = errors(&format!(
        "broker: {{ url: \"amqp://h\", exchange: {long} }}\nroutes:\n  - {{ name: a, path: /a, verify: none, queue: {long} }}\n"
    ));
    assert!(
        e.iter()
            .any(|l| l.contains("broker.exchange: an exchange name is 1-200 bytes")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|l| l.contains("routes[0].queue: a queue name is 1-200 bytes")),
        "{e:?}"
    );
}

#[test]
fn broker_url_lapin_cannot_parse_is_a_config_error_without_the_password() {
    let e = errors(
        "broker: { url: \"amqp://u:s3cret@h:5672/%2f?frame_max=lots\" }\nroutes:\n  - { name: a, path: /a, verify: none }\n",
    );
    assert!(
        e.iter()
            .any(|l| l.contains("broker.url: not a valid AMQP URL")),
        "{e:?}"
    );
    assert!(!e.iter().any(|l| l.contains("s3cret")), "{e:?}");
}

#[test]
fn bad_cidr_and_missing_secret_file() {
    let e = errors("trusted_proxies: [10.0.0.0/33]\nroutes:\n  - name: a\n    path: /a\n    provider: github\n    secrets: [{ file: /nonexistent/x }]\n");
    assert!(
        e[0].starts_with("t.yaml:1:19: trusted_proxies[0]: \"10.0.0.0/33\" is not an IP"),
        "{e:?}"
    );
    assert!(
        e[1].starts_with(
            "t.yaml:6:23: routes[0].secrets[0].file: cannot read secret file /nonexistent/x"
        ),
        "{e:?}"
    );
}

#[test]
fn every_unknown_key_is_reported_in_one_run() {
    let e = errors(
        "listen: 0.0.0.0:1\nlimits:\n  max_bdy: 1MiB\n  header_timout: 1s\nroutes:\n  - name: gh\n    path: /gh\n    provder: github\n    secrets: [x]\n    verify:\n      hmac: { header: X-Sig, algoritm: sha256 }\n",
    );
    let located: Vec<&str> = e
        .iter()
        .map(|l| l.split(": unknown").next().unwrap())
        .collect();
    assert_eq!(
        located,
        [
            "t.yaml:3:3: limits.max_bdy",
            "t.yaml:4:3: limits.header_timout",
            "t.yaml:8:5: routes[0].provder",
            "t.yaml:11:30: routes[0].verify.hmac.algoritm",
        ],
        "{e:#?}"
    );
}

#[test]
fn a_shared_limit_needs_the_shared_redis_and_its_url_is_checked_without_being_quoted() {
    let route = "routes:\n  - name: gh\n    path: /hooks/gh\n    provider: github\n    secrets: [\"${GH_SECRET}\"]\n    rate_limit: { per_ip: 5/s, shared: true }\n";
    let e = errors(route);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("t.yaml:6:")
            && e[0].contains("routes[0].rate_limit.shared")
            && e[0].contains("store.dedup.redis"),
        "{e:?}"
    );
    let e = errors(&format!(
        "store: {{ dedup: {{ redis: {{ url: \"http://u:pw-Xy7@h/\" }} }} }}\n{route}"
    ));
    assert!(
        e.iter()
            .any(|m| m.contains("store.dedup.redis.url") && m.contains("redis://")),
        "{e:?}"
    );
    assert!(!e.iter().any(|m| m.contains("pw-Xy7")), "{e:?}");
    let c = load_str(
        &format!("store: {{ dedup: {{ redis: {{ url: \"redis://:pw-Xy7@127.0.0.1:6379/0\" }} }} }}\n{route}"),
        Path::new("t.yaml"),
        &env,
    )
    .unwrap();
    let r = c.store.shared.as_ref().unwrap();
    assert_eq!(
        (r.key_prefix.as_str(), r.timeout),
        ("hookgate:", Duration::from_millis(50))
    );
    assert!(!format!("{r:?}").contains("pw-Xy7") && r.redacted_url().contains("***"));
    assert_eq!(
        c.routes[0].rate_limit.as_ref().unwrap().shared,
        Some(crate::checks::ratelimit::WhenSharedDown::FailOpen)
    );
}
