//! Each provider's endpoint check, sent as the provider's documentation shows it, gets
//! the documented answer from the gateway itself: only after the route's verification
//! where the provider signs or authenticates it, rate limited, never queued, and counted
//! under the outcome `handshake`. The expected answers are computed here with the
//! `hmac` crate, not by hookgate.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::support::common::*;

fn mac(key: &str, data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn b64(d: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(d)
}

const YAML: &str = r#"
listen: 127.0.0.1:{PORT}
admin: { listen: 127.0.0.1:{ADMIN} }
store: { path: "{STORE}" }
routes:
  - { name: slack, path: /slack, provider: slack, secrets: [slack-secret] }
  - { name: zoom, path: /zoom, provider: zoom, secrets: [zoom-secret] }
  - { name: twitch, path: /twitch, provider: twitch, secrets: [twitch-secret-0123] }
  - { name: meta, path: /meta, provider: meta, secrets: [app-secret], verify_token: meatyhamhock }
  - { name: okta, path: /okta, provider: okta, secrets: ["Basic b2t0YTpzZWNyZXQ="] }
  - { name: dropbox, path: /dropbox, provider: dropbox, secrets: [app-secret], rate_limit: { per_ip: 1/s, burst: 3 } }
  - { name: nylas, path: /nylas, provider: nylas, secrets: [nylas-secret] }
  - { name: x, path: /x, provider: x, secrets: [consumer-secret] }
  - { name: graph, path: /graph, provider: microsoft-graph, secrets: [client-state] }
  - { name: mailchimp, path: /mailchimp, provider: mailchimp, secrets: [list-token], body: any }
  - { name: github, path: /github, provider: github, secrets: [gh] }
"#;

fn get(g: &Gateway, path: &str, headers: &[(&str, &str)]) -> Response {
    request(g.port, "GET", path, headers, b"")
}

#[test]
fn each_providers_handshake_gets_its_documented_answer_after_its_check() {
    let g = Gateway::start(YAML);
    let now = now().to_string();

    // Slack's url_verification (docs example), signed like every Slack request.
    let body = r#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let sig = format!(
        "v0={}",
        hex::encode(mac("slack-secret", format!("v0:{now}:{body}").as_bytes()))
    );
    let h = [
        ("x-slack-request-timestamp", now.as_str()),
        ("x-slack-signature", sig.as_str()),
        ("content-type", "application/json"),
    ];
    let r = g.post("/slack", &h, body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
    let r = g.post("/slack", &h[..1], body.as_bytes());
    assert_eq!(
        (r.status, r.error()),
        (401, "signature_missing".into()),
        "unsigned"
    );

    // Zoom's endpoint.url_validation (docs example): encryptedToken = hex HMAC(secret, plainToken).
    let body = r#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
    let sig = format!(
        "v0={}",
        hex::encode(mac("zoom-secret", format!("v0:{now}:{body}").as_bytes()))
    );
    let r = g.post(
        "/zoom",
        &[("x-zm-request-timestamp", &now), ("x-zm-signature", &sig)],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["plainToken"], "qgg8vlvZRS6UYooatFL8Aw");
    assert_eq!(
        r.json()["encryptedToken"],
        hex::encode(mac("zoom-secret", b"qgg8vlvZRS6UYooatFL8Aw"))
    );
    let r = g.post(
        "/zoom",
        &[
            ("x-zm-request-timestamp", &now),
            ("x-zm-signature", "v0=00"),
        ],
        body.as_bytes(),
    );
    assert_eq!(r.status, 401, "a forged validation gets no token");

    // Twitch's webhook_callback_verification (docs example body), signed.
    let body = r#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","status":"webhook_callback_verification_pending","type":"channel.follow","version":"1","cost":1,"condition":{"broadcaster_user_id":"12826"},"transport":{"method":"webhook","callback":"https://example.com/webhooks/callback"},"created_at":"2019-11-16T10:11:12.634234626Z"}}"#;
    let id = "e76c6bd4-55c9-4987-8304-da1588d8988b";
    let ts = humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string();
    let sig = format!(
        "sha256={}",
        hex::encode(mac(
            "twitch-secret-0123",
            format!("{id}{ts}{body}").as_bytes()
        ))
    );
    let h = [
        ("twitch-eventsub-message-id", id),
        ("twitch-eventsub-message-timestamp", ts.as_str()),
        ("twitch-eventsub-message-signature", sig.as_str()),
        (
            "twitch-eventsub-message-type",
            "webhook_callback_verification",
        ),
    ];
    let r = g.post("/twitch", &h, body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "pogchamp-kappa-360noscope-vohiyo");
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let r = g.post("/twitch", &h[..3], body.replace("pogchamp", "p").as_bytes());
    assert_eq!(r.status, 401, "tampered");

    // Meta's subscription GET (docs example), with the route's verify token.
    let r = get(
        &g,
        "/meta?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock",
        &[],
    );
    assert_eq!((r.status, r.text()), (200, "1158201444".to_string()));
    let r = get(
        &g,
        "/meta?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=guess",
        &[],
    );
    assert_eq!((r.status, r.error()), (401, "signature_invalid".into()));

    // Okta's one-time verification carries the hook's authorization header.
    let challenge = "X1ddS5TPOXQgHq0iGD9RDgIUcNHZ5NkVdWbDyCJI";
    let r = get(
        &g,
        "/okta",
        &[
            ("x-okta-verification-challenge", challenge),
            ("authorization", "Basic b2t0YTpzZWNyZXQ="),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["verification"], challenge);
    let r = get(&g, "/okta", &[("x-okta-verification-challenge", challenge)]);
    assert_eq!((r.status, r.error()), (401, "signature_missing".into()));

    // Dropbox and Nylas echo their challenge, as text that no browser renders as a page.
    for path in ["/dropbox", "/nylas"] {
        let r = get(&g, &format!("{path}?challenge=KU2Wd6YqMqMyJmcH"), &[]);
        assert_eq!(
            (r.status, r.text()),
            (200, "KU2Wd6YqMqMyJmcH".to_string()),
            "{path}"
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    }
    let long = "a".repeat(600);
    let r = get(&g, &format!("/nylas?challenge={long}"), &[]);
    assert_eq!(
        (r.status, r.error()),
        (400, "bad_request".into()),
        "a challenge is bounded"
    );

    // X's CRC: response_token = sha256= base64 HMAC-SHA256(consumer secret, crc_token).
    let r = get(&g, "/x?crc_token=8a7b6c5d", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["response_token"],
        format!("sha256={}", b64(&mac("consumer-secret", b"8a7b6c5d")))
    );

    // Microsoft Graph's validation POST: the URL-decoded token, as text.
    let r = g.post(
        "/graph?validationToken=Validation%3a+Testing+client+application+reachability+for+subscription+Request-Id%3a+b2b36c5b",
        &[],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.text(),
        "Validation: Testing client application reachability for subscription Request-Id: b2b36c5b"
    );
    // A notification is checked by its clientState.
    let n = r#"{"value":[{"subscriptionId":"s1","clientState":"client-state","changeType":"created","resource":"Users/1"}]}"#;
    let r = g.post(
        "/graph",
        &[("content-type", "application/json")],
        n.as_bytes(),
    );
    assert_eq!(
        (r.status, r.json()["status"].as_str()),
        (200, Some("accepted"))
    );
    let r = g.post("/graph", &[], n.replace("client-state", "guess").as_bytes());
    assert_eq!((r.status, r.error()), (401, "signature_invalid".into()));

    // Mailchimp's GET on saving the webhook: 200 once the URL's token matches.
    assert_eq!(get(&g, "/mailchimp?token=list-token", &[]).status, 200);
    assert_eq!(get(&g, "/mailchimp?token=nope", &[]).status, 401);

    // A route whose provider has no GET handshake still answers GET with 405.
    let r = get(&g, "/github", &[]);
    assert_eq!((r.status, r.error()), (405, "method_not_allowed".into()));

    // Handshakes are rate limited like any request (dropbox: burst 3, two used above).
    let codes: Vec<u16> = (0..3)
        .map(|_| get(&g, "/dropbox?challenge=c", &[]).status)
        .collect();
    assert_eq!(codes.last(), Some(&429), "{codes:?}");

    // None was queued; each was counted under `handshake`.
    assert_eq!(
        g.stored_ids().len(),
        1,
        "only Graph's notification is an event"
    );
    let m = g.metrics();
    for route in [
        "slack",
        "zoom",
        "twitch",
        "meta",
        "okta",
        "dropbox",
        "nylas",
        "x",
        "graph",
        "mailchimp",
    ] {
        let line = format!("hookgate_requests_total{{route=\"{route}\",outcome=\"handshake\"}} ");
        let n: u64 = m
            .lines()
            .find_map(|l| l.strip_prefix(&line))
            .unwrap_or_else(|| panic!("{line} missing"))
            .trim()
            .parse()
            .unwrap();
        assert!(n >= 1, "{route}: {n}");
    }
    // No secret or verify token appears in the log.
    let logs = g.logs();
    for secret in [
        "slack-secret",
        "zoom-secret",
        "meatyhamhock",
        "b2t0YTpzZWNyZXQ",
        "consumer-secret",
        "list-token",
    ] {
        assert!(!logs.contains(secret), "{secret} in the log");
    }
}
