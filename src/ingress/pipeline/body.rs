//! Reading a request body: at most `max_body` bytes (413 past it, by `Content-Length`
//! before reading), each byte reserved from the client's and the gateway's body memory
//! ([`crate::ingress::admission`]) before it is kept, within `request_timeout`, and, after a grace
//! of `header_timeout`, at `min_body_rate` on average (408 for a sender that stalls, so a
//! stalled body is given back well before `request_timeout`).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use tokio::time::Instant;

use super::Rejection;
use crate::config::Limits;
use crate::ingress::admission::Ticket;

/// Read `body` whole. `reserved` bytes are already held by `ticket` (the declared
/// length); more is reserved as it arrives.
pub(super) async fn read<B>(
    body: B,
    limits: &Limits,
    ticket: &mut Ticket<'_>,
    reserved: usize,
) -> Result<Bytes, Rejection>
where
    B: http_body::Body<Data = Bytes>,
{
    let start = Instant::now();
    let end = start + limits.request_timeout;
    let mut body = std::pin::pin!(body);
    let (mut received, mut reserved) = (0usize, reserved);
    // One chunk (the usual webhook) is kept as it came; more are joined.
    let mut first: Option<Bytes> = None;
    let mut joined = BytesMut::new();
    loop {
        let deadline = match limits.min_body_rate {
            0 => end,
            rate => {
                // By then `received` bytes are what the rate asks for: one more must come.
                let earned = Duration::from_secs_f64(received as f64 / rate as f64);
                end.min(start + limits.header_timeout + earned)
            }
        };
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(Rejection::RequestTimeout),
            Ok(None) => break,
            Ok(Some(Err(_))) => return Err(Rejection::BadRequest),
            Ok(Some(Ok(f))) => f,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers: not part of what is signed
        };
        received += data.len();
        if received > limits.max_body {
            return Err(Rejection::BodyTooLarge);
        }
        if received > reserved {
            ticket.reserve(received - reserved)?;
            reserved = received;
        }
        match first.take() {
            None if joined.is_empty() => first = Some(data),
            prev => {
                if let Some(p) = prev {
                    joined.reserve(reserved.max(p.len() + data.len()));
                    joined.extend_from_slice(&p);
                }
                joined.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| joined.freeze()))
}
