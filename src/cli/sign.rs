//! `hookgate sign`: what makes a body valid for a route (headers, and for some schemes a
//! signed body or a URL parameter), printed as lines or as a curl command, computed by the
//! same scheme code that verifies. A fresh event id is generated where the route takes
//! its id from a header, so repeated runs are not duplicates. Public-key schemes sign
//! with a private key given on the command line (`--private-key`), since a route holds
//! only the provider's public key.

use std::fmt::Write as _;
use std::io::Read as _;

use sha2::{Digest, Sha256};

use crate::checks::event::Source;
use crate::checks::verify::catalog::SecretForm;
use crate::checks::verify::Verifier;
use crate::config::{Config, Route};

/// `hookgate sign`'s arguments.
#[derive(clap::Args)]
pub(crate) struct SignArgs {
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// Route name.
    #[arg(long)]
    pub route: String,
    /// Body file, or - for stdin [default: empty JSON object]
    #[arg(long)]
    pub body: Option<String>,
    /// Sign with this secret instead of the route's first one.
    #[arg(long)]
    pub secret: Option<String>,
    /// For a public-key scheme (discord, sendgrid, telnyx): the private key to sign
    /// with (Ed25519: the 32-byte seed, hex or base64; P-256: base64 PKCS#8 DER).
    #[arg(long)]
    pub private_key: Option<String>,
    /// Print a ready curl command for this URL.
    #[arg(long)]
    pub curl: Option<String>,
    /// The event type, sent in the provider's event-type header where it has one
    /// (e.g. X-GitHub-Event), so the event is typed like a real delivery.
    #[arg(long, default_value = "test")]
    pub event_type: String,
}

/// `hookgate sign`: print the headers (or a curl command) for a route.
pub(crate) fn command(a: SignArgs) -> i32 {
    let Some(cfg) = super::load(&a.config.config, a.config.dev) else {
        return 1;
    };
    let key = Key {
        secret: a.secret.as_deref(),
        private: a.private_key.as_deref(),
    };
    let signed = run(
        &cfg,
        &a.route,
        a.body.as_deref(),
        key,
        a.curl.as_deref(),
        &a.event_type,
    );
    match signed {
        Ok(out) => {
            print!("{out}");
            0
        }
        Err(e) => {
            eprintln!("hookgate sign: {e}");
            1
        }
    }
}

/// The keys `hookgate sign` was given on its command line.
pub(crate) struct Key<'a> {
    pub secret: Option<&'a str>,
    pub private: Option<&'a str>,
}

/// What a request needs besides its method and path.
struct Signed {
    headers: Vec<(String, String)>,
    /// The body to send, when the signature lives in it (Mailgun, Adyen, Graph).
    body: Option<Vec<u8>>,
    /// A query string the URL needs (Mailchimp's token, Twilio's `bodySHA256`).
    query: Option<String>,
}

pub(crate) fn run(
    cfg: &Config,
    route: &str,
    body: Option<&str>,
    key: Key,
    curl: Option<&str>,
    event_type: &str,
) -> anyhow::Result<String> {
    let r = cfg
        .routes
        .iter()
        .find(|r| &*r.name == route)
        .ok_or_else(|| anyhow::anyhow!("no route named {route:?}"))?;
    let (bytes, body_file) = match body {
        None => (b"{}".to_vec(), None),
        Some("-") => {
            let mut b = Vec::new();
            std::io::stdin().read_to_end(&mut b)?;
            (b, None)
        }
        Some(f) => (
            std::fs::read(f).map_err(|e| anyhow::anyhow!("cannot read {f}: {e}"))?,
            Some(f),
        ),
    };
    let key = match (&r.verifier, key) {
        (Verifier::PublicKey(_) | Verifier::Certificate(_), Key { private: None, .. }) => anyhow::bail!(
            "route {route:?} verifies the provider's public-key signature; give a private key to sign with: --private-key KEY"
        ),
        (Verifier::Certificate(_), Key { private: Some(p), .. }) => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(p.trim())
                .map_err(|_| anyhow::anyhow!("an RSA private key is base64 of its PKCS#8 DER"))?
        }
        (Verifier::PublicKey(_), Key { private: Some(p), .. }) => match r.provider.map(|p| p.preset().secret) {
            Some(SecretForm::PublicKey(alg)) => alg.decode_private(p).map_err(anyhow::Error::msg)?,
            _ => anyhow::bail!("route {route:?} has no public-key preset"),
        },
        (_, Key { secret: Some(s), .. }) => match r.provider {
            Some(p) => p.decode_secret(s).map_err(anyhow::Error::msg)?,
            None => s.as_bytes().to_vec(),
        },
        (_, Key { secret: None, .. }) => r
            .secrets
            .first()
            .map(|s| s.0.clone())
            .ok_or_else(|| anyhow::anyhow!("route {route:?} has no secret (verify: none?)"))?,
    };
    let mut out = render(cfg, r, &bytes, &key, body_file, curl, event_type)?;
    if body.is_none() && curl.is_none() {
        out.push_str("\nsigned the body {} (give one with --body FILE)\n");
    }
    Ok(out)
}

