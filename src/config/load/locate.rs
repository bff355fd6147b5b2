//! Where a problem is: [`ConfigError`] (`FILE:LINE:COL: yaml.path: message`), the YAML
//! paths located in the text, and serde's errors rewritten to never echo a value.

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser};

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
pub(super) struct Locations(HashMap<String, (usize, usize)>);

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
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

/// Walk the YAML events once, recording where every path starts.
pub(super) fn locate(text: &str) -> Result<Locations, (usize, usize, String)> {
    let mut map = HashMap::new();
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
    Ok(Locations(map))
}
