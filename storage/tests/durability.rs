//! Durability through a metadata store whose flush the test holds or fails: readers never see a
//! write before its flush completed, and a failed flush poisons the engine with its reason.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cairn_storage::{Engine, Error, MetaStore, PutOptions, SledStore};
use common::*;

/// Sled, with a flush the test can hold back or make fail.
struct Controlled {
    inner: SledStore,
    hold: Arc<AtomicBool>,
    fail: Arc<AtomicBool>,
    /// Set once a flush is waiting on `hold`.
    held: Arc<AtomicBool>,
}

impl MetaStore for Controlled {
    fn get(&self, key: &[u8]) -> cairn_storage::Result<Option<Vec<u8>>> {
        self.inner.get(key)
    }
    fn apply(&self, changes: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> cairn_storage::Result<()> {
        self.inner.apply(changes)
    }
    fn range(&self, start: &[u8], end: &[u8]) -> cairn_storage::RangeIter {
        self.inner.range(start, end)
    }
    fn flush(&self) -> cairn_storage::Result<()> {
        // Runs on the engine's flusher thread: blocking here holds every core's commits.
        while self.hold.load(Ordering::SeqCst) {
            self.held.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(1));
        }
        if self.fail.load(Ordering::SeqCst) {
            return Err(Error::Io(std::io::Error::other("injected: EIO on flush")));
        }
        self.inner.flush()
    }
    fn sync(&self) -> cairn_storage::Result<()> {
        self.inner.sync()
    }
    fn generate_id(&self) -> cairn_storage::Result<u64> {
        self.inner.generate_id()
    }
    fn size_on_disk(&self) -> cairn_storage::Result<u64> {
        self.inner.size_on_disk()
    }
}

struct Controls {
    hold: Arc<AtomicBool>,
    fail: Arc<AtomicBool>,
    held: Arc<AtomicBool>,
}

fn open(dir: &std::path::Path) -> (Engine, Controls) {
    let c = Controls {
        hold: Arc::new(AtomicBool::new(false)),
        fail: Arc::new(AtomicBool::new(false)),
        held: Arc::new(AtomicBool::new(false)),
    };
    let store = Controlled {
        inner: SledStore::open(&dir.join("meta"), 16 << 20).unwrap(),
        hold: c.hold.clone(),
        fail: c.fail.clone(),
        held: c.held.clone(),
    };
    let engine = Engine::open_with(config(dir, 2), Arc::new(store)).unwrap();
    (engine, c)
}

#[test]
fn readers_do_not_see_a_write_before_it_is_durable() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, Controls { hold, held, .. }) = open(dir.path());
    run(&engine, move |s| async move {
        s.create_bucket("bkt", "me", "us-east-1").await.unwrap();
        put_simple(&s, "bkt", "k", b"old").await;
        hold.store(true, Ordering::SeqCst);
        let writer = glommio::spawn_local({
            let s = s.clone();
            async move { put_simple(&s, "bkt", "k", b"new").await }
        });
        // The write's flush starts only after the owner applied it: wait until it is held.
        while !held.load(Ordering::SeqCst) {
            glommio::timer::sleep(Duration::from_millis(1)).await;
        }
        let answered = Rc::new(Cell::new(false));
        let reader = glommio::spawn_local({
            let s = s.clone();
            let answered = answered.clone();
            async move {
                let data = read_all(&s, "bkt", "k").await.unwrap();
                let listed = s
                    .list_objects(
                        "bkt",
                        &cairn_storage::ListQuery {
                            max_keys: 10,
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
                answered.set(true);
                (data, listed.objects[0].size)
            }
        });
        glommio::timer::sleep(Duration::from_millis(30)).await;
        assert!(
            !answered.get(),
            "a reader answered while the write it may have seen was not durable"
        );
        hold.store(false, Ordering::SeqCst);
        writer.await;
        let (data, size) = reader.await;
        // Once durable, the new value is what readers get.
        assert_eq!((data.as_slice(), size), (&b"new"[..], 3));
        assert_eq!(read_all(&s, "bkt", "k").await.unwrap(), b"new");
    });
}

#[test]
fn a_failed_flush_poisons_the_engine_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, Controls { fail, .. }) = open(dir.path());
    run(&engine, move |s| async move {
        s.create_bucket("bkt", "me", "us-east-1").await.unwrap();
        put_simple(&s, "bkt", "before", b"kept").await;
        fail.store(true, Ordering::SeqCst);
        let err = put(&s, "bkt", "k", &[1u8; 100_000], PutOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Poisoned(r) if r.contains("EIO")),
            "{err:?}"
        );
        fail.store(false, Ordering::SeqCst);
        // Refused from now on, with the reason, even though the disk "recovered".
        assert!(matches!(
            s.put_object("bkt", "k2", PutOptions::default()).await,
            Err(Error::Poisoned(_))
        ));
        assert!(matches!(
            s.delete_object("bkt", "before").await,
            Err(Error::Poisoned(_))
        ));
        assert!(matches!(s.engine().health(), Err(Error::Poisoned(r)) if r.contains("EIO")));
        // Reads cannot be answered either: what they would see may not be durable.
        assert!(matches!(
            s.head_object("bkt", "before").await,
            Err(Error::Poisoned(_))
        ));
    });
    drop(engine);
    // A restart clears the poison; the write that failed is not acknowledged, and recovery
    // removes its blob if its record did not reach the disk.
    let engine = Engine::open(config(dir.path(), 2)).unwrap();
    assert_eq!(engine.recovery_report().missing_blobs, 0);
    run(&engine, |s| async move {
        assert_eq!(read_all(&s, "bkt", "before").await.unwrap(), b"kept");
        put_simple(&s, "bkt", "after", b"fine").await;
    });
}
