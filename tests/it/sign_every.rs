//! `hookgate sign --curl` works for every preset of the catalog: the printed command,
//! run by a shell, is accepted by the real binary. Public-key presets sign with a key
//! pair made here by PyNaCl or `cryptography` (the route holds the public half, the
//! private half goes on the command line).

use crate::support::common::*;
use crate::support::sdk;

const KEYS: &str = r#"
import base64, nacl.signing
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization as s
b64 = lambda d: base64.b64encode(d).decode()
ed = nacl.signing.SigningKey.generate()
print("ed-seed-hex", bytes(ed).hex()); print("ed-pub-hex", ed.verify_key.encode().hex())
print("ed-seed-b64", b64(bytes(ed))); print("ed-pub-b64", b64(ed.verify_key.encode()))
p = ec.generate_private_key(ec.SECP256R1())
print("p256-pkcs8", b64(p.private_bytes(s.Encoding.DER, s.PrivateFormat.PKCS8, s.NoEncryption())))
print("p256-spki", b64(p.public_key().public_bytes(s.Encoding.DER, s.PublicFormat.SubjectPublicKeyInfo)))
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes
import datetime
k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.test")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(k.public_key()).serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1)).sign(k, hashes.SHA256())
print("rsa-pkcs8", b64(k.private_bytes(s.Encoding.DER, s.PrivateFormat.PKCS8, s.NoEncryption())))
print("rsa-cert-pem-b64", b64(cert.public_bytes(s.Encoding.PEM)))
"#;

#[test]
fn hookgate_sign_makes_a_request_every_preset_accepts() {
    let keys: std::collections::HashMap<String, String> = sdk::run(KEYS, &[])
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let out = std::process::Command::new(BIN)
        .args(["providers", "--json"])
        .output()
        .unwrap();
    let presets: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut yaml = String::from("listen: 127.0.0.1:{PORT}\nadmin: { listen: 127.0.0.1:{ADMIN} }\nstore: { path: \"{STORE}\" }\nroutes:\n");
    let mut private = std::collections::HashMap::new();
    let certs = tempfile::tempdir().unwrap();
    for p in &presets {
        let name = p["name"].as_str().unwrap();
        let (secret, key) = match p["secret"].as_str().unwrap() {
            "whsec_ base64" => ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string(), None),
            "hex" => (hex::encode(format!("{name}-key")), None),
            "base64" => ("c2lnbmluZy1rZXk=".to_string(), None),
            "ed25519 public key, hex" => (keys["ed-pub-hex"].clone(), Some("ed-seed-hex")),
            "ed25519 public key, base64" => (keys["ed-pub-b64"].clone(), Some("ed-seed-b64")),
            "p-256 public key, base64 DER" => (keys["p256-spki"].clone(), Some("p256-pkcs8")),
            "certificate, PEM" => {
                use base64::Engine as _;
                let pem = base64::engine::general_purpose::STANDARD
                    .decode(&keys["rsa-cert-pem-b64"])
                    .unwrap();
                let file = certs.path().join(format!("{name}.pem"));
                std::fs::write(&file, pem).unwrap();
                (format!("FILE:{}", file.display()), Some("rsa-pkcs8"))
            }
            _ => (format!("{name}-secret"), None),
        };
        if let Some(k) = key {
            private.insert(name.to_string(), keys[k].clone());
        }
        let form = matches!(name, "twilio" | "mandrill" | "mailchimp");
        let secret = match secret.strip_prefix("FILE:") {
            Some(f) => format!("{{ file: \"{f}\" }}"),
            None => format!("\"{secret}\""),
        };
        yaml.push_str(&format!(
            "  - {{ name: {name}, path: /{name}, provider: {name}, secrets: [{secret}]{}{} }}\n",
            if form { ", body: any" } else { "" },
            if name == "paypal" {
                ", webhook_id: WH-SIGN-1"
            } else {
                ""
            }
        ));
    }
    let g = Gateway::start(&yaml);
    let config = g.config.display().to_string();
    let mut signed = 0;
    for p in &presets {
        let name = p["name"].as_str().unwrap();
        let body = match name {
            "twilio" | "mandrill" | "mailchimp" => "type=subscribe&data%5Bid%5D=42".to_string(),
            "adyen" => r#"{"live":"false","notificationItems":[{"NotificationRequestItem":{"amount":{"currency":"EUR","value":500},"eventCode":"AUTHORISATION","merchantAccountCode":"M","merchantReference":"r","pspReference":"p1","success":"true"}}]}"#.to_string(),
            "microsoft-graph" => r#"{"value":[{"subscriptionId":"s","changeType":"created"}]}"#.to_string(),
            "hubspot" | "sendgrid" => format!(r#"[{{"eventId":1,"sg_event_id":"{name}"}}]"#),
            _ => format!(r#"{{"id":"evt_{name}","type":"signed.by.hookgate"}}"#),
        };
        let file = write(g.dir.path(), &format!("{name}.body"), &body);
        let url = format!("http://127.0.0.1:{}/{name}", g.port);
        let mut args = vec![
            "sign".to_string(),
            "-c".into(),
            config.clone(),
            "--route".into(),
            name.into(),
            "--body".into(),
            file.display().to_string(),
            "--curl".into(),
            url,
        ];
        if let Some(k) = private.get(name) {
            args.extend(["--private-key".into(), k.clone()]);
        }
        let out = std::process::Command::new(BIN)
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let command = String::from_utf8(out.stdout).unwrap();
        let run = std::process::Command::new("sh")
            .args(["-c", &command])
            .output()
            .unwrap();
        let answer = String::from_utf8_lossy(&run.stdout);
        assert!(
            answer.contains(r#""status":"accepted""#),
            "{name}: {answer}\n{command}"
        );
        signed += 1;
    }
    println!("hookgate sign: {signed} presets signed and accepted");
    // Without its private key, a public-key route says what it needs.
    let out = std::process::Command::new(BIN)
        .args(["sign", "-c", &config, "--route", "discord"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--private-key"));
}
