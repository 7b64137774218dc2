//! Buckets: names (S3's general-purpose bucket naming rules), references that bind an operation
//! to one bucket (`BucketRef`), bucket records by reference, and create, delete, head and list.
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html>

use crate::error::{Error, Result};
use crate::meta::{bucket_key, family_end, prefix_successor, shard_prefix, Family, MetaStore};
use crate::op::{CreateBucket, FinishBucketDelete, MarkBucketDeleting, Op, Reply};
use crate::record::{BucketRecord, BucketState};
use crate::store::{now_ms, CoreStore};

/// Prefixes S3 reserves.
const RESERVED_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
/// Suffixes S3 reserves (access point aliases, Object Lambda, MRAP, directory and table buckets).
const RESERVED_SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/// Checks a bucket name against S3's rules.
pub fn validate_bucket_name(name: &str) -> Result<()> {
    let bytes = name.as_bytes();
    if !(3..=63).contains(&bytes.len()) {
        return Err(Error::InvalidBucketName("must be 3 to 63 characters long"));
    }
    if !bytes
        .iter()
        .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err(Error::InvalidBucketName(
            "only lowercase letters, digits, dots and hyphens are allowed",
        ));
    }
    let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !edge_ok(bytes[0]) || !edge_ok(bytes[bytes.len() - 1]) {
        return Err(Error::InvalidBucketName(
            "must begin and end with a letter or digit",
        ));
    }
    if name.contains("..") {
        return Err(Error::InvalidBucketName(
            "must not contain two adjacent dots",
        ));
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() || looks_like_ipv4(name) {
        return Err(Error::InvalidBucketName(
            "must not be formatted as an IP address",
        ));
    }
    if RESERVED_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return Err(Error::InvalidBucketName("uses a reserved prefix"));
    }
    if RESERVED_SUFFIXES.iter().any(|s| name.ends_with(s)) {
        return Err(Error::InvalidBucketName("uses a reserved suffix"));
    }
    Ok(())
}

/// Four dot-separated groups of 1–3 digits (S3 also refuses forms like `01.002.3.4`).
fn looks_like_ipv4(name: &str) -> bool {
    let groups: Vec<&str> = name.split('.').collect();
    groups.len() == 4
        && groups
            .iter()
            .all(|g| (1..=3).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_digit()))
}

/// A bucket as `head_bucket` and `list_buckets` report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    pub name: String,
    /// The bucket's internal id: a bucket deleted and created again under the same name has
    /// another id. `BucketRef::from(&info)` names this bucket and no later one.
    pub id: u64,
    pub owner: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// The region the bucket was created in; `None` for a bucket created before buckets
    /// recorded their region.
    pub region: Option<String>,
}

impl BucketInfo {
    fn new(name: &str, b: BucketRecord) -> BucketInfo {
        BucketInfo {
            name: name.to_owned(),
            id: b.id,
            owner: b.owner,
            created_ms: b.created_ms,
            region: b.region,
        }
    }
}

