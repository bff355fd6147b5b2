//! The schemes that sign more than headers and a body: the URL (Twilio, Mandrill, Square,
//! HubSpot v3), the signature inside the body (Mailgun, Adyen), the secret in the URL or
//! as Basic credentials (Mailchimp, Postmark). Each request is made by the provider's SDK
//! signer where one exists (twilio, hubspot-api-client, Adyen), else by an independent
//! recipe whose output the provider's SDK verifier must first accept where it ships one
//! (squareup, mailgun); then the real binary must accept it and refuse it tampered or
//! signed with another secret.

use super::common::*;
use super::sdk;

/// (preset, how it is proven, route settings beyond the secret).
pub const PROVEN: &[(&str, &str, &str)] = &[
    ("twilio", "sdk signer", "body: any"),
    ("hubspot", "sdk signer", ""),
    ("adyen", "sdk signer", ""),
    ("square", "recipe, sdk verifier", ""),
    ("mailgun", "recipe, sdk verifier", ""),
    ("mandrill", "recipe", "body: any"),
    ("trello", "recipe", ""),
    ("microsoft-graph", "recipe", ""),
    ("mailchimp", "recipe", "body: any"),
    ("postmark", "recipe", ""),
];

/// Make a request for `preset`: prints JSON `{headers, body, query}`.
const SIGNER: &str = r#"
import sys, json, hmac, hashlib, base64, time
preset, secret, url, body = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
headers, query = {}, ""
b64 = lambda d: base64.b64encode(d).decode()
if preset == "twilio":
    from twilio.request_validator import RequestValidator
    params = dict(p.split("=", 1) for p in body.split("&"))
    from urllib.parse import unquote_plus
    params = {k: unquote_plus(v) for k, v in params.items()}
    headers["x-twilio-signature"] = RequestValidator(secret).compute_signature(url, params)
elif preset == "twilio-json":
    from twilio.request_validator import RequestValidator
    v = RequestValidator(secret)
    query = "bodySHA256=" + v.compute_hash(body)
    headers["x-twilio-signature"] = v.compute_signature(url + "?" + query, {})
elif preset == "hubspot":
    from hubspot.utils.signature import Signature
    ts = str(int(time.time() * 1000))
    headers["x-hubspot-request-timestamp"] = ts
    headers["x-hubspot-signature-v3"] = Signature.get_signature(secret, body, "v3", http_uri=url, http_method="POST", timestamp=ts)
elif preset == "adyen":
    import Adyen.util as au
    doc = json.loads(body)
    for item in doc["notificationItems"]:
        it = item["NotificationRequestItem"]
        it.setdefault("additionalData", {})["hmacSignature"] = au.generate_notification_sig(it, secret).decode()
    body = json.dumps(doc)
elif preset == "square":
    sig = b64(hmac.new(secret.encode(), (url + body).encode(), hashlib.sha256).digest())
    from square.utils.webhooks_helper import verify_signature
    assert verify_signature(request_body=body, signature_header=sig, signature_key=secret, notification_url=url)
    headers["x-square-hmacsha256-signature"] = sig
elif preset == "mailgun":
    ts, token = str(int(time.time())), "a" * 50
    sig = hmac.new(secret.encode(), (ts + token).encode(), hashlib.sha256).hexdigest()
    from mailgun.security import SecurityGuard
    assert SecurityGuard.verify_webhook(secret, token, ts, sig)
    doc = json.loads(body)
    doc["signature"] = {"timestamp": ts, "token": token, "signature": sig}
    body = json.dumps(doc)
elif preset == "mandrill":
    # Mandrill: the URL, then each POST field sorted by name as name + value; HMAC-SHA1.
    from urllib.parse import parse_qsl
    signed = url + "".join(k + v for k, v in sorted(parse_qsl(body)))
    headers["x-mandrill-signature"] = b64(hmac.new(secret.encode(), signed.encode(), hashlib.sha1).digest())
elif preset == "trello":
    # Trello: the body, then the callback URL as registered; HMAC-SHA1, base64.
    headers["x-trello-webhook"] = b64(hmac.new(secret.encode(), (body + url).encode(), hashlib.sha1).digest())
elif preset == "microsoft-graph":
    # Graph signs nothing: each notification carries the subscription's clientState.
    doc = json.loads(body)
    for n in doc["value"]: n["clientState"] = secret
    body = json.dumps(doc)
elif preset == "mailchimp":
    from urllib.parse import urlencode
    query = urlencode({"token": secret})
elif preset == "postmark":
    headers["authorization"] = "Basic " + b64(secret.encode())
else:
    sys.exit("no signer for " + preset)
print(json.dumps({"headers": headers, "body": body, "query": query}))
"#;

struct Signed {
    headers: Vec<(String, String)>,
    body: String,
    query: String,
}

