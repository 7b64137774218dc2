//! Fuzzes the chunked-body decoder, fed the same bytes whole and in pieces whose sizes come
//! from the input: both must agree, and data ranges must lie inside the consumed bytes.
#![no_main]

use cairn_http::proto::ChunkedDecoder;
use libfuzzer_sys::fuzz_target;

fn run(data: &[u8], piece: usize) -> (Result<Vec<u8>, ()>, bool) {
    let mut decoder = ChunkedDecoder::new();
    let mut out = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut offset = 0;
    loop {
        if offset < data.len() {
            let n = piece.min(data.len() - offset);
            pending.extend_from_slice(&data[offset..offset + n]);
            offset += n;
        }
        let step = match decoder.decode(&pending) {
            Ok(step) => step,
            Err(_) => return (Err(()), false),
        };
        assert!(step.consumed <= pending.len());
        if let Some(range) = step.data.clone() {
            assert!(range.end == step.consumed && range.start <= range.end);
            out.extend_from_slice(&pending[range]);
        }
        pending.drain(..step.consumed);
        if decoder.is_done() {
            return (Ok(out), true);
        }
        if offset == data.len() && step.consumed == 0 && step.data.is_none() {
            return (Ok(out), false);
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&split, data)) = input.split_first() else { return };
    let whole = run(data, data.len().max(1));
    let pieces = run(data, usize::from(split % 16) + 1);
    assert_eq!(whole, pieces);
});
