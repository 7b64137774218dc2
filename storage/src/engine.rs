//! The engine handle (`Engine`, shared by all cores) and the per-core store (`CoreStore`).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use glommio::channels::channel_mesh::{MeshBuilder, Receivers, Senders};
use glommio::channels::local_channel::{self, LocalSender};
use glommio::io::Directory;

use crate::blob::BlobDir;
use crate::commit::{GroupCommit, Health};
use crate::error::{Error, Result};
use crate::flusher::MetaFlusher;
use crate::meta::{MetaStore, SledStore};
use crate::recovery::{self, RecoveryReport};
use crate::shard::{Msg, Op, OwnerQueue, Reply, Responder};

/// Default size up to which objects are stored inline in their metadata record. Measured (the
/// bench's inline sweep, storage README; medians of per-round ratios in three runs): inline
/// PUTs are 2.1x a blob's at 4 KiB and 1.5-1.7x at 8 KiB, but 0.4-0.7x from 16 KiB, where
/// sled's leaf nodes (17 records) far outgrow its ~128 KiB log message and go to separate files
/// that each flush must sync. Inline GETs are 5-10x faster at every size; inline bodies take
/// about twice their size on disk (sled's log) at 4 and 8 KiB alike.
pub const DEFAULT_INLINE_THRESHOLD: usize = 8 << 10;
/// S3's minimum size of every part but the last.
pub const DEFAULT_MIN_PART_SIZE: u64 = 5 << 20;
/// Default shards per bucket index.
pub const DEFAULT_SHARDS_PER_BUCKET: u16 = 16;
/// Default free space kept on the data disk so metadata can still be written when blobs fill it.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 64 << 20;
/// Default size of sled's page cache.
pub const DEFAULT_META_CACHE_BYTES: u64 = 256 << 20;
/// Capacity of each cross-core channel.
const MESH_CAPACITY: usize = 1024;

/// How the engine is laid out and tuned.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Root of the data: `meta/` (sled) and `blobs/<core>/`.
    pub data_dir: PathBuf,
    /// Number of cores (executors) that will attach.
    pub cores: usize,
    /// Index shards of a new bucket (stored with the bucket; later changes affect new buckets).
    pub shards_per_bucket: u16,
    /// Objects up to this size are stored inside their metadata record.
    pub inline_threshold: usize,
    /// Minimum size of every part but the last of a multipart upload.
    pub min_part_size: u64,
    /// Blob writes fail with `NoSpace` when the disk has less free space than this.
    pub min_free_bytes: u64,
    /// Memory sled may use for its page cache.
    pub meta_cache_bytes: u64,
    /// Open blob files with O_DIRECT (the engine falls back to buffered IO by itself when the
    /// filesystem refuses it; glommio always uses buffered IO on tmpfs).
    pub direct_io: bool,
}

impl EngineConfig {
    /// Production defaults for `cores` cores storing under `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>, cores: usize) -> EngineConfig {
        EngineConfig {
            data_dir: data_dir.into(),
            cores,
            shards_per_bucket: DEFAULT_SHARDS_PER_BUCKET,
            inline_threshold: DEFAULT_INLINE_THRESHOLD,
            min_part_size: DEFAULT_MIN_PART_SIZE,
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
            meta_cache_bytes: DEFAULT_META_CACHE_BYTES,
            direct_io: true,
        }
    }
}

fn validate(config: &EngineConfig) -> Result<()> {
    if config.cores == 0 || config.cores > usize::from(u16::MAX) {
        return Err(Error::InvalidArgument("cores must be between 1 and 65535"));
    }
    if config.shards_per_bucket == 0 {
        return Err(Error::InvalidArgument(
            "shards_per_bucket must be at least 1",
        ));
    }
    Ok(())
}

pub(crate) struct Shared {
    pub(crate) config: EngineConfig,
    pub(crate) meta: Arc<dyn MetaStore>,
    pub(crate) blobs: BlobDir,
    pub(crate) health: Health,
    meshes: Mutex<Vec<Option<MeshBuilder<Msg, glommio::channels::channel_mesh::Full>>>>,
    peer_of_core: Mutex<Vec<Option<usize>>>,
    recovery: RecoveryReport,
    /// Which cores have attached.
    attached: Vec<AtomicBool>,
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
    /// Opens the metadata store and runs start-up recovery (orphan blobs, interrupted deletes).
    pub fn open(config: EngineConfig) -> Result<Engine> {
        validate(&config)?;
        std::fs::create_dir_all(&config.data_dir)?;
        let meta = SledStore::open(&config.data_dir.join("meta"), config.meta_cache_bytes)?;
        Engine::open_with(config, Arc::new(meta))
    }

