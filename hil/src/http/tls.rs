//! rustls configuration from PEM: the server's certificate chain and key, the client's trust
//! roots (the system's, plus a custom CA for test platforms with private certificates).
//!
//! The ring provider is used explicitly, so the configuration never depends on which rustls
//! crypto features other crates of the build enable.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::HttpError;

/// The server's certificate and key files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTls {
    /// PEM file with the certificate chain, leaf first.
    pub cert_chain_pem: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub private_key_pem: PathBuf,
}

/// The crypto provider of every TLS configuration here.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_error(what: &str, e: impl std::fmt::Display) -> HttpError {
    HttpError::Tls(format!("{what}: {e}"))
}

/// Parses every certificate of a PEM document.
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, HttpError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error("certificate PEM", e))?;
    if certs.is_empty() {
        return Err(HttpError::Tls("no certificate in PEM".to_owned()));
    }
    Ok(certs)
}

/// A server configuration from PEM bytes.
pub fn server_config_from_pem(
    cert_chain_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<rustls::ServerConfig>, HttpError> {
    let certs = certificates_from_pem(cert_chain_pem)?;
    let key =
        PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| tls_error("private key PEM", e))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("protocol versions", e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| tls_error("certificate and key", e))?;
    Ok(Arc::new(config))
}

/// A server configuration from the files of `tls`.
pub fn server_config(tls: &ServerTls) -> Result<Arc<rustls::ServerConfig>, HttpError> {
    let read = |p: &PathBuf| std::fs::read(p).map_err(|e| tls_error(&p.display().to_string(), e));
    server_config_from_pem(&read(&tls.cert_chain_pem)?, &read(&tls.private_key_pem)?)
}

/// A client configuration trusting the system roots (when `native_roots`) and the
/// certificates in `ca_pem`.
pub fn client_config(
    native_roots: bool,
    ca_pem: Option<&[u8]>,
) -> Result<rustls::ClientConfig, HttpError> {
    let mut roots = rustls::RootCertStore::empty();
    if native_roots {
        // Unreadable system certificates are skipped: a platform with a private CA still
        // works through `ca_pem`.
        let found = rustls_native_certs::load_native_certs();
        let _ = roots.add_parsable_certificates(found.certs);
    }
    if let Some(pem) = ca_pem {
        for cert in certificates_from_pem(pem)? {
            roots
                .add(cert)
                .map_err(|e| tls_error("CA certificate", e))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("protocol versions", e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pem_is_a_clear_error() {
        let e = server_config_from_pem(b"not pem", b"not pem").unwrap_err();
        assert!(e.to_string().contains("no certificate"), "{e}");
        let e = client_config(
            false,
            Some(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        );
        assert!(e.is_err());
        assert!(client_config(false, None).is_ok());
        let missing = ServerTls {
            cert_chain_pem: "/nonexistent/cert.pem".into(),
            private_key_pem: "/nonexistent/key.pem".into(),
        };
        assert!(
            server_config(&missing)
                .unwrap_err()
                .to_string()
                .contains("/nonexistent/cert.pem")
        );
    }
}
