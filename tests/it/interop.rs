//! The providers' own SDKs sign requests that the real binary must accept, and refuse
//! once tampered, signed with another key, or stale. The catalog's listings (`hookgate
//! providers`, the README's table, docs/providers.md) are checked against each other.

use super::common::*;
use super::sdk;

const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SW_OTHER: &str = "whsec_c2VjcmV0LW9mLXNvbWVvbmUtZWxzZQ==";

/// Presets signed here by an SDK: (preset, secret, another secret, timestamped).
const SIGNED_BY_SDK: &[(&str, &str, &str, bool)] = &[
    ("stripe", "whsec_interop", "whsec_other", true),
    ("standard-webhooks", SW_SECRET, SW_OTHER, true),
    ("svix", SW_SECRET, SW_OTHER, true),
    ("clerk", SW_SECRET, SW_OTHER, true),
    ("resend", SW_SECRET, SW_OTHER, true),
    ("slack", "slack_interop", "slack_other", true),
    ("paddle", "pdl_interop", "pdl_other", true),
];

/// Sign `body` at `ts` for `preset` with its SDK; the headers, one `name: value` a line.
const SIGNER: &str = r#"
import sys, datetime
preset, secret, ts, body = sys.argv[1], sys.argv[2], int(sys.argv[3]), open(sys.argv[4], "rb").read()
text = body.decode()
when = datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc)
if preset == "stripe":
    import stripe
    print("stripe-signature:", stripe.WebhookSignature.generate_signature_header(text, secret, timestamp=ts))
elif preset == "standard-webhooks":
    from standardwebhooks.webhooks import Webhook
    print("webhook-id: msg_interop"); print("webhook-timestamp:", ts)
    print("webhook-signature:", Webhook(secret).sign("msg_interop", when, text))
elif preset in ("svix", "clerk", "resend"):
    from svix.webhooks import Webhook
    print("svix-id: msg_interop"); print("svix-timestamp:", ts)
    print("svix-signature:", Webhook(secret).sign("msg_interop", when, text))
elif preset == "slack":
    from slack_sdk.signature import SignatureVerifier
    print("x-slack-request-timestamp:", ts)
    print("x-slack-signature:", SignatureVerifier(secret).generate_signature(timestamp=str(ts), body=body))
elif preset == "paddle":
    from paddle_billing.Notifications.PaddleSignature import PaddleSignature
    h1 = PaddleSignature.calculate_hmac(secret, f"{ts}:{text}".encode()).hexdigest()
    print(f"paddle-signature: ts={ts};h1={h1}")
else:
    sys.exit("no SDK signer for " + preset)
"#;

fn sdk_sign(preset: &str, secret: &str, ts: i64, body: &[u8]) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "body", "");
    std::fs::write(&file, body).unwrap();
    sdk::run(
        SIGNER,
        &[preset, secret, &ts.to_string(), &file.display().to_string()],
    )
    .lines()
    .filter_map(|l| l.split_once(": "))
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn requests_signed_by_the_providers_sdks_are_accepted_and_tampered_rekeyed_or_stale_ones_refused() {
    let mut yaml = String::from("listen: 127.0.0.1:{PORT}\nadmin: { listen: 127.0.0.1:{ADMIN} }\nstore: { path: \"{STORE}\" }\nroutes:\n");
    for (preset, secret, _, _) in SIGNED_BY_SDK {
        yaml.push_str(&format!(
            "  - {{ name: {preset}, path: /{preset}, provider: {preset}, secrets: [\"{secret}\"] }}\n"
        ));
    }
    let g = Gateway::start(&yaml);
    let mut proven = Vec::new();
    for (preset, secret, other, timestamped) in SIGNED_BY_SDK {
        let path = format!("/{preset}");
        let body = format!(
            r#"{{"id":"evt_{preset}","event_id":"evt_{preset}","type":"test","event_type":"test"}}"#
        );
        let post = |headers: &[(String, String)], body: &str| {
            let h: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            g.post(&path, &h, body.as_bytes())
        };
        let now = now();
        let signed = sdk_sign(preset, secret, now, body.as_bytes());
        let r = post(&signed, &body);
        assert_eq!(r.status, 200, "{preset}: {} {:?}", r.text(), signed);
        assert_eq!(r.json()["status"], "accepted", "{preset}");
        let r = post(&signed, &body.replace("test", "tesT"));
        assert_eq!(
            (r.status, r.error()),
            (401, "signature_invalid".into()),
            "{preset} tampered"
        );
        let rekeyed = sdk_sign(preset, other, now, body.as_bytes());
        let r = post(&rekeyed, &body.replace("evt_", "evt2_"));
        assert_eq!(
            r.status,
            401,
            "{preset} signed with another key: {}",
            r.text()
        );
        let r = post(&rekeyed, &body);
        assert_eq!(
            (r.status, r.error()),
            (401, "signature_invalid".into()),
            "{preset} re-keyed"
        );
        if *timestamped {
            let stale_body = body.replace("evt_", "evt_stale_");
            let stale = sdk_sign(preset, secret, now - 3600, stale_body.as_bytes());
            let r = post(&stale, &stale_body);
            assert_eq!(
                (r.status, r.error()),
                (401, "timestamp_out_of_tolerance".into()),
                "{preset} stale"
            );
        }
        proven.push(*preset);
    }
    println!(
        "interop: {} presets proven by the provider's SDK signing ({}); the others by published vectors (src/verify/presets.rs)",
        proven.len(),
        proven.join(", ")
    );
}

#[test]
fn the_provider_listings_match_the_catalog() {
    let out = std::process::Command::new(BIN)
        .args(["providers", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let presets: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/providers.md")).unwrap();
    let rows = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split_once('`').map(|(n, _)| n.to_string()))
            .collect()
    };
    let names: Vec<String> = presets
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    let section = &readme[readme.find("## Providers").unwrap()..];
    let section = &section[..section.find("\n## ").unwrap()];
    assert_eq!(
        rows(section),
        names,
        "README's provider table, in the catalog's order"
    );
    assert_eq!(
        rows(&docs),
        names,
        "docs/providers.md, in the catalog's order"
    );
    for p in &presets {
        let row = format!(
            "| `{}` | {} | {} | {} |",
            p["name"].as_str().unwrap(),
            p["title"].as_str().unwrap(),
            p["secret_hint"].as_str().unwrap(),
            p["docs"].as_str().unwrap()
        );
        assert!(docs.contains(&row), "docs/providers.md lacks\n{row}");
    }
}
