//! A route's verification: its secrets decoded the way its provider (or its own HMAC
//! scheme) uses them, and the verifier built from them. Fail closed: a route without
//! a provider or `verify:` is refused, and `verify: none` must be spelled out.

use http::HeaderName;

use super::Validator;
use crate::checks::verify::{Provider, Verifier};
use crate::config::raw::{RawRoute, RawVerify};

impl Validator<'_> {
    /// The route's verifier (`None` when it cannot be built: an error says why) and its
    /// decoded secrets.
    pub(super) fn verification(
        &mut self,
        p: &str,
        r: &RawRoute,
        provider: Option<Provider>,
        name: &str,
        path: &str,
    ) -> (Option<Verifier>, Vec<Vec<u8>>) {
        let hmac_spec = match &r.verify {
            Some(RawVerify::Hmac(h)) => self.hmac(&format!("{p}.verify.hmac"), h),
            _ => None,
        };
        let verify_none = matches!(r.verify, Some(RawVerify::None));
        if r.verify.is_none() && r.provider.is_none() {
            self.err(
                p,
                "route has neither provider nor verify; write `verify: none` to accept unsigned requests",
            );
        }
        let mut secrets = Vec::new();
        // Inspecting the store needs no secret: they are not read (nor required).
        let raw_secrets = if self.inspect {
            None
        } else {
            r.secrets.as_ref()
        };
        for (i, s) in raw_secrets.into_iter().flatten().enumerate() {
            let sp = format!("{p}.secrets[{i}]");
            if let Some(text) = self.secret(&sp, s) {
                let decoded = match provider {
                    Some(pr) if hmac_spec.is_none() => pr.decode_secret(&text),
                    _ => Ok(text.into_bytes()),
                };
                match decoded {
                    Ok(b) => secrets.push(b),
                    Err(m) => self.err(&sp, m.to_string()),
                }
            }
        }
        let mut verifier = if self.inspect {
            Some(Verifier::None)
        } else if verify_none {
            if r.secrets.as_ref().is_some_and(|s| !s.is_empty()) {
                self.err(
                    &format!("{p}.secrets"),
                    "secrets are given but `verify: none` disables verification",
                );
            }
            self.warnings.push(format!(
                "route {name:?} ({path}) has `verify: none`: requests are NOT authenticated"
            ));
            Some(Verifier::None)
        } else if r.secrets.as_ref().is_none_or(|s| s.is_empty()) {
            if r.verify.is_some() || r.provider.is_some() {
                self.err(p, "a verified route needs at least one secret in `secrets`");
            }
            None
        } else if secrets.is_empty() {
            None
        } else if let Some(mut spec) = hmac_spec {
            if spec.uses_id() {
                match r.event_id.as_ref().and_then(|s| s.header.as_ref()) {
                    Some(h) => {
                        spec.id_header =
                            HeaderName::from_bytes(h.0.to_ascii_lowercase().as_bytes()).ok()
                    }
                    None => self.err(
                        &format!("{p}.verify.hmac.signed"),
                        "{id} needs `event_id: { header: NAME }` to say where the id is",
                    ),
                }
            }
            Some(Verifier::hmac(spec, secrets.clone()))
        } else {
            provider.map(|pr| pr.verifier(secrets.clone()))
        };
        if let Some(Verifier::Certificate(c)) = verifier.as_mut() {
            match r
                .webhook_id
                .as_ref()
                .and_then(|s| self.text(&format!("{p}.webhook_id"), s))
            {
                Some(id) => c.webhook_id = id,
                None => self.err(p, "PayPal signs the webhook's id: set `webhook_id` to it"),
            }
        }
        (verifier, secrets)
    }
}
