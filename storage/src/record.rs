//! Metadata records (bucket, object, upload, part) and their compact binary encoding; what an
//! object record reports (`ObjectInfo`), and the record a completed multipart upload becomes
//! (`assemble`: no copy, the record lists the part blobs; ETag as S3 computes it,
//! `md5(concat(part md5s))-N`).

use md5::{Digest, Md5};

use crate::error::{Error, Result};

/// Record format version byte, so a later format can be told apart.
const VERSION: u8 = 1;

/// System and user metadata of an object, as the S3 layer hands it over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectMeta {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    pub expires: Option<String>,
    /// Checksums computed by the S3 layer, as opaque algorithm → value pairs.
    pub checksums: Vec<(String, String)>,
    /// `x-amz-meta-*` pairs (names without the prefix).
    pub user: Vec<(String, String)>,
}

/// S3's limit on user metadata (names plus values).
pub const MAX_USER_METADATA: usize = 2048;

impl ObjectMeta {
    /// Size of the user metadata as S3 counts it (names plus values, in bytes).
    pub fn user_size(&self) -> usize {
        self.user.iter().map(|(k, v)| k.len() + v.len()).sum()
    }

    pub(crate) fn check(&self) -> Result<()> {
        if self.user_size() > MAX_USER_METADATA {
            return Err(Error::MetadataTooLarge);
        }
        Ok(())
    }
}

/// Bucket life cycle: a delete marks the bucket `Deleting` while it checks every shard is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketState {
    Active,
    Deleting,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketRecord {
    pub id: u64,
    pub owner: String,
    pub created_ms: u64,
    pub shards: u16,
    pub state: BucketState,
    /// The region the bucket was created in; `None` for a bucket recorded before buckets
    /// had regions (the S3 layer answers the default region for it).
    pub region: Option<String>,
}

/// Where one blob lives: the core directory that wrote it and its unique id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlobRef {
    pub core: u16,
    pub id: u64,
    pub len: u64,
}

/// An object's bytes: inline in the record, or a list of blobs read one after the other
/// (one for a single PUT, one per part for a completed multipart upload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Inline(Vec<u8>),
    Blobs(Vec<BlobRef>),
}

