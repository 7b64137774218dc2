//! Test harness: runs an engine on a pool of unpinned glommio executors.

#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cairn_storage::{BucketRef, CoreStore, Engine, EngineConfig, Error, ObjectMeta, PutOptions};
use futures_lite::StreamExt;
use glommio::{LocalExecutorPoolBuilder, PoolPlacement};

/// A small-footprint config for tests.
pub fn config(dir: &std::path::Path, cores: usize) -> EngineConfig {
    let mut c = EngineConfig::new(dir, cores);
    c.shards_per_bucket = 4;
    c.inline_threshold = 64;
    c.min_part_size = 16;
    c.min_free_bytes = 0;
    c
}

/// Attaches `engine` on `cores` executors and runs `f` on core 0 (the others serve their
/// shards) until it returns; panics in `f` propagate.
pub fn run<F, Fut, T>(engine: &Engine, f: F) -> T
where
    F: FnOnce(CoreStore) -> Fut + Send + Clone + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
{
    let cores = engine.config().cores;
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let engine = engine.clone();
    let handles = LocalExecutorPoolBuilder::new(PoolPlacement::Unbound(cores))
        .io_memory(1 << 20)
        .on_all_shards(move || {
            let engine = engine.clone();
            let f = f.clone();
            let next = next.clone();
            let stop = stop.clone();
            async move {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let store = engine.attach(index).await.expect("attach");
                if index == 0 {
                    struct Stop(Arc<AtomicBool>);
                    impl Drop for Stop {
                        fn drop(&mut self) {
                            self.0.store(true, Ordering::SeqCst);
                        }
                    }
                    let _stop = Stop(stop);
                    Some(f(store).await)
                } else {
                    while !stop.load(Ordering::SeqCst) {
                        glommio::timer::sleep(Duration::from_millis(2)).await;
                    }
                    None
                }
            }
        })
        .expect("executors");
    let mut out = None;
    for r in handles.join_all() {
        match r {
            Ok(Some(v)) => out = Some(v),
            Ok(None) => {}
            Err(e) => std::panic::resume_unwind(Box::new(format!("{e:?}"))),
        }
    }
    out.expect("core 0 result")
}

/// PUTs `data` in chunks of `chunk` bytes.
pub async fn put(
    store: &CoreStore,
    bucket: impl Into<BucketRef<'_>>,
    key: &str,
    data: &[u8],
    options: PutOptions,
) -> Result<String, Error> {
    let mut w = store.put_object(bucket, key, options).await?;
    for c in data.chunks(7919.min(data.len().max(1))) {
        w.write(c).await?;
    }
    Ok(w.commit().await?.etag)
}

pub async fn put_simple(store: &CoreStore, bucket: &str, key: &str, data: &[u8]) -> String {
    put(store, bucket, key, data, PutOptions::default())
        .await
        .expect("put")
}

pub async fn read_all(
    store: &CoreStore,
    bucket: impl Into<BucketRef<'_>>,
    key: &str,
) -> Result<Vec<u8>, Error> {
    let mut got = store.get_object(bucket, key, None).await?;
    let mut out = Vec::new();
    while let Some(c) = got.body.next().await {
        let c: Bytes = c?;
        out.extend_from_slice(&c);
    }
    Ok(out)
}

pub fn meta_with(user: &[(&str, &str)]) -> ObjectMeta {
    ObjectMeta {
        user: user
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..ObjectMeta::default()
    }
}

pub fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(data))
}

/// Blob files under the data dir (every file below `blobs/`).
pub fn blob_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let root = dir.join("blobs");
    if let Ok(cores) = std::fs::read_dir(&root) {
        for c in cores.flatten() {
            if let Ok(files) = std::fs::read_dir(c.path()) {
                out.extend(files.flatten().map(|f| f.path()));
            }
        }
    }
    out
}

/// Compares two bodies without printing megabytes on failure.
#[track_caller]
pub fn assert_same(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let first = got.iter().zip(want).position(|(a, b)| a != b);
        panic!(
            "{what}: body differs (got {} bytes, want {}; first difference at {first:?})",
            got.len(),
            want.len()
        );
    }
}
