//! `store:`: where the store lives, the dedup window, retention and the rejection log.

use super::{parse_bool, Validator};
use crate::config::raw::{RawRedis, RawRejections, RawStore};
use crate::config::units::parse_duration;
use crate::config::{RedisConfig, RejectionsConfig, StoreConfig};
use std::path::PathBuf;
use std::time::Duration;

impl Validator<'_> {
    pub(super) fn store(&mut self, st: Option<&RawStore>, path: PathBuf) -> StoreConfig {
        StoreConfig {
            path,
            dedup_window: self.duration(
                "store.dedup_window",
                st.and_then(|s| s.dedup_window.as_ref()),
                Duration::from_secs(72 * 3600),
            ),
            // A week: providers retry for up to three days, and an operator who notices
            // a problem after a weekend can still list and replay what arrived.
            retention: self.parsed(
                "store.retention",
                st.and_then(|s| s.retention.as_ref()),
                Some(Duration::from_secs(7 * 24 * 3600)),
                |t| match t {
                    "forever" => Ok(None),
                    t => match parse_duration(t)? {
                        d if d.is_zero() => Err("must be more than 0 (or `forever`)".into()),
                        d => Ok(Some(d)),
                    },
                },
            ),
            rejections: self.rejections(st.and_then(|s| s.rejections.as_ref())),
            // Off: the copy is a second write for every event, on the broker's path
            // (measured in docs/benchmark-history.md).
            shared: st
                .and_then(|s| s.dedup.as_ref())
                .and_then(|d| d.redis.as_ref())
                .and_then(|r| self.redis("store.dedup.redis", r)),
            archive: self.parsed(
                "store.archive",
                st.and_then(|s| s.archive.as_ref()),
                false,
                parse_bool,
            ),
        }
    }

    fn rejections(&mut self, r: Option<&RawRejections>) -> RejectionsConfig {
        RejectionsConfig {
            // Enough to hold a day of a provider retrying a misconfigured route every few
            // minutes, and small enough (a few MB per route) that a flood costs little.
            keep: self.count(
                "store.rejections.keep",
                r.and_then(|r| r.keep.as_ref()),
                10_000,
            ),
            max_age: self.duration(
                "store.rejections.max_age",
                r.and_then(|r| r.max_age.as_ref()),
                Duration::from_secs(7 * 24 * 3600),
            ),
            max_bytes: self.parsed(
                "store.rejections.max_bytes",
                r.and_then(|r| r.max_bytes.as_ref()),
                crate::config::DEFAULT_REJECTIONS_BYTES,
                |t| match crate::config::units::parse_size(t)? {
                    n if n < 1 << 20 => Err("must be at least 1MiB".into()),
                    n => Ok(n),
                },
            ),
            capture_body: self.parsed(
                "store.rejections.capture_body",
                r.and_then(|r| r.capture_body.as_ref()),
                false,
                parse_bool,
            ),
        }
    }

    fn redis(&mut self, path: &str, r: &RawRedis) -> Option<RedisConfig> {
        let url = self.secret(&format!("{path}.url"), &r.url)?;
        match url::Url::parse(&url) {
            Ok(u) if u.scheme() == "redis" || u.scheme() == "rediss" => {}
            // The error never quotes the URL: it may hold a password.
            _ => {
                self.err(
                    &format!("{path}.url"),
                    "expected redis://[user:password@]host:port[/db] (or rediss://)",
                );
                return None;
            }
        }
        let key_prefix = self.parsed(
            &format!("{path}.key_prefix"),
            r.key_prefix.as_ref(),
            "hookgate:".to_string(),
            |t| Ok(t.to_string()),
        );
        let timeout = self.duration(
            &format!("{path}.timeout"),
            r.timeout.as_ref(),
            Duration::from_millis(50),
        );
        Some(RedisConfig {
            url,
            key_prefix,
            timeout,
        })
    }
}
