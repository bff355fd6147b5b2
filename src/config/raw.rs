//! The configuration exactly as written: serde types with `deny_unknown_fields`, so a
//! typo is an error rather than a silently disabled check. Every leaf is a [`Scalar`]
//! (text, before `${VAR}` expansion) and is interpreted during validation, where the
//! error can carry its YAML location.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// Any YAML scalar (string, number, bool), kept as its text.
#[derive(Debug, Clone, Default)]
pub(super) struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub listen: Option<Scalar>,
    pub admin: Option<RawAdmin>,
    pub tls: Option<RawTls>,
    pub limits: Option<RawLimits>,
    pub shutdown: Option<RawShutdown>,
    pub trusted_proxies: Option<Vec<Scalar>>,
    pub ip_sets: Option<Scalar>,
    pub store: Option<RawStore>,
    pub broker: Option<RawBroker>,
    pub log: Option<RawLog>,
    pub traces: Option<RawTraces>,
    pub routes: Option<Vec<RawRoute>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTraces {
    pub otlp: Option<Scalar>,
    pub sample: Option<Scalar>,
    pub service_name: Option<Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    pub listen: Option<Scalar>,
    pub token: Option<RawSecret>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    pub cert: Scalar,
    pub key: Scalar,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub max_body: Option<Scalar>,
    pub header_timeout: Option<Scalar>,
    pub request_timeout: Option<Scalar>,
    pub max_connections: Option<Scalar>,
    pub max_in_flight: Option<Scalar>,
    pub max_in_flight_per_client: Option<Scalar>,
    pub body_memory: Option<Scalar>,
    pub body_memory_per_client: Option<Scalar>,
    pub min_body_rate: Option<Scalar>,
    pub ipv6_prefix: Option<Scalar>,
    pub memory: Option<Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawShutdown {
    pub delay: Option<Scalar>,
    pub grace: Option<Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    pub path: Option<Scalar>,
    pub dedup_window: Option<Scalar>,
    pub retention: Option<Scalar>,
    pub rejections: Option<RawRejections>,
    pub archive: Option<Scalar>,
    pub dedup: Option<RawDedup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDedup {
    pub redis: Option<RawRedis>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRedis {
    /// Inline (usually `${REDIS_URL}`) or `{ file: PATH }`: the URL may carry a password.
    pub url: RawSecret,
    pub key_prefix: Option<Scalar>,
    pub timeout: Option<Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRejections {
    pub keep: Option<Scalar>,
    pub max_age: Option<Scalar>,
    pub max_bytes: Option<Scalar>,
    pub capture_body: Option<Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBroker {
    /// Inline (usually `${AMQP_URL}`) or `{ file: PATH }`: the URL carries a password.
    pub url: RawSecret,
    pub exchange: Option<Scalar>,
    pub confirm_timeout: Option<Scalar>,
    pub when_unavailable: Option<Scalar>,
    pub declare: Option<Scalar>,
    /// PEM file of CA certificates to trust for amqps:// besides the system's.
    pub ca: Option<Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    pub format: Option<Scalar>,
    pub level: Option<Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoute {
    pub name: Option<Scalar>,
    pub path: Option<Scalar>,
    pub provider: Option<Scalar>,
    pub secrets: Option<Vec<RawSecret>>,
    pub allow_ips: Option<Vec<Scalar>>,
    pub rate_limit: Option<RawRateLimit>,
    pub body: Option<Scalar>,
    pub schema: Option<Scalar>,
    pub queue: Option<Scalar>,
    pub forward_headers: Option<Vec<Scalar>>,
    pub verify: Option<RawVerify>,
    pub public_url: Option<Scalar>,
    pub verify_token: Option<RawSecret>,
    pub webhook_id: Option<Scalar>,
    pub event_id: Option<RawSource>,
    pub event_type: Option<RawSource>,
    pub deliver: Option<RawDeliver>,
    pub proxy: Option<RawProxy>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRateLimit {
    pub per_ip: Option<Scalar>,
    pub burst: Option<Scalar>,
    pub route: Option<Scalar>,
    pub shared: Option<Scalar>,
    pub when_shared_unavailable: Option<Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    pub header: Option<Scalar>,
    pub json: Option<Scalar>,
}

/// A secret: inline text (usually `${VAR}`) or `{ file: PATH }`.
#[derive(Debug)]
pub(super) enum RawSecret {
    Inline(Scalar),
    File(Scalar),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecretFile {
    file: Scalar,
}

impl<'de> Deserialize<'de> for RawSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawSecret;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a secret string or { file: PATH }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSecret, E> {
                Ok(RawSecret::Inline(Scalar(v.to_owned())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawSecret, E> {
                Ok(RawSecret::Inline(Scalar(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawSecret, E> {
                Ok(RawSecret::Inline(Scalar(v.to_string())))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawSecret, A::Error> {
                let f = RawSecretFile::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawSecret::File(f.file))
            }
        }
        d.deserialize_any(V)
    }
}

/// `verify: none` or `verify: { hmac: {...} }`.
#[derive(Debug)]
pub(super) enum RawVerify {
    None,
    Hmac(RawHmac),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVerifyMap {
    hmac: RawHmac,
}

impl<'de> Deserialize<'de> for RawVerify {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawVerify;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`none` or { hmac: {...} }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawVerify, E> {
                if v == "none" {
                    Ok(RawVerify::None)
                } else {
                    Err(E::invalid_value(
                        de::Unexpected::Other("a string other than none"),
                        &self,
                    ))
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawVerify, A::Error> {
                let m = RawVerifyMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawVerify::Hmac(m.hmac))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHmac {
    pub algorithm: Option<Scalar>,
    pub header: Scalar,
    pub encoding: Option<Scalar>,
    pub prefix: Option<Scalar>,
    pub signed: Option<Scalar>,
    /// Several signatures in one header, separated by this (e.g. `","` or `" "`).
    pub separator: Option<Scalar>,
    pub timestamp: Option<RawTimestamp>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTimestamp {
    pub header: Scalar,
    pub tolerance: Option<Scalar>,
}

/// `deliver:` one destination (a map) or several (a list).
#[derive(Debug)]
pub(super) enum RawDeliver {
    One(Box<RawDestination>),
    Many(Vec<RawDestination>),
}

impl<'de> Deserialize<'de> for RawDeliver {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawDeliver;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a destination { url: ... } or a list of them")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawDeliver, A::Error> {
                let one = RawDestination::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawDeliver::One(Box::new(one)))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<RawDeliver, A::Error> {
                let many = Vec::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(RawDeliver::Many(many))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDestination {
    pub name: Option<Scalar>,
    pub url: Option<Scalar>,
    pub types: Option<Vec<Scalar>>,
    pub timeout: Option<Scalar>,
    pub concurrency: Option<Scalar>,
    pub ordered: Option<Scalar>,
    pub rate: Option<Scalar>,
    pub filter: Option<Scalar>,
    pub transform: Option<Scalar>,
    pub max_attempts: Option<Scalar>,
    pub backoff: Option<RawBackoff>,
    pub sign: Option<RawSign>,
    pub ca: Option<Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBackoff {
    pub first: Option<Scalar>,
    pub max: Option<Scalar>,
    pub schedule: Option<Vec<Scalar>>,
    pub then: Option<Scalar>,
    #[serde(rename = "for")]
    pub for_: Option<Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSign {
    pub secret: RawSecret,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProxy {
    pub url: Option<Scalar>,
    pub timeout: Option<Scalar>,
    pub ca: Option<Scalar>,
}
