//! What all cores share: the `Engine` handle and the state behind it (configuration, metadata
//! store, blob directories, health, the flusher), plus what start-up hands from one core to the
//! others (the cross-core mesh and which mesh peer each core is).

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use glommio::channels::channel_mesh::{Full, MeshBuilder};

use crate::blob::BlobDir;
use crate::commit::Health;
use crate::config::EngineConfig;
use crate::error::Result;
use crate::flusher::MetaFlusher;
use crate::meta::MetaStore;
use crate::op::Msg;
use crate::recovery::RecoveryReport;

pub(crate) struct Shared {
    pub(crate) config: EngineConfig,
    pub(crate) meta: Arc<dyn MetaStore>,
    pub(crate) blobs: BlobDir,
    pub(crate) health: Health,
    /// One mesh handle per core, taken by the core when it attaches (none with one core).
    pub(crate) meshes: Mutex<Vec<Option<MeshBuilder<Msg, Full>>>>,
    /// The mesh peer id of each core index, once it has attached.
    pub(crate) peer_of_core: Mutex<Vec<Option<usize>>>,
    pub(crate) recovery: RecoveryReport,
    /// Which cores have attached.
    pub(crate) attached: Vec<AtomicBool>,
    /// Group-commits the metadata store for all cores.
    pub(crate) flusher: MetaFlusher,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The storage engine. Open it once on the main thread, then `attach` every core.
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) shared: Arc<Shared>,
}

impl Engine {
    /// What start-up recovery found and did.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.shared.recovery
    }

    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    /// Bytes the metadata store occupies on disk.
    pub fn metadata_bytes_on_disk(&self) -> Result<u64> {
        self.shared.meta.size_on_disk()
    }

    /// Every bucket, in name order, read from any thread (no executor needed).
    pub fn buckets(&self) -> Result<Vec<crate::BucketInfo>> {
        crate::bucket::buckets_in(self.shared.meta.as_ref())
    }

    /// Why writes are refused, if a durability failure happened.
    pub fn health(&self) -> Result<()> {
        self.shared.health.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_shareable<T: Clone + Send + Sync + 'static>() {}

    #[test]
    fn engine_is_shareable_between_threads() {
        assert_shareable::<Engine>();
    }
}
