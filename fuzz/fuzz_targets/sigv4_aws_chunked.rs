//! Fuzz target: `cairn_sigv4::fuzzing::aws_chunked` must never panic on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _accepted = cairn_sigv4::fuzzing::aws_chunked(data);
});
