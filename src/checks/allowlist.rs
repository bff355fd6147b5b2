//! Source IP: who the client is (the peer, or the right-most untrusted hop of
//! `X-Forwarded-For` when the peer is a trusted proxy), and whether a route's
//! `allow_ips` admits it. Rejection: `ip_not_allowed`.

use std::net::IpAddr;

use http::HeaderMap;

pub(crate) mod sets;
use ipnet::IpNet;

/// The client address. `X-Forwarded-For` is believed only from `trusted` peers, and
/// read right to left: each trusted hop may name the next; the first untrusted address
/// is the client, as anything left of it could have been written by the client itself.
/// A malformed hop ends the walk at the last address we could trust.
pub(crate) fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let mut client = peer;
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(value) = value.to_str() else {
            return client;
        };
        for hop in value.rsplit(',') {
            let Some(ip) = parse_hop(hop.trim()) else {
                return client;
            };
            client = canonical(ip);
            if !is_trusted(client, trusted) {
                return client;
            }
        }
    }
    client
}

fn parse_hop(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`, as a dual-stack listener reports) is IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|n| n.contains(&ip))
}

/// The key one client is counted under (rate limits, in-flight and memory shares): its
/// address, or for IPv6 its first `v6_prefix` bits, since a client owns its whole /64
/// and could otherwise take a fresh address for each request.
pub(crate) fn client_key(ip: IpAddr, v6_prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let keep = u32::from(v6_prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - keep).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
        v4 => v4,
    }
}

/// `None` (no `allow_ips`) admits every source.
pub(crate) fn allowed(ip: IpAddr, allow: Option<&[IpNet]>) -> bool {
    allow.is_none_or(|nets| nets.iter().any(|n| n.contains(&ip)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(xff: &[&str]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for v in xff {
            m.append("x-forwarded-for", v.parse().unwrap());
        }
        m
    }

    #[test]
    fn xff_is_ignored_from_untrusted_peers() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = client_ip("203.0.113.9".parse().unwrap(), &h(&["1.2.3.4"]), &trusted);
        assert_eq!(ip, "203.0.113.9".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn rightmost_untrusted_hop_wins() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = "10.0.0.1".parse().unwrap();
        assert_eq!(
            client_ip(peer, &h(&["6.6.6.6, 1.2.3.4, 10.1.1.1"]), &trusted),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(peer, &h(&["6.6.6.6", "1.2.3.4"]), &trusted),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(peer, &h(&["garbage, 10.2.2.2"]), &trusted),
            "10.2.2.2".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(peer, &h(&[]), &trusted), peer);
        let mapped = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(
            client_ip(mapped, &h(&["1.2.3.4"]), &trusted),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn ipv6_clients_are_keyed_by_prefix() {
        let a = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a, 64), client_key(b, 64));
        assert_eq!(
            client_key(a, 64),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_ne!(client_key(a, 64), client_key(other, 64));
        assert_eq!(client_key(a, 128), a);
        let v4 = "192.0.2.7".parse().unwrap();
        assert_eq!(client_key(v4, 64), v4);
    }

    #[test]
    fn allowlist() {
        let nets: Vec<IpNet> = vec!["192.30.252.0/22".parse().unwrap()];
        assert!(allowed("192.30.253.1".parse().unwrap(), Some(&nets)));
        assert!(!allowed("192.30.240.1".parse().unwrap(), Some(&nets)));
        assert!(allowed("1.1.1.1".parse().unwrap(), None));
    }
}
