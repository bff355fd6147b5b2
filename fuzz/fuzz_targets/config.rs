//! A configuration file: YAML, `${VAR}` expansion, every key's parsing and the errors'
//! `file:line:col` locations.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = std::str::from_utf8(data) {
        let _ = hookgate::testing::fuzzing::config(t);
    }
});
