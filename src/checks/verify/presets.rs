//! A provider preset as the rest of the gateway sees it: a name that resolves to one
//! entry of the catalog (`catalog.rs`, presets as data), and what the entry makes: the
//! verifier, the secret's decoding, where the event id and type come from.

use std::time::Duration;

use http::HeaderName;

use super::catalog::{Preset, Scheme, SecretForm, Src, PRESETS};
use super::hmac::{parse_template, HmacScheme, HmacSpec, SigHeader, Stamp};
use super::in_body::InBody;
use super::url_signed::FormSigned;
#[cfg(test)]
use super::Algorithm;
use super::{Keyed, SetupError, StandardWebhooks, Token, Verifier};
use crate::checks::event::Source;

/// One entry of the catalog.
#[derive(Clone, Copy)]
pub struct Provider(&'static Preset);

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Provider({})", self.0.name)
    }
}

impl PartialEq for Provider {
    fn eq(&self, other: &Provider) -> bool {
        self.0.name == other.0.name
    }
}

impl Provider {
    /// Every preset's name, in the catalog's order.
    pub fn names() -> impl Iterator<Item = &'static str> {
        PRESETS.iter().map(|p| p.name)
    }

    pub fn parse(s: &str) -> Option<Provider> {
        PRESETS.iter().find(|p| p.name == s).map(|p| Provider(p))
    }

    pub fn name(self) -> &'static str {
        self.0.name
    }

    pub fn preset(self) -> &'static Preset {
        self.0
    }

    /// Turn a configured secret into key bytes the way the provider does.
    pub fn decode_secret(self, s: &str) -> Result<Vec<u8>, SetupError> {
        match self.0.secret {
            SecretForm::StandardWebhooks => StandardWebhooks::decode_secret(s),
            SecretForm::Text => Ok(s.as_bytes().to_vec()),
            SecretForm::Hex => hex::decode(s.trim()).map_err(|_| SetupError::SecretNotHex),
            SecretForm::Certificate => super::certificate::decode_certificate(s),
            SecretForm::Base64 => {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD
                    .decode(s.trim())
                    .map_err(|_| SetupError::SecretNotBase64)
            }
            SecretForm::PublicKey(alg) => alg.decode_key(s),
        }
    }

    pub fn verifier(self, secrets: Vec<Vec<u8>>) -> Verifier {
        match &self.0.scheme {
            Scheme::Hmac {
                headers,
                encoding,
                signed,
                timestamp,
                separator,
            } => {
                let spec = HmacSpec {
                    headers: headers
                        .iter()
                        .map(|(name, alg, prefix)| SigHeader {
                            name: HeaderName::from_static(name),
                            alg: *alg,
                            prefix: prefix.to_string(),
                        })
                        .collect(),
                    encoding: *encoding,
                    template: parse_template(signed).expect("preset templates are valid"),
                    separator: separator.map(str::to_string),
                    timestamp: timestamp.map(|(h, format, secs)| Stamp {
                        header: HeaderName::from_static(h),
                        format,
                        tolerance: (secs > 0).then(|| Duration::from_secs(secs)),
                    }),
                    // `{id}` is the provider's delivery id, its first event-id header.
                    id_header: self.0.event_id.iter().find_map(|s| match s {
                        Src::Header(h) => Some(HeaderName::from_static(h)),
                        Src::Json(_) => None,
                    }),
                };
                Verifier::Hmac(HmacScheme::new(spec, &secrets))
            }
            Scheme::Keyed(spec) => Verifier::Keyed(Keyed::new(spec, &secrets)),
            Scheme::PublicKey(spec) => {
                Verifier::PublicKey(super::public_key::PublicKey::new(spec, &secrets))
            }
            Scheme::StandardWebhooks { prefix } => {
                Verifier::StandardWebhooks(StandardWebhooks::new(prefix, &secrets))
            }
            Scheme::Token(place) => Verifier::Token(Token::new(*place, &secrets)),
            Scheme::Form(spec) => Verifier::FormSigned(FormSigned::new(spec, &secrets)),
            Scheme::InBody(spec) => Verifier::InBody(InBody::new(*spec, &secrets)),
            Scheme::Canonical => Verifier::Canonical(super::canonical::Canonical::new(&secrets)),
            Scheme::Certificate => {
                Verifier::Certificate(super::certificate::Certificate::new(&secrets))
            }
        }
    }

    pub fn event_id_sources(self) -> Vec<Source> {
        self.0.event_id.iter().map(Src::source).collect()
    }

    pub fn event_type_sources(self) -> Vec<Source> {
        self.0.event_type.iter().map(Src::source).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::verify::{SignedRequest, VerifyError};
    use http::HeaderMap;

    fn p(name: &str) -> Provider {
        Provider::parse(name).unwrap()
    }

    fn check(
        p: Provider,
        secret: &str,
        body: &[u8],
        hdrs: &[(&str, &str)],
        now: i64,
    ) -> Result<(), VerifyError> {
        let v = p.verifier(vec![
            b"a-rotated-out-secret".to_vec(),
            p.decode_secret(secret).unwrap(),
        ]);
        let mut h = HeaderMap::new();
        for (k, val) in hdrs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                val.parse().unwrap(),
            );
        }
        v.verify(&SignedRequest::post(&h, body, now))
    }

    #[test]
    fn github_docs_vector() {
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(
            check(
                p("github"),
                "It's a Secret to Everybody",
                b"Hello, World!",
                &[("X-Hub-Signature-256", sig)],
                0
            ),
            Ok(())
        );
        assert_eq!(
            check(
                p("github"),
                "It's a Secret to Everybody",
                b"Hello, World?",
                &[("X-Hub-Signature-256", sig)],
                0
            ),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(p("github"), "x", b"", &[], 0),
            Err(VerifyError::Missing("x-hub-signature-256".into()))
        );
    }

    #[test]
    fn github_cross_checked_and_sha1_alone_refused() {
        let body = br#"{"id":"evt_test","type":"test"}"#;
        let sig = "sha256=af33f13463b44d0debbc69478fca58773f59fd8fad07cceb6cd157a55d8b9634";
        assert_eq!(
            check(
                p("github"),
                "gh_secret",
                body,
                &[("X-Hub-Signature-256", sig)],
                0
            ),
            Ok(())
        );
        let v = p("github").verifier(vec![b"gh_secret".to_vec()]);
        let mut mac = crate::checks::verify::Mac::new(Algorithm::Sha1, b"gh_secret");
        mac.update(body);
        let sha1 = format!("sha1={}", hex::encode(mac.finish().as_bytes()));
        let mut h = HeaderMap::new();
        h.insert("x-hub-signature", sha1.parse().unwrap());
        assert_eq!(
            v.verify(&SignedRequest::post(&h, body, 0)),
            Err(VerifyError::Missing("x-hub-signature-256".into()))
        );
    }

    #[test]
    fn shopify_and_kontent_cross_checked_vectors() {
        let body = br#"{"id":"evt_test","type":"test"}"#;
        assert_eq!(
            check(
                p("shopify"),
                "shopify_secret",
                body,
                &[(
                    "X-Shopify-Hmac-Sha256",
                    "QaEl3VP7CDU67JkzbA5k253GOHW9Yqq5iETX77UsvEU="
                )],
                0
            ),
            Ok(())
        );
        let k = "24N4yWOPujFeuLRk0W1NOVWOlski2TFKESXrUH7LtCk=";
        assert_eq!(
            check(
                p("kontent"),
                "kontent_secret",
                body,
                &[("X-Kontent-ai-Signature", k)],
                0
            ),
            Ok(())
        );
        assert_eq!(
            check(
                p("kontent"),
                "kontent_secret",
                body,
                &[("X-KC-Signature", k)],
                0
            ),
            Ok(())
        );
    }

    #[test]
    fn slack_docs_vector() {
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let hdrs = [
            ("X-Slack-Request-Timestamp", "1531420618"),
            (
                "X-Slack-Signature",
                "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
            ),
        ];
        assert_eq!(
            check(
                p("slack"),
                "8f742231b10e8888abcd99yyyzzz85a5",
                body,
                &hdrs,
                1_531_420_618
            ),
            Ok(())
        );
        assert!(matches!(
            check(
                p("slack"),
                "8f742231b10e8888abcd99yyyzzz85a5",
                body,
                &hdrs,
                1_531_420_618 + 301
            ),
            Err(VerifyError::TimestampSkew { .. })
        ));
    }

    #[test]
    fn slack_cross_checked_vector() {
        let body = br#"{"id":"evt_test","type":"test"}"#;
        let hdrs = [
            ("X-Slack-Request-Timestamp", "1700000000"),
            (
                "X-Slack-Signature",
                "v0=4586edef771a863c940e04bb6441e02e174504549bdf91c19bcc25462cb59120",
            ),
        ];
        assert_eq!(
            check(p("slack"), "slack_secret", body, &hdrs, 1_700_000_000),
            Ok(())
        );
    }
}

