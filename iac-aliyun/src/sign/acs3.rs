//! The V3 header signature `ACS3-HMAC-SHA256`.
//!
//! `CanonicalRequest = METHOD \n PATH \n sorted query (encoded once) \n` one
//! `name:value\n` line per signed header (lower-cased names, sorted) `\n SignedHeaders \n
//! HashedPayload`; the string to sign is `ACS3-HMAC-SHA256 \n hex(SHA-256(CanonicalRequest))`
//! and the signature the hex HMAC-SHA256 of it under the access key secret. Signed headers
//! are `host`, `content-type` and every `x-acs-*` header.

use sha2::{Digest, Sha256};

use super::{AccessKey, hmac_sha256, percent_encode};

/// The algorithm name.
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// Hex SHA-256 of a body: the `x-acs-content-sha256` header.
pub fn hashed_payload(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The parts of a signed V3 request.
#[derive(Debug, Clone, PartialEq)]
pub struct Signed {
    /// The canonical request that was hashed.
    pub canonical_request: String,
    /// The string that was signed.
    pub string_to_sign: String,
    /// `;`-joined names of the signed headers.
    pub signed_headers: String,
    /// The hex signature.
    pub signature: String,
    /// The `Authorization` header value.
    pub authorization: String,
}

fn is_signed(name: &str) -> bool {
    name == "host" || name == "content-type" || name.starts_with("x-acs-")
}

/// Signs a request. `headers` are the headers as sent (any case; `x-acs-date`,
/// `x-acs-signature-nonce` and `x-acs-content-sha256` included), `hashed` the payload hash.
pub fn sign(
    method: &str,
    pathname: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    hashed: &str,
    key: &AccessKey,
) -> Signed {
    let mut sorted_query: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    sorted_query.sort();
    let canonical_query = sorted_query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut signed: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned()))
        .filter(|(k, _)| is_signed(k))
        .collect();
    signed.sort();
    let signed_headers = signed
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let mut canonical_request = format!(
        "{}\n{pathname}\n{canonical_query}\n",
        method.to_ascii_uppercase()
    );
    for (k, v) in &signed {
        canonical_request.push_str(k);
        canonical_request.push(':');
        canonical_request.push_str(v);
        canonical_request.push('\n');
    }
    canonical_request.push('\n');
    canonical_request.push_str(&signed_headers);
    canonical_request.push('\n');
    canonical_request.push_str(hashed);
    let string_to_sign = format!(
        "{ALGORITHM}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let signature = hex::encode(hmac_sha256(
        key.secret.expose().as_bytes(),
        string_to_sign.as_bytes(),
    ));
    let authorization = format!(
        "{ALGORITHM} Credential={},SignedHeaders={signed_headers},Signature={signature}",
        key.id
    );
    Signed {
        canonical_request,
        string_to_sign,
        signed_headers,
        signature,
        authorization,
    }
}
