//! The checks a webhook goes through, as data and functions without I/O: what an event
//! is and where its id and type come from (`event`), signature schemes and the
//! providers' presets (`verify`), JSON Schema (`schema`), source addresses (`allowlist`)
//! and rate buckets (`ratelimit`). `config` compiles a route from them; the pipeline runs
//! them. They import nothing above them.

pub(crate) mod allowlist;
pub(crate) mod event;
pub(crate) mod filter;
pub(crate) mod ratelimit;
pub(crate) mod schema;
pub(crate) mod transform;
pub(crate) mod verify;