impl Body {
    pub fn blobs(&self) -> &[BlobRef] {
        match self {
            Body::Inline(_) => &[],
            Body::Blobs(b) => b,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRecord {
    pub size: u64,
    pub etag: String,
    pub last_modified_ms: u64,
    /// Number of parts for a multipart object, 0 for a single PUT.
    pub parts: u32,
    pub meta: ObjectMeta,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    pub initiated_ms: u64,
    pub meta: ObjectMeta,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRecord {
    pub md5: [u8; 16],
    pub last_modified_ms: u64,
    pub blob: BlobRef,
    /// Checksums computed inline while the part was written (algorithm, value).
    pub checksums: Vec<(String, String)>,
}

/// Strips the quotes S3 puts around ETags.
pub(crate) fn bare_etag(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

/// An object's metadata, as head and get report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    /// ETag without quotes: hex MD5, or `hex-N` for a multipart object.
    pub etag: String,
    pub last_modified_ms: u64,
    /// Number of parts of a multipart object (0 for a single PUT).
    pub parts: u32,
    /// The length of each part of a multipart object, in order (empty for a single PUT), so
    /// a part can be read back by number.
    pub part_lengths: Vec<u64>,
    pub meta: ObjectMeta,
}

impl ObjectInfo {
    pub(crate) fn from_record(key: &str, r: &ObjectRecord) -> ObjectInfo {
        ObjectInfo {
            key: key.to_owned(),
            size: r.size,
            etag: r.etag.clone(),
            last_modified_ms: r.last_modified_ms,
            parts: r.parts,
            part_lengths: if r.parts > 0 {
                r.body.blobs().iter().map(|b| b.len).collect()
            } else {
                Vec::new()
            },
            meta: r.meta.clone(),
        }
    }
}

/// Builds the object record of a completed upload from the listed and the stored parts.
pub(crate) fn assemble(
    upload: UploadRecord,
    stored: &[(u16, PartRecord)],
    listed: &[(u16, String)],
    min_part_size: u64,
    now_ms: u64,
    checksums: Option<Vec<(String, String)>>,
) -> Result<ObjectRecord> {
    if listed.is_empty() {
        return Err(Error::InvalidArgument(
            "a completion must list at least one part",
        ));
    }
    // S3 checks the whole list in turn: its order, then that every part exists with its ETag,
    // then the part sizes.
    if listed.windows(2).any(|w| w[1].0 <= w[0].0) {
        return Err(Error::InvalidPartOrder);
    }
    let parts = listed
        .iter()
        .map(|(number, etag)| {
            let part = stored
                .binary_search_by_key(number, |(n, _)| *n)
                .map(|i| &stored[i].1)
                .map_err(|_| Error::InvalidPart)?;
            if bare_etag(etag).eq_ignore_ascii_case(&hex::encode(part.md5)) {
                Ok(part)
            } else {
                Err(Error::InvalidPart)
            }
        })
        .collect::<Result<Vec<&PartRecord>>>()?;
    if parts[..parts.len() - 1]
        .iter()
        .any(|p| p.blob.len < min_part_size)
    {
        return Err(Error::EntityTooSmall);
    }
    let mut md5s = Md5::new();
    let mut blobs = Vec::with_capacity(parts.len());
    let mut size = 0u64;
    for part in parts {
        md5s.update(part.md5);
        size += part.blob.len;
        blobs.push(part.blob);
    }
    Ok(ObjectRecord {
        size,
        etag: format!("{}-{}", hex::encode(md5s.finalize()), listed.len()),
        last_modified_ms: now_ms,
        parts: listed.len() as u32,
        meta: match checksums {
            Some(checksums) => ObjectMeta {
                checksums,
                ..upload.meta
            },
            None => upload.meta,
        },
        body: Body::Blobs(blobs),
    })
}

struct Enc(Vec<u8>);

impl Enc {
    fn new() -> Enc {
        Enc(vec![VERSION])
    }
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn opt(&mut self, s: &Option<String>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }
    fn pairs(&mut self, pairs: &[(String, String)]) {
        self.u32(pairs.len() as u32);
        for (k, v) in pairs {
            self.str(k);
            self.str(v);
        }
    }
    fn meta(&mut self, m: &ObjectMeta) {
        for f in [
            &m.content_type,
            &m.content_encoding,
            &m.content_disposition,
            &m.content_language,
            &m.cache_control,
            &m.expires,
        ] {
            self.opt(f);
        }
        self.pairs(&m.checksums);
        self.pairs(&m.user);
    }
    fn blob(&mut self, b: &BlobRef) {
        self.u16(b.core);
        self.u64(b.id);
        self.u64(b.len);
    }
}

struct Dec<'a>(&'a [u8]);

const CORRUPT: Error = Error::Corrupt("truncated or malformed record");

impl<'a> Dec<'a> {
    fn new(b: &'a [u8]) -> Result<Dec<'a>> {
        match b.split_first() {
            Some((&VERSION, rest)) => Ok(Dec(rest)),
            _ => Err(Error::Corrupt("unknown record version")),
        }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(CORRUPT);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().map_err(|_| CORRUPT)?,
        ))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| CORRUPT)?,
        ))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| CORRUPT)?,
        ))
    }
    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn str(&mut self) -> Result<String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| CORRUPT)
    }
    fn opt(&mut self) -> Result<Option<String>> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.str()?)),
            _ => Err(CORRUPT),
        }
    }
    fn pairs(&mut self) -> Result<Vec<(String, String)>> {
        let n = self.u32()? as usize;
        let mut v = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            v.push((self.str()?, self.str()?));
        }
        Ok(v)
    }
    fn meta(&mut self) -> Result<ObjectMeta> {
        Ok(ObjectMeta {
            content_type: self.opt()?,
            content_encoding: self.opt()?,
            content_disposition: self.opt()?,
            content_language: self.opt()?,
            cache_control: self.opt()?,
            expires: self.opt()?,
            checksums: self.pairs()?,
            user: self.pairs()?,
        })
    }
    fn blob(&mut self) -> Result<BlobRef> {
        Ok(BlobRef {
            core: self.u16()?,
            id: self.u64()?,
            len: self.u64()?,
        })
    }
}

impl BucketRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new();
        e.u64(self.id);
        e.str(&self.owner);
        e.u64(self.created_ms);
        e.u16(self.shards);
        e.u8(match self.state {
            BucketState::Active => 0,
            BucketState::Deleting => 1,
        });
        // Last, so that a record written before buckets had regions (which ends here) still
        // decodes, and an older reader ignores the field.
        e.opt(&self.region);
        e.0
    }
    pub fn decode(b: &[u8]) -> Result<BucketRecord> {
        let mut d = Dec::new(b)?;
        Ok(BucketRecord {
            id: d.u64()?,
            owner: d.str()?,
            created_ms: d.u64()?,
            shards: d.u16()?,
            state: match d.u8()? {
                0 => BucketState::Active,
                1 => BucketState::Deleting,
                _ => return Err(CORRUPT),
            },
            region: if d.0.is_empty() { None } else { d.opt()? },
        })
    }
}

