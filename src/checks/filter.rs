//! A destination's `filter`: a CEL expression (the `cel` crate) over the event, compiled
//! once when the configuration loads, evaluated before each delivery. Variables: `body`
//! (the parsed JSON body; null when the body is not JSON), `headers` (the headers the
//! event keeps: the route's `forward_headers`, lowercase names), `type`, `route`, `id`.
//! Expressions come only from the configuration, capped in length and nesting before
//! the parser sees them (its recursion is what past CEL parser bugs abused).

use std::collections::BTreeMap;

use crate::checks::event::Event;

/// Longest expression accepted.
pub(crate) const MAX_LEN: usize = 2048;
/// Deepest nesting of brackets accepted.
const MAX_DEPTH: usize = 32;

/// A compiled `filter`.
pub struct Filter {
    program: cel::Program,
    /// As written, for `check` and the logs.
    pub source: String,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Filter").field(&self.source).finish()
    }
}

/// Why a filter is refused at load, or did not decide at delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FilterError {
    #[error("a filter is at most {MAX_LEN} bytes")]
    TooLong,
    #[error("a filter nests brackets at most {MAX_DEPTH} deep")]
    TooDeep,
    #[error("does not compile: {0}")]
    Syntax(String),
    #[error("is not a boolean expression (it gave {0})")]
    NotBoolean(String),
    #[error("evaluation failed: {0}")]
    Evaluation(String),
}

impl Filter {
    pub(crate) fn compile(source: &str) -> Result<Filter, FilterError> {
        if source.len() > MAX_LEN {
            return Err(FilterError::TooLong);
        }
        let mut depth = 0usize;
        for b in source.bytes() {
            match b {
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(FilterError::TooDeep);
                    }
                }
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        let program = cel::Program::compile(source)
            .map_err(|e| FilterError::Syntax(e.to_string().replace('\n', " ")))?;
        let filter = Filter {
            program,
            source: source.to_string(),
        };
        // Where it can be known without an event: an expression that yields something
        // other than a boolean for an empty event (a literal, arithmetic) is refused.
        match filter.eval(&serde_json::Value::Null, &[], None, "route", "id") {
            Ok(cel::Value::Bool(_)) | Err(_) => Ok(filter),
            Ok(other) => Err(FilterError::NotBoolean(format!("{other:?}"))),
        }
    }

    /// Does `ev` pass? Not a boolean, or a failed evaluation (a missing field): an error,
    /// which the caller counts as not matching.
    pub(crate) fn matches(&self, ev: &Event) -> Result<bool, FilterError> {
        let body = serde_json::from_slice(&ev.body).unwrap_or(serde_json::Value::Null);
        let kind = ev.event_type.as_deref();
        match self.eval(&body, &ev.headers, kind, &ev.route, &ev.id)? {
            cel::Value::Bool(b) => Ok(b),
            other => Err(FilterError::NotBoolean(format!("{other:?}"))),
        }
    }

    /// The header names it reads by a literal key (`headers["x-a"]`, `headers['x-a']`,
    /// `headers.x_a`), lowercase: `check` refuses one the route does not keep, which
    /// would never match.
    pub(crate) fn headers_read(&self) -> Vec<String> {
        let s = self.source.as_str();
        let mut out = Vec::new();
        for (i, _) in s.match_indices("headers") {
            let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
            if s[..i]
                .chars()
                .next_back()
                .is_some_and(|c| ident(c) || c == '.')
            {
                continue;
            }
            let t = s[i + "headers".len()..].trim_start();
            if let Some(t) = t.strip_prefix('[') {
                let t = t.trim_start();
                let Some(q) = t.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                    continue;
                };
                if let Some(end) = t[1..].find(q) {
                    out.push(t[1..1 + end].to_ascii_lowercase());
                }
            } else if let Some(t) = t.strip_prefix('.') {
                let name: String = t.chars().take_while(|c| ident(*c)).collect();
                if !name.is_empty() {
                    out.push(name.to_ascii_lowercase());
                }
            }
        }
        out
    }

    fn eval(
        &self,
        body: &serde_json::Value,
        headers: &[(String, String)],
        kind: Option<&str>,
        route: &str,
        id: &str,
    ) -> Result<cel::Value, FilterError> {
        let bad = |e: &dyn std::fmt::Display| FilterError::Evaluation(e.to_string());
        let headers: BTreeMap<&str, &str> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut cx = cel::Context::default();
        cx.add_variable("body", body).map_err(|e| bad(&e))?;
        cx.add_variable("headers", headers).map_err(|e| bad(&e))?;
        cx.add_variable("type", kind).map_err(|e| bad(&e))?;
        cx.add_variable("route", route).map_err(|e| bad(&e))?;
        cx.add_variable("id", id).map_err(|e| bad(&e))?;
        self.program.execute(&cx).map_err(|e| bad(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(body: &str, headers: &[(&str, &str)]) -> Event {
        Event {
            route: "gh".into(),
            id: "d-1".into(),
            event_type: Some("pull_request".into()),
            body: bytes::Bytes::from(body.to_string()),
            content_type: Some("application/json".into()),
            received_at_ms: 0,
            source_ip: std::net::Ipv4Addr::LOCALHOST.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn the_headers_it_reads_are_known() {
        let f = Filter::compile(
            r#"headers["X-GitHub-Event"] == "push" || headers['x-b'] == "" || headers.x_c == "" || myheaders["no"] == """#,
        )
        .unwrap();
        assert_eq!(f.headers_read(), ["x-github-event", "x-b", "x_c"]);
    }

    #[test]
    fn body_headers_and_type_decide() {
        let f = Filter::compile(
            r#"body.action == "opened" && headers["x-github-event"] == "pull_request" && type == "pull_request""#,
        )
        .unwrap();
        let opened = event(
            r#"{"action":"opened"}"#,
            &[("x-github-event", "pull_request")],
        );
        let closed = event(
            r#"{"action":"closed"}"#,
            &[("x-github-event", "pull_request")],
        );
        assert_eq!(f.matches(&opened), Ok(true));
        assert_eq!(f.matches(&closed), Ok(false));
        // A missing field is an error, which delivery counts as not matching.
        assert!(f.matches(&event("{}", &[])).is_err());
    }

    #[test]
    fn what_cannot_be_a_filter_is_refused() {
        assert!(matches!(
            Filter::compile("body.action =="),
            Err(FilterError::Syntax(_))
        ));
        assert!(matches!(
            Filter::compile("1 + 2"),
            Err(FilterError::NotBoolean(_))
        ));
        assert_eq!(
            Filter::compile(&"(".repeat(40)).err(),
            Some(FilterError::TooDeep)
        );
        assert_eq!(
            Filter::compile(&"a".repeat(MAX_LEN + 1)).err(),
            Some(FilterError::TooLong)
        );
    }
}
