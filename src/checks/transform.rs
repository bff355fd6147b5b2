//! A destination's `transform`: a jq program (the `jaq` crates: pure Rust, no I/O) whose
//! single output replaces the JSON body delivered there. Compiled when the configuration
//! loads (to refuse what does not compile, with its place in the program) and again in
//! the transform process that runs it (`deliver::transform`), where a runaway program
//! can be stopped. The standard library is jq's, less `env`: a program reads the
//! event, never the gateway's environment.

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{data, unwrap_valr, Compiler, Ctx, Vars};
use jaq_json::Val;

/// Longest program accepted.
pub(crate) const MAX_LEN: usize = 8 << 10;

type Data = data::JustLut<Val>;

/// A compiled `transform`, run on one thread (its values are not shared).
pub(crate) struct Program {
    filter: jaq_core::compile::Filter<jaq_core::Native<Data>>,
}

/// Why a program is refused at load, or did not give a body at delivery. The texts
/// follow "transform" in a dead letter's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub(crate) enum TransformError {
    #[error("a transform is at most {MAX_LEN} bytes")]
    TooLong,
    #[error("does not compile at {line}:{col}: {message}")]
    Syntax {
        line: usize,
        col: usize,
        message: String,
    },
    #[error("the body is not JSON")]
    BodyNotJson,
    #[error("failed: {0}")]
    Failed(String),
    #[error("gave no value")]
    NoOutput,
    #[error("gave more than one value")]
    ManyOutputs,
    #[error("gave a value that is not JSON (NaN, Infinity or bytes)")]
    OutputNotJson,
    #[error("gave {0} bytes, past the body limit")]
    TooLarge(usize),
    #[error("ran past its {0} ms budget")]
    TooSlow(u128),
    #[error("stopped: {0}")]
    Crashed(String),
    /// Not the program's doing (the worker process could not start): retried.
    #[error("could not start its process: {0}")]
    NotStarted(String),
}

impl Program {
    pub(crate) fn compile(source: &str) -> Result<Program, TransformError> {
        if source.len() > MAX_LEN {
            return Err(TransformError::TooLong);
        }
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs())
            .filter(|(name, ..)| *name != "env");
        let arena = Arena::default();
        let file = File {
            code: source,
            path: (),
        };
        let at = |s: &str, message: String| {
            // Every error names a slice of the program: its offset is the place. A slice
            // from elsewhere (the standard library's definitions) places it at the start,
            // and the cut is kept on a character boundary (never a panic on the text).
            let start = source.as_ptr() as usize;
            let mut off = (s.as_ptr() as usize)
                .checked_sub(start)
                .filter(|o| *o <= source.len())
                .unwrap_or(0);
            while !source.is_char_boundary(off) {
                off -= 1;
            }
            let before = &source[..off];
            TransformError::Syntax {
                line: before.matches('\n').count() + 1,
                col: before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
                message,
            }
        };
        let modules = Loader::new(defs).load(&arena, file).map_err(|errs| {
            let Some((_, e)) = errs.into_iter().next() else {
                return at("", "does not load".into());
            };
            match e {
                jaq_core::load::Error::Lex(v) => match v.into_iter().next() {
                    Some((expect, got)) => at(got, format!("expected {}", expect.as_str())),
                    None => at("", "does not lex".into()),
                },
                jaq_core::load::Error::Parse(v) => match v.into_iter().next() {
                    Some((expect, got)) => at(got, format!("expected {}", expect.as_str())),
                    None => at("", "does not parse".into()),
                },
                jaq_core::load::Error::Io(v) => {
                    let m = v.into_iter().next().map(|(_, m)| m).unwrap_or_default();
                    at("", format!("imports nothing: {m}"))
                }
            }
        })?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errs| {
                let first = errs
                    .into_iter()
                    .next()
                    .and_then(|(_, v)| v.into_iter().next());
                match first {
                    Some((name, undef)) => at(name, format!("undefined {} {name}", undef.as_str())),
                    None => at("", "does not compile".into()),
                }
            })?;
        Ok(Program { filter })
    }

    /// The new body for `body`, at most `max` bytes of JSON.
    pub(crate) fn run(&self, body: &[u8], max: usize) -> Result<Vec<u8>, TransformError> {
        let input = jaq_json::read::parse_single(body).map_err(|_| TransformError::BodyNotJson)?;
        let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new([]));
        let mut out = self.filter.id.run((ctx, input)).map(unwrap_valr);
        let value = match out.next() {
            None => return Err(TransformError::NoOutput),
            Some(Err(e)) => return Err(TransformError::Failed(short(&e.to_string()))),
            Some(Ok(v)) => v,
        };
        // Lazily evaluated: a program that would give endless values stops at the second.
        if out.next().is_some() {
            return Err(TransformError::ManyOutputs);
        }
        let text = value.to_string().into_bytes();
        if text.len() > max {
            return Err(TransformError::TooLarge(text.len()));
        }
        // jq's values include NaN, infinities and byte strings, which JSON has not.
        if serde_json::from_slice::<serde::de::IgnoredAny>(&text).is_err() {
            return Err(TransformError::OutputNotJson);
        }
        Ok(text)
    }
}