impl ObjectRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new();
        e.u64(self.size);
        e.str(&self.etag);
        e.u64(self.last_modified_ms);
        e.u32(self.parts);
        e.meta(&self.meta);
        match &self.body {
            Body::Inline(data) => {
                e.u8(0);
                e.bytes(data);
            }
            Body::Blobs(blobs) => {
                e.u8(1);
                e.u32(blobs.len() as u32);
                for b in blobs {
                    e.blob(b);
                }
            }
        }
        e.0
    }
    pub fn decode(b: &[u8]) -> Result<ObjectRecord> {
        let mut d = Dec::new(b)?;
        let size = d.u64()?;
        let etag = d.str()?;
        let last_modified_ms = d.u64()?;
        let parts = d.u32()?;
        let meta = d.meta()?;
        let body = match d.u8()? {
            0 => Body::Inline(d.bytes()?.to_vec()),
            1 => {
                let n = d.u32()? as usize;
                let mut blobs = Vec::with_capacity(n.min(10_000));
                for _ in 0..n {
                    blobs.push(d.blob()?);
                }
                Body::Blobs(blobs)
            }
            _ => return Err(CORRUPT),
        };
        Ok(ObjectRecord {
            size,
            etag,
            last_modified_ms,
            parts,
            meta,
            body,
        })
    }
}

impl UploadRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new();
        e.u64(self.initiated_ms);
        e.meta(&self.meta);
        e.0
    }
    pub fn decode(b: &[u8]) -> Result<UploadRecord> {
        let mut d = Dec::new(b)?;
        Ok(UploadRecord {
            initiated_ms: d.u64()?,
            meta: d.meta()?,
        })
    }
}

