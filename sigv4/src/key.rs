//! Secrets, signing keys, signatures and the signing-key cache ("Deriving a signing key":
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html#derive-signing-key>).
//! Secrets are zeroized on drop and never printed; signatures compare in constant time only.

use ring::hmac;
use zeroize::{Zeroize, Zeroizing};

/// Equality whose time depends on the lengths only, never on where the bytes differ. (ring
/// deprecated its public helper for this in 0.17.10, so it lives here: XOR-accumulate every
/// byte pair, no early exit, and hide the accumulator from the optimiser.)
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let acc = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(acc) == 0
}

/// A secret access key. Zeroized on drop; `Debug` prints no part of it.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<String>);

impl SecretKey {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> SecretKey {
        SecretKey(Zeroizing::new(secret.into()))
    }

    /// The secret's bytes (to sign with; never log them).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time equality, so cache look-ups leak nothing about a secret.
    fn same_as(&self, other: &SecretKey) -> bool {
        constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// The SigV4 signing key of one (secret, date, region, service), ready to HMAC with.
#[derive(Clone)]
pub struct SigningKey(hmac::Key);

impl SigningKey {
    /// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
    pub fn derive(secret: &SecretKey, scope_date: &str, region: &str, service: &str) -> SigningKey {
        let mut k_secret = Zeroizing::new(Vec::with_capacity(secret.expose().len() + 4));
        k_secret.extend_from_slice(b"AWS4");
        k_secret.extend_from_slice(secret.expose().as_bytes());
        let mut k = hmac_bytes(&k_secret, scope_date.as_bytes());
        for part in [region.as_bytes(), service.as_bytes(), b"aws4_request"] {
            let next = hmac_bytes(&k, part);
            k.zeroize();
            k = next;
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, &k);
        k.zeroize();
        SigningKey(key)
    }

    /// HMAC-SHA256 of `parts` concatenated.
    pub fn sign_parts(&self, parts: &[&[u8]]) -> Signature {
        let mut ctx = hmac::Context::with_key(&self.0);
        for p in parts {
            ctx.update(p);
        }
        Signature::from_tag(ctx.sign())
    }

    /// HMAC-SHA256 of one message.
    pub fn sign(&self, msg: &[u8]) -> Signature {
        self.sign_parts(&[msg])
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

fn hmac_bytes(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), msg);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// A computed SigV4 signature. No `PartialEq`: compare with [`Signature::matches_hex`], which
/// runs in constant time.
#[derive(Clone, Copy)]
pub struct Signature([u8; 32]);

impl Signature {
    fn from_tag(tag: hmac::Tag) -> Signature {
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        Signature(out)
    }

    /// Lower-case hex, as it appears on the wire and in chained strings to sign.
    pub fn to_hex(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        hex::encode_to_slice(self.0, &mut out).expect("64 bytes hold 32 as hex");
        out
    }

    /// Lower-case hex as a `String`.
    pub fn hex_string(&self) -> String {
        String::from_utf8_lossy(&self.to_hex()).into_owned()
    }

    /// Whether `provided` is exactly this signature in lower-case hex (as AWS compares), in
    /// constant time with respect to the content.
    pub fn matches_hex(&self, provided: &[u8]) -> bool {
        constant_time_eq(&self.to_hex(), provided)
    }
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature({})", self.hex_string())
    }
}

/// Default capacity of a [`SigningKeyCache`].
pub const DEFAULT_KEY_CACHE_ENTRIES: usize = 64;

struct CacheEntry {
    access_key_id: String,
    scope_date: [u8; 8],
    region: String,
    secret: SecretKey,
    key: SigningKey,
    last_used: u64,
}

/// A small bounded cache of signing keys per (access key, date, region), least recently used
/// evicted. One per core (it is not `Sync`); a lookup is a linear scan, which beats hashing at
/// this size. The secret is part of the match, so a rotated secret never meets a stale key.
pub struct SigningKeyCache {
    entries: Vec<CacheEntry>,
    capacity: usize,
    tick: u64,
    derivations: u64,
}

impl std::fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyCache")
            .field("entries", &self.entries.len())
            .field("capacity", &self.capacity)
            .field("derivations", &self.derivations)
            .finish()
    }
}

