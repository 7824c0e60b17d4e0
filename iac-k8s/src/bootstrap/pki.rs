//! The secrets made up front: the cluster CA, the bootstrap token, the certificate key.

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use iac_core::Secret;
use rand::rngs::OsRng;
use rand::{CryptoRng, Rng, RngCore};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
    PublicKeyData,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use super::error::BootstrapError;

/// How long a generated CA is valid: 10 years (kubeadm's own CA lifetime).
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// The key algorithm of a CA generated here.
///
/// Only ECDSA: `rcgen` with the `ring` backend cannot generate RSA keys. An RSA CA made
/// elsewhere (e.g. `openssl req -x509 -newkey rsa:2048 ...`) is accepted by
/// [`ClusterCa::from_pem`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CaAlgorithm {
    /// ECDSA on P-256 with SHA-256.
    #[default]
    EcdsaP256,
    /// ECDSA on P-384 with SHA-384.
    EcdsaP384,
}

/// The cluster's certificate authority (`/etc/kubernetes/pki/ca.crt` and `ca.key`).
///
/// kubeadm uses a CA it finds on disk instead of making one, so a CA made up front lets the
/// nodes' user-data pin its hash before any machine exists. The private key is a
/// [`Secret`]; `Debug` shows only the public hash.
#[derive(Clone)]
pub struct ClusterCa {
    cert_pem: String,
    spki_der: Vec<u8>,
    key_pem: Secret,
    key_algorithm: &'static str,
}

impl fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterCa")
            .field("key_algorithm", &self.key_algorithm)
            .field("ca_cert_hash", &self.ca_cert_hash())
            .field("key_pem", &self.key_pem)
            .finish()
    }
}

impl ClusterCa {
    /// Generates a self-signed CA (CN `kubernetes`, CA:true, key usages certificate sign,
    /// CRL sign and digital signature) valid for 10 years from now.
    pub fn generate(algorithm: CaAlgorithm) -> Result<ClusterCa, BootstrapError> {
        Self::generate_at(algorithm, SystemTime::now())
    }

    /// Like [`ClusterCa::generate`], valid from `not_before` for [`CA_VALIDITY`].
    pub fn generate_at(
        algorithm: CaAlgorithm,
        not_before: SystemTime,
    ) -> Result<ClusterCa, BootstrapError> {
        let alg = match algorithm {
            CaAlgorithm::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            CaAlgorithm::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        };
        let key = KeyPair::generate_for(alg).map_err(|e| BootstrapError::Crypto {
            action: "generating the CA key",
            reason: e.to_string(),
        })?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "kubernetes");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = not_before.into();
        params.not_after = (not_before + CA_VALIDITY).into();
        let cert = params
            .self_signed(&key)
            .map_err(|e| BootstrapError::Crypto {
                action: "self-signing the CA certificate",
                reason: e.to_string(),
            })?;
        let spki_der =
            spki_of_certificate(cert.der()).map_err(|reason| BootstrapError::Crypto {
                action: "reading the generated CA certificate",
                reason,
            })?;
        Ok(ClusterCa {
            cert_pem: cert.pem(),
            spki_der,
            key_pem: Secret::new(key.serialize_pem()),
            key_algorithm: algorithm_name(&key),
        })
    }

    /// Loads a CA made elsewhere: a PEM certificate and its PKCS#8 PEM private key
    /// (`-----BEGIN PRIVATE KEY-----`; RSA, ECDSA P-256/P-384 or Ed25519). The key must match
    /// the certificate. A PKCS#1 `RSA PRIVATE KEY` converts with
    /// `openssl pkcs8 -topk8 -nocrypt`.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<ClusterCa, BootstrapError> {
        let der =
            pem_block(cert_pem, "CERTIFICATE").map_err(|reason| BootstrapError::InvalidInput {
                field: "ca cert_pem",
                reason,
            })?;
        let spki_der =
            spki_of_certificate(&der).map_err(|reason| BootstrapError::InvalidInput {
                field: "ca cert_pem",
                reason,
            })?;
        // Never quote the key or rcgen's view of it: the message could carry key material.
        let key = KeyPair::from_pem(key_pem).map_err(|_| BootstrapError::InvalidInput {
            field: "ca key_pem",
            reason: "not an unencrypted PKCS#8 private key (BEGIN PRIVATE KEY) of RSA, ECDSA \
                     P-256/P-384 or Ed25519"
                .into(),
        })?;
        let cert_key =
            spki_public_key(&spki_der).map_err(|reason| BootstrapError::InvalidInput {
                field: "ca cert_pem",
                reason,
            })?;
        if cert_key != key.der_bytes() {
            return Err(BootstrapError::InvalidInput {
                field: "ca key_pem",
                reason: "the private key does not match the certificate's public key".into(),
            });
        }
        let cert_pem = if cert_pem.ends_with('\n') {
            cert_pem.to_string()
        } else {
            format!("{cert_pem}\n")
        };
        Ok(ClusterCa {
            cert_pem,
            spki_der,
            key_pem: Secret::new(key_pem),
            key_algorithm: algorithm_name(&key),
        })
    }

    /// The certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key, PEM (a secret).
    pub fn key_pem(&self) -> &Secret {
        &self.key_pem
    }

    /// The DER SubjectPublicKeyInfo of the certificate.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The key's algorithm: `ECDSA-P256`, `ECDSA-P384`, `RSA` or `Ed25519`.
    pub fn key_algorithm(&self) -> &'static str {
        self.key_algorithm
    }

    /// The kubeadm discovery hash: `sha256:<64 hex>` over the DER SubjectPublicKeyInfo of the
    /// certificate (RFC 7469), the value of `caCertHashes` and
    /// `--discovery-token-ca-cert-hash`.
    pub fn ca_cert_hash(&self) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(&self.spki_der)))
    }
}