impl PartRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new();
        e.0.extend_from_slice(&self.md5);
        e.u64(self.last_modified_ms);
        e.blob(&self.blob);
        e.pairs(&self.checksums);
        e.0
    }
    pub fn decode(b: &[u8]) -> Result<PartRecord> {
        let mut d = Dec::new(b)?;
        let md5 = d.take(16)?.try_into().map_err(|_| CORRUPT)?;
        Ok(PartRecord {
            md5,
            last_modified_ms: d.u64()?,
            blob: d.blob()?,
            checksums: d.pairs()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(n: u16, len: u64, byte: u8) -> (u16, PartRecord) {
        (
            n,
            PartRecord {
                md5: [byte; 16],
                last_modified_ms: 0,
                blob: BlobRef {
                    core: 0,
                    id: u64::from(n),
                    len,
                },
                checksums: Vec::new(),
            },
        )
    }

    fn upload() -> UploadRecord {
        UploadRecord {
            initiated_ms: 0,
            meta: ObjectMeta::default(),
        }
    }

    #[test]
    fn completion_checks_parts_order_and_sizes() {
        let stored = vec![part(1, 10, 1), part(2, 10, 2), part(3, 3, 3)];
        let tag = |b: u8| hex::encode([b; 16]);
        let ok = assemble(
            upload(),
            &stored,
            &[(1, tag(1)), (3, format!("\"{}\"", tag(3)))],
            10,
            5,
            None,
        )
        .unwrap();
        assert_eq!(ok.size, 13);
        let mut h = Md5::new();
        h.update([1u8; 16]);
        h.update([3u8; 16]);
        assert_eq!(ok.etag, format!("{}-2", hex::encode(h.finalize())));
        assert_eq!(ok.body.blobs().len(), 2);
        assert!(matches!(
            assemble(upload(), &stored, &[(2, tag(2)), (1, tag(1))], 1, 0, None),
            Err(Error::InvalidPartOrder)
        ));
        assert!(matches!(
            assemble(upload(), &stored, &[(1, tag(2))], 1, 0, None),
            Err(Error::InvalidPart)
        ));
        assert!(matches!(
            assemble(upload(), &stored, &[(4, tag(4))], 1, 0, None),
            Err(Error::InvalidPart)
        ));
        assert!(matches!(
            assemble(upload(), &stored, &[(3, tag(3)), (4, tag(4))], 1, 0, None),
            Err(Error::InvalidPart)
        ));
        assert!(matches!(
            assemble(upload(), &stored, &[(3, tag(3)), (2, tag(2))], 1, 0, None),
            Err(Error::InvalidPartOrder)
        ));
        // Order is checked before sizes: S3 answers InvalidPartOrder here, not EntityTooSmall.
        assert!(matches!(
            assemble(upload(), &stored, &[(2, tag(2)), (1, tag(1))], 11, 0, None),
            Err(Error::InvalidPartOrder)
        ));
        // Checksums given at completion replace the upload's.
        let sums = vec![("CRC32".to_owned(), "AAAAAA==-1".to_owned())];
        let done = assemble(upload(), &stored, &[(1, tag(1))], 1, 0, Some(sums.clone())).unwrap();
        assert_eq!(done.meta.checksums, sums);
        assert!(matches!(
            assemble(
                upload(),
                &stored,
                &[(3, tag(3)), (4, tag(4))][..0],
                1,
                0,
                None
            ),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            assemble(upload(), &stored, &[(1, tag(1)), (2, tag(2))], 11, 0, None),
            Err(Error::EntityTooSmall)
        ));
    }

    #[test]
    fn records_round_trip() {
        let meta = ObjectMeta {
            content_type: Some("text/plain".into()),
            expires: Some("Thu, 01 Jan 2037 00:00:00 GMT".into()),
            checksums: vec![("CRC32C".into(), "yZRlqg==".into())],
            user: vec![("colour".into(), "blue".into())],
            ..ObjectMeta::default()
        };
        let obj = ObjectRecord {
            size: 5,
            etag: "\"abc\"".into(),
            last_modified_ms: 42,
            parts: 2,
            meta: meta.clone(),
            body: Body::Blobs(vec![BlobRef {
                core: 1,
                id: 9,
                len: 5,
            }]),
        };
        assert_eq!(ObjectRecord::decode(&obj.encode()).unwrap(), obj);
        let inline = ObjectRecord {
            body: Body::Inline(b"hello".to_vec()),
            ..obj
        };
        assert_eq!(ObjectRecord::decode(&inline.encode()).unwrap(), inline);
        let bucket = BucketRecord {
            id: 3,
            owner: "me".into(),
            created_ms: 7,
            shards: 16,
            state: BucketState::Deleting,
            region: Some("ap-southeast-1-sg".into()),
        };
        assert_eq!(BucketRecord::decode(&bucket.encode()).unwrap(), bucket);
        let unplaced = BucketRecord {
            region: None,
            ..bucket
        };
        assert_eq!(BucketRecord::decode(&unplaced.encode()).unwrap(), unplaced);
        let part = PartRecord {
            md5: [7; 16],
            last_modified_ms: 1,
            blob: BlobRef {
                core: 0,
                id: 1,
                len: 2,
            },
            checksums: vec![("SHA256".into(), "abc".into())],
        };
        assert_eq!(PartRecord::decode(&part.encode()).unwrap(), part);
        let up = UploadRecord {
            initiated_ms: 5,
            meta,
        };
        assert_eq!(UploadRecord::decode(&up.encode()).unwrap(), up);
    }

    #[test]
    fn a_bucket_record_without_a_region_still_decodes() {
        // The bytes a bucket record had before the region field: version 1, id 3, owner
        // "me", created 7, 16 shards, Active.
        let mut old = vec![VERSION];
        old.extend_from_slice(&3u64.to_le_bytes());
        old.extend_from_slice(&2u32.to_le_bytes());
        old.extend_from_slice(b"me");
        old.extend_from_slice(&7u64.to_le_bytes());
        old.extend_from_slice(&16u16.to_le_bytes());
        old.push(0);
        let record = BucketRecord::decode(&old).unwrap();
        assert_eq!(
            record,
            BucketRecord {
                id: 3,
                owner: "me".into(),
                created_ms: 7,
                shards: 16,
                state: BucketState::Active,
                region: None,
            }
        );
        // A record with a region begins with exactly those bytes.
        let placed = BucketRecord {
            region: Some("us-east-1".into()),
            ..record
        };
        assert!(placed.encode().starts_with(&old));
        // A region cut short is corrupt, not absent.
        let enc = placed.encode();
        for cut in old.len() + 1..enc.len() {
            assert!(BucketRecord::decode(&enc[..cut]).is_err(), "{cut}");
        }
    }

    #[test]
    fn truncated_records_are_corrupt_not_panics() {
        let enc = ObjectRecord {
            size: 1,
            etag: "e".into(),
            last_modified_ms: 0,
            parts: 0,
            meta: ObjectMeta::default(),
            body: Body::Inline(vec![1]),
        }
        .encode();
        for cut in 0..enc.len() {
            assert!(ObjectRecord::decode(&enc[..cut]).is_err());
        }
    }
}
