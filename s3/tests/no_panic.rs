//! The fuzz targets' entry functions driven by proptest, so that "never panics" is checked on
//! every `cargo test` and not only where cargo-fuzz runs: random bytes, and valid inputs with
//! random edits (flips, insertions, deletions), which reach the deep states.

use cairn_s3::fuzzing;
use proptest::prelude::*;

/// Valid inputs of each target, in its input format (see `cairn_s3::fuzzing`).
const ROUTES: &[&[u8]] = &[
    b"\x01\x07/bkt/a%20b\npartNumber=3&uploadId=u\nbkt.s3.example.com:9000\n/src/k%2B?versionId=null",
    b"\x00\x05/k\nlist-type=2&prefix=a\nBKT.Example.com\n",
    b"\x02\x01/bkt/k\nuploads\n127.0.0.1:9000\n",
    b"\x04\x05/bkt/k\npartNumber=1\ns3.example.com\n",
];
const XML: &[&[u8]] = &[
    b"\x02<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"e\"</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></CompleteMultipartUpload>",
    b"\x01<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object><Object><Key><![CDATA[c]]></Key></Object></Delete>",
    b"\x00<a><b/>&#65;</a>",
];
const COPY: &[&[u8]] = &[
    b"/src/a%20b/c?versionId=null\nbytes=0-9",
    b"src/k\nbytes=5-5",
];
const RANGES: &[&[u8]] = &[
    b"\x10\x00\x00\x00\x00\x00\x00\x00bytes=0-9",
    b"\xff\xff\xff\xff\xff\xff\xff\xffbytes=-18446744073709551615",
    b"\x05\x00\x00\x00\x00\x00\x00\x00bytes=4-",
];

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

fn drive(target: fn(&[u8]), valid: &[&[u8]], random: &[u8], pick: prop::sample::Index, e: &[Edit]) {
    target(random);
    let base = valid[pick.index(valid.len())];
    target(base);
    target(&apply(base.to_vec(), e));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn route_never_panics(random in prop::collection::vec(any::<u8>(), 0..200), pick in any::<prop::sample::Index>(), e in edits()) {
        drive(fuzzing::route_request, ROUTES, &random, pick, &e);
    }

    #[test]
    fn xml_never_panics(random in prop::collection::vec(any::<u8>(), 0..300), pick in any::<prop::sample::Index>(), e in edits()) {
        drive(fuzzing::xml_body, XML, &random, pick, &e);
    }

    #[test]
    fn copy_headers_never_panic(random in prop::collection::vec(any::<u8>(), 0..100), pick in any::<prop::sample::Index>(), e in edits()) {
        drive(fuzzing::copy_headers, COPY, &random, pick, &e);
    }

    #[test]
    fn ranges_never_panic(random in prop::collection::vec(any::<u8>(), 0..60), pick in any::<prop::sample::Index>(), e in edits()) {
        drive(fuzzing::range_header, RANGES, &random, pick, &e);
    }
}
