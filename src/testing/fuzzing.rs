//! Entry points for the cargo-fuzz targets under `fuzz/` (not an API): each parser of
//! network or configuration input, reached as a request or a file reaches it. Built
//! into every build (a few functions) so that the targets fuzz the code that ships.

use std::net::IpAddr;
use std::path::Path;

use bytes::Bytes;
use http::HeaderMap;

use crate::config::{load_str, Config};

/// The client address a request is attributed to: `X-Forwarded-For` walked back
/// through `trusted` proxies.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    crate::checks::allowlist::client_ip(peer, headers, trusted)
}

/// A signing template (`verify: { hmac: { signed: "…" } }`).
pub fn template(t: &str) -> bool {
    crate::checks::verify::hmac::parse_template(t).is_ok()
}

/// The JSON nesting scan run before parsing a body.
pub fn nesting_depth(body: &[u8]) -> usize {
    crate::ingress::pipeline::nesting_depth(body)
}

/// Load a configuration from text (every `${VAR}` is set to `x`).
pub fn config(text: &str) -> bool {
    load_str(text, Path::new("fuzz.yaml"), &|_| Some("x".into())).is_ok()
}

/// A route per signature scheme family (HMAC templates, timestamped HMAC, Stripe's
/// keyed header, Standard Webhooks, Ed25519, a token, Twilio's signed URL, Mailgun's
/// signature in the body, Contentful's canonical request) and a custom template.
pub struct Routes {
    config: Config,
}

impl Default for Routes {
    fn default() -> Self {
        Routes::new()
    }
}

impl Routes {
    pub fn new() -> Routes {
        use ring::signature::KeyPair as _;
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).expect("a key");
        let key = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("a key");
        let public = hex::encode(key.public_key().as_ref());
        let yaml = format!(
            r#"routes:
  - {{ name: github, path: /github, provider: github, secrets: [s] }}
  - {{ name: gitlab, path: /gitlab, provider: gitlab, secrets: [s] }}
  - {{ name: stripe, path: /stripe, provider: stripe, secrets: [whsec_s] }}
  - {{ name: slack, path: /slack, provider: slack, secrets: [s] }}
  - {{ name: shopify, path: /shopify, provider: shopify, secrets: [s] }}
  - {{ name: sw, path: /sw, provider: standard-webhooks, secrets: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw] }}
  - {{ name: discord, path: /discord, provider: discord, secrets: ["{public}"] }}
  - {{ name: twilio, path: /twilio, provider: twilio, secrets: [s], body: any }}
  - {{ name: mailgun, path: /mailgun, provider: mailgun, secrets: [s] }}
  - {{ name: contentful, path: /contentful, provider: contentful, secrets: [s] }}
  - name: custom
    path: /custom
    verify: {{ hmac: {{ header: X-Sig, encoding: base64, separator: ",", signed: "{{id}}.{{url}}.{{timestamp}}.{{header:X-A}}.{{body}}", timestamp: {{ header: X-Ts }} }} }}
    event_id: {{ header: X-Id }}
    secrets: [s]
"#
        );
        let config =
            load_str(&yaml, Path::new("fuzz.yaml"), &|_| None).expect("the fuzz routes load");
        Routes { config }
    }

    /// Verify and parse a request to route `pick` (modulo the routes): the signature
    /// headers of its scheme, the JSON scan and parse, the event id and type.
    pub fn inspect(&self, pick: u8, headers: HeaderMap, body: &[u8]) -> bool {
        let routes = &self.config.routes;
        let route = &routes[usize::from(pick) % routes.len()];
        let Ok(req) = http::Request::builder()
            .method("POST")
            .uri(format!("https://example.com{}?a=1", route.path))
            .body(())
        else {
            return false;
        };
        let (mut parts, ()) = req.into_parts();
        parts.headers = headers;
        let url = format!("https://example.com{}?a=1", route.path);
        crate::ingress::pipeline::inspect(
            route,
            &parts,
            Bytes::copy_from_slice(body),
            &url,
            1_700_000_000_000,
            IpAddr::from([192, 0, 2, 1]),
        )
        .is_ok()
    }
}
