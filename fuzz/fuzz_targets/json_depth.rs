//! The nesting scan every JSON body goes through before it is parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = hookgate::testing::fuzzing::nesting_depth(data);
});