/// Which bucket an operation acts on.
///
/// By name ([`BucketRef::Named`], what a `&str` converts to), an operation acts on whichever
/// bucket has the name when it runs. Bound ([`BucketRef::Bound`], what a [`BucketInfo`]
/// converts to), it acts only on the bucket that had this id when access to it was decided:
/// once that bucket is gone, every operation fails with [`Error::NoSuchBucket`], even if the
/// name was taken again (by another owner) in between.
#[derive(Debug, Clone, Copy)]
pub enum BucketRef<'a> {
    /// Whichever bucket has the name now.
    Named(&'a str),
    /// Only the bucket with this name and this id.
    Bound { name: &'a str, id: u64 },
}

impl<'a> BucketRef<'a> {
    /// The bucket's name.
    pub fn name(&self) -> &'a str {
        match *self {
            BucketRef::Named(name) | BucketRef::Bound { name, .. } => name,
        }
    }

    /// A reference by name, bound to `id` if there is one.
    pub(crate) fn new(name: &'a str, id: Option<u64>) -> BucketRef<'a> {
        match id {
            Some(id) => BucketRef::Bound { name, id },
            None => BucketRef::Named(name),
        }
    }

    /// The id the reference is bound to, if it is.
    pub(crate) fn id(&self) -> Option<u64> {
        match *self {
            BucketRef::Named(_) => None,
            BucketRef::Bound { id, .. } => Some(id),
        }
    }
}

impl<'a> From<&'a str> for BucketRef<'a> {
    fn from(name: &'a str) -> BucketRef<'a> {
        BucketRef::Named(name)
    }
}

impl<'a> From<&'a String> for BucketRef<'a> {
    fn from(name: &'a String) -> BucketRef<'a> {
        BucketRef::Named(name)
    }
}

impl<'a> From<&'a BucketInfo> for BucketRef<'a> {
    fn from(info: &'a BucketInfo) -> BucketRef<'a> {
        BucketRef::Bound {
            name: &info.name,
            id: info.id,
        }
    }
}

impl CoreStore {
    /// Reads a bucket's record: the one that has the name now, or for a bound reference only
    /// the one with its id (`NoSuchBucket` once that bucket is gone).
    pub(crate) fn bucket_record(&self, bucket: BucketRef<'_>) -> Result<BucketRecord> {
        let b = match self.meta().get(&bucket_key(bucket.name()))? {
            Some(v) => BucketRecord::decode(&v)?,
            None => return Err(Error::NoSuchBucket),
        };
        match bucket.id() {
            Some(id) if id != b.id => Err(Error::NoSuchBucket),
            _ => Ok(b),
        }
    }

    /// Reads an active bucket's record (`OperationAborted` while it is being deleted).
    pub(crate) fn active_bucket(&self, bucket: BucketRef<'_>) -> Result<BucketRecord> {
        let b = self.bucket_record(bucket)?;
        match b.state {
            BucketState::Active => Ok(b),
            BucketState::Deleting => Err(Error::OperationAborted),
        }
    }

    /// Creates a bucket owned by `owner` in `region` (a label the storage keeps and reports,
    /// never interprets).
    pub async fn create_bucket(&self, name: &str, owner: &str, region: &str) -> Result<()> {
        validate_bucket_name(name)?;
        self.shared().health.check()?;
        self.call(
            self.bucket_owner(name),
            Op::CreateBucket(CreateBucket {
                name: name.to_owned(),
                owner: owner.to_owned(),
                region: region.to_owned(),
                now_ms: now_ms(),
                shards: self.shared().config.shards_per_bucket,
            }),
        )
        .await?;
        Ok(())
    }

    /// Deletes a bucket that has no objects and no multipart uploads in progress. A bound
    /// reference never deletes a later bucket of the same name.
    ///
    /// The bucket is first marked `Deleting` (new writes to it are refused), then every core's
    /// owner task is passed a barrier so that writes it accepted before are applied, and only
    /// then are the shards checked for emptiness.
    pub async fn delete_bucket(&self, bucket: impl Into<BucketRef<'_>>) -> Result<()> {
        let bucket = bucket.into();
        let name = bucket.name();
        self.shared().health.check()?;
        let owner = self.bucket_owner(name);
        let id = match self
            .call(
                owner,
                Op::MarkBucketDeleting(MarkBucketDeleting {
                    name: name.to_owned(),
                    id: bucket.id(),
                }),
            )
            .await?
        {
            Reply::BucketId(id) => id,
            _ => return Err(Error::Corrupt("unexpected owner reply")),
        };
        let checked = async {
            for core in 0..self.cores() {
                self.call(core, Op::Barrier).await?;
            }
            let record = self.bucket_record(BucketRef::Bound { name, id })?;
            bucket_is_empty(self, &record)
        }
        .await;
        let empty = matches!(checked, Ok(true));
        self.call(
            owner,
            Op::FinishBucketDelete(FinishBucketDelete {
                name: name.to_owned(),
                id,
                empty,
            }),
        )
        .await?;
        match checked {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::BucketNotEmpty),
            Err(e) => Err(e),
        }
    }

    /// A bucket's id, owner, creation time and region.
    ///
    /// Answers only with durable state: it waits for in-flight flushes it may have read.
    pub async fn head_bucket(&self, bucket: impl Into<BucketRef<'_>>) -> Result<BucketInfo> {
        let result = self.head_bucket_now(bucket.into()).await;
        self.read_barrier().await?;
        result
    }

    /// A bucket's id, owner, creation time and region as this core reads them now, without waiting
    /// for in-flight flushes: for permission checks on every request (an owner never changes
    /// while the bucket exists, and a bucket whose creation is still flushing is known to no
    /// client). Pass the result on as a [`BucketRef`] so that the operation acts on this
    /// bucket and not on one created later under the same name.
    pub fn peek_bucket<'a>(&self, bucket: impl Into<BucketRef<'a>>) -> Result<BucketInfo> {
        let bucket = bucket.into();
        let b = self.bucket_record(bucket)?;
        Ok(BucketInfo::new(bucket.name(), b))
    }

    /// A bucket's id, owner, creation time and region.
    async fn head_bucket_now(&self, bucket: BucketRef<'_>) -> Result<BucketInfo> {
        let b = self.bucket_record(bucket)?;
        Ok(BucketInfo::new(bucket.name(), b))
    }

    /// Every bucket, in name order (the S3 layer filters by owner).
    ///
    /// Answers only with durable state: it waits for in-flight flushes it may have read.
    pub async fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        let result = self.list_buckets_now().await;
        self.read_barrier().await?;
        result
    }

    /// Every bucket, in name order (the S3 layer filters by owner).
    async fn list_buckets_now(&self) -> Result<Vec<BucketInfo>> {
        buckets_in(self.meta())
    }
}

