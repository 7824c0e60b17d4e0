//! The OSS V1 header signature: `Authorization: OSS <AccessKeyId>:<signature>`.
//!
//! `StringToSign = VERB \n Content-MD5 \n Content-Type \n Date \n` + the `x-oss-*` headers
//! (lower-cased, sorted, `name:value\n` each) + the resource: `/bucket/key` (`/bucket/` for
//! a bucket, `/` for the service) and `?` with the sub-resources sorted and joined by `&`
//! (`acl`, `uploadId=…`; an empty value gives the key alone). The signature is the Base64
//! HMAC-SHA1 under the access key secret (no `&` appended, unlike RPC).

use super::{AccessKey, base64, hmac_sha1};

/// The parts of a signed OSS request.
#[derive(Debug, Clone, PartialEq)]
pub struct Signed {
    /// The string that was signed.
    pub string_to_sign: String,
    /// The Base64 signature.
    pub signature: String,
    /// The `Authorization` header value.
    pub authorization: String,
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// The canonical resource of a bucket and key with sub-resources.
pub fn canonical_resource(bucket: &str, key: &str, sub_resources: &[(String, String)]) -> String {
    let mut out = if bucket.is_empty() {
        "/".to_owned()
    } else {
        format!("/{bucket}/{key}")
    };
    if !sub_resources.is_empty() {
        let mut subs: Vec<&(String, String)> = sub_resources.iter().collect();
        subs.sort();
        out.push('?');
        let parts: Vec<String> = subs
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        out.push_str(&parts.join("&"));
    }
    out
}

/// Signs an OSS request; `headers` must hold the `Date` header that is sent.
pub fn sign(
    method: &str,
    bucket: &str,
    key: &str,
    headers: &[(String, String)],
    sub_resources: &[(String, String)],
    access_key: &AccessKey,
) -> Signed {
    let mut oss_headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned()))
        .filter(|(k, _)| k.starts_with("x-oss-"))
        .collect();
    oss_headers.sort();
    let mut string_to_sign = format!(
        "{}\n{}\n{}\n{}\n",
        method.to_ascii_uppercase(),
        header(headers, "content-md5"),
        header(headers, "content-type"),
        header(headers, "date")
    );
    for (k, v) in &oss_headers {
        string_to_sign.push_str(k);
        string_to_sign.push(':');
        string_to_sign.push_str(v);
        string_to_sign.push('\n');
    }
    string_to_sign.push_str(&canonical_resource(bucket, key, sub_resources));
    let signature = base64(&hmac_sha1(
        access_key.secret.expose().as_bytes(),
        string_to_sign.as_bytes(),
    ));
    let authorization = format!("OSS {}:{signature}", access_key.id);
    Signed {
        string_to_sign,
        signature,
        authorization,
    }
}
