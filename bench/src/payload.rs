//! The bytes the tool sends: one pseudo-random, incompressible buffer generated per run, of
//! which every object is a slice chosen by its key, so uploads send straight from it and
//! downloads are compared against it without allocating; and the digests of those slices,
//! computed once before the run so the client does not spend the shared cores re-hashing
//! the same bodies.

use std::collections::HashMap;
use std::ops::Range;

use md5::{Digest as _, Md5};
use ring::digest;

use crate::config::SizeSpec;

/// Distance between the starts of two slots: page-aligned slices.
const SLOT_STRIDE: usize = 4096;
/// Bytes of distinct bodies a fixed-size run uses at most (slots × size): bounds the
/// digests computed up front.
const SLOT_BYTES: usize = 256 << 20;
/// At most this many distinct bodies (small objects).
const MAX_SLOTS: usize = 1024;
/// At least this many (large objects), so neighbouring keys rarely share a body.
const MIN_SLOTS: usize = 4;

/// SplitMix64: a well-mixed 64-bit permutation (Steele, Lea, Flood 2014); the generator and
/// the key hash both use it.
pub fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A small per-task random number generator (SplitMix64 sequence).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(mix64(seed))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }

    /// A number in `0..n` (`n` > 0; the modulo bias is negligible for benchmark choices).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// `len` pseudo-random bytes: SplitMix64 in counter mode, filled by `threads` threads.
/// General-purpose compressors find nothing to remove in it.
pub fn generate(len: usize, seed: u64, threads: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    let per_thread = len.div_ceil(threads.max(1)).next_multiple_of(8).max(8);
    std::thread::scope(|scope| {
        for (t, part) in bytes.chunks_mut(per_thread).enumerate() {
            scope.spawn(move || {
                let first_word = (t * per_thread / 8) as u64;
                for (i, word) in part.chunks_mut(8).enumerate() {
                    let v =
                        mix64(seed ^ (first_word + i as u64).wrapping_mul(0xd6e8_feb8_6659_fd93));
                    word.copy_from_slice(&v.to_le_bytes()[..word.len()]);
                }
            });
        }
    });
    bytes
}

/// Where each object's bytes are in the payload: key index → slot and size.
#[derive(Debug, Clone)]
pub struct Layout {
    seed: u64,
    size: SizeSpec,
    slots: usize,
}

impl Layout {
    /// The layout of objects of `size` for a run seeded with `seed`.
    pub fn new(size: SizeSpec, seed: u64) -> Layout {
        let max = size.max() as usize;
        let slots = (SLOT_BYTES / max.max(1)).clamp(MIN_SLOTS, MAX_SLOTS);
        Layout { seed, size, slots }
    }

    /// Bytes the payload must hold.
    pub fn payload_len(&self) -> usize {
        self.size.max() as usize + (self.slots - 1) * SLOT_STRIDE
    }

    /// The size of object `index`.
    pub fn size_of(&self, index: u64) -> u64 {
        match self.size {
            SizeSpec::Fixed(n) => n,
            SizeSpec::Range(lo, hi) => lo + mix64(index ^ self.seed ^ 0x5151) % (hi - lo + 1),
        }
    }

    /// The bytes of object `index`, as a range of the payload.
    pub fn object(&self, index: u64) -> Range<usize> {
        let slot = (mix64(index ^ self.seed) % self.slots as u64) as usize;
        let start = slot * SLOT_STRIDE;
        start..start + self.size_of(index) as usize
    }

    /// Every distinct body of a fixed-size run; empty for a size range (bodies then differ
    /// by key and are hashed as they are sent).
    pub fn distinct_bodies(&self) -> Vec<Range<usize>> {
        match self.size {
            SizeSpec::Fixed(n) => (0..self.slots)
                .map(|slot| slot * SLOT_STRIDE..slot * SLOT_STRIDE + n as usize)
                .collect(),
            SizeSpec::Range(..) => Vec::new(),
        }
    }
}

/// Which digests of a body a signing mode needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct DigestNeeds {
    /// The hex SHA-256 of the whole body (a signed payload hash).
    pub body_sha256: bool,
    /// The hex SHA-256 of each aws-chunked chunk of this size (signed chunks).
    pub chunk_sha256: Option<usize>,
    /// The MD5 of the whole body (Content-MD5).
    pub body_md5: bool,
}

/// Digests of payload ranges computed before the run, looked up by range.
#[derive(Debug, Default)]
pub struct Digests {
    sha256: HashMap<(usize, usize), [u8; 64]>,
    md5: HashMap<(usize, usize), [u8; 16]>,
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    let d = digest::digest(&digest::SHA256, data);
    hex::encode_to_slice(d.as_ref(), &mut out).expect("64 hex digits for 32 bytes");
    out
}

