//! The RPC signature "version 1.0" (HMAC-SHA1) of ECS, VPC, SLB, NAS and ROS.
//!
//! All parameters (query and form body alike) except `Signature` are sorted by name,
//! byte-wise; names and values are percent-encoded ([`super::percent_encode`]) and joined as
//! `k=v` with `&`; the string to sign is `METHOD&%2F&` followed by that query encoded once
//! more; the signature is the Base64 HMAC-SHA1 of it under `AccessKeySecret + "&"`.

use iac_core::Secret;

use hmac::{Hmac, Mac};

use super::{AccessKey, base64, push_encoded};

/// A parameter to sign, with the first eight bytes of its name as a big-endian number:
/// sorting by (head, name, value) is the byte-wise order, and the head decides most
/// comparisons without a call to memcmp.
type Entry<'a> = (u64, &'a [u8], &'a [u8]);

fn entry<'a>(name: &'a str, value: &'a str) -> Entry<'a> {
    let mut head = [0u8; 8];
    let n = name.len().min(8);
    head[..n].copy_from_slice(&name.as_bytes()[..n]);
    (u64::from_be_bytes(head), name.as_bytes(), value.as_bytes())
}

/// The parameters to sign, without `Signature`, sorted byte-wise by name (then value).
fn sorted<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> Vec<Entry<'_>> {
    let mut entries: Vec<Entry<'_>> = params
        .iter()
        .filter(|(k, _)| k.as_ref() != "Signature")
        .map(|(k, v)| entry(k.as_ref(), v.as_ref()))
        .collect();
    entries.sort_unstable();
    entries
}

/// The canonical query (`k=v&...`, encoded once) and the string to sign
/// (`METHOD&%2F&` and the same query encoded twice) of sorted entries, in one pass.
fn encode(method: &str, entries: &[Entry<'_>]) -> (Vec<u8>, Vec<u8>) {
    let size: usize = entries.iter().map(|(_, k, v)| k.len() + v.len() + 2).sum();
    let mut query = Vec::with_capacity(size + size / 2 + 40);
    let mut to_sign = Vec::with_capacity(method.len() + 5 + size * 2);
    to_sign.extend(method.bytes().map(|b| b.to_ascii_uppercase()));
    to_sign.extend_from_slice(b"&%2F&");
    for (i, (_, k, v)) in entries.iter().enumerate() {
        if i > 0 {
            query.push(b'&');
            to_sign.extend_from_slice(b"%26");
        }
        push_encoded_twice(&mut query, &mut to_sign, k);
        query.push(b'=');
        to_sign.extend_from_slice(b"%3D");
        push_encoded_twice(&mut query, &mut to_sign, v);
    }
    (query, to_sign)
}

/// Appends `text` encoded once to `once` and encoded twice to `twice`: runs of unreserved
/// bytes go to both whole; any other byte is `%XX` in the first and `%25XX` in the second.
fn push_encoded_twice(once: &mut Vec<u8>, twice: &mut Vec<u8>, text: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut rest = text;
    loop {
        let run = rest
            .iter()
            .position(|&b| !super::is_unreserved(b))
            .unwrap_or(rest.len());
        once.extend_from_slice(&rest[..run]);
        twice.extend_from_slice(&rest[..run]);
        let Some((&b, tail)) = rest[run..].split_first() else {
            return;
        };
        let hex = [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0F)]];
        once.push(b'%');
        once.extend_from_slice(&hex);
        twice.extend_from_slice(b"%25");
        twice.extend_from_slice(&hex);
        rest = tail;
    }
}

fn ascii(bytes: Vec<u8>) -> String {
    // Only ASCII is ever pushed: every other byte is percent-encoded.
    String::from_utf8(bytes).expect("percent-encoded text is ASCII")
}

/// The canonical query string: sorted, encoded `k=v` pairs joined with `&`.
pub fn canonical_query<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> String {
    ascii(encode("", &sorted(params)).0)
}

/// The string to sign: `METHOD&%2F&<the canonical query, encoded once more>`.
pub fn string_to_sign<K: AsRef<str>, V: AsRef<str>>(method: &str, params: &[(K, V)]) -> String {
    ascii(encode(method, &sorted(params)).1)
}

/// The Base64 HMAC-SHA1 of a string to sign, keyed with `AccessKeySecret + "&"`.
fn signature(to_sign: &[u8], secret: &Secret) -> String {
    let mut key = Vec::with_capacity(secret.expose().len() + 1);
    key.extend_from_slice(secret.expose().as_bytes());
    key.push(b'&');
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&key).expect("HMAC accepts any key length");
    mac.update(to_sign);
    base64(&mac.finalize().into_bytes())
}

/// The signature of `params` (Base64, not yet percent-encoded).
pub fn sign<K: AsRef<str>, V: AsRef<str>>(
    method: &str,
    params: &[(K, V)],
    secret: &Secret,
) -> String {
    signature(&encode(method, &sorted(params)).1, secret)
}

/// A request ready to send: every parameter including `Signature`, encoded.
#[derive(Clone, PartialEq)]
pub struct SignedRequest {
    /// The HTTP method the signature is for.
    pub method: String,
    /// `k=v&...`, sorted, percent-encoded, `Signature` last: the query string of a `GET` or
    /// the `application/x-www-form-urlencoded` body of a `POST`.
    pub encoded: String,
    /// The signature (Base64).
    pub signature: String,
}

