//! `limits:`: what one connection, one request and one client may hold, and whether the
//! worst case fits the memory the process has (`limits.memory`, else the cgroup's).

use std::time::Duration;

use super::super::units::{parse_byte_rate, parse_size};
use super::super::{Limits, MemorySource};
use super::Validator;
use crate::config::raw::RawLimits;

/// Bytes of bodies held at once unless `limits.body_memory` says otherwise: a thousand
/// typical (64 KiB) webhooks, and half of a 128 MiB container.
const DEFAULT_BODY_MEMORY: usize = 64 << 20;

impl Validator<'_> {
    pub(super) fn limits(&mut self, l: Option<&RawLimits>) -> Limits {
        let size = |v: &mut Self, key: &str, s: Option<&crate::config::raw::Scalar>, d| {
            v.parsed(&format!("limits.{key}"), s, d, |t| match parse_size(t)? {
                0 => Err("must be more than 0".into()),
                n => Ok(n),
            })
        };
        let max_body = size(
            self,
            "max_body",
            l.and_then(|l| l.max_body.as_ref()),
            1 << 20,
        );
        let max_in_flight = self.count(
            "limits.max_in_flight",
            l.and_then(|l| l.max_in_flight.as_ref()),
            4096,
        );
        let body_memory = size(
            self,
            "body_memory",
            l.and_then(|l| l.body_memory.as_ref()),
            DEFAULT_BODY_MEMORY.max(max_body),
        );
        let body_memory_per_client = size(
            self,
            "body_memory_per_client",
            l.and_then(|l| l.body_memory_per_client.as_ref()),
            (body_memory / 4).max(max_body).min(body_memory),
        );
        if body_memory < max_body {
            self.err(
                "limits.body_memory",
                "must be at least max_body, or a body of max_body could never be read",
            );
        }
        if body_memory_per_client < max_body || body_memory_per_client > body_memory {
            self.err(
                "limits.body_memory_per_client",
                "must be between max_body and body_memory",
            );
        }
        let memory = match l.and_then(|l| l.memory.as_ref()) {
            Some(s) => Some((size(self, "memory", Some(s), 0), MemorySource::Setting)),
            None => cgroup_memory_limit().map(|m| (m, MemorySource::Cgroup)),
        };
        let limits = Limits {
            max_body,
            header_timeout: self.duration(
                "limits.header_timeout",
                l.and_then(|l| l.header_timeout.as_ref()),
                Duration::from_secs(5),
            ),
            request_timeout: self.duration(
                "limits.request_timeout",
                l.and_then(|l| l.request_timeout.as_ref()),
                Duration::from_secs(15),
            ),
            max_connections: self.count(
                "limits.max_connections",
                l.and_then(|l| l.max_connections.as_ref()),
                10_000,
            ),
            max_in_flight,
            // One client may take an eighth of the gateway: a 256-stream HTTP/2
            // connection alone cannot fill the default 4 096.
            max_in_flight_per_client: self.count(
                "limits.max_in_flight_per_client",
                l.and_then(|l| l.max_in_flight_per_client.as_ref()),
                (max_in_flight / 8).max(1),
            ),
            body_memory,
            body_memory_per_client,
            min_body_rate: self.parsed(
                "limits.min_body_rate",
                l.and_then(|l| l.min_body_rate.as_ref()),
                8 << 10,
                parse_byte_rate,
            ),
            ipv6_prefix: self.parsed(
                "limits.ipv6_prefix",
                l.and_then(|l| l.ipv6_prefix.as_ref()),
                64,
                |t| match t.trim().parse::<u8>() {
                    Ok(n @ 32..=128) => Ok(n),
                    _ => Err(format!(
                        "expected a prefix length from 32 to 128, got {t:?}"
                    )),
                },
            ),
            memory,
        };
        if let Some(w) = memory_warning(&limits) {
            self.warnings.push(w);
        }
        limits
    }
}

/// The most request-body bytes held at once: bounded by `body_memory`, and by
/// `max_in_flight` bodies of `max_body`.
pub(crate) fn worst_body_memory(l: &Limits) -> usize {
    l.body_memory
        .min(l.max_in_flight.saturating_mul(l.max_body))
}

/// Bodies may take half of the memory; the other half is for everything else (the
/// runtime, each connection's buffers, the store's caches, the allocator's slack).
fn memory_warning(l: &Limits) -> Option<String> {
    let (memory, source) = l.memory?;
    // The rejection log's queue holds refused requests' records beside the bodies.
    let worst = worst_body_memory(l) + crate::config::REJECTIONS_QUEUE_BYTES;
    (worst > memory / 2).then(|| {
        let source = match source {
            MemorySource::Setting => "limits.memory",
            MemorySource::Cgroup => "the cgroup's memory limit",
        };
        format!(
            "limits: request bodies and the rejection log's queue may hold {} MiB at once (the \
             lesser of body_memory and max_in_flight x max_body, and 8 MiB), more than half of \
             the {} MiB that {source} allows; lower limits.body_memory",
            worst >> 20,
            memory >> 20
        )
    })
}

/// The cgroup (v2, else v1) memory limit of this process, if it has one.
fn cgroup_memory_limit() -> Option<usize> {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let v = read("/sys/fs/cgroup/memory.max")
        .or_else(|| read("/sys/fs/cgroup/memory/memory.limit_in_bytes"))?;
    // "max" (v2) or a page-rounded i64::MAX (v1): no limit.
    v.trim()
        .parse::<u64>()
        .ok()
        .filter(|&n| n < 1 << 60)
        .map(|n| n as usize)
}
