//! TLS settings from PEM files, swappable at run time (SIGHUP) without touching open
//! connections: a connection keeps the configuration it was accepted with.
//!
//! Each core caches the current `rustls::ServerConfig` and checks one atomic generation
//! number per accepted connection, so the accept path takes no lock.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why a certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate file {path}: {reason}")]
    Certificate { path: PathBuf, reason: String },
    #[error("cannot read the TLS private key file {path}: {reason}")]
    PrivateKey { path: PathBuf, reason: String },
    #[error("the TLS certificate {cert} and key {key} cannot be used together: {reason}")]
    Config {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

#[derive(Debug)]
struct Shared {
    cert_path: PathBuf,
    key_path: PathBuf,
    generation: AtomicU64,
    current: Mutex<Arc<rustls::ServerConfig>>,
}

/// The server's TLS configuration, shared by all cores. Cloning is cheap.
#[derive(Debug, Clone)]
pub struct TlsConfigHandle {
    shared: Arc<Shared>,
}

fn build(cert_path: &Path, key_path: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certs = CertificateDer::pem_file_iter(cert_path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Certificate {
            path: cert_path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Certificate {
            path: cert_path.to_owned(),
            reason: "no PEM certificate found".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| TlsError::PrivateKey {
        path: key_path.to_owned(),
        reason: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config_error = |reason: String| TlsError::Config {
        cert: cert_path.to_owned(),
        key: key_path.to_owned(),
        reason,
    };
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| config_error(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

impl TlsConfigHandle {
    /// Loads the certificate chain and private key (PEM).
    pub fn load(
        cert_path: impl Into<PathBuf>,
        key_path: impl Into<PathBuf>,
    ) -> Result<Self, TlsError> {
        let cert_path = cert_path.into();
        let key_path = key_path.into();
        let config = build(&cert_path, &key_path)?;
        Ok(TlsConfigHandle {
            shared: Arc::new(Shared {
                cert_path,
                key_path,
                generation: AtomicU64::new(1),
                current: Mutex::new(config),
            }),
        })
    }

    /// Reads the files again and, if they are valid, makes them the configuration for new
    /// connections. On error the previous configuration stays in force.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = build(&self.shared.cert_path, &self.shared.key_path)?;
        let mut current = self
            .shared
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *current = config;
        self.shared.generation.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// The current configuration, through a per-core cache.
    pub(crate) fn current(
        &self,
        cache: &mut Option<(u64, Arc<rustls::ServerConfig>)>,
    ) -> Arc<rustls::ServerConfig> {
        let generation = self.shared.generation.load(Ordering::Acquire);
        if let Some((cached_generation, config)) = cache {
            if *cached_generation == generation {
                return config.clone();
            }
        }
        let config = self
            .shared
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        *cache = Some((generation, config.clone()));
        config
    }
}
