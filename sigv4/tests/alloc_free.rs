//! The per-chunk hot path allocates nothing: once a streaming body's verifier exists, feeding
//! it many signed chunks makes no heap allocation (counted by a wrapping global allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_sigv4::sign::{sign_v4_header, AwsChunkedEncoder, Credentials, SignPayload};
use cairn_sigv4::{parse_auth, verify, Policy, RequestParts, SecretKey, SigningKeyCache};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator, which upholds the
// `GlobalAlloc` contract; the counter has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's guarantees for `layout` are passed on as they are.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this layout (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn feeding_signed_chunks_does_not_allocate() {
    let data = vec![0x42u8; 64 * 1024 * 40];
    let head = [("Host", "localhost"), ("Content-Encoding", "aws-chunked")];
    let parts = RequestParts {
        method: "PUT",
        path: "/b/k",
        query: "",
        headers: &head,
    };
    let creds = Credentials::new("AKID", "secret");
    let s = sign_v4_header(
        &parts,
        &creds,
        "us-east-1",
        1_700_000_000,
        SignPayload::StreamingSigned,
    );
    let body =
        AwsChunkedEncoder::signed(s.chunk_context, s.signature, None).encode(&data, 64 * 1024);
    let mut headers: Vec<(String, String)> = head
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    headers.extend(s.headers);
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let parts = RequestParts {
        headers: &refs,
        ..parts
    };
    let auth = parse_auth(&parts).unwrap();
    let mut cache = SigningKeyCache::default();
    let v = verify(
        &auth,
        &parts,
        None,
        &SecretKey::new("secret"),
        1_700_000_000,
        &Policy::default(),
        &mut cache,
    )
    .unwrap();
    let mut payload = v.payload;

    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut fed = 0usize;
    for read in body.chunks(100_000) {
        let mut rest = read;
        while !rest.is_empty() {
            let step = payload.feed(rest).unwrap();
            fed += step.data.len();
            rest = &rest[step.consumed..];
        }
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert_eq!(fed, data.len());
    assert_eq!(
        after - before,
        0,
        "allocations while feeding 40 signed chunks"
    );
    payload.finish().unwrap();
}
