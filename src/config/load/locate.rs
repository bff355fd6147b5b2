//! Where a problem is: [`ConfigError`] (`FILE:LINE:COL: yaml.path: message`), the YAML
//! paths located in the text, and serde's errors rewritten to never echo a value.

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser};

use crate::config::raw::RawConfig;

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "."
        } else {
            &self.path
        };
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.col, path, self.message
        )
    }
}

/// Every problem found in a file, in file order.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

pub(super) fn serde_error(
    file: &str,
    locs: &Locations,
    e: serde_path_to_error::Error<serde_yaml_ng::Error>,
) -> ConfigError {
    let mut path = e.path().to_string();
    if path == "." {
        path.clear();
    }
    let mut message = e.inner().to_string();
    // serde_yaml appends " at line L column C"; the location has its own place.
    if let Some(i) = message.find(" at line ") {
        message.truncate(i);
    }
    // serde_yaml prefixes its own rendering of the path ("limits: ..."); ours is better.
    if let Some((head, rest)) = message.split_once(": ") {
        if !head.contains(' ') && !rest.is_empty() {
            message = rest.to_string();
        }
    }
    if let Some(field) = message
        .strip_prefix("unknown field `")
        .and_then(|r| r.split('`').next())
    {
        if !path.ends_with(field) {
            path = join(&path, field);
        }
    }
    // Never echo a configured value back: it may be a secret (`secrets: 'x'` is the
    // wrong type; `broker: amqp://...` too). Only the kind of value is kept.
    message = redact_value(&message);
    let (line, col) = e
        .inner()
        .location()
        .map(|l| (l.line(), l.column()))
        .or_else(|| locs.get(&path))
        .unwrap_or((1, 1));
    ConfigError {
        file: file.to_string(),
        line,
        col,
        path,
        message,
    }
}

/// serde's `invalid type: string "...", expected X` (or `invalid value:`) without the
/// value. The value may itself contain `, expected `, so the last one is the boundary.
pub(super) fn redact_value(message: &str) -> String {
    for lead in ["invalid type: ", "invalid value: "] {
        let Some(rest) = message.strip_prefix(lead) else {
            continue;
        };
        let (value, expected) = match rest.rfind(", expected ") {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let kind = [
            "string",
            "boolean",
            "integer",
            "floating point",
            "map",
            "sequence",
        ]
        .into_iter()
        .find(|k| value.starts_with(k))
        .unwrap_or("value");
        return format!("{lead}{kind}{expected}");
    }
    message.to_string()
}

pub(super) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// YAML path (`routes[0].secrets[1]`) -> 1-based line and column of its key or value.
/// YAML path -> 1-based line and column of its value; and of its key, for mapping keys.
pub(super) struct Locations(
    HashMap<String, (usize, usize)>,
    HashMap<String, (usize, usize)>,
);

impl Locations {
    /// The location of `path`, or of its nearest ancestor that is in the file.
    pub(super) fn get(&self, path: &str) -> Option<(usize, usize)> {
        let mut p = path;
        loop {
            if let Some(l) = self.0.get(p) {
                return Some(*l);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }

    /// Where the key of `path` is written (for a key that should not be there).
    pub(super) fn key(&self, path: &str) -> Option<(usize, usize)> {
        self.1.get(path).copied().or_else(|| self.get(path))
    }
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

/// Walk the YAML events once, recording where every path starts.
pub(super) fn locate(text: &str) -> Result<Locations, (usize, usize, String)> {
    let mut map = HashMap::new();
    let mut keys = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut parser = Parser::new_from_str(text);
    // The path a value about to start lives at, and whether it is a mapping key.
    pub(super) fn slot(stack: &mut [Frame]) -> (Option<String>, bool) {
        match stack.last_mut() {
            None => (Some(String::new()), false),
            Some(Frame::Map { key: None, .. }) => (None, true),
            Some(Frame::Map { path, key }) => {
                let k = key.take().unwrap_or_default();
                (Some(join(path, &k)), false)
            }
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                (Some(p), false)
            }
        }
    }
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| {
            let m = e.marker();
            (m.line(), m.col() + 1, e.info().to_string())
        })?;
        let at = (span.start.line(), span.start.col() + 1);
        match ev {
            Event::Scalar(value, ..) => match slot(&mut stack) {
                (_, true) => {
                    if let Some(Frame::Map { path, key }) = stack.last_mut() {
                        map.insert(join(path, &value), at);
                        keys.insert(join(path, &value), at);
                        *key = Some(value.into_owned());
                    }
                }
                (Some(p), false) => {
                    map.insert(p, at);
                }
                (None, false) => {}
            },
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_map = matches!(ev, Event::MappingStart(..));
                let path = match slot(&mut stack) {
                    (Some(p), _) => p,
                    // A complex mapping key: track it under a name no path uses.
                    (None, _) => "\u{0}".to_string(),
                };
                map.entry(path.clone()).or_insert(at);
                stack.push(if is_map {
                    Frame::Map { path, key: None }
                } else {
                    Frame::Seq { path, next: 0 }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            Event::Alias(_) => {
                let _ = slot(&mut stack);
            }
            _ => {}
        }
    }
    Ok(Locations(map, keys))
}

/// serde stops at the first unknown key; a file with three typos should not take three
/// runs of `hookgate check`. When `first` is an unknown key, the key is removed from the
/// tree and the tree deserialized again, until no unknown key is left: every unknown key
/// is reported, and then the first other problem, if any.
pub(super) fn all_unknown_keys(
    text: &str,
    file: &str,
    locs: &Locations,
    first: ConfigError,
) -> (Vec<ConfigError>, Option<RawConfig>) {
    let is_unknown = |e: &ConfigError| e.message.starts_with("unknown field `");
    if !is_unknown(&first) {
        return (vec![first], None);
    }
    let Ok(mut tree) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text) else {
        return (vec![first], None);
    };
    let mut errors = vec![first];
    let mut rest = None;
    // Bounded by the number of keys in the file: each round removes one.
    while let Some(last) = errors.last().filter(|e| is_unknown(e)) {
        if !remove_at(&mut tree, &last.path) {
            break;
        }
        match serde_path_to_error::deserialize::<_, RawConfig>(tree.clone()) {
            // Without the unknown keys the file reads: the rest is validated too, so
            // that one run of `check` reports every problem.
            Ok(raw) => {
                rest = Some(raw);
                break;
            }
            Err(e) => {
                let mut err = serde_error(file, locs, e);
                // A tree has no positions: the key's own is in `locs`.
                let at = if is_unknown(&err) {
                    locs.key(&err.path)
                } else {
                    locs.get(&err.path)
                };
                if let Some((line, col)) = at {
                    (err.line, err.col) = (line, col);
                }
                errors.push(err);
            }
        }
    }
    errors.sort_by_key(|e| (e.line, e.col));
    (errors, rest)
}

/// Remove the key at `path` (`routes[0].verify.hmac.headr`) from `tree`.
fn remove_at(tree: &mut serde_yaml_ng::Value, path: &str) -> bool {
    let mut node = tree;
    let mut parts: Vec<&str> = path.split('.').collect();
    let Some(key) = parts.pop() else {
        return false;
    };
    for part in parts {
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let Some(next) = node.get_mut(name) else {
            return false;
        };
        node = match index {
            Some(i) => match next.get_mut(i) {
                Some(n) => n,
                None => return false,
            },
            None => next,
        };
    }
    node.as_mapping_mut().and_then(|m| m.remove(key)).is_some()
}
