//! The synchronous proxy (`proxy:`, docs/delivery.md): a request that passed every check is
//! forwarded at once and the application's answer goes back to the provider, for
//! providers that need it (Slack slash commands, Discord interactions, Twilio TwiML).
//! Nothing is queued: no answer from the application is a 502 or 504, and the provider
//! retries or shows the user an error.

use std::net::IpAddr;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, Request, Response};
use http_body_util::Full;

use super::Rejection;
use crate::checks::event::Event;
use crate::config::Proxy;
use crate::deliver::client::{Client, Failure, Past};

/// How the request reached the gateway, for the `X-Forwarded-*` headers.
pub(super) struct Origin<'a> {
    pub client_ip: IpAddr,
    pub https: bool,
    pub host: Option<&'a HeaderValue>,
}

pub(super) async fn forward(
    client: &Client,
    proxy: &Proxy,
    headers: &HeaderMap,
    ev: &Event,
    origin: Origin<'_>,
    max_body: usize,
) -> Result<Response<Full<Bytes>>, Rejection> {
    let mut req = Request::post(proxy.url.clone())
        .body(Full::new(ev.body.clone()))
        .map_err(|e| Rejection::BadGateway(e.to_string()))?;
    let h = req.headers_mut();
    let named = connection_named(headers);
    for (name, value) in headers {
        if !hop_by_hop(name)
            && !is_forwarded(name)
            && name != header::HOST
            && name != header::EXPECT
            && !named.contains(name)
        {
            h.append(name, value.clone());
        }
    }
    h.insert(
        HeaderName::from_static("x-forwarded-for"),
        HeaderValue::from_str(&origin.client_ip.to_string()).expect("an IP is a header value"),
    );
    h.insert(
        HeaderName::from_static("x-real-ip"),
        HeaderValue::from_str(&origin.client_ip.to_string()).expect("an IP is a header value"),
    );
    h.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static(if origin.https { "https" } else { "http" }),
    );
    if let Some(host) = origin.host {
        h.insert(HeaderName::from_static("x-forwarded-host"), host.clone());
    }
    crate::deliver::headers::gateway_headers(h, ev, None, None);
    let answer = client
        .send(req, proxy.timeout, max_body, Past::Refuse)
        .await
        .map_err(|f| match f {
            Failure::Timeout => Rejection::GatewayTimeout,
            other => Rejection::BadGateway(other.to_string()),
        })?;
    // A 1xx as the final answer (101 Switching Protocols) would hand the provider's
    // connection to the application: not a webhook's answer.
    if answer.status.is_informational() {
        return Err(Rejection::BadGateway(format!(
            "the application answered {}, not a final status",
            answer.status
        )));
    }
    let mut resp = Response::new(Full::new(answer.body));
    *resp.status_mut() = answer.status;
    let h = resp.headers_mut();
    let named = connection_named(&answer.headers);
    for (name, value) in &answer.headers {
        if !hop_by_hop(name) && !named.contains(name) {
            h.append(name, value.clone());
        }
    }
    Ok(resp)
}

/// The headers a message's `Connection` names: hop-by-hop for this one connection
/// (RFC 9110 §7.6.1), so never passed on, in either direction.
fn connection_named(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect()
}

/// Headers about one connection (RFC 9110 §7.6.1), never passed on; `content-length`
/// is recomputed from the body.
pub(super) fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
    )
}

/// The client's own `X-Forwarded-*` and `X-Real-IP` are replaced by what the gateway saw.
fn is_forwarded(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "x-forwarded-for" | "x-forwarded-proto" | "x-forwarded-host" | "forwarded" | "x-real-ip"
    ) || name.as_str().starts_with("hookgate-")
}
