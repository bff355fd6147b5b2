//! What `hookgate sign` produces is accepted by the providers' own SDK verifiers: the
//! other direction of the interop tests (there, the SDKs sign and hookgate verifies).

use std::process::Command;

use crate::support::common::*;
use crate::support::sdk;

/// Check `sign`'s output with the provider's verifier; prints "ok" or fails.
/// argv: preset, secret, body file, headers as JSON, URL.
const VERIFY: &str = r#"
import sys, json, base64
preset, secret, body, headers, url = sys.argv[1], sys.argv[2], open(sys.argv[3], "rb").read(), json.loads(sys.argv[4]), sys.argv[5]
h = {k.lower(): v for k, v in headers.items()}
text = body.decode()
if preset == "stripe":
    import stripe
    stripe.WebhookSignature.verify_header(text, h["stripe-signature"], secret, 300)
elif preset == "slack":
    from slack_sdk.signature import SignatureVerifier
    assert SignatureVerifier(secret).is_valid(body, h["x-slack-request-timestamp"], h["x-slack-signature"])
elif preset == "standard-webhooks":
    from standardwebhooks.webhooks import Webhook
    Webhook(secret).verify(text, h)
elif preset == "svix":
    from svix.webhooks import Webhook
    Webhook(secret).verify(text, h)
elif preset == "paddle":
    from paddle_billing.Notifications.PaddleSignature import PaddleSignature
    from paddle_billing.Notifications.Secret import Secret
    assert PaddleSignature().verify(h["paddle-signature"], text, [Secret(secret)])
elif preset == "twilio":
    from twilio.request_validator import RequestValidator
    from urllib.parse import parse_qsl
    assert RequestValidator(secret).validate(url, dict(parse_qsl(text)), h["x-twilio-signature"])
elif preset == "hubspot":
    from hubspot.utils.signature import Signature
    assert Signature.is_valid(signature=h["x-hubspot-signature-v3"], client_secret=secret, request_body=text, http_uri=url, http_method="POST", signature_version="v3", timestamp=h["x-hubspot-request-timestamp"])
elif preset == "square":
    from square.utils.webhooks_helper import verify_signature
    assert verify_signature(request_body=text, signature_header=h["x-square-hmacsha256-signature"], signature_key=secret, notification_url=url)
elif preset == "adyen":
    import Adyen.util as au
    doc = json.loads(text)
    for item in doc["notificationItems"]:
        assert au.is_valid_hmac_notification(item["NotificationRequestItem"], secret)
elif preset == "mailgun":
    from mailgun.security import SecurityGuard
    s = json.loads(text)["signature"]
    assert SecurityGuard.verify_webhook(secret, s["token"], s["timestamp"], s["signature"])
else:
    sys.exit("no verifier for " + preset)
print("ok")
"#;

/// (preset, the route's secret, body, route settings beyond the secret).
const CASES: &[(&str, &str, &str, &str)] = &[
    (
        "stripe",
        "whsec_verifier",
        r#"{"id":"evt_1","type":"t"}"#,
        "",
    ),
    (
        "slack",
        "slack-verifier",
        r#"{"type":"event_callback"}"#,
        "",
    ),
    (
        "standard-webhooks",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        r#"{"type":"t"}"#,
        "",
    ),
    (
        "svix",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        r#"{"type":"t"}"#,
        "",
    ),
    (
        "paddle",
        "pdl_ntfset_verifier",
        r#"{"event_id":"evt_1","event_type":"t"}"#,
        "",
    ),
    (
        "twilio",
        "twilio-token",
        "MessageSid=SM1&Body=hello+world",
        ", body: any",
    ),
    (
        "hubspot",
        "hubspot-secret",
        r#"[{"eventId":1,"subscriptionType":"contact.creation"}]"#,
        "",
    ),
    (
        "square",
        "square-key",
        r#"{"event_id":"e1","type":"payment.created"}"#,
        "",
    ),
    (
        "adyen",
        "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056",
        r#"{"live":"false","notificationItems":[{"NotificationRequestItem":{"amount":{"currency":"EUR","value":1130},"eventCode":"AUTHORISATION","merchantAccountCode":"M","merchantReference":"r","originalReference":"","pspReference":"p1","success":"true"}}]}"#,
        "",
    ),
    (
        "mailgun",
        "mailgun-key",
        r#"{"event-data":{"id":"e1","event":"delivered"}}"#,
        "",
    ),
];

#[test]
fn the_providers_sdk_verifiers_accept_what_hookgate_sign_makes() {
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::from("listen: 127.0.0.1:18080\nstore: { path: store }\nroutes:\n");
    for (p, secret, _, extra) in CASES {
        yaml.push_str(&format!(
            "  - {{ name: {p}, path: /{p}, provider: {p}, secrets: [\"{secret}\"]{extra} }}\n"
        ));
    }
    let cfg = write(dir.path(), "hookgate.yaml", &yaml);
    for (p, secret, body, _) in CASES {
        let file = write(dir.path(), &format!("{p}.body"), body);
        let url = format!("https://hooks.example.com/{p}");
        let out = Command::new(BIN)
            .arg("sign")
            .arg("-c")
            .arg(&cfg)
            .args(["--route", p, "--curl", &url, "--body"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{p}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The curl command's headers, and its body where the signature lives in it.
        let command = String::from_utf8(out.stdout).unwrap();
        let mut headers = serde_json::Map::new();
        for part in command.split(" -H '").skip(1) {
            let h = &part[..part.find('\'').unwrap()];
            let (k, v) = h.split_once(": ").unwrap();
            headers.insert(k.to_string(), v.into());
        }
        let signed_body = match command.split_once("--data-binary '") {
            Some((_, rest)) => rest[..rest.rfind('\'').unwrap()].replace(r"'\''", "'"),
            None => body.to_string(),
        };
        let sent = write(dir.path(), &format!("{p}.sent"), &signed_body);
        let verdict = sdk::run(
            VERIFY,
            &[
                p,
                secret,
                &sent.display().to_string(),
                &serde_json::Value::Object(headers).to_string(),
                &url,
            ],
        );
        assert_eq!(verdict, "ok", "{p}");
    }
    println!(
        "hookgate sign: accepted by the providers' SDK verifiers for {} presets ({})",
        CASES.len(),
        CASES.iter().map(|c| c.0).collect::<Vec<_>>().join(", ")
    );
}
