//! Fuzz target: `cairn_sigv4::fuzzing::presigned` must never panic on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cairn_sigv4::fuzzing::presigned(data);
});