    /// Opens the engine on another [`MetaStore`] (blobs still live under `data_dir`).
    pub fn open_with(config: EngineConfig, meta: Arc<dyn MetaStore>) -> Result<Engine> {
        validate(&config)?;
        std::fs::create_dir_all(&config.data_dir)?;
        let blobs = BlobDir::new(config.data_dir.join("blobs"), config.direct_io);
        std::fs::create_dir_all(blobs.root())?;
        let recovery = recovery::run(meta.as_ref(), &blobs)?;
        let meshes = if config.cores > 1 {
            let mesh = MeshBuilder::full(config.cores, MESH_CAPACITY);
            (0..config.cores).map(|_| Some(mesh.clone())).collect()
        } else {
            vec![None]
        };
        let cores = config.cores;
        let health = Health::default();
        let flusher = MetaFlusher::start(meta.clone(), cores, health.clone())?;
        Ok(Engine {
            shared: Arc::new(Shared {
                config,
                meta,
                blobs,
                health,
                meshes: Mutex::new(meshes),
                peer_of_core: Mutex::new(vec![None; cores]),
                recovery,
                attached: (0..cores).map(|_| AtomicBool::new(false)).collect(),
                flusher,
            }),
        })
    }

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

    /// Why writes are refused, if a durability failure happened.
    pub fn health(&self) -> Result<()> {
        self.shared.health.check()
    }

    /// Attaches the calling glommio executor as core `core`: joins the cross-core mesh (waits
    /// until every core has attached) and spawns this core's shard-owner task.
    pub async fn attach(&self, core: usize) -> Result<CoreStore> {
        let shared = self.shared.clone();
        if core >= shared.config.cores {
            return Err(Error::InvalidArgument("core index out of range"));
        }
        if shared.attached[core].swap(true, Ordering::SeqCst) {
            return Err(Error::InvalidArgument("core attached twice"));
        }
        let mesh = shared
            .meshes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(core)
            .and_then(Option::take);
        let core_dir = shared.blobs.core_dir(core as u16);
        std::fs::create_dir_all(&core_dir)?;
        let dir = Directory::open(&core_dir).await?;
        let (senders, receivers) = match mesh {
            Some(mesh) => {
                let (s, r) = mesh.join().await.map_err(|_| Error::Unavailable)?;
                (Some(s), Some(r))
            }
            None if shared.config.cores == 1 => (None, None),
            None => return Err(Error::InvalidArgument("core attached twice")),
        };
        let peer = senders.as_ref().map_or(0, Senders::peer_id);
        shared
            .peer_of_core
            .lock()
            .unwrap_or_else(|p| p.into_inner())[core] = Some(peer);
        let peers = loop {
            let map = shared
                .peer_of_core
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            if map.iter().all(Option::is_some) {
                break map.into_iter().flatten().collect::<Vec<_>>();
            }
            glommio::timer::sleep(Duration::from_millis(1)).await;
        };
        let (queue_tx, queue_rx) = local_channel::new_unbounded();
        let inner = Rc::new(CoreInner {
            engine: Engine { shared },
            core,
            peers,
            senders,
            queue: queue_tx,
            pending: RefCell::new(HashMap::new()),
            next_request: Cell::new(0),
            dir,
            dir_sync: GroupCommit::default(),
        });
        let store = CoreStore { inner };
        if let Some(receivers) = receivers {
            spawn_routers(&store, receivers);
        }
        // The core's tasks hold weak references: they end when the last `CoreStore` is dropped,
        // which releases the engine (and sled's lock) for a clean re-open.
        glommio::spawn_local(crate::shard::owner_loop(
            Rc::downgrade(&store.inner),
            queue_rx,
        ))
        .detach();
        Ok(store)
    }
}

pub(crate) struct CoreInner {
    pub(crate) engine: Engine,
    pub(crate) core: usize,
    /// Mesh peer id of each core index.
    peers: Vec<usize>,
    senders: Option<Senders<Msg>>,
    queue: LocalSender<OwnerQueue>,
    pending: RefCell<HashMap<u64, LocalSender<Result<Reply>>>>,
    next_request: Cell<u64>,
    dir: Directory,
    dir_sync: GroupCommit,
}

/// One core's view of the engine. Cheap to clone; not `Send` (it lives on its executor).
#[derive(Clone)]
pub struct CoreStore {
    pub(crate) inner: Rc<CoreInner>,
}

impl std::fmt::Debug for CoreStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreStore")
            .field("core", &self.inner.core)
            .finish_non_exhaustive()
    }
}

fn spawn_routers(store: &CoreStore, mut receivers: Receivers<Msg>) {
    let peer_to_core: HashMap<usize, usize> = store
        .inner
        .peers
        .iter()
        .enumerate()
        .map(|(core, &peer)| (peer, core))
        .collect();
    for (peer, stream) in receivers.streams() {
        let weak: Weak<CoreInner> = Rc::downgrade(&store.inner);
        let from = peer_to_core.get(&peer).copied().unwrap_or(usize::MAX);
        glommio::spawn_local(async move {
            while let Some(msg) = stream.recv().await {
                let Some(inner) = weak.upgrade() else { break };
                let store = CoreStore { inner };
                match msg {
                    Msg::Request { id, op } => {
                        let _ = store.inner.queue.try_send(OwnerQueue {
                            responder: Responder::Remote { core: from, id },
                            op: *op,
                        });
                    }
                    Msg::Reply { id, result } => {
                        if let Some(tx) = store.inner.pending.borrow_mut().remove(&id) {
                            let _ = tx.try_send(result);
                        }
                    }
                }
            }
        })
        .detach();
    }
}

