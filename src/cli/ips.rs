//! `hookgate ips list | update`: the named IP sets `allow_ips` accepts. `update` reads
//! each provider's published list (the URL in `allowlist/sets.rs`, or `--source
//! NAME=URL`) and writes every set, or nothing when any fails, to the file the
//! configuration's `ip_sets:` names. It is the only place hookgate fetches IP lists:
//! never at start, never per request.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;

use crate::checks::allowlist::sets::{extract, Format, SetEntry, SetsFile, PUBLISHED};
use crate::deliver::client::{Client, Past};

/// The largest list read; the providers' are a few KiB.
const MAX_LIST: usize = 1 << 20;

pub(super) fn list() -> i32 {
    let mut out = std::io::stdout().lock();
    for p in PUBLISHED {
        let _ = writeln!(
            out,
            "{:<12} {:<28} {:>3} ranges, taken {}  {}",
            p.name,
            p.title,
            p.ranges.len(),
            p.taken,
            p.source
        );
    }
    0
}

pub(super) fn update(out: Option<&Path>, sources: &[String]) -> i32 {
    let mut urls: BTreeMap<&str, String> = PUBLISHED
        .iter()
        .map(|p| (p.name, p.source.to_string()))
        .collect();
    for s in sources {
        match s.split_once('=') {
            Some((name, url)) if urls.contains_key(name) => {
                urls.insert(
                    PUBLISHED
                        .iter()
                        .find(|p| p.name == name)
                        .map_or("", |p| p.name),
                    url.into(),
                );
            }
            _ => {
                eprintln!(
                    "hookgate ips update: --source wants NAME=URL with NAME one of {}",
                    PUBLISHED
                        .iter()
                        .map(|p| p.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                return 2;
            }
        }
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hookgate ips update: {e}");
            return 2;
        }
    };
    let client = Client::for_ca(None);
    let mut file = SetsFile {
        taken: crate::rfc3339_ms(crate::now_ms()),
        sets: BTreeMap::new(),
    };
    let mut failed = false;
    for p in PUBLISHED {
        let url = &urls[p.name];
        let fetched = match p.format {
            // Published on a page only: kept as shipped, unless --source names a list
            // (one address or CIDR a line).
            Format::Page if url == p.source => {
                eprintln!(
                    "{}: published on a page only, kept as shipped (taken {}); check {url}",
                    p.name, p.taken
                );
                Ok(p.ranges.iter().map(|r| r.to_string()).collect())
            }
            Format::Page => rt
                .block_on(fetch(&client, url))
                .and_then(|b| extract(Format::Lines, &b).map_err(|e| e.to_string())),
            f => rt
                .block_on(fetch(&client, url))
                .and_then(|b| extract(f, &b).map_err(|e| e.to_string())),
        };
        match fetched {
            Ok(ranges) => {
                eprintln!(
                    "{}: {} ranges from {url} (shipped: {}, taken {})",
                    p.name,
                    ranges.len(),
                    p.ranges.len(),
                    p.taken
                );
                file.sets.insert(
                    p.name.to_string(),
                    SetEntry {
                        source: url.clone(),
                        ranges,
                    },
                );
            }
            Err(e) => {
                eprintln!("hookgate ips update: {} ({url}): {e}", p.name);
                failed = true;
            }
        }
    }
    if failed {
        eprintln!("hookgate ips update: nothing written");
        return 1;
    }
    let json = match serde_json::to_string_pretty(&file) {
        Ok(j) => j + "\n",
        Err(e) => {
            eprintln!("hookgate ips update: {e}");
            return 2;
        }
    };
    match out {
        None => {
            print!("{json}");
            0
        }
        Some(path) => match write_atomically(path, json.as_bytes()) {
            Ok(()) => {
                eprintln!("wrote {} sets to {}", file.sets.len(), path.display());
                0
            }
            Err(e) => {
                eprintln!("hookgate ips update: cannot write {}: {e}", path.display());
                1
            }
        },
    }
}

async fn fetch(client: &Client, url: &str) -> Result<Vec<u8>, String> {
    let req = http::Request::get(url)
        .header(
            http::header::USER_AGENT,
            concat!("hookgate/", env!("CARGO_PKG_VERSION")),
        )
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let answer = client
        .send(req, Duration::from_secs(20), MAX_LIST, Past::Refuse)
        .await
        .map_err(|e| format!("{e:?}"))?;
    if !answer.status.is_success() {
        return Err(format!("answered {}", answer.status));
    }
    Ok(answer.body.to_vec())
}

/// Write to a temporary file beside `path`, then rename: a reader sees the old file or
/// the new one, never half of it.
fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data)?;
    std::fs::rename(&tmp, path)
}