/// An error's text can quote the body: its start is enough for a dead letter.
fn short(s: &str) -> String {
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(p: &str, body: &str) -> Result<serde_json::Value, TransformError> {
        let out = Program::compile(p).unwrap().run(body.as_bytes(), 1 << 20)?;
        Ok(serde_json::from_slice(&out).unwrap())
    }

    #[test]
    fn reshapes_the_body() {
        let body = r#"{"action":"opened","pull_request":{"id":7,"title":"x"}}"#;
        assert_eq!(
            run("{id: .pull_request.id, act: .action}", body).unwrap(),
            serde_json::json!({"id": 7, "act": "opened"})
        );
        assert_eq!(
            run("[.pull_request | keys[]] | map(ascii_upcase)", body).unwrap(),
            serde_json::json!(["ID", "TITLE"])
        );
    }

    #[test]
    fn what_does_not_give_one_json_body_is_an_error() {
        assert_eq!(run(".a, .b", "{}"), Err(TransformError::ManyOutputs));
        assert_eq!(run("repeat(.)", "{}"), Err(TransformError::ManyOutputs));
        assert_eq!(run("empty", "{}"), Err(TransformError::NoOutput));
        assert_eq!(run(".", "not json"), Err(TransformError::BodyNotJson));
        assert_eq!(run("nan", "{}"), Err(TransformError::OutputNotJson));
        assert!(matches!(
            run("error(\"no\")", "{}"),
            Err(TransformError::Failed(_))
        ));
        assert!(matches!(
            run(".a + 1", r#"{"a":"x"}"#),
            Err(TransformError::Failed(_))
        ));
        let big = Program::compile("[range(1000)]").unwrap().run(b"{}", 100);
        assert!(matches!(big, Err(TransformError::TooLarge(_))));
    }

    #[test]
    fn refused_at_load_with_its_place() {
        let e = Program::compile("{id: .a,\n  x: }").err().unwrap();
        assert!(matches!(e, TransformError::Syntax { line: 2, .. }), "{e}");
        let e = Program::compile(".a | nosuch(1)").err().unwrap();
        assert_eq!(
            e.to_string(),
            "does not compile at 1:6: undefined filter nosuch"
        );
        // Non-ASCII text before the error: placed by characters, not bytes.
        let e = Program::compile("{\"é\": .a,\n  \"ü\": }").err().unwrap();
        assert!(matches!(e, TransformError::Syntax { line: 2, .. }), "{e}");
        // The gateway's environment (its secrets) is not the program's.
        assert!(Program::compile("env").is_err());
        assert!(Program::compile("$ENV").is_err());
        assert_eq!(
            Program::compile(&".".repeat(MAX_LEN + 1)).err(),
            Some(TransformError::TooLong)
        );
    }
}