impl CoreStore {
    pub(crate) fn shared(&self) -> &Shared {
        &self.inner.engine.shared
    }

    /// This store's core index.
    pub fn core(&self) -> usize {
        self.inner.core
    }

    /// The engine this core belongs to.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub(crate) fn meta(&self) -> &dyn MetaStore {
        self.shared().meta.as_ref()
    }

    pub(crate) fn cores(&self) -> usize {
        self.shared().config.cores
    }

    /// Sends `op` to core `owner`'s shard-owner task and waits for its reply.
    pub(crate) async fn call(&self, owner: usize, op: Op) -> Result<Reply> {
        let (tx, rx) = local_channel::new_bounded(1);
        if owner == self.inner.core {
            self.inner
                .queue
                .try_send(OwnerQueue {
                    responder: Responder::Local(tx),
                    op,
                })
                .map_err(|_| Error::Unavailable)?;
        } else {
            let id = self.inner.next_request.get();
            self.inner.next_request.set(id + 1);
            self.inner.pending.borrow_mut().insert(id, tx);
            let senders = self.inner.senders.as_ref().ok_or(Error::Unavailable)?;
            if senders
                .send_to(
                    self.inner.peers[owner],
                    Msg::Request {
                        id,
                        op: Box::new(op),
                    },
                )
                .await
                .is_err()
            {
                self.inner.pending.borrow_mut().remove(&id);
                return Err(Error::Unavailable);
            }
        }
        rx.recv().await.ok_or(Error::Unavailable)?
    }

    /// Delivers an owner's reply to the core that asked.
    pub(crate) async fn respond(&self, responder: Responder, result: Result<Reply>) {
        match responder {
            Responder::Local(tx) => {
                let _ = tx.try_send(result);
            }
            Responder::Remote { core, id } => {
                if let (Some(senders), Some(&peer)) =
                    (self.inner.senders.as_ref(), self.inner.peers.get(core))
                {
                    let _ = senders.send_to(peer, Msg::Reply { id, result }).await;
                }
            }
        }
    }

    /// Makes this core's new blob directory entries durable (shared by concurrent writers).
    pub(crate) async fn sync_blob_dir(&self) -> Result<()> {
        let inner = &self.inner;
        let res = inner
            .dir_sync
            .sync(|| async { inner.dir.sync().await.map_err(Error::from) })
            .await;
        if let Err(e) = &res {
            self.shared()
                .health
                .poison(format!("blob directory fsync failed: {e}"));
        }
        res.map_err(|e| Error::Poisoned(e.to_string()))
    }

    /// Waits for a metadata flush that starts after this call (group commit across all
    /// cores); a failure poisons the engine.
    pub(crate) async fn flush_meta(&self) -> Result<()> {
        self.shared().flusher.flush().await
    }

    /// Counts a mutation this owner is about to apply (readers may see it from now on).
    pub(crate) fn begin_apply(&self) {
        self.shared().flusher.progress.begin(self.inner.core);
    }

    /// Counts a mutation this owner has applied (the next flush makes it durable).
    pub(crate) fn finish_apply(&self) {
        self.shared().flusher.progress.finish(self.inner.core);
    }

    /// Call after reading the store and before answering: waits until every mutation that was
    /// begun before now is durable, so a reader never sees a write that a crash could still
    /// undo. Costs an atomic load per core when no write is in flight; otherwise it joins the
    /// next group commit. A poisoned engine answers no read.
    pub(crate) async fn read_barrier(&self) -> Result<()> {
        let shared = self.shared();
        shared.health.check()?;
        let progress = &shared.flusher.progress;
        let wanted = progress.begun_now();
        while !progress.is_durable(&wanted) {
            shared.flusher.flush().await?;
        }
        Ok(())
    }

    /// The core that owns shard `shard`.
    pub(crate) fn shard_owner(&self, shard: u16) -> usize {
        usize::from(shard) % self.cores()
    }

    /// The core that serialises creation and deletion of a bucket name.
    pub(crate) fn bucket_owner(&self, name: &str) -> usize {
        (stable_hash(name.as_bytes()) % self.cores() as u64) as usize
    }
}

/// FNV-1a: stable across versions and platforms, so shard assignment never changes.
pub(crate) fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The index shard of `key` in a bucket of `shards` shards.
pub(crate) fn shard_of(key: &str, shards: u16) -> u16 {
    (stable_hash(key.as_bytes()) % u64::from(shards)) as u16
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_shareable<T: Clone + Send + Sync + 'static>() {}

    #[test]
    fn engine_is_shareable_between_threads() {
        assert_shareable::<Engine>();
    }

    #[test]
    fn shard_assignment_is_stable() {
        // Fixed values: changing the hash would move keys between shards of existing buckets.
        assert_eq!(stable_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(shard_of("a", 16), (0xaf63_dc4c_8601_ec8cu64 % 16) as u16);
    }
}
