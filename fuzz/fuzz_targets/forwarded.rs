//! `X-Forwarded-For` as sent (any bytes, several headers), walked back through trusted
//! proxies.
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for part in data.split(|b| *b == b'\n') {
        if let Ok(v) = HeaderValue::from_bytes(part) {
            headers.append("x-forwarded-for", v);
        }
    }
    let trusted: Vec<ipnet::IpNet> = vec![
        "10.0.0.0/8".parse().unwrap(),
        "127.0.0.1/32".parse().unwrap(),
        "::1/128".parse().unwrap(),
    ];
    let _ = hookgate::testing::fuzzing::client_ip([127, 0, 0, 1].into(), &headers, &trusted);
});
