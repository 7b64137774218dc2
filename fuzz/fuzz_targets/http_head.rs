//! Fuzzes the request-head parser: any bytes, with small limits so limit paths are hit too.
//! It must never panic, and a parsed head must be internally consistent.
#![no_main]

use bytes::BytesMut;
use cairn_http::proto::{BodyFraming, HeadLimits, RequestHead};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for limits in [HeadLimits::default(), HeadLimits { max_head_bytes: 256, max_headers: 4, max_uri_bytes: 64 }] {
        let mut buf = BytesMut::from(data);
        if let Ok(Some(head)) = RequestHead::parse(&mut buf, &limits) {
            assert!(head.target().len() <= limits.max_uri_bytes);
            assert!(head.header_count() <= limits.max_headers);
            let _ = (head.path(), head.query(), head.method_str());
            for (name, _) in head.headers() {
                assert!(!name.is_empty());
            }
            if head.framing() == BodyFraming::Chunked {
                assert!(head.header("content-length").is_none());
            }
            assert_eq!(buf.len() + (data.len() - buf.len()), data.len());
        }
    }
});
