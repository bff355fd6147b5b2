//! A request to one of the fuzz routes (a route per signature scheme family): the
//! first byte picks the route, lines `name: value` up to a NUL byte are the headers,
//! the rest is the body. Signature headers, timestamps, JSON, event ids: no panic.
#![no_main]

use std::sync::LazyLock;

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

static ROUTES: LazyLock<hookgate::testing::fuzzing::Routes> = LazyLock::new(hookgate::testing::fuzzing::Routes::new);

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (head, body) = match rest.iter().position(|b| *b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let mut headers = HeaderMap::new();
    for line in head.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name),
            HeaderValue::from_bytes(value.trim_ascii()),
        ) {
            headers.append(n, v);
        }
    }
    let _ = ROUTES.inspect(pick, headers, body);
});