#[cfg(test)]
mod catalog_tests {
    use super::*;
    use crate::checks::verify::{SignedRequest, VerifyError};
    use http::HeaderMap;

    /// providers.md's cross-checked vectors (body `{"id":"evt_test","type":"test"}`, t =
    /// 1700000000), made by the providers' SDKs: accepted as published, refused tampered.
    #[test]
    fn published_vectors_of_the_keyed_and_plain_hmac_presets() {
        let body = br#"{"id":"evt_test","type":"test"}"#;
        for (name, secret, header, value) in [
            (
                "paddle",
                "pdl_secret",
                "paddle-signature",
                "ts=1700000000;h1=352a66ca24ef96ad59bfe11afa53c0b759b374c03d21519ca585aa91cd099902",
            ),
            (
                "mux",
                "mux_secret",
                "mux-signature",
                "t=1700000000,v1=154c856a8f0410fe948113002af9ecf71426fe78afaa58fb27a0515cd83939d9",
            ),
            (
                "coinbase-commerce",
                "cc_secret",
                "x-cc-webhook-signature",
                "87440a3c41b331b1e9b87ffa179fe66a109ced4d94ae3ee7d05ec193f8af9528",
            ),
            (
                "stripe",
                "whsec_test",
                "stripe-signature",
                "t=1700000000,v1=4bcc38a10efb1666bcbc202e170c767ba6efbb354fbdcf350d867102e7ead3b0",
            ),
        ] {
            let p = Provider::parse(name).unwrap();
            let v = p.verifier(vec![p.decode_secret(secret).unwrap()]);
            let mut h = HeaderMap::new();
            h.insert(HeaderName::from_static(header), value.parse().unwrap());
            let req = |body: &'static [u8], h: &HeaderMap| {
                v.verify(&SignedRequest::post(h, body, 1_700_000_000))
            };
            assert_eq!(req(body, &h), Ok(()), "{name}");
            assert_eq!(
                req(br#"{"id":"evt_test","type":"tesT"}"#, &h),
                Err(VerifyError::Mismatch),
                "{name}"
            );
            // What `hookgate sign` makes is what the provider's SDK made.
            let signed = v.sign(secret.as_bytes(), body, "", 1_700_000_000, "");
            assert_eq!(signed[0].1, value, "{name}");
        }
    }

    #[test]
    fn every_preset_has_docs_a_secret_hint_and_a_unique_name() {
        let mut names = std::collections::HashSet::new();
        for p in super::super::catalog::PRESETS {
            assert!(p.docs.starts_with("https://"), "{}", p.name);
            assert!(!p.secret_hint.is_empty(), "{}", p.name);
            assert!(names.insert(p.name), "{} twice", p.name);
        }
    }
}
