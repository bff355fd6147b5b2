//! Provider presets: for each provider, its signature scheme and where its event id and
//! event type come from (facts from `shared/reference/providers.md`).

use std::time::Duration;

use http::HeaderName;

use super::hmac::{parse_template, Encoding, HmacScheme, HmacSpec, SigHeader};
use super::{Algorithm, StandardWebhooks, Stripe, Token, Verifier};
use crate::event::Source;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Github,
    Gitlab,
    Stripe,
    Shopify,
    Slack,
    StandardWebhooks,
    Svix,
    Kontent,
    GenericHmac,
}

impl Provider {
    pub const NAMES: &'static [&'static str] = &[
        "github",
        "gitlab",
        "stripe",
        "shopify",
        "slack",
        "standard-webhooks",
        "svix",
        "kontent",
        "generic-hmac",
    ];

    pub fn parse(s: &str) -> Option<Provider> {
        Some(match s {
            "github" => Provider::Github,
            "gitlab" => Provider::Gitlab,
            "stripe" => Provider::Stripe,
            "shopify" => Provider::Shopify,
            "slack" => Provider::Slack,
            "standard-webhooks" => Provider::StandardWebhooks,
            "svix" => Provider::Svix,
            "kontent" => Provider::Kontent,
            "generic-hmac" => Provider::GenericHmac,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Provider::Github => "github",
            Provider::Gitlab => "gitlab",
            Provider::Stripe => "stripe",
            Provider::Shopify => "shopify",
            Provider::Slack => "slack",
            Provider::StandardWebhooks => "standard-webhooks",
            Provider::Svix => "svix",
            Provider::Kontent => "kontent",
            Provider::GenericHmac => "generic-hmac",
        }
    }

    /// Turn a configured secret into key bytes the way the provider does.
    pub fn decode_secret(self, s: &str) -> Result<Vec<u8>, String> {
        match self {
            Provider::StandardWebhooks | Provider::Svix => StandardWebhooks::decode_secret(s),
            // Stripe keeps `whsec_` and uses the text; Kontent's base64-looking secret is
            // used as UTF-8 text too (providers.md).
            _ => Ok(s.as_bytes().to_vec()),
        }
    }

    pub fn verifier(self, secrets: Vec<Vec<u8>>) -> Verifier {
        let hmac = |headers: Vec<SigHeader>, encoding, signed: &str, ts: Option<&'static str>| {
            let spec = HmacSpec {
                headers,
                encoding,
                template: parse_template(signed).expect("preset templates are valid"),
                separator: None,
                timestamp: ts.map(|h| (HeaderName::from_static(h), Duration::from_secs(300))),
                id_header: None,
            };
            Verifier::Hmac(HmacScheme::new(spec, &secrets))
        };
        let sh = |name: &'static str, alg, prefix: &str| SigHeader {
            name: HeaderName::from_static(name),
            alg,
            prefix: prefix.to_string(),
        };
        match self {
            // SHA-256 only: GitHub has sent X-Hub-Signature-256 with every delivery since
            // 2020, and accepting the SHA-1 header alone would let a request downgrade
            // to the weaker MAC. A sender that signs only with SHA-1 gets a custom
            // `verify: hmac` route (README, "Providers").
            Provider::Github => hmac(
                vec![sh("x-hub-signature-256", Algorithm::Sha256, "sha256=")],
                Encoding::Hex,
                "{body}",
                None,
            ),
            Provider::Gitlab => Verifier::Token(Token::new("x-gitlab-token", &secrets)),
            Provider::Stripe => Verifier::Stripe(Stripe::new(&secrets)),
            Provider::Shopify => hmac(
                vec![
                    sh("x-shopify-hmac-sha256", Algorithm::Sha256, ""),
                    sh("shopify-hmac-sha256", Algorithm::Sha256, ""),
                ],
                Encoding::Base64,
                "{body}",
                None,
            ),
            Provider::Slack => hmac(
                vec![sh("x-slack-signature", Algorithm::Sha256, "v0=")],
                Encoding::Hex,
                "v0:{timestamp}:{body}",
                Some("x-slack-request-timestamp"),
            ),
            Provider::StandardWebhooks => {
                Verifier::StandardWebhooks(StandardWebhooks::new("webhook", &secrets))
            }
            Provider::Svix => Verifier::StandardWebhooks(StandardWebhooks::new("svix", &secrets)),
            Provider::Kontent => hmac(
                vec![
                    sh("x-kontent-ai-signature", Algorithm::Sha256, ""),
                    sh("x-kc-signature", Algorithm::Sha256, ""),
                ],
                Encoding::Base64,
                "{body}",
                None,
            ),
            Provider::GenericHmac => hmac(
                vec![sh("x-signature", Algorithm::Sha256, "sha256=")],
                Encoding::Hex,
                "{body}",
                None,
            ),
        }
    }

    pub fn event_id_sources(self) -> Vec<Source> {
        match self {
            Provider::Github => vec![header("x-github-delivery")],
            Provider::Gitlab => vec![header("idempotency-key")],
            Provider::Stripe => vec![json("/id")],
            Provider::Shopify => vec![header("x-shopify-event-id"), header("shopify-event-id")],
            Provider::Slack => vec![json("/event_id")],
            Provider::StandardWebhooks => vec![header("webhook-id")],
            Provider::Svix => vec![header("svix-id")],
            Provider::Kontent => vec![json("/message/id"), json("/notifications/0/message/id")],
            Provider::GenericHmac => vec![],
        }
    }

    pub fn event_type_sources(self) -> Vec<Source> {
        match self {
            Provider::Github => vec![header("x-github-event")],
            Provider::Gitlab => vec![header("x-gitlab-event")],
            Provider::Stripe => vec![json("/type")],
            Provider::Shopify => vec![header("x-shopify-topic"), header("shopify-topic")],
            Provider::Slack => vec![json("/event/type"), json("/type")],
            Provider::StandardWebhooks | Provider::Svix => vec![json("/type")],
            Provider::Kontent => vec![
                json("/message/type"),
                json("/notifications/0/message/object_type"),
            ],
            Provider::GenericHmac => vec![],
        }
    }
}

