//! The edge: the listener (`server`: accept loop, TLS, HTTP/1.1 and HTTP/2, timeouts),
//! what one client may hold (`admission`), and the request `pipeline` that runs the
//! checks in order and hands an event off (or proxies it).

pub(crate) mod admission;
pub(crate) mod pipeline;
pub(crate) mod server;
