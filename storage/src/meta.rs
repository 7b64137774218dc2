//! The metadata store: the `MetaStore` trait, its sled implementation, and the key encoding
//! that makes the store's byte order S3's listing order (UTF-8 binary) within a shard.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// The record families kept in the store; each is a key prefix byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Family {
    /// bucket name → bucket record
    Bucket = b'B',
    /// bucket id, shard, key → object record
    Object = b'O',
    /// bucket id, shard, key, 0, upload id → upload record
    Upload = b'U',
    /// upload id, part number → part record
    Part = b'P',
}

/// One change of an atomic batch: `None` removes the key.
pub type Change = (Vec<u8>, Option<Vec<u8>>);

/// Iterator over `(key, value)` pairs in key order.
pub type RangeIter = Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>)>>>;

/// The ordered key-value store the engine keeps its metadata in.
///
/// Writes are applied in batches that are atomic (all or none after a crash); `flush` and the
/// `sync` after it make every batch applied before the flush durable. Reads may happen from any
/// thread; `flush` and `sync` run on the engine's flusher threads and may block.
pub trait MetaStore: Send + Sync + 'static {
    /// Reads one key.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Applies a batch of changes atomically.
    fn apply(&self, changes: Vec<Change>) -> Result<()>;
    /// Iterates the keys in `[start, end)`, in byte order.
    fn range(&self, start: &[u8], end: &[u8]) -> RangeIter;
    /// Writes out every batch applied before the call (blocking); once the `sync` that follows
    /// it returns, they are durable.
    fn flush(&self) -> Result<()>;
    /// Makes what earlier `flush` calls wrote durable (blocking). Runs on another thread than
    /// `flush`, possibly while the next `flush` is writing. A store whose `flush` is durable on
    /// its own keeps the default.
    fn sync(&self) -> Result<()> {
        Ok(())
    }
    /// A unique, monotonically increasing id (across restarts).
    fn generate_id(&self) -> Result<u64>;
    /// Bytes the store occupies on disk.
    fn size_on_disk(&self) -> Result<u64>;
}

/// [`MetaStore`] on a sled database (one tree; the family byte separates record kinds).
///
/// sled 0.34's own flush writes its log with `sync_file_range`, which neither flushes the disk's
/// write cache nor persists the file's size, and it writes messages too large for a log segment
/// (over ~128 KiB: a big record, or a leaf node of large values) to files under `blobs/` that it
/// never syncs. We complete the job: `flush` also syncs sled's new blob files and their
/// directory, and `sync` `fdatasync`s the log, so "durable" survives a power cut, not only a
/// crash of the process.
#[derive(Debug, Clone)]
pub struct SledStore {
    db: sled::Db,
    durability: Arc<SledDurability>,
}

/// What `SledStore` syncs besides sled's own flush.
#[derive(Debug)]
struct SledDurability {
    log: File,
    blob_dir: PathBuf,
    /// sled blob files already synced (pruned of those sled has since removed).
    synced_blobs: Mutex<HashSet<OsString>>,
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl SledStore {
    /// Opens (or creates) the database in `dir`, with a page cache of `cache_bytes`.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<SledStore> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            // We flush explicitly (group commit); no background flush timer is needed.
            .flush_every_ms(None)
            .open()?;
        let blob_dir = dir.join("blobs");
        std::fs::create_dir_all(&blob_dir)?;
        // The files sled created, and the directories themselves, must outlive a power cut.
        sync_dir(&blob_dir)?;
        sync_dir(dir)?;
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
        let durability = SledDurability {
            log: File::open(dir.join("db"))?,
            blob_dir,
            synced_blobs: Mutex::new(HashSet::new()),
        };
        let store = SledStore {
            db,
            durability: Arc::new(durability),
        };
        // Blob files left by an earlier run count as new once.
        store.sync_sled_blobs()?;
        Ok(store)
    }

    /// Syncs the sled blob files written since the last call, then their directory.
    fn sync_sled_blobs(&self) -> Result<()> {
        let d = &self.durability;
        let mut synced = d.synced_blobs.lock().unwrap_or_else(|p| p.into_inner());
        let mut present = HashSet::new();
        let mut new = false;
        for entry in std::fs::read_dir(&d.blob_dir)? {
            let name = entry?.file_name();
            if !synced.contains(&name) {
                match File::open(d.blob_dir.join(&name)) {
                    Ok(f) => f.sync_data()?,
                    // Removed by sled's garbage collection meanwhile.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                }
                new = true;
            }
            present.insert(name);
        }
        if new {
            sync_dir(&d.blob_dir)?;
        }
        *synced = present;
        Ok(())
    }
}

impl MetaStore for SledStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(key)?.map(|v| v.to_vec()))
    }

    fn apply(&self, mut changes: Vec<Change>) -> Result<()> {
        // A single change is atomic on its own. sled's batches (and transactions) take a
        // process-wide exclusive lock that waits for any flush in progress, blocking the
        // owner core's thread for the flush's duration; single inserts share that lock with
        // flushes. So only true multi-key changes (multipart completion and abort) pay it.
        if changes.len() == 1 {
            if let Some((key, value)) = changes.pop() {
                match value {
                    Some(v) => self.db.insert(key, v)?,
                    None => self.db.remove(key)?,
                };
            }
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for (key, value) in changes {
            match value {
                Some(v) => batch.insert(key, v),
                None => batch.remove(key),
            }
        }
        Ok(self.db.apply_batch(batch)?)
    }

    fn range(&self, start: &[u8], end: &[u8]) -> RangeIter {
        Box::new(self.db.range(start.to_vec()..end.to_vec()).map(|r| {
            r.map(|(k, v)| (k.to_vec(), v.to_vec()))
                .map_err(Error::from)
        }))
    }

    fn flush(&self) -> Result<()> {
        self.db.flush()?;
        self.sync_sled_blobs()
    }

    fn sync(&self) -> Result<()> {
        self.durability.log.sync_data()?;
        Ok(())
    }

    fn generate_id(&self) -> Result<u64> {
        Ok(self.db.generate_id()?)
    }

    fn size_on_disk(&self) -> Result<u64> {
        Ok(self.db.size_on_disk()?)
    }
}