/// Every bucket recorded in `meta`, in name order: a plain read, callable from any thread
/// (the admin API's) and on a stopped daemon's metadata store.
pub fn buckets_in(meta: &dyn MetaStore) -> Result<Vec<BucketInfo>> {
    let start = [Family::Bucket as u8];
    let mut out = Vec::new();
    for entry in meta.range(&start, &family_end(Family::Bucket)) {
        let (k, v) = entry?;
        let b = BucketRecord::decode(&v)?;
        let name = std::str::from_utf8(&k[1..]).map_err(|_| Error::Corrupt("bucket name"))?;
        out.push(BucketInfo::new(name, b));
    }
    Ok(out)
}

/// Whether a bucket has any object or upload, in any shard.
fn bucket_is_empty(store: &CoreStore, bucket: &BucketRecord) -> Result<bool> {
    for family in [Family::Object, Family::Upload] {
        for shard in 0..bucket.shards {
            let start = shard_prefix(family, bucket.id, shard);
            let end = prefix_successor(&start).unwrap_or_else(|| family_end(family));
            if store
                .meta()
                .range(&start, &end)
                .next()
                .transpose()?
                .is_some()
            {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_names() {
        for name in [
            "abc",
            "my-bucket",
            "my.bucket.1",
            "1bucket",
            &"a".repeat(63),
            "a-b.c-d",
        ] {
            assert!(validate_bucket_name(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn refuses_invalid_names() {
        for name in [
            "ab",
            &"a".repeat(64),
            "MyBucket",
            "my_bucket",
            "-bucket",
            "bucket-",
            ".bucket",
            "bucket.",
            "my..bucket",
            "192.168.5.4",
            "1.2.3.4",
            "xn--bucket",
            "sthree-bucket",
            "amzn-s3-demo-bucket",
            "bucket-s3alias",
            "bucket--ol-s3",
            "bucket.mrap",
            "bucket--x-s3",
            "bucket--table-s3",
            "bücket",
            "bu cket",
        ] {
            assert!(
                matches!(validate_bucket_name(name), Err(Error::InvalidBucketName(_))),
                "{name}"
            );
        }
    }

    #[test]
    fn dotted_numbers_that_are_not_four_groups_are_fine() {
        assert!(validate_bucket_name("1.2.3").is_ok());
        assert!(validate_bucket_name("1.2.3.4.5").is_ok());
        assert!(validate_bucket_name("1.2.3.4a").is_ok());
    }
}
