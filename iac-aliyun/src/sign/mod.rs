//! Request signing, as pure functions: time, nonces and dates are arguments.
//!
//! - [`rpc`]: the RPC signature "version 1.0" (HMAC-SHA1) of ECS, VPC, SLB, NAS and ROS;
//! - [`acs3`]: the V3 header signature `ACS3-HMAC-SHA256`;
//! - [`oss`]: the OSS V1 header signature (`Authorization: OSS <id>:<signature>`).
//!
//! Each is checked against the vendor's test vectors (`tests/sign_vectors.rs`) and, in CI,
//! against the official SDKs on random requests (`tests/sign_differential.rs`).

pub mod acs3;
pub mod oss;
pub mod rpc;

use std::fmt;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use iac_core::Secret;

/// An access key: the id names it, the secret signs with it.
#[derive(Clone, PartialEq)]
pub struct AccessKey {
    /// The access key id.
    pub id: String,
    /// The access key secret.
    pub secret: Secret,
    /// The STS security token, for temporary credentials.
    pub security_token: Option<Secret>,
}

impl AccessKey {
    /// A long-term access key.
    pub fn new(id: impl Into<String>, secret: impl Into<Secret>) -> Self {
        AccessKey {
            id: id.into(),
            secret: secret.into(),
            security_token: None,
        }
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("secret", &self.secret)
            .field("security_token", &self.security_token)
            .finish()
    }
}

/// Percent-encodes as the signatures want: UTF-8 bytes, `A-Za-z0-9-_.~` kept, every other
/// byte `%XX` in upper case (so a space is `%20` and `*` is `%2A`).
pub fn percent_encode(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len() + text.len() / 2);
    push_encoded(&mut out, text.as_bytes());
    // Only ASCII was pushed: every other byte became `%XX`.
    String::from_utf8(out).expect("percent-encoded text is ASCII")
}

/// Whether a byte stays as it is in the signatures' percent-encoding.
const fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

const UNRESERVED: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = unreserved(i as u8);
        i += 1;
    }
    table
};

/// Whether a byte stays as it is (table lookup).
pub(crate) fn is_unreserved(b: u8) -> bool {
    UNRESERVED[usize::from(b)]
}

/// Appends `text` percent-encoded: every reserved byte as `%XX` in upper case; runs of
/// unreserved bytes are copied whole.
pub(crate) fn push_encoded(out: &mut Vec<u8>, text: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut rest = text;
    loop {
        let run = rest
            .iter()
            .position(|&b| !UNRESERVED[usize::from(b)])
            .unwrap_or(rest.len());
        out.extend_from_slice(&rest[..run]);
        let Some((&b, tail)) = rest[run..].split_first() else {
            return;
        };
        out.push(b'%');
        out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0F)]]);
        rest = tail;
    }
}

pub(crate) fn hmac_sha1(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

pub(crate) fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(percent_encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(
            percent_encode("a b*c/d:e+f=g&h"),
            "a%20b%2Ac%2Fd%3Ae%2Bf%3Dg%26h"
        );
        assert_eq!(percent_encode("张"), "%E5%BC%A0");
        assert_eq!(percent_encode(""), "");
    }

    #[test]
    fn access_keys_never_print_their_secret() {
        let key = AccessKey {
            security_token: Some(Secret::new("tok-123")),
            ..AccessKey::new("LTAIid", "sec-123")
        };
        let shown = format!("{key:?} {key:#?}");
        assert!(
            shown.contains("LTAIid") && !shown.contains("sec-123") && !shown.contains("tok-123"),
            "{shown}"
        );
    }
}
