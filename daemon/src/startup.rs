//! Start-up checks. Each failure is one sentence that says what is wrong and how to fix it,
//! and `cairnd` exits non-zero.

use std::fs::File;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// glommio refuses to start an executor below this locked-memory limit.
pub const GLOMMIO_MIN_MEMLOCK: u64 = 512 * 1024;
/// Memory each executor registers with io_uring for its buffers (locked memory).
pub const IO_MEMORY_PER_CORE: usize = 1 << 20;

/// Why `cairnd` could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Config(String),
    #[error(
        "the locked-memory limit (RLIMIT_MEMLOCK, `ulimit -l`) is {current_kib} KiB but glommio needs at least {needed_kib} KiB: \
         raise it with `ulimit -l {suggest_kib}` in the shell, LimitMEMLOCK= in the systemd unit, or memlock in /etc/security/limits.conf"
    )]
    MemlockTooLow {
        current_kib: u64,
        needed_kib: u64,
        suggest_kib: u64,
    },
    #[error("the data directory {path} is not usable: {reason}")]
    DataDir { path: PathBuf, reason: String },
    #[error("another cairnd is already using the data directory {0}")]
    DataDirLocked(PathBuf),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
    #[error("{0}")]
    Tls(#[from] cairn_http::server::TlsError),
    #[error("the storage engine cannot start: {0}")]
    Storage(String),
    #[error("cannot start the executors: {0}")]
    Executors(String),
    #[error("{0}")]
    KeyStore(#[from] cairn_iam::IamError),
}

/// The soft locked-memory limit in bytes (`None` for unlimited), from /proc/self/limits.
fn memlock_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max locked memory"))?;
    let soft = line
        .trim_start_matches("Max locked memory")
        .split_whitespace()
        .next()?;
    soft.parse().ok()
}

/// Whether this process may lock memory regardless of the limit (CAP_IPC_LOCK).
fn has_cap_ipc_lock() -> bool {
    const CAP_IPC_LOCK: u32 = 14;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
            u64::from_str_radix(line.trim_start_matches("CapEff:").trim(), 16).ok()
        })
        .is_some_and(|caps| caps & (1 << CAP_IPC_LOCK) != 0)
}

/// Fails when glommio cannot start; warns when io_uring buffer registration will fall back.
pub fn check_memlock(cores: usize) -> Result<(), StartupError> {
    let Some(limit) = memlock_limit() else {
        return Ok(());
    };
    // Each executor registers its IO memory with its three rings.
    let wanted = GLOMMIO_MIN_MEMLOCK + (cores as u64) * 3 * IO_MEMORY_PER_CORE as u64;
    let suggest_kib = wanted.div_ceil(1024).next_power_of_two();
    if limit < GLOMMIO_MIN_MEMLOCK {
        return Err(StartupError::MemlockTooLow {
            current_kib: limit / 1024,
            needed_kib: GLOMMIO_MIN_MEMLOCK / 1024,
            suggest_kib,
        });
    }
    if limit < wanted && !has_cap_ipc_lock() {
        tracing::warn!(
            limit_kib = limit / 1024,
            wanted_kib = wanted / 1024,
            "locked-memory limit is low: io_uring buffer registration may fall back to slower unregistered buffers; raise `ulimit -l` or LimitMEMLOCK="
        );
    }
    Ok(())
}

/// Holds the data directory's lock for as long as the daemon runs.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Creates the data directory if needed, proves it writable and takes its lock.
pub fn prepare_data_dir(path: &Path) -> Result<DataDirLock, StartupError> {
    let fail = |reason: String| StartupError::DataDir {
        path: path.to_owned(),
        reason,
    };
    std::fs::create_dir_all(path).map_err(|e| fail(format!("cannot create it: {e}")))?;
    let probe = path.join(format!(".write-probe-{}", std::process::id()));
    let written = File::create(&probe).and_then(|mut f| {
        f.write_all(b"cairn")?;
        f.sync_all()
    });
    let _ = std::fs::remove_file(&probe);
    written.map_err(|e| fail(format!("it is not writable: {e}")))?;
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path.join("LOCK"))
        .map_err(|e| fail(format!("cannot open its LOCK file: {e}")))?;
    match lock.try_lock() {
        Ok(()) => Ok(DataDirLock { _file: lock }),
        Err(std::fs::TryLockError::WouldBlock) => Err(StartupError::DataDirLocked(path.to_owned())),
        Err(std::fs::TryLockError::Error(e)) => Err(fail(format!("cannot lock it: {e}"))),
    }
}

/// Checks that nothing listens on `addr` (the executors' own sockets use SO_REUSEPORT, so
/// without this a second daemon would silently share the port) and resolves port 0.
pub fn probe_listen(addr: SocketAddr) -> Result<SocketAddr, StartupError> {
    let listen_error = |reason: String| StartupError::Listen { addr, reason };
    // SO_REUSEADDR (as the real listeners have it) so that TIME_WAIT connections of an
    // earlier run do not count; no SO_REUSEPORT, so a live listener of any program does.
    let probe = || -> std::io::Result<SocketAddr> {
        let domain = socket2::Domain::for_address(addr);
        let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1)?;
        let local = socket.local_addr()?;
        local
            .as_socket()
            .ok_or_else(|| std::io::Error::other("not an IP address"))
    };
    match probe() {
        Ok(local) => Ok(local),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(listen_error(
            "the address is already in use by another program".into(),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(listen_error(
            "permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)".into(),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => {
            Err(listen_error("no local interface has this address".into()))
        }
        Err(e) => Err(listen_error(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn address_in_use_is_reported() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let err = probe_listen(addr).unwrap_err();
        assert!(err.to_string().contains("already in use"), "{err}");
        let free = probe_listen("127.0.0.1:0".parse().unwrap()).unwrap();
        assert_ne!(free.port(), 0);
    }

    #[test]
    fn data_dir_is_created_and_locked_once() {
        let dir = std::env::temp_dir().join(format!("cairn-datadir-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let lock = prepare_data_dir(&dir.join("nested")).unwrap();
        assert!(matches!(
            prepare_data_dir(&dir.join("nested")),
            Err(StartupError::DataDirLocked(_))
        ));
        drop(lock);
        assert!(prepare_data_dir(&dir.join("nested")).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
