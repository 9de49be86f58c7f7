//! Throwaway TLS material made fresh for each server that needs it: a self-signed CA and a
//! server certificate it signed for `localhost` and `127.0.0.1`. Nothing is written to disk;
//! the PEM text goes straight into the server's configuration.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// A CA certificate and a server certificate and key signed by it, all PEM.
#[derive(Clone)]
pub struct TestCertificates {
    /// The CA certificate a client must trust to accept the server.
    pub ca_pem: String,
    /// The server's certificate.
    pub server_cert_pem: String,
    /// The server's private key (PKCS#8).
    pub server_key_pem: String,
}

impl TestCertificates {
    /// Generates a new CA and a server certificate for `localhost` and `127.0.0.1`.
    ///
    /// # Panics
    ///
    /// When key generation or signing fails (it does not with valid fixed parameters).
    pub fn generate() -> TestCertificates {
        let ca_key = KeyPair::generate().expect("generate the CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca_params.distinguished_name.push(DnType::CommonName, "centrifuge-blocking test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).expect("self-sign the CA");
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().expect("generate the server key");
        let mut server_params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("server parameters");
        server_params.distinguished_name.push(DnType::CommonName, "localhost");
        let server_cert = server_params.signed_by(&server_key, &issuer).expect("sign the server certificate");
        TestCertificates {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
        }
    }
}
