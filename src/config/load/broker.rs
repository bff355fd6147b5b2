//! `tls:` and `broker:`.

use std::time::Duration;

use super::{parse_bool, Validator};
use crate::config::raw::{RawBroker, RawTls};
use crate::config::{BrokerConfig, TlsConfig, WhenUnavailable};

impl Validator<'_> {
    pub(super) fn tls(&mut self, t: &RawTls) -> Option<TlsConfig> {
        let cert = self.text("tls.cert", &t.cert).map(|c| self.path_of(&c));
        let key = self.text("tls.key", &t.key).map(|k| self.path_of(&k));
        let (cert, key) = (cert?, key?);
        if let Err(m) = crate::config::tls::load_certified_key(&cert, &key) {
            self.err("tls", m);
            return None;
        }
        self.files.push(cert.clone());
        self.files.push(key.clone());
        Some(TlsConfig { cert, key })
    }

    pub(super) fn broker(&mut self, b: &RawBroker) -> Option<BrokerConfig> {
        let url = self.secret("broker.url", &b.url)?;
        // One URL, or a cluster's nodes separated by commas (tried in turn).
        let urls = split_urls(&url);
        for (i, one) in urls.iter().enumerate() {
            let which = if urls.len() > 1 {
                format!(" (the {} URL)", ordinal(i + 1))
            } else {
                String::new()
            };
            match url::Url::parse(one) {
                // What lapin will parse at connect time; its errors can quote the URL, so
                // only ours (which never does) is shown.
                Ok(u) if u.scheme() == "amqp" || u.scheme() == "amqps" => {
                    if one.parse::<lapin::uri::AMQPUri>().is_err() {
                        self.err(
                            "broker.url",
                            format!("not a valid AMQP URL{which} (check the port, the percent-encoding of the user, password and vhost, and numeric query parameters such as frame_max)"),
                        );
                        return None;
                    }
                }
                Ok(_) => {
                    self.err(
                        "broker.url",
                        format!("the URL{which} must start with amqp:// or amqps://"),
                    );
                    return None;
                }
                Err(e) => {
                    self.err("broker.url", format!("not a valid URL{which}: {e}"));
                    return None;
                }
            }
        }
        let exchange = self.parsed(
            "broker.exchange",
            b.exchange.as_ref(),
            "hookgate".to_string(),
            |t| {
                if t.is_empty() || t.len() > 200 || t.starts_with("amq.") {
                    Err("an exchange name is 1-200 bytes and does not start with amq.".into())
                } else {
                    Ok(t.to_string())
                }
            },
        );
        let declare = self.parsed("broker.declare", b.declare.as_ref(), true, parse_bool);
        let ca = b.ca.as_ref().and_then(|s| {
            let t = self.text("broker.ca", s)?;
            let file = self.path_of(&t);
            let pem = match std::fs::read_to_string(&file) {
                Ok(p) => p,
                Err(e) => {
                    self.err("broker.ca", format!("cannot read {}: {e}", file.display()));
                    return None;
                }
            };
            use rustls::pki_types::pem::PemObject;
            let certs = rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
                .filter(|c| c.is_ok())
                .count();
            if certs == 0 {
                self.err(
                    "broker.ca",
                    format!("no PEM certificate in {}", file.display()),
                );
                return None;
            }
            Some(pem)
        });
        Some(BrokerConfig {
            declare,
            ca,
            url,
            urls,
            exchange,
            confirm_timeout: self.duration(
                "broker.confirm_timeout",
                b.confirm_timeout.as_ref(),
                Duration::from_secs(5),
            ),
            when_unavailable: self.parsed(
                "broker.when_unavailable",
                b.when_unavailable.as_ref(),
                WhenUnavailable::Spool,
                |t| match t {
                    "spool" => Ok(WhenUnavailable::Spool),
                    "reject" => Ok(WhenUnavailable::Reject),
                    _ => Err(format!("expected spool or reject, got {t:?}")),
                },
            ),
        })
    }
}

/// `broker.url` split at each comma that starts another `amqp://` or `amqps://` URL (a
/// comma inside a password stays where it is).
pub(crate) fn split_urls(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in s.split(',') {
        let p = part.trim();
        match out.last_mut() {
            Some(last) if !(p.starts_with("amqp://") || p.starts_with("amqps://")) => {
                last.push(',');
                last.push_str(part);
            }
            _ => out.push(p.to_string()),
        }
    }
    out
}

fn ordinal(n: usize) -> String {
    match n {
        1 => "first".into(),
        2 => "second".into(),
        3 => "third".into(),
        n => format!("{n}th"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_split_at_each_new_url_not_inside_a_password() {
        assert_eq!(
            super::split_urls("amqp://u:p,w@a:5672/v, amqps://u:p@b:5671/v,amqp://c"),
            ["amqp://u:p,w@a:5672/v", "amqps://u:p@b:5671/v", "amqp://c"]
        );
        assert_eq!(super::split_urls("amqp://a"), ["amqp://a"]);
    }
}