fn algorithm_name(key: &KeyPair) -> &'static str {
    let alg = key.algorithm();
    if alg == &rcgen::PKCS_ECDSA_P256_SHA256 {
        "ECDSA-P256"
    } else if alg == &rcgen::PKCS_ECDSA_P384_SHA384 {
        "ECDSA-P384"
    } else if alg == &rcgen::PKCS_ED25519 {
        "Ed25519"
    } else {
        "RSA"
    }
}

/// The DER of the first `-----BEGIN <label>-----` block.
fn pem_block(pem: &str, label: &str) -> Result<Vec<u8>, String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem
        .find(&begin)
        .ok_or_else(|| format!("no {begin} block"))?
        + begin.len();
    let stop = pem[start..]
        .find(&end)
        .ok_or_else(|| format!("no {end} line"))?
        + start;
    let body: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| format!("the {label} block is not valid base64"))
}

/// One DER TLV: (tag, content, rest).
fn der_tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let bad = || "malformed DER".to_string();
    let (&tag, rest) = input.split_first().ok_or_else(bad)?;
    let (&len0, mut rest) = rest.split_first().ok_or_else(bad)?;
    let len = if len0 < 0x80 {
        usize::from(len0)
    } else {
        let n = usize::from(len0 & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(bad());
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | usize::from(b);
        }
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return Err(bad());
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// The complete DER SubjectPublicKeyInfo (tag and length included) of an X.509 certificate.
fn spki_of_certificate(cert_der: &[u8]) -> Result<Vec<u8>, String> {
    const SEQUENCE: u8 = 0x30;
    let not_cert = || "not an X.509 certificate".to_string();
    let (tag, cert, _) = der_tlv(cert_der)?;
    if tag != SEQUENCE {
        return Err(not_cert());
    }
    let (tag, mut tbs, _) = der_tlv(cert)?;
    if tag != SEQUENCE {
        return Err(not_cert());
    }
    // version [0] EXPLICIT (optional), serialNumber, signature, issuer, validity, subject.
    let (tag, _, rest) = der_tlv(tbs)?;
    if tag == 0xa0 {
        tbs = rest;
        let (_, _, rest) = der_tlv(tbs)?;
        tbs = rest;
    } else {
        tbs = rest;
    }
    for _ in 0..4 {
        let (_, _, rest) = der_tlv(tbs)?;
        tbs = rest;
    }
    let (tag, _, rest) = der_tlv(tbs)?;
    if tag != SEQUENCE {
        return Err(not_cert());
    }
    Ok(tbs[..tbs.len() - rest.len()].to_vec())
}

/// The subjectPublicKey BIT STRING content (without the unused-bits byte) of an SPKI.
fn spki_public_key(spki: &[u8]) -> Result<Vec<u8>, String> {
    let (_, body, _) = der_tlv(spki)?;
    let (_, _, rest) = der_tlv(body)?; // algorithm
    let (tag, bits, _) = der_tlv(rest)?;
    match bits.split_first() {
        Some((0, key)) if tag == 0x03 => Ok(key.to_vec()),
        _ => Err("the certificate's public key is not a BIT STRING".into()),
    }
}

const TOKEN_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A kubeadm bootstrap token `[a-z0-9]{6}.[a-z0-9]{16}` (id `.` secret); the whole token is
/// a [`Secret`] and `Debug` prints `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapToken(Secret);

impl fmt::Debug for BootstrapToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BootstrapToken({:?})", self.0)
    }
}

impl BootstrapToken {
    /// A new token from the operating system's CSPRNG.
    pub fn generate() -> BootstrapToken {
        Self::generate_with(&mut OsRng)
    }

    /// A new token from `rng` (a CSPRNG; tests pass a seeded one).
    pub fn generate_with<R: RngCore + CryptoRng>(rng: &mut R) -> BootstrapToken {
        let mut s = String::with_capacity(23);
        for i in 0..22 {
            if i == 6 {
                s.push('.');
            }
            let idx = rng.gen_range(0..TOKEN_ALPHABET.len());
            s.push(char::from(TOKEN_ALPHABET[idx]));
        }
        BootstrapToken(Secret::new(s))
    }

