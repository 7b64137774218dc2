//! Fuzz target: `cairn_s3::fuzzing::range_header` must never panic on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cairn_s3::fuzzing::range_header(data);
});