/// Length of an upload id in bytes (its text form is twice as long, in hex).
pub const UPLOAD_ID_LEN: usize = 16;

/// `B` + bucket name.
pub fn bucket_key(name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + name.len());
    k.push(Family::Bucket as u8);
    k.extend_from_slice(name.as_bytes());
    k
}

/// The prefix of one shard of one bucket in an index family (`O` or `U`).
pub fn shard_prefix(family: Family, bucket_id: u64, shard: u16) -> Vec<u8> {
    let mut k = Vec::with_capacity(11 + 64);
    k.push(family as u8);
    k.extend_from_slice(&bucket_id.to_be_bytes());
    k.extend_from_slice(&shard.to_be_bytes());
    k
}

/// Length of [`shard_prefix`].
pub const SHARD_PREFIX_LEN: usize = 11;

/// `O` + bucket id + shard + raw key bytes: sled's order is the key's UTF-8 byte order.
pub fn object_key(bucket_id: u64, shard: u16, key: &str) -> Vec<u8> {
    let mut k = shard_prefix(Family::Object, bucket_id, shard);
    k.extend_from_slice(key.as_bytes());
    k
}

/// `U` + bucket id + shard + key + 0 + upload id: ordered by key, then upload id.
pub fn upload_key(
    bucket_id: u64,
    shard: u16,
    key: &str,
    upload_id: &[u8; UPLOAD_ID_LEN],
) -> Vec<u8> {
    let mut k = shard_prefix(Family::Upload, bucket_id, shard);
    k.extend_from_slice(key.as_bytes());
    k.push(0);
    k.extend_from_slice(upload_id);
    k
}

/// Splits the suffix of an upload key (after the shard prefix) into key and upload id.
pub fn split_upload_suffix(suffix: &[u8]) -> Result<(&[u8], [u8; UPLOAD_ID_LEN])> {
    if suffix.len() < UPLOAD_ID_LEN + 1 || suffix[suffix.len() - UPLOAD_ID_LEN - 1] != 0 {
        return Err(Error::Corrupt("upload key"));
    }
    let (key, rest) = suffix.split_at(suffix.len() - UPLOAD_ID_LEN - 1);
    let mut id = [0u8; UPLOAD_ID_LEN];
    id.copy_from_slice(&rest[1..]);
    Ok((key, id))
}

/// `P` + upload id + part number.
pub fn part_key(upload_id: &[u8; UPLOAD_ID_LEN], part: u16) -> Vec<u8> {
    let mut k = part_prefix(upload_id);
    k.extend_from_slice(&part.to_be_bytes());
    k
}

/// `P` + upload id: the prefix of all parts of one upload.
pub fn part_prefix(upload_id: &[u8; UPLOAD_ID_LEN]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + UPLOAD_ID_LEN + 2);
    k.push(Family::Part as u8);
    k.extend_from_slice(upload_id);
    k
}

/// The smallest byte string greater than every string that starts with `prefix`, or `None`
/// when there is none (the prefix is all 0xFF).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut s = prefix.to_vec();
    while let Some(last) = s.pop() {
        if last < 0xFF {
            s.push(last + 1);
            return Some(s);
        }
    }
    None
}

/// The end (exclusive) of a family's key space.
pub fn family_end(family: Family) -> Vec<u8> {
    vec![family as u8 + 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_sort_in_utf8_byte_order() {
        let keys = ["a", "a/b", "a0", "ab", "é", "z", "\u{7f}"];
        let mut encoded: Vec<Vec<u8>> = keys.iter().map(|k| object_key(7, 3, k)).collect();
        encoded.sort();
        let mut sorted: Vec<&str> = keys.to_vec();
        sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        let decoded: Vec<&str> = encoded
            .iter()
            .map(|k| std::str::from_utf8(&k[SHARD_PREFIX_LEN..]).unwrap())
            .collect();
        assert_eq!(decoded, sorted);
    }

    #[test]
    fn upload_keys_order_by_key_then_id() {
        let a1 = upload_key(1, 0, "a", &[1; 16]);
        let a2 = upload_key(1, 0, "a", &[2; 16]);
        let ab = upload_key(1, 0, "ab", &[0; 16]);
        assert!(a1 < a2 && a2 < ab);
        let (k, id) = split_upload_suffix(&a2[SHARD_PREFIX_LEN..]).unwrap();
        assert_eq!((k, id), (&b"a"[..], [2; 16]));
    }

    #[test]
    fn successor_skips_whole_prefix() {
        assert_eq!(prefix_successor(b"ab/"), Some(b"ab0".to_vec()));
        assert_eq!(prefix_successor(&[0x61, 0xFF]), Some(vec![0x62]));
        assert_eq!(prefix_successor(&[0xFF]), None);
    }
}
