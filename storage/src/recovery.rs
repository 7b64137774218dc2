//! Start-up recovery: removes blobs no record references (writes that never committed, blobs
//! freed by an overwrite or delete that crashed before unlinking) and stray temporary files,
//! and returns buckets whose deletion was interrupted to service.

use std::collections::HashSet;

use crate::blob::BlobDir;
use crate::error::{Error, Result};
use crate::meta::{family_end, Family, MetaStore};
use crate::record::{BucketRecord, BucketState, ObjectRecord, PartRecord};

/// What recovery found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Blobs referenced by objects or parts.
    pub referenced_blobs: usize,
    /// Unreferenced blobs removed.
    pub orphan_blobs_removed: usize,
    /// Files in the blob directories that are not blobs (temporary or foreign), removed.
    pub stray_files_removed: usize,
    /// Referenced blobs whose file is missing (data loss: logged as errors).
    pub missing_blobs: usize,
    /// Buckets left `Deleting` by a crash, returned to service.
    pub buckets_restored: usize,
}

pub(crate) fn run(meta: &dyn MetaStore, blobs: &BlobDir) -> Result<RecoveryReport> {
    let mut report = RecoveryReport::default();
    let mut referenced: HashSet<(u16, u64)> = HashSet::new();
    for entry in meta.range(&[Family::Object as u8], &family_end(Family::Object)) {
        let (_, v) = entry?;
        for b in ObjectRecord::decode(&v)?.body.blobs() {
            referenced.insert((b.core, b.id));
        }
    }
    for entry in meta.range(&[Family::Part as u8], &family_end(Family::Part)) {
        let (_, v) = entry?;
        let b = PartRecord::decode(&v)?.blob;
        referenced.insert((b.core, b.id));
    }
    report.referenced_blobs = referenced.len();

    let mut restore = Vec::new();
    for entry in meta.range(&[Family::Bucket as u8], &family_end(Family::Bucket)) {
        let (k, v) = entry?;
        let mut b = BucketRecord::decode(&v)?;
        if b.state == BucketState::Deleting {
            b.state = BucketState::Active;
            restore.push((k, Some(b.encode())));
        }
    }
    report.buckets_restored = restore.len();
    if !restore.is_empty() {
        meta.apply(restore)?;
    }

    let mut found: HashSet<(u16, u64)> = HashSet::new();
    for core_dir in std::fs::read_dir(blobs.root())? {
        let core_dir = core_dir?;
        let Some(core) = core_dir
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u16>().ok())
        else {
            tracing::warn!(path = %core_dir.path().display(), "ignoring an unknown entry in the blob directory");
            continue;
        };
        for file in std::fs::read_dir(core_dir.path())? {
            let file = file?;
            let path = file.path();
            match file.file_name().to_str().and_then(BlobDir::parse_name) {
                Some(id) if referenced.contains(&(core, id)) => {
                    found.insert((core, id));
                }
                Some(_) => {
                    remove(&path)?;
                    report.orphan_blobs_removed += 1;
                }
                None => {
                    remove(&path)?;
                    report.stray_files_removed += 1;
                }
            }
        }
        // Make the removals durable before new blobs can reuse nothing of them.
        std::fs::File::open(core_dir.path())?.sync_all()?;
    }
    report.missing_blobs = referenced.len() - found.len();
    if report.missing_blobs > 0 {
        tracing::error!(
            missing = report.missing_blobs,
            "records refer to blob files that do not exist: those objects cannot be read"
        );
    }
    tracing::info!(
        referenced = report.referenced_blobs,
        orphans_removed = report.orphan_blobs_removed,
        stray_files_removed = report.stray_files_removed,
        buckets_restored = report.buckets_restored,
        "storage recovery finished"
    );
    Ok(report)
}

fn remove(path: &std::path::Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        std::fs::remove_dir_all(path).map_err(Error::from_io)
    } else {
        std::fs::remove_file(path).map_err(Error::from_io)
    }
}
