//! Disk full: on a small tmpfs (mounted by the test; skipped where mounting is impossible), a
//! write that runs out of space fails with `NoSpace` and leaves no partial blob, earlier data
//! stays readable, and writes succeed again once space is freed.
//! (glommio opens files on tmpfs without O_DIRECT, which tmpfs does not support.)

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_storage::{Engine, Error, PutOptions};
use common::*;

/// Unmounts the tmpfs when the test ends, however it ends.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Still busy (a failing test left files open): detach it lazily.
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

fn mount_tmpfs(dir: &Path, size: &str) -> Option<Mount> {
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .stderr(std::process::Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => Some(Mount(dir.to_path_buf())),
        _ => None,
    }
}

#[test]
fn writes_fail_cleanly_when_the_disk_is_full_and_recover() {
    let outer = tempfile::tempdir().unwrap();
    let Some(mount) = mount_tmpfs(outer.path(), "8m") else {
        println!("SKIPPED disk-full test: cannot mount a tmpfs here (needs root and mount rights)");
        return;
    };
    let dir = mount.0.join("data");
    let mut config = config(&dir, 2);
    // Keep room for metadata: blob writes stop while 1 MiB is still free.
    config.min_free_bytes = 1 << 20;
    let engine = Engine::open(config).unwrap();
    let d = dir.clone();
    run(&engine, move |s| async move {
        s.create_bucket("full", "me", "us-east-1").await.unwrap();
        let small = b"small object, stored inline".to_vec();
        put_simple(&s, "full", "small", &small).await;
        let one: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
        put_simple(&s, "full", "one", &one).await;

        // Fill the disk with 1.5 MiB objects until a write runs out of space.
        let chunk: Vec<u8> = (0..1_500_000u32).map(|i| (i % 241) as u8).collect();
        let mut stored = Vec::new();
        let mut failure = None;
        for i in 0..20 {
            let key = format!("fill-{i}");
            match put(&s, "full", &key, &chunk, PutOptions::default()).await {
                Ok(_) => stored.push(key),
                Err(e) => {
                    failure = Some((key, e));
                    break;
                }
            }
        }
        let (failed_key, err) = failure.expect("the disk never filled up");
        assert!(matches!(err, Error::NoSpace), "got {err:?}");
        assert!(!stored.is_empty(), "nothing fitted before the disk filled");
        assert!(matches!(
            s.head_object("full", &failed_key).await,
            Err(Error::NoSuchKey)
        ));
        glommio::timer::sleep(std::time::Duration::from_millis(50)).await;
        // One blob per stored object ("one" and the fills): the failed write left nothing.
        assert_eq!(blob_files(&d).len(), stored.len() + 1);
        // Earlier data is intact, and the engine still takes writes that fit in metadata.
        assert_same(
            &read_all(&s, "full", "small").await.unwrap(),
            &small,
            "read back",
        );
        assert_same(
            &read_all(&s, "full", "one").await.unwrap(),
            &one,
            "read back",
        );
        for key in &stored {
            assert_same(
                &read_all(&s, "full", key).await.unwrap(),
                &chunk,
                "read back",
            );
        }
        assert!(s.engine().health().is_ok());

        // Free space; writes succeed again.
        for key in &stored {
            s.delete_object("full", key).await.unwrap();
        }
        put_simple(&s, "full", &failed_key, &chunk).await;
        assert_same(
            &read_all(&s, "full", &failed_key).await.unwrap(),
            &chunk,
            "read back",
        );
    });
    drop(engine);

    // Real ENOSPC in the middle of a blob (no reserve): the write fails cleanly too.
    let mut config = common::config(&dir, 2);
    config.min_free_bytes = 0;
    let engine = Engine::open(config).unwrap();
    assert_eq!(engine.recovery_report().orphan_blobs_removed, 0);
    let d = dir.clone();
    run(&engine, move |s| async move {
        let before = blob_files(&d).len();
        let huge: Vec<u8> = vec![7u8; 16 << 20];
        let err = put(&s, "full", "huge", &huge, PutOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NoSpace), "got {err:?}");
        glommio::timer::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(blob_files(&d).len(), before);
        assert_eq!(read_all(&s, "full", "small").await.unwrap().len(), 27);
        put_simple(&s, "full", "after", &[1u8; 300_000]).await;
        assert_eq!(
            read_all(&s, "full", "after").await.unwrap(),
            vec![1u8; 300_000]
        );
    });
    drop(engine);
    drop(mount);
}