fn header(h: &'static str) -> Source {
    Source::Header(HeaderName::from_static(h))
}

fn json(p: &str) -> Source {
    Source::Json(p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{SignedRequest, VerifyError};
    use http::HeaderMap;

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
        v.verify(&SignedRequest {
            headers: &h,
            body,
            url: "",
            now,
        })
    }

    #[test]
    fn github_docs_vector() {
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(
            check(
                Provider::Github,
                "It's a Secret to Everybody",
                b"Hello, World!",
                &[("X-Hub-Signature-256", sig)],
                0
            ),
            Ok(())
        );
        assert_eq!(
            check(
                Provider::Github,
                "It's a Secret to Everybody",
                b"Hello, World?",
                &[("X-Hub-Signature-256", sig)],
                0
            ),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            check(Provider::Github, "x", b"", &[], 0),
            Err(VerifyError::Missing("x-hub-signature-256".into()))
        );
    }

    #[test]
    fn github_cross_checked_and_sha1_alone_refused() {
        let body = br#"{"id":"evt_test","type":"test"}"#;
        let sig = "sha256=af33f13463b44d0debbc69478fca58773f59fd8fad07cceb6cd157a55d8b9634";
        assert_eq!(
            check(
                Provider::Github,
                "gh_secret",
                body,
                &[("X-Hub-Signature-256", sig)],
                0
            ),
            Ok(())
        );
        let v = Provider::Github.verifier(vec![b"gh_secret".to_vec()]);
        let mut mac = crate::verify::Mac::new(Algorithm::Sha1, b"gh_secret");
        mac.update(body);
        let sha1 = format!("sha1={}", hex::encode(mac.finish().as_bytes()));
        let mut h = HeaderMap::new();
        h.insert("x-hub-signature", sha1.parse().unwrap());
        assert_eq!(
            v.verify(&SignedRequest {
                headers: &h,
                body,
                url: "",
                now: 0
            }),
            Err(VerifyError::Missing("x-hub-signature-256".into()))
        );
    }

    #[test]
    fn shopify_and_kontent_cross_checked_vectors() {
        let body = br#"{"id":"evt_test","type":"test"}"#;
        assert_eq!(
            check(
                Provider::Shopify,
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
                Provider::Kontent,
                "kontent_secret",
                body,
                &[("X-Kontent-ai-Signature", k)],
                0
            ),
            Ok(())
        );
        assert_eq!(
            check(
                Provider::Kontent,
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
                Provider::Slack,
                "8f742231b10e8888abcd99yyyzzz85a5",
                body,
                &hdrs,
                1_531_420_618
            ),
            Ok(())
        );
        assert!(matches!(
            check(
                Provider::Slack,
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
            check(Provider::Slack, "slack_secret", body, &hdrs, 1_700_000_000),
            Ok(())
        );
    }
}
