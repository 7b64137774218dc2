//! The fuzz targets' entry functions driven by proptest, so that "never panics" is checked on
//! every `cargo test` and not only where cargo-fuzz runs: random bytes, and valid inputs with
//! random edits (flips, insertions, deletions), which reach the deep states.

use cairn_sigv4::fuzzing;
use cairn_sigv4::sign::AwsChunkedEncoder;
use proptest::prelude::*;

const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7";
const PRESIGNED: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

#[derive(Debug, Clone)]
enum Edit {
    Flip(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Delete(prop::sample::Index),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec(
        prop_oneof![
            (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
            (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
            any::<prop::sample::Index>().prop_map(Edit::Delete),
        ],
        0..6,
    )
}

fn apply(mut v: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        match e {
            Edit::Flip(i, b) if !v.is_empty() => {
                let i = i.index(v.len());
                v[i] ^= b | 1;
            }
            Edit::Insert(i, b) => {
                let i = i.index(v.len() + 1);
                v.insert(i, *b);
            }
            Edit::Delete(i) if !v.is_empty() => {
                let i = i.index(v.len());
                v.remove(i);
            }
            _ => {}
        }
    }
    v
}

/// A valid aws-chunked body for the fuzz entry's configuration `mode` (see
/// `fuzzing::aws_chunked`), with the three header bytes in front.
fn chunked_input(mode: u8, split: u16, data: &[u8], chunk: usize) -> Vec<u8> {
    // No decoded length announced (bit 7), so the body is valid whatever its length.
    let mode = mode & 0x7f;
    let fuzzing::ChunkedFuzzSetup {
        signed,
        trailer,
        ctx,
        seed,
    } = fuzzing::chunked_setup(mode);
    let enc = if signed {
        AwsChunkedEncoder::signed(ctx, seed, trailer)
    } else {
        AwsChunkedEncoder::unsigned(trailer)
    };
    let mut input = vec![mode];
    input.extend_from_slice(&split.to_le_bytes());
    input.extend_from_slice(&enc.encode(data, chunk));
    input
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn authorization_never_panics(random in prop::collection::vec(any::<u8>(), 0..300), e in edits()) {
        fuzzing::authorization(&random);
        fuzzing::authorization(&apply(AUTHORIZATION.as_bytes().to_vec(), &e));
    }

    #[test]
    fn presigned_never_panics(random in prop::collection::vec(any::<u8>(), 0..300), e in edits()) {
        fuzzing::presigned(&random);
        fuzzing::presigned(&apply(PRESIGNED.as_bytes().to_vec(), &e));
    }

    #[test]
    fn aws_chunked_never_panics(
        random in prop::collection::vec(any::<u8>(), 0..400),
        mode in any::<u8>(),
        split in 1u16..200,
        data in prop::collection::vec(any::<u8>(), 0..300),
        chunk in 1usize..120,
        e in edits(),
    ) {
        fuzzing::aws_chunked(&random);
        let valid = chunked_input(mode, split, &data, chunk);
        prop_assert!(fuzzing::aws_chunked(&valid), "a valid body was refused");
        fuzzing::aws_chunked(&apply(valid, &e));
    }
}