impl Default for SigningKeyCache {
    fn default() -> Self {
        SigningKeyCache::new(DEFAULT_KEY_CACHE_ENTRIES)
    }
}

impl SigningKeyCache {
    /// A cache holding at most `capacity` keys (at least one).
    pub fn new(capacity: usize) -> SigningKeyCache {
        let capacity = capacity.max(1);
        SigningKeyCache {
            entries: Vec::with_capacity(capacity),
            capacity,
            tick: 0,
            derivations: 0,
        }
    }

    /// How many keys were derived (cache misses) so far.
    pub fn derivations(&self) -> u64 {
        self.derivations
    }

    /// The signing key for service `s3`, derived on a miss.
    pub fn get(
        &mut self,
        access_key_id: &str,
        secret: &SecretKey,
        scope_date: &str,
        region: &str,
    ) -> SigningKey {
        self.tick += 1;
        let tick = self.tick;
        let date: [u8; 8] = match scope_date.as_bytes().try_into() {
            Ok(d) => d,
            // Not a date a valid scope has: derive without caching.
            Err(_) => return SigningKey::derive(secret, scope_date, region, "s3"),
        };
        if let Some(e) = self.entries.iter_mut().find(|e| {
            e.scope_date == date
                && e.access_key_id == access_key_id
                && e.region == region
                && e.secret.same_as(secret)
        }) {
            e.last_used = tick;
            return e.key.clone();
        }
        self.derivations += 1;
        let key = SigningKey::derive(secret, scope_date, region, "s3");
        let entry = CacheEntry {
            access_key_id: access_key_id.to_owned(),
            scope_date: date,
            region: region.to_owned(),
            secret: secret.clone(),
            key: key.clone(),
            last_used: tick,
        };
        if self.entries.len() < self.capacity {
            self.entries.push(entry);
        } else if let Some(oldest) = self.entries.iter_mut().min_by_key(|e| e.last_used) {
            *oldest = entry;
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    #[test]
    fn debug_is_redacted() {
        let s = SecretKey::new(SECRET);
        assert!(!format!("{s:?}").contains("EXAMPLE"));
        let k = SigningKey::derive(&s, "20130524", "us-east-1", "s3");
        assert_eq!(format!("{k:?}"), "SigningKey(<redacted>)");
    }

    #[test]
    fn derived_key_signs_like_aws_example() {
        // The GET-object example of the S3 API reference: its string to sign and signature.
        let key = SigningKey::derive(&SecretKey::new(SECRET), "20130524", "us-east-1", "s3");
        let sts = "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972";
        let sig = key.sign(sts.as_bytes());
        assert!(
            sig.matches_hex(b"f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        );
        assert!(
            !sig.matches_hex(b"F0E8BDB87C964420E857BD35B5D6ED310BD44F0170ABA48DD91039C6036BDB41")
        );
        assert!(!sig.matches_hex(b"f0e8"));
    }

    #[test]
    fn cache_hits_evicts_and_respects_secret_rotation() {
        let mut cache = SigningKeyCache::new(2);
        let s1 = SecretKey::new("one");
        let s2 = SecretKey::new("two");
        cache.get("AK1", &s1, "20240101", "us-east-1");
        cache.get("AK1", &s1, "20240101", "us-east-1");
        assert_eq!(cache.derivations(), 1);
        // A rotated secret for the same key id is a miss, and signs differently.
        let a = cache.get("AK1", &s1, "20240101", "us-east-1").sign(b"x");
        let b = cache.get("AK1", &s2, "20240101", "us-east-1").sign(b"x");
        assert_eq!(cache.derivations(), 2);
        assert!(!a.matches_hex(&b.to_hex()));
        // A third key evicts the least recently used (the s1 entry).
        cache.get("AK2", &s1, "20240102", "us-east-1");
        assert_eq!(cache.derivations(), 3);
        cache.get("AK1", &s2, "20240101", "us-east-1");
        assert_eq!(cache.derivations(), 3);
        cache.get("AK1", &s1, "20240101", "us-east-1");
        assert_eq!(cache.derivations(), 4);
        assert!(cache.entries.len() <= 2);
    }
}
