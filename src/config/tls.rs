//! TLS termination (rustls, ring). The certificate is re-read when its files change (the
//! gateway's one file watcher, which also watches the configuration and its secrets),
//! including Kubernetes' atomic symlink swap, so a renewed certificate is served without
//! a restart; a broken renewal is logged and the previous certificate keeps serving.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// `tls:`: the certificate chain and key files, reloaded when they change.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub(crate) fn load_certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, String> {
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cannot read certificate {}: {e}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad certificate PEM in {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", cert.display()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read private key {}: {e}", key.display()))?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&key_der)
        .map_err(|e| format!("unsupported private key in {}: {e}", key.display()))?;
    let ck = CertifiedKey::new(certs, signer);
    ck.keys_match()
        .map_err(|e| format!("certificate and key do not match: {e}"))?;
    Ok(ck)
}

/// Serves the current certificate; [`Reloading::watch`] swaps it when the files change.
#[derive(Debug)]
pub(crate) struct Reloading {
    current: ArcSwap<CertifiedKey>,
    cert: PathBuf,
    key: PathBuf,
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

impl Reloading {
    /// Whether `file` is this certificate's or its key's file.
    pub(crate) fn uses(&self, file: &Path) -> bool {
        file == self.cert || file == self.key
    }

    /// Re-read the certificate and key (the gateway's file watcher calls this when one
    /// changed); a broken pair is logged and the previous one keeps serving.
    pub(crate) fn reload(&self) {
        match load_certified_key(&self.cert, &self.key) {
            Ok(ck) => {
                self.current.store(Arc::new(ck));
                tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
            }
            Err(e) => {
                tracing::error!(error = %e, "TLS certificate reload failed; keeping the previous one")
            }
        }
    }
}

pub(crate) fn acceptor(cfg: &TlsConfig) -> Result<(TlsAcceptor, Arc<Reloading>), String> {
    let ck = load_certified_key(&cfg.cert, &cfg.key)?;
    let resolver = Arc::new(Reloading {
        current: ArcSwap::from_pointee(ck),
        cert: cfg.cert.clone(),
        key: cfg.key.clone(),
    });
    let mut sc = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_cert_resolver(resolver.clone());
    sc.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((TlsAcceptor::from(Arc::new(sc)), resolver))
}

/// Why a CA file gave no certificates.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CaError {
    #[error("cannot read CA file {}: {err}", path.display())]
    Read {
        path: PathBuf,
        err: rustls::pki_types::pem::Error,
    },
    #[error("no certificate in CA file {}", .0.display())]
    Empty(PathBuf),
}

/// The certificates of a PEM file (a private CA that `deliver` and `proxy` trust).
pub(crate) fn read_ca(path: &Path) -> Result<Vec<CertificateDer<'static>>, CaError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|err| CaError::Read {
            path: path.to_path_buf(),
            err,
        })?;
    if certs.is_empty() {
        return Err(CaError::Empty(path.to_path_buf()));
    }
    Ok(certs)
}
