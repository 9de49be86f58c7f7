//! Throwaway TLS material made fresh for each server that needs it: a self-signed CA and a
//! server certificate it signed for `localhost` and `127.0.0.1`. Nothing is written to disk;
//! the PEM text goes straight into the server's configuration.
//!
//! Keys are ECDSA P-256 from the pure-Rust `p256` crate, handed to `rcgen` without its own
//! crypto backend: `ring` would need a C compiler for the target, and with it the examples
//! (which depend on this harness) could not be type-checked for Windows and macOS on a Linux
//! machine without a cross toolchain.

use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey as EcdsaKey};
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use rand_core::OsRng;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    PublicKeyData, SerialNumber, SignatureAlgorithm, SigningKey,
};
use sha2::{Digest, Sha256};

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
        let ca_key = P256Key::generate();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca_params.distinguished_name.push(DnType::CommonName, "centrifuge-blocking test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params.serial_number = Some(ca_key.serial_number());
        let ca_cert = ca_params.self_signed(&ca_key).expect("self-sign the CA");
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = P256Key::generate();
        let mut server_params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("server parameters");
        server_params.distinguished_name.push(DnType::CommonName, "localhost");
        server_params.serial_number = Some(server_key.serial_number());
        let server_cert = server_params.signed_by(&server_key, &issuer).expect("sign the server certificate");
        TestCertificates {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.pkcs8_pem(),
        }
    }
}

/// An ECDSA P-256 key pair as `rcgen` wants it: the public point, and signatures in DER.
struct P256Key {
    key: EcdsaKey,
    /// The uncompressed SEC1 public point (what a certificate's `subjectPublicKey` holds).
    public: Vec<u8>,
}

impl P256Key {
    fn generate() -> P256Key {
        let key = EcdsaKey::random(&mut OsRng);
        let public = key.verifying_key().to_encoded_point(false).as_bytes().to_vec();
        P256Key { key, public }
    }

    /// A serial number derived from the public key, as rcgen does with its own backends: the
    /// first 20 bytes of its SHA-256 (the most RFC 5280 allows), kept positive.
    fn serial_number(&self) -> SerialNumber {
        let mut serial = Sha256::digest(&self.public)[..20].to_vec();
        serial[0] &= 0x7f;
        SerialNumber::from(serial)
    }

    fn pkcs8_pem(&self) -> String {
        self.key.to_pkcs8_pem(LineEnding::LF).expect("encode the key as PKCS#8").to_string()
    }
}

impl PublicKeyData for P256Key {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

impl SigningKey for P256Key {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let signature: DerSignature = self.key.sign(msg);
        Ok(signature.as_bytes().to_vec())
    }
}
