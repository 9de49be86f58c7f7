//! TLS for `wss://` and `https://` endpoints, set up once per client.
//!
//! Two backends, chosen at build time:
//! - **native-tls** (the default feature): the platform's TLS (OpenSSL on Linux, Secure
//!   Transport on macOS, SChannel on Windows) and its trust store;
//! - **rustls** (feature `rustls`, for static and musl builds without OpenSSL): rustls with the
//!   `ring` provider and the platform's trust store (read by `rustls-native-certs`). When both
//!   features are on, rustls is used.
//!
//! Both honour `ClientConfig::add_root_certificate_pem`/`_der` and the dev-only
//! `danger_accept_invalid_certs`, and report a failed handshake as "TLS handshake with HOST
//! failed: …" and one that runs out of `connect_timeout` with the dial's timeout message.

use crate::config::ClientConfig;
use crate::error::{Error, TransportError};

use super::DialBudget;
use super::stream::{BudgetedTcp, Stream};

/// How this client does TLS.
pub(crate) struct TlsSetup {
    #[cfg(feature = "rustls")]
    rustls: std::sync::Arc<rustls::ClientConfig>,
    #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
    native: native_tls::TlsConnector,
}

impl TlsSetup {
    /// Checks the certificates and builds the backend's settings.
    pub(crate) fn new(config: &ClientConfig) -> Result<TlsSetup, Error> {
        if config.danger_accept_invalid_certs {
            log::warn!("TLS certificate verification is off (danger_accept_invalid_certs): development only");
        }
        #[cfg(feature = "rustls")]
        return Ok(TlsSetup { rustls: rustls_backend::client_config(config)? });
        #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
        return Ok(TlsSetup { native: native_backend::connector(config)? });
        #[cfg(not(any(feature = "native-tls", feature = "rustls")))]
        {
            let _ = config;
            Err(Error::InvalidConfig(
                "wss:// and https:// need a TLS backend: build with the `native-tls` (default) or `rustls` feature"
                    .into(),
            ))
        }
    }

    /// The TLS handshake with `host` over `tcp`, within `budget`.
    pub(crate) fn connect(
        &self,
        host: &str,
        tcp: BudgetedTcp,
        budget: &DialBudget,
    ) -> Result<Stream, TransportError> {
        #[cfg(feature = "rustls")]
        return rustls_backend::connect(&self.rustls, host, tcp, budget);
        #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
        return native_backend::connect(&self.native, host, tcp, budget);
        #[cfg(not(any(feature = "native-tls", feature = "rustls")))]
        {
            let _ = (host, tcp, budget);
            Err(TransportError::new("no TLS backend is built in"))
        }
    }
}

/// A root certificate that does not parse.
#[cfg_attr(not(any(feature = "native-tls", feature = "rustls")), allow(dead_code))]
fn certificate_error(err: impl std::fmt::Display) -> Error {
    Error::InvalidConfig(format!("root certificate does not parse: {err}"))
}

#[cfg(all(feature = "native-tls", not(feature = "rustls")))]
mod native_backend {
    use super::*;
    use crate::config::RootCertificate;

    pub(super) fn connector(config: &ClientConfig) -> Result<native_tls::TlsConnector, Error> {
        let mut builder = native_tls::TlsConnector::builder();
        for certificate in &config.root_certificates {
            let parsed = match certificate {
                RootCertificate::Pem(pem) => native_tls::Certificate::from_pem(pem),
                RootCertificate::Der(der) => native_tls::Certificate::from_der(der),
            };
            builder.add_root_certificate(parsed.map_err(certificate_error)?);
        }
        if config.danger_accept_invalid_certs {
            builder.danger_accept_invalid_certs(true).danger_accept_invalid_hostnames(true);
        }
        builder.build().map_err(|err| Error::InvalidConfig(format!("cannot set up TLS: {err}")))
    }

    pub(super) fn connect(
        connector: &native_tls::TlsConnector,
        host: &str,
        tcp: BudgetedTcp,
        budget: &DialBudget,
    ) -> Result<Stream, TransportError> {
        match connector.connect(host, tcp) {
            Ok(tls) => Ok(Stream::Tls(Box::new(tls))),
            Err(native_tls::HandshakeError::WouldBlock(_)) => {
                Err(budget.timed_out(&format!("in the TLS handshake with {host}")))
            }
            Err(native_tls::HandshakeError::Failure(err)) => {
                Err(TransportError::new(format!("TLS handshake with {host} failed: {err}")))
            }
        }
    }
}

#[cfg(feature = "rustls")]
mod rustls_backend {
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme, StreamOwned};

    use super::*;
    use crate::config::RootCertificate;
    use crate::transport::dialer::is_timeout;

    pub(super) fn client_config(config: &ClientConfig) -> Result<Arc<rustls::ClientConfig>, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|err| Error::InvalidConfig(format!("cannot set up TLS: {err}")))?;
        let client_config = if config.danger_accept_invalid_certs {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider)))
                .with_no_client_auth()
        } else {
            builder.with_root_certificates(roots(config)?).with_no_client_auth()
        };
        Ok(Arc::new(client_config))
    }

    /// The platform's trust store and the configured extra roots.
    fn roots(config: &ClientConfig) -> Result<RootCertStore, Error> {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for error in &native.errors {
            log::warn!("cannot read a certificate of the platform's trust store: {error}");
        }
        let (added, ignored) = roots.add_parsable_certificates(native.certs);
        log::debug!("TLS trust store: {added} platform certificates ({ignored} unusable)");
        for certificate in &config.root_certificates {
            let parsed: Vec<CertificateDer<'static>> = match certificate {
                RootCertificate::Pem(pem) => CertificateDer::pem_slice_iter(pem)
                    .collect::<Result<_, _>>()
                    .map_err(certificate_error)?,
                RootCertificate::Der(der) => vec![CertificateDer::from(der.clone())],
            };
            if parsed.is_empty() {
                return Err(certificate_error("no certificate in the PEM"));
            }
            for certificate in parsed {
                roots.add(certificate).map_err(certificate_error)?;
            }
        }
        Ok(roots)
    }

    pub(super) fn connect(
        config: &Arc<rustls::ClientConfig>,
        host: &str,
        mut tcp: BudgetedTcp,
        budget: &DialBudget,
    ) -> Result<Stream, TransportError> {
        let failed = |what: String| TransportError::new(format!("TLS handshake with {host} failed: {what}"));
        let name = ServerName::try_from(host.to_string()).map_err(|err| failed(err.to_string()))?;
        let mut connection =
            ClientConnection::new(Arc::clone(config), name).map_err(|err| failed(err.to_string()))?;
        while connection.is_handshaking() {
            if let Err(err) = connection.complete_io(&mut tcp) {
                if is_timeout(&err) {
                    return Err(budget.timed_out(&format!("in the TLS handshake with {host}")));
                }
                return Err(failed(err.to_string()));
            }
        }
        Ok(Stream::Rustls(Box::new(StreamOwned::new(connection, tcp))))
    }

    /// The dev-only switch: any certificate, for any name. Signatures are still checked with the
    /// certificate presented, so the connection is at least to whoever holds its key.
    #[derive(Debug)]
    struct AcceptAnything(Arc<rustls::crypto::CryptoProvider>);

    impl ServerCertVerifier for AcceptAnything {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            certificate: &CertificateDer<'_>,
            signature: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                certificate,
                signature,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            certificate: &CertificateDer<'_>,
            signature: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                certificate,
                signature,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}
