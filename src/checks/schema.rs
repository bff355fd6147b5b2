//! JSON Schema (draft 4 to 2020-12, by `$schema`), compiled at load. `$ref`s resolve
//! against the schema's own folder and only there: no network, no other directory
//! (a fetched schema would be a request-forgery hole). Rejection: `schema_violation`,
//! with up to [`MAX_DETAILS`] instance pointers and messages (values masked).

use std::path::{Path, PathBuf};

use jsonschema::{Retrieve, Uri, Validator};
use serde_json::Value;

pub(crate) const MAX_DETAILS: usize = 10;

pub struct Schema {
    pub file: PathBuf,
    validator: Validator,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Schema({})", self.file.display())
    }
}

/// One reason an instance does not match.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Detail {
    pub pointer: String,
    pub message: String,
}

struct LocalFiles {
    root: PathBuf,
}

impl Retrieve for LocalFiles {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        if uri.scheme().as_str() != "file" {
            return Err(format!("only local schema files are loaded, not {uri}").into());
        }
        let path = PathBuf::from(uri.path().as_str());
        let path = path
            .canonicalize()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if !path.starts_with(&self.root) {
            return Err(format!(
                "{} is outside the schema folder {}",
                path.display(),
                self.root.display()
            )
            .into());
        }
        let text = std::fs::read_to_string(&path)?;
        Ok(serde_json::from_str(&text)?)
    }
}

/// Why a schema file cannot be used (a configuration error at its `schema:` key).
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("cannot read schema {path}: {1}", path = .0.display())]
    Read(PathBuf, std::io::Error),
    #[error("schema {path} is not JSON: {1}", path = .0.display())]
    NotJson(PathBuf, serde_json::Error),
    #[error("cannot resolve schema {path}: {1}", path = .0.display())]
    Resolve(PathBuf, std::io::Error),
    /// jsonschema's own message (its error borrows the schema).
    #[error("schema {path} does not compile: {1}", path = .0.display())]
    Compile(PathBuf, String),
}

impl Schema {
    pub fn compile(file: &Path) -> Result<Schema, SchemaError> {
        let at = || file.to_path_buf();
        let text = std::fs::read_to_string(file).map_err(|e| SchemaError::Read(at(), e))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| SchemaError::NotJson(at(), e))?;
        let abs = file
            .canonicalize()
            .map_err(|e| SchemaError::Resolve(at(), e))?;
        let root = abs.parent().map(Path::to_path_buf).unwrap_or_default();
        let validator = jsonschema::options()
            .with_base_uri(format!("file://{}", abs.display()))
            .with_retriever(LocalFiles { root })
            .build(&value)
            .map_err(|e| SchemaError::Compile(at(), e.to_string()))?;
        Ok(Schema {
            file: file.to_path_buf(),
            validator,
        })
    }

    /// `Ok` or up to [`MAX_DETAILS`] reasons.
    pub fn check(&self, instance: &Value) -> Result<(), Vec<Detail>> {
        if self.validator.is_valid(instance) {
            return Ok(());
        }
        Err(self
            .validator
            .iter_errors(instance)
            .take(MAX_DETAILS)
            .map(|e| Detail {
                pointer: e.instance_path().to_string(),
                message: e.masked().to_string(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_with_local_refs_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("defs.json"),
            r#"{"$defs":{"id":{"type":"string"}}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("s.json"),
            r#"{"type":"object","required":["id"],"properties":{"id":{"$ref":"defs.json#/$defs/id"},"n":{"type":"integer"}}}"#,
        )
        .unwrap();
        let s = Schema::compile(&dir.path().join("s.json")).unwrap();
        assert!(s.check(&serde_json::json!({"id": "x"})).is_ok());
        let d = s
            .check(&serde_json::json!({"id": 5, "n": "secret-value"}))
            .unwrap_err();
        assert_eq!(d.len(), 2);
        assert!(d.iter().any(|d| d.pointer == "/id"));
        assert!(
            d.iter().all(|d| !d.message.contains("secret-value")),
            "{d:?}"
        );

        std::fs::write(
            dir.path().join("net.json"),
            r#"{"$ref":"https://example.com/s.json"}"#,
        )
        .unwrap();
        let e = Schema::compile(&dir.path().join("net.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not compile"), "{e}");
    }
}