/// MD5 of `data`.
pub fn md5(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

impl Digests {
    /// Digests of `bodies` (ranges of `payload`) as `needs` says, on `threads` threads.
    pub fn compute(
        payload: &[u8],
        bodies: &[Range<usize>],
        needs: DigestNeeds,
        threads: usize,
    ) -> Digests {
        let mut sha_ranges: Vec<Range<usize>> = Vec::new();
        let mut md5_ranges: Vec<Range<usize>> = Vec::new();
        for body in bodies {
            if needs.body_sha256 {
                sha_ranges.push(body.clone());
            }
            if let Some(chunk) = needs.chunk_sha256 {
                let mut at = body.start;
                while at < body.end {
                    let end = (at + chunk).min(body.end);
                    sha_ranges.push(at..end);
                    at = end;
                }
            }
            if needs.body_md5 {
                md5_ranges.push(body.clone());
            }
        }
        sha_ranges.sort_by_key(|r| (r.start, r.end));
        sha_ranges.dedup();
        md5_ranges.sort_by_key(|r| (r.start, r.end));
        md5_ranges.dedup();
        let threads = threads.max(1);
        let mut digests = Digests::default();
        std::thread::scope(|scope| {
            let sha: Vec<_> = (0..threads)
                .map(|t| {
                    let ranges = &sha_ranges;
                    scope.spawn(move || {
                        ranges
                            .iter()
                            .skip(t)
                            .step_by(threads)
                            .map(|r| ((r.start, r.end), sha256_hex(&payload[r.clone()])))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let md: Vec<_> = (0..threads)
                .map(|t| {
                    let ranges = &md5_ranges;
                    scope.spawn(move || {
                        ranges
                            .iter()
                            .skip(t)
                            .step_by(threads)
                            .map(|r| ((r.start, r.end), md5(&payload[r.clone()])))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in sha {
                digests.sha256.extend(h.join().expect("hashing thread"));
            }
            for h in md {
                digests.md5.extend(h.join().expect("hashing thread"));
            }
        });
        digests
    }

    /// The hex SHA-256 of `payload[range]`, precomputed if it was, else computed now.
    pub fn sha256_hex(&self, payload: &[u8], range: Range<usize>) -> [u8; 64] {
        match self.sha256.get(&(range.start, range.end)) {
            Some(h) => *h,
            None => sha256_hex(&payload[range]),
        }
    }

    /// The precomputed hex SHA-256 of `range`, if there is one.
    pub fn known_sha256_hex(&self, range: &Range<usize>) -> Option<&[u8; 64]> {
        self.sha256.get(&(range.start, range.end))
    }

    /// The MD5 of `payload[range]`, precomputed if it was, else computed now.
    pub fn md5(&self, payload: &[u8], range: Range<usize>) -> [u8; 16] {
        match self.md5.get(&(range.start, range.end)) {
            Some(h) => *h,
            None => md5(&payload[range]),
        }
    }

    /// How many digests were computed up front.
    pub fn len(&self) -> usize {
        self.sha256.len() + self.md5.len()
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Counts the bytes of `got` that differ from `expected` (both the same length): the fast
/// path is one `memcmp`.
pub fn mismatched(got: &[u8], expected: &[u8]) -> u64 {
    if got == expected {
        return 0;
    }
    got.iter().zip(expected).filter(|(a, b)| a != b).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_bytes_do_not_depend_on_the_thread_count_and_look_random() {
        let a = generate(1 << 20, 7, 1);
        let b = generate(1 << 20, 7, 3);
        assert_eq!(a, b);
        assert_ne!(a, generate(1 << 20, 8, 1));
        let mut counts = [0u32; 256];
        for &x in &a {
            counts[usize::from(x)] += 1;
        }
        // 4096 expected per value; a compressible buffer would be far off.
        assert!(
            counts.iter().all(|&c| (3500..4700).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn objects_fit_the_payload_and_sizes_stay_in_range() {
        for size in [
            SizeSpec::Fixed(4096),
            SizeSpec::Fixed(64 << 20),
            SizeSpec::Range(1, 1 << 20),
        ] {
            let layout = Layout::new(size, 42);
            for i in 0..10_000 {
                let r = layout.object(i);
                assert!(r.end <= layout.payload_len());
                let len = r.len() as u64;
                assert!(len >= size.min() && len <= size.max());
                assert_eq!(layout.object(i), r, "deterministic");
            }
        }
    }

    #[test]
    fn precomputed_digests_equal_computed_ones() {
        let layout = Layout::new(SizeSpec::Fixed(100_000), 3);
        let payload = generate(layout.payload_len(), 1, 2);
        let bodies = layout.distinct_bodies();
        let needs = DigestNeeds {
            body_sha256: true,
            chunk_sha256: Some(65536),
            body_md5: true,
        };
        let d = Digests::compute(&payload, &bodies, needs, 2);
        let body = layout.object(5);
        assert!(d.known_sha256_hex(&body).is_some());
        assert_eq!(
            d.sha256_hex(&payload, body.clone()),
            sha256_hex(&payload[body.clone()])
        );
        assert_eq!(d.md5(&payload, body.clone()), md5(&payload[body.clone()]));
        let first_chunk = body.start..body.start + 65536;
        assert!(d.known_sha256_hex(&first_chunk).is_some());
        assert!(d.known_sha256_hex(&(0..3)).is_none());
    }

    #[test]
    fn mismatches_are_counted_per_byte() {
        assert_eq!(mismatched(b"abcd", b"abcd"), 0);
        assert_eq!(mismatched(b"abxx", b"abcd"), 2);
    }
}
