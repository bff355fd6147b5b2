//! Randomized no-panic checks over everything that reads network or config input: every
//! signature scheme's header parsing, the JSON nesting scan, event-id extraction, client
//! IP parsing, and the configuration loader. Deterministic seeds, so a failure reproduces.
//! They run in every `cargo test`; the coverage-guided fuzz targets of the same parsers
//! are under `fuzz/` (`scripts/fuzz`, run by `.ci/run`).

#[cfg(test)]
mod tests {
    use std::path::Path;

    use http::{HeaderMap, HeaderName, HeaderValue};

    use crate::checks::verify::SignedRequest;
    use crate::config::load_str;

    const ALPHABET: &[u8] = b"0123456789abcdefABCDEF=,; .:/+-_vtsh1\\\"{}[]whsec_\xff\x80";

    fn noise(rng: &mut fastrand::Rng, max: usize) -> Vec<u8> {
        let n = rng.usize(0..=max);
        (0..n)
            .map(|_| ALPHABET[rng.usize(0..ALPHABET.len())])
            .collect()
    }

    #[test]
    fn verifiers_and_extractors_never_panic_on_random_headers() {
        let yaml = r#"
routes:
  - { name: github, path: /github, provider: github, secrets: [s] }
  - { name: gitlab, path: /gitlab, provider: gitlab, secrets: [s] }
  - { name: stripe, path: /stripe, provider: stripe, secrets: [whsec_s] }
  - { name: shopify, path: /shopify, provider: shopify, secrets: [s] }
  - { name: slack, path: /slack, provider: slack, secrets: [s] }
  - { name: sw, path: /sw, provider: standard-webhooks, secrets: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw] }
  - { name: svix, path: /svix, provider: svix, secrets: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw] }
  - { name: kontent, path: /kontent, provider: kontent, secrets: [s] }
  - name: custom
    path: /custom
    verify: { hmac: { header: X-Sig, encoding: base64, separator: ",", signed: "{id}.{url}.{timestamp}.{header:X-A}.{body}", timestamp: { header: X-Ts } } }
    event_id: { header: X-Id }
    secrets: [s]
"#;
        let cfg = load_str(yaml, Path::new("t.yaml"), &|_| None).unwrap();
        let names = [
            "x-hub-signature-256",
            "x-hub-signature",
            "x-gitlab-token",
            "stripe-signature",
            "x-shopify-hmac-sha256",
            "x-slack-signature",
            "x-slack-request-timestamp",
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
            "svix-id",
            "svix-timestamp",
            "svix-signature",
            "x-kontent-ai-signature",
            "x-sig",
            "x-ts",
            "x-id",
            "x-a",
            "x-github-delivery",
            "x-forwarded-for",
            "idempotency-key",
        ];
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        for _ in 0..20_000 {
            let mut h = HeaderMap::new();
            for name in names {
                if rng.bool() {
                    if let Ok(v) = HeaderValue::from_bytes(&noise(&mut rng, 90)) {
                        h.insert(HeaderName::from_static(name), v);
                    }
                }
            }
            let body = noise(&mut rng, 200);
            for r in &cfg.routes {
                let req = SignedRequest {
                    headers: &h,
                    body: &body,
                    url: "https://x/y",
                    method: "POST",
                    query: "",
                    now: rng.i64(..),
                };
                let _ = r.verifier.verify(&req);
                let _ = crate::checks::event::event_id(&r.event_id, &h, None, &body);
            }
            let _ = crate::checks::allowlist::client_ip(
                "10.0.0.1".parse().unwrap(),
                &h,
                &["10.0.0.0/8".parse().unwrap()],
            );
        }
    }

    #[test]
    fn config_loader_never_panics_on_mangled_yaml() {
        let base =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.yaml"))
                .unwrap();
        let mut rng = fastrand::Rng::with_seed(42);
        for _ in 0..3_000 {
            let mut bytes = base.clone().into_bytes();
            for _ in 0..rng.usize(1..8) {
                let at = rng.usize(0..bytes.len());
                match rng.u8(0..3) {
                    0 => bytes[at] = b" :-[]{}\n#&*!|>'\"${}x9"[rng.usize(0..21)],
                    1 => drop(bytes.remove(at)),
                    _ => bytes.insert(at, b"\n  - ${X:-}: [ ] {"[rng.usize(0..17)]),
                }
            }
            if let Ok(text) = String::from_utf8(bytes) {
                let _ = load_str(
                    &text,
                    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/x.yaml")),
                    &|_| None,
                );
            }
        }
    }
}
