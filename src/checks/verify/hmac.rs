//! The generic HMAC scheme (docs/configuration.md `verify.hmac`) and the presets built on it
//! (github, shopify, slack, kontent, generic-hmac): a MAC over a template of the raw
//! body, a timestamp, an id, the URL and headers, found in one of several headers,
//! hex or base64, optionally prefixed, optionally several per header.

use std::time::Duration;

use http::HeaderName;

use super::template::header_name;
pub(crate) use super::template::{parse_template, Part, Stamp, TsFormat};
use super::{Algorithm, Candidates, Mac, SetupError, SignedRequest, VerifyError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Hex,
    Base64,
}

/// A header that may carry the signature, with its algorithm and prefix. Several allow
/// e.g. GitHub's `X-Hub-Signature-256` with the legacy SHA-1 `X-Hub-Signature` fallback.
#[derive(Debug, Clone)]
pub struct SigHeader {
    pub name: HeaderName,
    pub alg: Algorithm,
    /// Stripped when present (e.g. `sha256=`); a signature without it is still tried.
    pub prefix: String,
}

#[derive(Debug, Clone)]
pub struct HmacSpec {
    pub headers: Vec<SigHeader>,
    pub encoding: Encoding,
    pub template: Vec<Part>,
    pub separator: Option<String>,
    pub timestamp: Option<Stamp>,
    /// The header `{id}` reads (the route's `event_id` header).
    pub id_header: Option<HeaderName>,
}

impl HmacSpec {
    /// Build from the configuration's `verify.hmac` values.
    #[allow(clippy::too_many_arguments)]
    pub fn parse(
        algorithm: &str,
        header: &str,
        encoding: &str,
        prefix: &str,
        signed: &str,
        separator: Option<&str>,
        ts_header: Option<&str>,
        tolerance: Duration,
    ) -> Result<HmacSpec, SetupError> {
        let alg = match algorithm {
            "sha1" => Algorithm::Sha1,
            "sha512" => Algorithm::Sha512,
            _ => Algorithm::Sha256,
        };
        let name = header_name(header)?;
        let template = parse_template(signed)?;
        let timestamp = match ts_header {
            Some(h) => Some(Stamp {
                header: header_name(h)?,
                format: TsFormat::Secs,
                tolerance: Some(tolerance),
            }),
            None => None,
        };
        if template.iter().any(|p| matches!(p, Part::Timestamp)) && timestamp.is_none() {
            return Err(SetupError::TimestampNotConfigured);
        }
        Ok(HmacSpec {
            headers: vec![SigHeader {
                name,
                alg,
                prefix: prefix.to_string(),
            }],
            encoding: if encoding == "base64" {
                Encoding::Base64
            } else {
                Encoding::Hex
            },
            template,
            separator: separator.filter(|s| !s.is_empty()).map(str::to_string),
            timestamp,
            id_header: None,
        })
    }

    pub fn uses_id(&self) -> bool {
        self.template.iter().any(|p| matches!(p, Part::Id))
    }
}

pub struct HmacScheme {
    pub spec: HmacSpec,
    /// Prepared MAC state per algorithm in use, one per secret.
    keys: Vec<(Algorithm, Vec<Mac>)>,
}

impl HmacScheme {
    pub fn new(spec: HmacSpec, secrets: &[Vec<u8>]) -> HmacScheme {
        let mut keys: Vec<(Algorithm, Vec<Mac>)> = Vec::new();
        for h in &spec.headers {
            if !keys.iter().any(|(a, _)| *a == h.alg) {
                keys.push((h.alg, secrets.iter().map(|s| Mac::new(h.alg, s)).collect()));
            }
        }
        HmacScheme { spec, keys }
    }

    pub fn secrets(&self) -> usize {
        self.keys.first().map_or(0, |(_, k)| k.len())
    }

    pub fn describe(&self) -> String {
        let h = &self.spec.headers[0];
        let alg = match h.alg {
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        };
        let enc = match self.spec.encoding {
            Encoding::Hex => "hex",
            Encoding::Base64 => "base64",
        };
        let ts = if self.spec.timestamp.is_some() {
            " +timestamp"
        } else {
            ""
        };
        format!(
            "hmac-{alg} {enc} in {}{ts} ({} secret(s))",
            h.name,
            self.secrets()
        )
    }

    fn feed(&self, mac: &mut Mac, req: &SignedRequest, ts: &[u8]) {
        for part in &self.spec.template {
            match part {
                Part::Lit(l) => mac.update(l),
                Part::Body => mac.update(req.body),
                Part::Timestamp => mac.update(ts),
                Part::Url => mac.update(req.url.as_bytes()),
                Part::Method => mac.update(req.method.as_bytes()),
                Part::Id => {
                    if let Some(v) = self
                        .spec
                        .id_header
                        .as_ref()
                        .and_then(|h| req.headers.get(h))
                    {
                        mac.update(v.as_bytes());
                    }
                }
                Part::Header(h) => {
                    if let Some(v) = req.headers.get(h) {
                        mac.update(v.as_bytes());
                    }
                }
            }
        }
    }

