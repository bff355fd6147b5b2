//! Delivery to the application behind the gateway (SPEC §6): the HTTP client, the
//! synchronous proxy, and the headers both set.

pub(crate) mod client;
pub(crate) mod headers;
pub(crate) mod proxy;