    /// Parses a token, checking `^[a-z0-9]{6}\.[a-z0-9]{16}$` (kubeadm's
    /// `BootstrapTokenPattern`). The error never repeats the input.
    pub fn parse(token: &str) -> Result<BootstrapToken, BootstrapError> {
        let ok = token.len() == 23
            && token.bytes().enumerate().all(|(i, b)| {
                if i == 6 {
                    b == b'.'
                } else {
                    b.is_ascii_lowercase() || b.is_ascii_digit()
                }
            });
        if ok {
            Ok(BootstrapToken(Secret::new(token)))
        } else {
            Err(BootstrapError::InvalidInput {
                field: "bootstrap token",
                reason: "expected [a-z0-9]{6}.[a-z0-9]{16}".into(),
            })
        }
    }

    /// The token id (the public half, the name of its Secret `bootstrap-token-<id>`).
    pub fn id(&self) -> &str {
        &self.0.expose()[..6]
    }

    /// The whole token (a secret).
    pub fn secret(&self) -> &Secret {
        &self.0
    }
}

impl Serialize for BootstrapToken {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.expose())
    }
}

impl<'de> Deserialize<'de> for BootstrapToken {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        BootstrapToken::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The key that encrypts the control-plane certificates kubeadm uploads for the other
/// masters (`--upload-certs`, `certificateKey`): 32 random bytes, 64 hex digits. A secret.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateKey(Secret);

impl fmt::Debug for CertificateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertificateKey({:?})", self.0)
    }
}

impl CertificateKey {
    /// A new key from the operating system's CSPRNG.
    pub fn generate() -> CertificateKey {
        Self::generate_with(&mut OsRng)
    }

    /// A new key from `rng` (a CSPRNG; tests pass a seeded one).
    pub fn generate_with<R: RngCore + CryptoRng>(rng: &mut R) -> CertificateKey {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        CertificateKey(Secret::new(hex::encode(bytes)))
    }

    /// Parses 64 hex digits (lower-cased). The error never repeats the input.
    pub fn parse(key: &str) -> Result<CertificateKey, BootstrapError> {
        if key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(CertificateKey(Secret::new(key.to_ascii_lowercase())))
        } else {
            Err(BootstrapError::InvalidInput {
                field: "certificate key",
                reason: "expected 64 hex digits (32 bytes)".into(),
            })
        }
    }

    /// The key, hex (a secret).
    pub fn secret(&self) -> &Secret {
        &self.0
    }
}

impl Serialize for CertificateKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.expose())
    }
}

impl<'de> Deserialize<'de> for CertificateKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CertificateKey::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The three secrets of a cluster, made once and shared by every machine's user-data.
#[derive(Debug, Clone)]
pub struct ClusterSecrets {
    /// The cluster CA.
    pub ca: ClusterCa,
    /// The bootstrap token nodes and masters join with.
    pub token: BootstrapToken,
    /// The key for `--upload-certs` (used by HA control planes).
    pub certificate_key: CertificateKey,
}

impl ClusterSecrets {
    /// Generates all three (an ECDSA CA of `algorithm`, token and key from the OS CSPRNG).
    pub fn generate(algorithm: CaAlgorithm) -> Result<ClusterSecrets, BootstrapError> {
        Ok(ClusterSecrets {
            ca: ClusterCa::generate(algorithm)?,
            token: BootstrapToken::generate(),
            certificate_key: CertificateKey::generate(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ca_hash_covers_the_spki_and_key_matches() {
        let ca = ClusterCa::generate(CaAlgorithm::EcdsaP256).unwrap();
        let hash = ca.ca_cert_hash();
        assert!(hash.starts_with("sha256:"));
        assert_eq!(hash.len(), 7 + 64);
        // The SPKI starts with a SEQUENCE and holds the EC public key OID.
        assert_eq!(ca.spki_der()[0], 0x30);
        let again = ClusterCa::from_pem(ca.cert_pem(), ca.key_pem().expose()).unwrap();
        assert_eq!(again.ca_cert_hash(), hash);
        assert_eq!(again.key_algorithm(), "ECDSA-P256");
    }

    #[test]
    fn mismatched_key_is_rejected_without_quoting_it() {
        let a = ClusterCa::generate(CaAlgorithm::EcdsaP256).unwrap();
        let b = ClusterCa::generate(CaAlgorithm::EcdsaP256).unwrap();
        let err = ClusterCa::from_pem(a.cert_pem(), b.key_pem().expose()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("ca key_pem"), "{msg}");
        assert!(!msg.contains("PRIVATE KEY"), "{msg}");
        let err = ClusterCa::from_pem("garbage", b.key_pem().expose()).unwrap_err();
        assert!(err.to_string().contains("ca cert_pem"));
    }

    #[test]
    fn der_walker_rejects_truncation() {
        assert!(der_tlv(&[0x30, 0x05, 0x01]).is_err());
        assert!(der_tlv(&[]).is_err());
        assert!(spki_of_certificate(&[0x30, 0x00]).is_err());
    }
}
