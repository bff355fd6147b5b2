//! `traces:`: where spans go (an OTLP/HTTP collector), how many requests start a
//! sampled trace, and the service name they carry.

use crate::config::raw::RawTraces;
use crate::obs::traces::TracesConfig;

use super::Validator;

impl Validator<'_> {
    pub(super) fn traces(&mut self, t: &RawTraces) -> Option<TracesConfig> {
        let before = self.errors.len();
        let otlp = match &t.otlp {
            None => {
                self.err(
                    "traces",
                    "traces need `otlp`: the collector's OTLP/HTTP URL, e.g. http://127.0.0.1:4318",
                );
                String::new()
            }
            Some(s) => {
                let u = self.text("traces.otlp", s).unwrap_or_default();
                match url::Url::parse(&u) {
                    Ok(p) if (p.scheme() == "http" || p.scheme() == "https") && p.host().is_some() => {}
                    _ => self.err(
                        "traces.otlp",
                        format!("expected the collector's http(s) URL (spans go to <otlp>/v1/traces), got {u:?}"),
                    ),
                }
                u
            }
        };
        let sample = self.parsed("traces.sample", t.sample.as_ref(), 1.0, |v| {
            match v.parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
                _ => Err(format!("a ratio from 0 to 1, got {v:?}")),
            }
        });
        let service_name = self.parsed(
            "traces.service_name",
            t.service_name.as_ref(),
            "hookgate".to_string(),
            |v| {
                if v.is_empty() || v.len() > 100 {
                    Err("1 to 100 characters".into())
                } else {
                    Ok(v.to_string())
                }
            },
        );
        (self.errors.len() == before).then_some(TracesConfig {
            otlp,
            sample,
            service_name,
        })
    }
}
