//! `hookgate providers [--json]`: the catalog (`verify/catalog.rs`) for people and for
//! scripts (the README's provider table is checked against the JSON).

use std::io::Write;

use crate::checks::verify::catalog::{Preset, Scheme, SecretForm, PRESETS};
use crate::checks::verify::public_key::KeyAlgorithm;
use crate::checks::verify::token::TokenIn;
use crate::checks::verify::Algorithm;

fn alg(a: Algorithm) -> &'static str {
    match a {
        Algorithm::Sha1 => "sha1",
        Algorithm::Sha256 => "sha256",
        Algorithm::Sha512 => "sha512",
    }
}

/// The scheme family in a few words.
fn scheme(p: &Preset) -> String {
    match &p.scheme {
        Scheme::Hmac {
            headers,
            encoding,
            signed,
            timestamp,
            ..
        } => format!(
            "hmac-{} {} of {signed}{}",
            alg(headers[0].1),
            match encoding {
                crate::checks::verify::hmac::Encoding::Hex => "hex",
                crate::checks::verify::hmac::Encoding::Base64 => "base64",
            },
            if timestamp.is_some() {
                " (timestamped)"
            } else {
                ""
            }
        ),
        Scheme::Keyed(k) => format!(
            "hmac-sha256 {} of {{timestamp}}{}{{body}}, {}=…{}{}=…",
            if k.base64url { "base64url" } else { "hex" },
            k.joiner,
            k.ts_key,
            char::from(k.separator),
            k.sig_key
        ),
        Scheme::StandardWebhooks { .. } => "standard webhooks v1 (hmac-sha256)".into(),
        Scheme::PublicKey(k) => match k.algorithm {
            KeyAlgorithm::Ed25519 | KeyAlgorithm::Ed25519Base64 => match k.id_header {
                Some(_) => format!(
                    "ed25519 of {{id}}{j}{{timestamp}}{j}{{body}} (public key)",
                    j = k.joiner
                ),
                None => format!("ed25519 of {{timestamp}}{}{{body}} (public key)", k.joiner),
            },
            KeyAlgorithm::EcdsaP256 => {
                "ecdsa p-256 sha-256 of {timestamp}{body} (public key)".into()
            }
        },
        Scheme::Token(TokenIn::Header(_)) => "shared token".into(),
        Scheme::Token(TokenIn::Basic) => "basic auth credentials".into(),
        Scheme::Token(TokenIn::Query(p)) => format!("shared token in the URL (?{p}=)"),
        Scheme::Form(f) => format!(
            "hmac-{} base64 of {{url}} and the sorted form fields",
            alg(f.algorithm)
        ),
        Scheme::InBody(s) => format!("signature inside the body ({s:?})").to_lowercase(),
        Scheme::Certificate => {
            "rsa-sha256 of {id}|{time}|{webhook_id}|{crc32 of body} (pinned certificate)".into()
        }
        Scheme::Canonical => {
            "hmac-sha256 hex of {method}\\n{path}\\n{signed headers}\\n{body}".into()
        }
    }
}

/// The request headers the scheme reads.
fn headers(p: &Preset) -> Vec<String> {
    match &p.scheme {
        Scheme::Hmac {
            headers, timestamp, ..
        } => headers
            .iter()
            .map(|(h, _, _)| h.to_string())
            .chain(timestamp.map(|(h, _, _)| h.to_string()))
            .collect(),
        Scheme::Keyed(k) => vec![k.header.to_string()],
        Scheme::StandardWebhooks { prefix } => ["id", "timestamp", "signature"]
            .iter()
            .map(|s| format!("{prefix}-{s}"))
            .collect(),
        Scheme::Token(TokenIn::Header(h)) => vec![h.to_string()],
        Scheme::Token(TokenIn::Basic) => vec!["authorization".into()],
        Scheme::Token(TokenIn::Query(_)) | Scheme::InBody(_) => Vec::new(),
        Scheme::Form(f) => vec![f.header.to_string()],
        Scheme::Certificate => [
            "paypal-transmission-sig",
            "paypal-transmission-id",
            "paypal-transmission-time",
        ]
        .map(String::from)
        .to_vec(),
        Scheme::Canonical => [
            "x-contentful-signature",
            "x-contentful-signed-headers",
            "x-contentful-timestamp",
        ]
        .map(String::from)
        .to_vec(),
        Scheme::PublicKey(k) => [
            Some(k.signature_header),
            Some(k.timestamp_header),
            k.id_header,
        ]
        .into_iter()
        .flatten()
        .map(str::to_string)
        .collect(),
    }
}

pub(super) fn print(json: bool) -> i32 {
    let mut out = std::io::stdout().lock();
    let result = if json {
        let list: Vec<serde_json::Value> = PRESETS
            .iter()
            .map(|p| {
                serde_json::json!({
                    "name": p.name,
                    "title": p.title,
                    "scheme": scheme(p),
                    "headers": headers(p),
                    "secret": match p.secret {
                        SecretForm::Text => "text",
                        SecretForm::Hex => "hex",
                        SecretForm::Certificate => "certificate, PEM",
                        SecretForm::Base64 => "base64",
                        SecretForm::StandardWebhooks => "whsec_ base64",
                        SecretForm::PublicKey(KeyAlgorithm::Ed25519) => "ed25519 public key, hex",
                        SecretForm::PublicKey(KeyAlgorithm::Ed25519Base64) => "ed25519 public key, base64",
                        SecretForm::PublicKey(KeyAlgorithm::EcdsaP256) => "p-256 public key, base64 DER",
                    },
                    "event_id": p.event_id.iter().map(|s| s.describe()).collect::<Vec<_>>(),
                    "event_type": p.event_type.iter().map(|s| s.describe()).collect::<Vec<_>>(),
                    "docs": p.docs,
                    "secret_hint": p.secret_hint,
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::Value::Array(list))
    } else {
        (|| {
            for p in PRESETS {
                writeln!(out, "{:<20} {:<20} {}", p.name, p.title, scheme(p))?;
                writeln!(out, "{:<20} headers: {}", "", headers(p).join(", "))?;
                writeln!(out, "{:<20} {}", "", p.docs)?;
            }
            Ok(())
        })()
    };
    match result {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("hookgate providers: {e}");
            2
        }
    }
}
