//! The ways in: a file (`load`, `load_mode` with `--dev`, `load_for_inspection` for the
//! store's commands) or text (`load_str`), each parsed, located and validated into a
//! [`Config`] or every problem with its `file:line:col`.

use std::path::{Path, PathBuf};

use super::locate::{all_unknown_keys, locate, serde_error, ConfigError, ConfigErrors};
use super::Validator;
use crate::config::raw::RawConfig;
use crate::config::Config;

/// [`load_mode`] for commands that read the store and never verify a request (`hookgate
/// store`): routes' secrets and verify tokens are neither read nor required, so the
/// store can be inspected without the secrets' variables set. Never serve with it.
pub(crate) fn load_for_inspection(path: &Path) -> Result<Config, ConfigErrors> {
    load_with(path, true, true)
}

/// Load and validate the configuration at `path`, with the process environment; with
/// `dev`, a secret taken from a `${VAR:-default}` default is a warning
/// instead of an error (`--dev`: the example configuration's placeholders are public).
pub(crate) fn load_mode(path: &Path, dev: bool) -> Result<Config, ConfigErrors> {
    load_with(path, dev, false)
}

fn load_with(path: &Path, dev: bool, inspect: bool) -> Result<Config, ConfigErrors> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: file.clone(),
            line: 1,
            col: 1,
            path: String::new(),
            message: format!("cannot read configuration: {e}"),
        }])
    })?;
    load_text(&text, path, &|k| std::env::var(k).ok(), dev, inspect)
}

/// Load from text; `path` names the file in errors and anchors relative paths.
pub fn load_str(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    load_text(text, path, env, false, false)
}

fn load_text(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    dev: bool,
    inspect: bool,
) -> Result<Config, ConfigErrors> {
    let file = path.display().to_string();
    let locs = match locate(text) {
        Ok(l) => l,
        Err((line, col, msg)) => {
            return Err(ConfigErrors(vec![ConfigError {
                file,
                line,
                col,
                path: String::new(),
                message: format!("invalid YAML: {msg}"),
            }]))
        }
    };
    // Unknown keys are reported with whatever else is wrong in the rest of the file.
    let mut unknown = Vec::new();
    let raw: RawConfig = if text.trim().is_empty() {
        return Err(ConfigErrors(vec![ConfigError {
            file,
            line: 1,
            col: 1,
            path: String::new(),
            message: "the configuration is empty".into(),
        }]));
    } else {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        match serde_path_to_error::deserialize(de) {
            Ok(r) => r,
            Err(e) => {
                let first = serde_error(&file, &locs, e);
                match all_unknown_keys(text, &file, &locs, first) {
                    (errors, Some(rest)) => {
                        unknown = errors;
                        rest
                    }
                    (errors, None) => return Err(ConfigErrors(errors)),
                }
            }
        }
    };
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut v = Validator {
        file,
        locs,
        env,
        base,
        errors: unknown,
        files: vec![path.to_path_buf()],
        warnings: Vec::new(),
        dev,
        inspect,
        default_secrets: Vec::new(),
        ip_sets: crate::checks::allowlist::sets::Sets::default(),
    };
    let cfg = v.config(raw, path);
    if v.errors.is_empty() {
        Ok(cfg)
    } else {
        v.errors.sort_by_key(|e| (e.line, e.col));
        Err(ConfigErrors(v.errors))
    }
}
