//! A signing template (`{body}`, `{timestamp}`, `{header:X}`, …) as a config gives it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = std::str::from_utf8(data) {
        let _ = hookgate::testing::fuzzing::template(t);
    }
});