fn sign(preset: &str, secret: &str, url: &str, body: &str) -> Signed {
    let out: serde_json::Value =
        serde_json::from_str(&sdk::run(SIGNER, &[preset, secret, url, body])).unwrap();
    Signed {
        headers: out["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect(),
        body: out["body"].as_str().unwrap().to_string(),
        query: out["query"].as_str().unwrap().to_string(),
    }
}

fn body_for(preset: &str) -> &'static str {
    match preset {
        "twilio" => "MessageSid=SM1&From=%2B15550001111&Body=hello+there",
        "mandrill" => "mandrill_events=%5B%7B%22event%22%3A%22send%22%7D%5D",
        "mailchimp" => "type=subscribe&fired_at=2026-12-03+10%3A00%3A00&data%5Bemail%5D=a%40b.c",
        "hubspot" => r#"[{"eventId":100,"subscriptionType":"contact.creation"}]"#,
        "adyen" => {
            r#"{"live":"false","notificationItems":[{"NotificationRequestItem":{"amount":{"currency":"EUR","value":1130},"eventCode":"AUTHORISATION","merchantAccountCode":"TestMerchant","merchantReference":"ref-1","originalReference":"","pspReference":"7914073381342284","success":"true"}}]}"#
        }
        "mailgun" => r#"{"event-data":{"id":"ev-1","event":"delivered"}}"#,
        "microsoft-graph" => {
            r#"{"value":[{"subscriptionId":"s1","changeType":"created","resource":"Users/1"}]}"#
        }
        _ => r#"{"event_id":"evt_1","type":"payment.created"}"#,
    }
}

#[test]
fn url_signed_in_body_and_credential_schemes_interoperate() {
    let secret = |p: &str| match p {
        // Adyen's key is hex; Postmark's is the user:password of the webhook URL.
        "adyen" => "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056".to_string(),
        "postmark" => format!("{p}-user:{p}-password"),
        _ => format!("{p}-secret"),
    };
    let other = |p: &str| match p {
        "adyen" => "0000000000000000000000000000000000000000000000000000000000000001".to_string(),
        _ => format!("{}-rotated", secret(p)),
    };
    let mut yaml = String::from("listen: 127.0.0.1:{PORT}\nadmin: { listen: 127.0.0.1:{ADMIN} }\nstore: { path: \"{STORE}\" }\nroutes:\n");
    for (p, _, extra) in PROVEN {
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(", {extra}")
        };
        yaml.push_str(&format!(
            "  - {{ name: {p}, path: /{p}, provider: {p}, secrets: [\"{}\"]{extra} }}\n",
            secret(p)
        ));
    }
    yaml.push_str(&format!(
        "  - {{ name: twilio_json, path: /twilio-json, provider: twilio, secrets: [\"{}\"] }}\n",
        secret("twilio")
    ));
    let g = Gateway::start(&yaml);
    let cases = PROVEN.iter().map(|(p, how, _)| (*p, *p, *how)).chain([(
        "twilio-json",
        "twilio",
        "sdk signer",
    )]);
    for (signer, preset, how) in cases {
        let path = format!("/{signer}");
        // No public_url: the URL is the request's scheme, Host and path.
        let url = format!("http://127.0.0.1:{}{path}", g.port);
        let post = |s: &Signed, body: &str| {
            let h: Vec<(&str, &str)> = s
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .chain(
                    body.starts_with(['{', '['])
                        .then_some(("content-type", "application/json")),
                )
                .collect();
            let target = if s.query.is_empty() {
                path.clone()
            } else {
                format!("{path}?{}", s.query)
            };
            g.post(&target, &h, body.as_bytes())
        };
        let s = sign(signer, &secret(preset), &url, body_for(signer));
        let r = post(&s, &s.body);
        assert_eq!(r.status, 200, "{signer} ({how}): {}", r.text());
        let credentials_only = matches!(preset, "mailchimp" | "postmark");
        if !credentials_only {
            // Mailgun signs its token, not the event: a changed token is what breaks it.
            let tampered = match preset {
                "mailgun" => s.body.replacen("aaaa", "aaab", 1),
                "adyen" => s.body.replacen("1130", "1131", 1),
                _ => s.body.replacen('e', "E", 1),
            };
            let r = post(&s, &tampered);
            assert_eq!(r.status, 401, "{signer} tampered: {}", r.text());
        }
        let s = sign(signer, &other(preset), &url, body_for(signer));
        let r = post(&s, &s.body);
        assert_eq!(
            (r.status, r.error()),
            (401, "signature_invalid".into()),
            "{signer} signed with another secret"
        );
    }
    println!(
        "interop: {} presets of the URL, in-body and credential families proven ({})",
        PROVEN.len(),
        PROVEN
            .iter()
            .map(|(p, how, _)| format!("{p}: {how}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