fn fresh_id(body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(crate::now_ms().to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    h.update(nanos.to_le_bytes());
    h.update(body);
    format!("msg_{}", &hex::encode(h.finalize())[..24])
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Sign `body` for `verifier` as the provider would.
fn sign(
    verifier: &Verifier,
    key: &[u8],
    body: &[u8],
    url: &str,
    now: i64,
    id: &str,
) -> anyhow::Result<Signed> {
    let plain = |headers| Signed {
        headers,
        body: None,
        query: None,
    };
    Ok(match verifier {
        Verifier::PublicKey(p) => plain(p.sign(key, body, now, id).map_err(anyhow::Error::msg)?),
        Verifier::Certificate(c) => plain(c.sign(key, body, now, id).map_err(anyhow::Error::msg)?),
        Verifier::InBody(s) => Signed {
            headers: Vec::new(),
            body: Some(s.sign_body(key, body, now).ok_or_else(|| {
                anyhow::anyhow!(
                    "this scheme signs inside a JSON body; the body is not the JSON it expects"
                )
            })?),
            query: None,
        },
        Verifier::Token(t) if t.sign_url(key).is_some() => Signed {
            headers: Vec::new(),
            body: None,
            query: t.sign_url(key),
        },
        // Twilio signs a JSON body through its hash in the URL.
        Verifier::FormSigned(f) if body.starts_with(b"{") && f.spec.body_hash_param.is_some() => {
            let query = format!(
                "{}={}",
                f.spec.body_hash_param.unwrap_or_default(),
                hex::encode(Sha256::digest(body))
            );
            Signed {
                headers: f.sign(key, body, &format!("{url}?{query}")),
                body: None,
                query: Some(query),
            }
        }
        v => plain(v.sign(key, body, url, now, id)),
    })
}

pub(crate) fn render(
    cfg: &Config,
    r: &Route,
    body: &[u8],
    key: &[u8],
    body_file: Option<&str>,
    curl: Option<&str>,
    event_type: &str,
) -> anyhow::Result<String> {
    let id = fresh_id(body);
    let url = match (&r.public_url, curl) {
        (Some(u), _) => u.clone(),
        (None, Some(c)) => {
            let u = url::Url::parse(c).map_err(|e| anyhow::anyhow!("bad --curl URL: {e}"))?;
            let host = match u.port() {
                Some(p) => format!("{}:{p}", u.host_str().unwrap_or("")),
                None => u.host_str().unwrap_or("").to_string(),
            };
            format!("{}://{host}{}", u.scheme(), u.path())
        }
        (None, None) => format!("http://{}{}", cfg.listen, r.path),
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    if r.body_json {
        headers.push(("Content-Type".into(), "application/json".into()));
    }
    let signed = sign(&r.verifier, key, body, &url, crate::now_ms() / 1000, &id)?;
    if let Some(Source::Header(h)) = r.event_id.first() {
        if !signed
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(h.as_str()))
        {
            headers.push((h.to_string(), id.clone()));
        }
    }
    headers.extend(signed.headers);
    if let Some(Source::Header(h)) = r.event_type.first() {
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(h.as_str()))
        {
            headers.push((h.to_string(), event_type.to_string()));
        }
    }
    let mut out = String::new();
    match curl {
        None => {
            for (k, v) in &headers {
                writeln!(out, "{k}: {v}")?;
            }
            if let Some(q) = &signed.query {
                writeln!(out, "\nAppend to the URL: ?{q}")?;
            }
            if let Some(b) = &signed.body {
                writeln!(out, "\nThe signed body:\n{}", String::from_utf8_lossy(b))?;
            }
        }
        Some(u) => {
            let u = match &signed.query {
                Some(q) if u.contains('?') => format!("{u}&{q}"),
                Some(q) => format!("{u}?{q}"),
                None => u.to_string(),
            };
            write!(out, "curl -sS -X POST {}", quote(&u))?;
            for (k, v) in &headers {
                write!(out, " -H {}", quote(&format!("{k}: {v}")))?;
            }
            match (&signed.body, body_file) {
                (Some(b), _) => {
                    writeln!(out, " --data-binary {}", quote(&String::from_utf8_lossy(b)))?
                }
                (None, Some(f)) => writeln!(out, " --data-binary @{}", quote(f))?,
                (None, None) => {
                    let text = std::str::from_utf8(body).map_err(|_| {
                        anyhow::anyhow!(
                            "a binary body from stdin cannot go in a command line; use --body FILE"
                        )
                    })?;
                    writeln!(out, " --data-binary {}", quote(text))?
                }
            }
        }
    }
    Ok(out)
}