    pub fn verify(&self, req: &SignedRequest) -> Result<(), VerifyError> {
        let (sh, value) = self
            .spec
            .headers
            .iter()
            .find_map(|h| req.headers.get(&h.name).map(|v| (h, v.as_bytes())))
            .ok_or_else(|| VerifyError::Missing(self.spec.headers[0].name.to_string()))?;
        let (ts_raw, ts) = match &self.spec.timestamp {
            Some(stamp) => {
                let raw = req
                    .headers
                    .get(&stamp.header)
                    .ok_or_else(|| VerifyError::Missing(stamp.header.to_string()))?
                    .as_bytes();
                (raw, Some((stamp, stamp.parse(raw)?)))
            }
            None => (&[][..], None),
        };
        let keys = self
            .keys
            .iter()
            .find(|(a, _)| *a == sh.alg)
            .map(|(_, k)| k.as_slice())
            .unwrap_or(&[]);
        let mut candidates = Candidates::new();
        for token in self.tokens(value) {
            let token = token.strip_prefix(sh.prefix.as_bytes()).unwrap_or(token);
            candidates.push(token, self.spec.encoding == Encoding::Base64);
        }
        if candidates.is_empty() {
            return Err(VerifyError::Malformed("signature is not valid hex/base64"));
        }
        if !candidates.match_any(keys, |mac| self.feed(mac, req, ts_raw)) {
            return Err(VerifyError::Mismatch);
        }
        if let Some((stamp, ts)) = ts {
            stamp.check(ts, req.now)?;
        }
        Ok(())
    }

    fn tokens<'a>(&'a self, value: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        let sep = self.spec.separator.as_deref().map(str::as_bytes);
        let mut rest = Some(value);
        std::iter::from_fn(move || {
            let v = rest?;
            match sep.and_then(|s| find(v, s).map(|i| (i, s.len()))) {
                Some((i, n)) => {
                    rest = Some(&v[i + n..]);
                    Some(trim(&v[..i]))
                }
                None => {
                    rest = None;
                    Some(trim(v))
                }
            }
        })
        .filter(|t| !t.is_empty())
    }

    pub fn sign(
        &self,
        key: &[u8],
        body: &[u8],
        url: &str,
        now: i64,
        id: &str,
    ) -> Vec<(String, String)> {
        let sh = &self.spec.headers[0];
        let mut headers = http::HeaderMap::new();
        let mut out = Vec::new();
        if let (Some(h), true) = (&self.spec.id_header, self.spec.uses_id()) {
            if let Ok(v) = http::HeaderValue::from_str(id) {
                headers.insert(h.clone(), v);
            }
            out.push((h.to_string(), id.to_string()));
        }
        let ts = match &self.spec.timestamp {
            Some(stamp) => {
                let ts = stamp.format(now);
                out.push((stamp.header.to_string(), ts.clone()));
                ts
            }
            None => now.to_string(),
        };
        let req = SignedRequest {
            headers: &headers,
            body,
            url,
            method: "POST",
            query: "",
            now,
        };
        let mut mac = Mac::new(sh.alg, key);
        self.feed(&mut mac, &req, ts.as_bytes());
        let d = mac.finish();
        let enc = match self.spec.encoding {
            Encoding::Hex => hex::encode(d.as_bytes()),
            Encoding::Base64 => super::b64(d.as_bytes()),
        };
        out.push((sh.name.to_string(), format!("{}{enc}", sh.prefix)));
        out
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn trim(v: &[u8]) -> &[u8] {
    let s = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let e = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(s, |i| i + 1);
    &v[s..e]
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    fn req<'a>(h: &'a HeaderMap, body: &'a [u8], now: i64) -> SignedRequest<'a> {
        SignedRequest {
            headers: h,
            body,
            url: "https://example.com/hook",
            method: "POST",
            query: "",
            now,
        }
    }

    #[test]
    fn custom_scheme_with_timestamp_and_several_signatures() {
        let spec = HmacSpec::parse(
            "sha512",
            "X-Sig",
            "base64",
            "v1=",
            "{timestamp}.{url}.{body}",
            Some(","),
            Some("X-Ts"),
            Duration::from_secs(60),
        )
        .unwrap();
        let s = HmacScheme::new(spec, &[b"new".to_vec()]);
        let signed = s.sign(b"new", b"{}", "https://example.com/hook", 1000, "");
        let mut h = HeaderMap::new();
        for (k, v) in &signed {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let sig = h.get("x-sig").unwrap().to_str().unwrap().to_string();
        h.insert("x-sig", format!("v1=AAAA, {sig}").parse().unwrap());
        assert_eq!(s.verify(&req(&h, b"{}", 1030)), Ok(()));
        assert!(matches!(
            s.verify(&req(&h, b"{}", 1100)),
            Err(VerifyError::TimestampSkew { .. })
        ));
        assert_eq!(s.verify(&req(&h, b"{ }", 1000)), Err(VerifyError::Mismatch));
        h.remove("x-ts");
        assert_eq!(
            s.verify(&req(&h, b"{}", 1000)),
            Err(VerifyError::Missing("x-ts".into()))
        );
    }
}
