//! Opening the engine (the metadata store, start-up recovery, the flusher) and attaching each
//! core to it (the cross-core mesh, the core's router and shard-owner tasks).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use glommio::channels::channel_mesh::{MeshBuilder, Receivers, Senders};
use glommio::channels::local_channel;
use glommio::io::Directory;

use crate::blob::BlobDir;
use crate::commit::Health;
use crate::config::{validate, EngineConfig};
use crate::error::{Error, Result};
use crate::flusher::MetaFlusher;
use crate::meta::{MetaStore, SledStore};
use crate::op::Msg;
use crate::recovery;
use crate::shared::{Engine, Shared};
use crate::store::CoreStore;

/// Capacity of each cross-core channel.
const MESH_CAPACITY: usize = 1024;

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
        let store = CoreStore::new(Engine { shared }, core, peers, senders, queue_tx, dir);
        if let Some(receivers) = receivers {
            spawn_routers(&store, receivers);
        }
        // The core's tasks hold weak references: they end when the last `CoreStore` is dropped,
        // which releases the engine (and sled's lock) for a clean re-open.
        glommio::spawn_local(crate::shard::owner_loop(store.downgrade(), queue_rx)).detach();
        Ok(store)
    }
}

/// One task per peer core, handing its messages (requests for this core's owner, replies to
/// this core's calls) to the store.
fn spawn_routers(store: &CoreStore, mut receivers: Receivers<Msg>) {
    let peer_to_core: HashMap<usize, usize> = store
        .peers()
        .iter()
        .enumerate()
        .map(|(core, &peer)| (peer, core))
        .collect();
    for (peer, stream) in receivers.streams() {
        let weak = store.downgrade();
        let from = peer_to_core.get(&peer).copied().unwrap_or(usize::MAX);
        glommio::spawn_local(async move {
            while let Some(msg) = stream.recv().await {
                let Some(store) = weak.upgrade() else { break };
                store.deliver(from, msg);
            }
        })
        .detach();
    }
}
