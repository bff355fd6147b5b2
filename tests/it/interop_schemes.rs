//! The schemes that sign more than headers and a body: the URL (Twilio, Mandrill, Square,
//! HubSpot v3), the signature inside the body (Mailgun, Adyen), the secret in the URL or
//! as Basic credentials (Mailchimp, Postmark). Each request is made by the provider's SDK
//! signer where one exists (twilio, hubspot-api-client, Adyen), else by an independent
//! recipe whose output the provider's SDK verifier must first accept where it ships one
//! (squareup, mailgun); then the real binary must accept it and refuse it tampered or
//! signed with another secret.

use crate::support::common::*;
use crate::support::sdk;

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
    // Proven by its own test below (a pinned certificate and a webhook id).
    ("paypal", "recipe", "skip"),
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
    for (p, _, extra) in PROVEN.iter().filter(|p| p.2 != "skip") {
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
    let cases = PROVEN
        .iter()
        .filter(|p| p.2 != "skip")
        .map(|(p, how, _)| (*p, *p, *how))
        .chain([("twilio-json", "twilio", "sdk signer")]);
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

/// PayPal: a key pair and self-signed certificate made by `cryptography`, the request
/// signed by an independent implementation of PayPal's documented recipe (RSA PKCS#1
/// v1.5 SHA-256 over `{id}|{time}|{webhook id}|{crc32(body)}`); the route pins the
/// certificate and names its webhook id.
const PAYPAL: &str = r#"
import sys, json, base64, zlib, datetime
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa, padding
cmd = sys.argv[1]
if cmd == "keygen":
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(k.public_key())
            .serial_number(7).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(k, hashes.SHA256()))
    key = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    print(json.dumps({"cert": cert.public_bytes(serialization.Encoding.PEM).decode(), "key": key.decode()}))
else:
    key = serialization.load_pem_private_key(sys.argv[2].encode(), None)
    webhook_id, body = sys.argv[3], sys.argv[4].encode()
    tid, time = "b2384410-f8d2-11ed-8cf0-1b8d6c9d3f3d", "2026-12-03T10:00:00Z"
    message = f"{tid}|{time}|{webhook_id}|{zlib.crc32(body)}".encode()
    sig = base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
    print(json.dumps({"paypal-transmission-id": tid, "paypal-transmission-time": time,
                      "paypal-transmission-sig": sig, "paypal-auth-algo": "SHA256withRSA",
                      "paypal-cert-url": "https://evil.example/cert.pem"}))
"#;

#[test]
fn paypal_requests_verify_against_the_pinned_certificate_and_the_routes_webhook_id() {
    let keys = |_: ()| -> (String, String) {
        let k: serde_json::Value = serde_json::from_str(&sdk::run(PAYPAL, &["keygen"])).unwrap();
        (
            k["cert"].as_str().unwrap().into(),
            k["key"].as_str().unwrap().into(),
        )
    };
    let (cert, key) = keys(());
    let (_, other_key) = keys(());
    let dir = tempfile::tempdir().unwrap();
    let pem = write(dir.path(), "paypal.pem", &cert);
    let g = Gateway::start(&format!(
        "listen: 127.0.0.1:{{PORT}}\nadmin: {{ listen: 127.0.0.1:{{ADMIN}} }}\nstore: {{ path: \"{{STORE}}\" }}\nroutes:\n  - {{ name: paypal, path: /paypal, provider: paypal, secrets: [{{ file: \"{}\" }}], webhook_id: WH-4RW29929M0954133S }}\n",
        pem.display()
    ));
    let body = r#"{"id":"WH-58D329510W468432D-8HN650336L201105X","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{"amount":{"value":"10.00"}}}"#;
    let post = |key: &str, webhook_id: &str, signed: &str, sent: &str| {
        let h: serde_json::Value =
            serde_json::from_str(&sdk::run(PAYPAL, &["sign", key, webhook_id, signed])).unwrap();
        let h: Vec<(&str, &str)> = h
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
            .collect();
        g.post("/paypal", &h, sent.as_bytes())
    };
    let r = post(&key, "WH-4RW29929M0954133S", body, body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["id"], "WH-58D329510W468432D-8HN650336L201105X");
    let r = post(
        &key,
        "WH-4RW29929M0954133S",
        body,
        &body.replace("10.00", "99.00"),
    );
    assert_eq!(
        (r.status, r.error()),
        (401, "signature_invalid".into()),
        "tampered"
    );
    let r = post(&key, "WH-OTHER-MERCHANT", body, body);
    assert_eq!(
        (r.status, r.error()),
        (401, "signature_invalid".into()),
        "another webhook"
    );
    let r = post(&other_key, "WH-4RW29929M0954133S", body, body);
    assert_eq!(
        (r.status, r.error()),
        (401, "signature_invalid".into()),
        "another key"
    );
    // The certificate URL in the request is never fetched: the log says nothing of it.
    assert!(!g.logs().contains("evil.example"));
    // A PayPal route without its webhook id is refused at load, with its location.
    let cfg = write(
        dir.path(),
        "no-id.yaml",
        &format!(
            "routes:\n  - {{ name: p, path: /p, provider: paypal, secrets: [{{ file: \"{}\" }}] }}\n",
            pem.display()
        ),
    );
    let out = std::process::Command::new(BIN)
        .arg("check")
        .arg("-c")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("webhook_id"));
}