impl std::fmt::Debug for SignedRequest {
    // The encoded parameters may hold an STS token: show the method and signature only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedRequest")
            .field("method", &self.method)
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}

/// What makes an RPC call, before signing.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcCall<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// The action (`RunInstances`).
    pub action: &'a str,
    /// The API version (`2014-05-26`).
    pub version: &'a str,
    /// The region, sent as `RegionId` unless `params` has one.
    pub region: Option<&'a str>,
    /// The action's own parameters, flattened (see [`flatten_list`], [`flatten_objects`]).
    pub params: Vec<(String, String)>,
}

/// Adds the common parameters (`Format=JSON`, the signature method and version, the access
/// key id, the nonce and the timestamp, `RegionId`, `SecurityToken` for STS keys) and signs.
/// `nonce` must be unique per request (a UUID) and `timestamp` UTC `yyyy-MM-ddTHH:mm:ssZ`.
pub fn sign_call(
    call: &RpcCall<'_>,
    key: &AccessKey,
    nonce: &str,
    timestamp: &str,
) -> SignedRequest {
    let mut pairs: Vec<Entry<'_>> = Vec::with_capacity(call.params.len() + 10);
    pairs.extend(
        [
            ("Action", call.action),
            ("Version", call.version),
            ("Format", "JSON"),
            ("AccessKeyId", key.id.as_str()),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("SignatureNonce", nonce),
            ("Timestamp", timestamp),
        ]
        .map(|(k, v)| entry(k, v)),
    );
    if let Some(region) = call.region
        && !call.params.iter().any(|(k, _)| k == "RegionId")
    {
        pairs.push(entry("RegionId", region));
    }
    if let Some(token) = &key.security_token {
        pairs.push(entry("SecurityToken", token.expose()));
    }
    pairs.extend(
        call.params
            .iter()
            .filter(|(k, _)| k != "Signature")
            .map(|(k, v)| entry(k, v)),
    );
    pairs.sort_unstable();
    let method = call.method.to_ascii_uppercase();
    let (mut encoded, to_sign) = encode(&method, &pairs);
    let signature = signature(&to_sign, &key.secret);
    encoded.extend_from_slice(b"&Signature=");
    push_encoded(&mut encoded, signature.as_bytes());
    let encoded = ascii(encoded);
    SignedRequest {
        method,
        encoded,
        signature,
    }
}

/// Decodes `k=v&...` (a query string or form body): `+` is a space, `%XX` a byte. Returns
/// `None` when an escape is malformed or the bytes are not UTF-8.
pub fn decode_form(encoded: &str) -> Option<Vec<(String, String)>> {
    fn unescape(text: &str) -> Option<String> {
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'%' => {
                    let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 3;
                }
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).ok()
    }
    encoded
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            Some((unescape(k)?, unescape(v)?))
        })
        .collect()
}

/// `name.1=a`, `name.2=b`, ...: a repeated-list parameter.
pub fn flatten_list<S: AsRef<str>>(name: &str, items: &[S]) -> Vec<(String, String)> {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("{name}.{}", i + 1), v.as_ref().to_owned()))
        .collect()
}

/// `name.1.Field=a`, ...: a list of objects (`Tag.1.Key`, `Permissions.2.PortRange`).
pub fn flatten_objects(name: &str, items: &[Vec<(&str, String)>]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        for (field, value) in item {
            out.push((format!("{name}.{}.{field}", i + 1), value.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_example_signs() {
        let params: Vec<(String, String)> = [
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Version", "2014-05-26"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(
            sign("GET", &params, &Secret::new("testsecret")),
            "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
        );
    }

    #[test]
    fn calls_get_the_common_parameters_and_a_signature_last() {
        let call = RpcCall {
            method: "POST",
            action: "DeleteInstances",
            version: "2014-05-26",
            region: Some("cn-hangzhou"),
            params: flatten_list("InstanceId", &["i-1", "i-2"]),
        };
        let mut key = AccessKey::new("testid", "testsecret");
        key.security_token = Some(Secret::new("sts-token"));
        let signed = sign_call(&call, &key, "nonce-1", "2016-02-23T12:46:24Z");
        let params = decode_form(&signed.encoded).expect("our own encoding decodes");
        let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names.last(), Some(&"Signature"));
        for expected in [
            "Format",
            "RegionId",
            "SecurityToken",
            "InstanceId.1",
            "InstanceId.2",
            "SignatureNonce",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        assert_eq!(params.last().unwrap().1, sign("POST", &params, &key.secret));
        assert_eq!(params.last().unwrap().1, signed.signature);
        assert!(
            signed
                .encoded
                .contains("Timestamp=2016-02-23T12%3A46%3A24Z")
        );
        assert!(!format!("{signed:?}").contains("sts-token"));
        let tags = flatten_objects("Tag", &[vec![("Key", "a".into()), ("Value", "b".into())]]);
        assert_eq!(
            tags,
            vec![
                ("Tag.1.Key".into(), "a".into()),
                ("Tag.1.Value".into(), "b".into())
            ]
        );
    }
}
