//! OSS, path style: `/<bucket>` and `/<bucket>/<key>`, signed with the OSS V1 header
//! signature, answered in XML.
//!
//! Choices: every access key belongs to one account, which owns every bucket; anonymous
//! requests get 403 `AccessDenied`; the service root (ListBuckets) and unknown
//! sub-resources get 501 `NotImplemented`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use base64::Engine as _;
use md5::{Digest, Md5};

use super::params::{CloudError, Res};
use super::state::{Bucket, Object, State};
use crate::sign::{oss, rpc};

/// Sub-resources that take part in the signature.
const SUB_RESOURCES: &[&str] = &[
    "acl",
    "bucketInfo",
    "cors",
    "delete",
    "encryption",
    "lifecycle",
    "location",
    "logging",
    "objectMeta",
    "partNumber",
    "policy",
    "referer",
    "stat",
    "tagging",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// How far the `Date` may be from the wall clock.
const MAX_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

/// An authenticated OSS request.
pub(crate) struct OssRequest {
    action: &'static str,
    bucket: String,
    key: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl OssRequest {
    /// The action name the call counts use (`PutBucket`, `GetObject`, ...).
    pub fn action(&self) -> &'static str {
        self.action
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A successful OSS answer.
pub(crate) struct OssAnswer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl OssAnswer {
    fn empty(status: u16) -> Self {
        OssAnswer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn xml(body: String) -> Self {
        OssAnswer {
            status: 200,
            headers: vec![("content-type", "application/xml".to_owned())],
            body: body.into_bytes(),
        }
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn denied(code: &str, message: &str) -> CloudError {
    CloudError::new(403, code, message)
}

/// Checks the signature and the date, and names the action.
pub(crate) fn authenticate(
    state: &mut State,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Res<OssRequest> {
    let invalid_uri = || CloudError::new(400, "InvalidURI", "The request URI is not valid.");
    let path = percent_decode(uri.path().trim_start_matches('/')).ok_or_else(invalid_uri)?;
    let (bucket, key) = match path.split_once('/') {
        Some((b, k)) => (b.to_owned(), k.to_owned()),
        None => (path.clone(), String::new()),
    };
    let query = rpc::decode_form(uri.query().unwrap_or("")).ok_or_else(invalid_uri)?;
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let Some(authorization) = find("authorization") else {
        return Err(denied(
            "AccessDenied",
            "Anonymous access is forbidden for this operation.",
        ));
    };
    let Some((key_id, signature)) = authorization
        .strip_prefix("OSS ")
        .and_then(|a| a.trim().split_once(':'))
    else {
        return Err(CloudError::new(
            400,
            "InvalidArgument",
            "Authorization header is invalid.",
        ));
    };
    let Some(date) = find("x-oss-date").or_else(|| find("date")) else {
        return Err(denied(
            "AccessDenied",
            "You have no right to access this object because the Date header is missing.",
        ));
    };
    let sent = httpdate::parse_http_date(date).map_err(|_| {
        denied(
            "AccessDenied",
            &format!("The Date header \"{date}\" is not a valid HTTP date."),
        )
    })?;
    let sent: chrono::DateTime<chrono::Utc> = sent.into();
    if (chrono::Utc::now() - sent).abs() > MAX_SKEW {
        return Err(denied(
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        ));
    }
    let Some(access_key) = state.keys.iter().find(|k| k.id == key_id).cloned() else {
        return Err(denied(
            "InvalidAccessKeyId",
            "The OSS Access Key Id you provided does not exist in our records.",
        ));
    };
    let subs: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| SUB_RESOURCES.contains(&k.as_str()) || k.starts_with("response-"))
        .cloned()
        .collect();
    let signed = oss::sign(method.as_str(), &bucket, &key, &headers, &subs, &access_key);
    if signed.signature != signature {
        return Err(denied(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        ));
    }
    let has = |name: &str| query.iter().any(|(k, _)| k == name);
    let action = match (method.as_str(), bucket.is_empty(), key.is_empty()) {
        (_, true, _) => None,
        ("PUT", false, true) if has("acl") => Some("PutBucketAcl"),
        ("GET", false, true) if has("acl") => Some("GetBucketAcl"),
        ("GET", false, true) if has("bucketInfo") => Some("GetBucketInfo"),
        ("PUT", false, true) if has("tagging") => Some("PutBucketTags"),
        ("GET", false, true) if has("tagging") => Some("GetBucketTags"),
        (_, false, true) if subs.iter().any(|(k, _)| k != "acl") => None,
        ("PUT", false, true) => Some("PutBucket"),
        ("DELETE", false, true) => Some("DeleteBucket"),
        ("GET", false, true) => Some("ListObjects"),
        (_, false, false) if !subs.is_empty() => None,
        ("PUT", false, false) => Some("PutObject"),
        ("GET", false, false) => Some("GetObject"),
        ("HEAD", false, false) => Some("HeadObject"),
        ("DELETE", false, false) => Some("DeleteObject"),
        _ => None,
    };
    let Some(action) = action else {
        return Err(CloudError::new(
            501,
            "NotImplemented",
            "The simulator does not implement this OSS operation.",
        ));
    };
    Ok(OssRequest {
        action,
        bucket,
        key,
        query,
        headers,
        body: body.clone(),
    })
}

/// The tags of a `<Tagging><TagSet><Tag><Key/><Value/></Tag>…</TagSet></Tagging>` body: at
/// most 20, keys 1–128 characters, unique.
fn tags_from_xml(body: &[u8]) -> Res<Vec<(String, String)>> {
    let malformed = |why: &str| {
        CloudError::new(
            400,
            "MalformedXML",
            format!("The XML you provided was not well-formed: {why}."),
        )
    };
    let text = std::str::from_utf8(body).map_err(|_| malformed("not UTF-8"))?;
    let field = |part: &str, tag: &str| -> Option<String> {
        let start = part.find(&format!("<{tag}>"))? + tag.len() + 2;
        let end = part[start..].find(&format!("</{tag}>"))? + start;
        Some(xml_unescape(&part[start..end]))
    };
    if !text.contains("<Tagging>") {
        return Err(malformed("no Tagging element"));
    }
    let mut tags: Vec<(String, String)> = Vec::new();
    for part in text.split("<Tag>").skip(1) {
        let key = field(part, "Key").ok_or_else(|| malformed("a Tag without a Key"))?;
        let value = field(part, "Value").unwrap_or_default();
        if key.is_empty() || key.chars().count() > 128 {
            return Err(CloudError::new(
                400,
                "InvalidTag",
                format!("The tag key \"{key}\" must be 1 to 128 characters."),
            ));
        }
        if tags.iter().any(|(k, _)| *k == key) {
            return Err(CloudError::new(
                400,
                "InvalidTag",
                format!("The tag key \"{key}\" is given twice."),
            ));
        }
        tags.push((key, value));
    }
    if tags.len() > 20 {
        return Err(CloudError::new(
            400,
            "InvalidTag",
            "A bucket has at most 20 tags.",
        ));
    }
    Ok(tags)
}

fn xml_unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn acl_from(req: &OssRequest, default: Option<&str>) -> Res<String> {
    match req.header("x-oss-acl").or(default) {
        Some(acl @ ("private" | "public-read" | "public-read-write")) => Ok(acl.to_owned()),
        Some(other) => Err(CloudError::new(
            400,
            "InvalidArgument",
            format!("The x-oss-acl header \"{other}\" is not valid."),
        )),
        None => Err(CloudError::new(
            400,
            "InvalidArgument",
            "The x-oss-acl header is missing.",
        )),
    }
}

fn no_such_bucket(name: &str) -> CloudError {
    CloudError::new(
        404,
        "NoSuchBucket",
        format!("The specified bucket \"{name}\" does not exist."),
    )
}

/// Escapes text for an XML element or attribute.
pub(crate) fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const XML_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
const OWNER: &str =
    "<Owner><ID>1000000000000000</ID><DisplayName>1000000000000000</DisplayName></Owner>";

/// Performs an authenticated OSS request.
pub(crate) fn perform(state: &mut State, req: &OssRequest) -> Res<OssAnswer> {
    let region = state.region.clone();
    let name = req.bucket.as_str();
    if req.action == "PutBucket" {
        if !valid_bucket_name(name) {
            return Err(CloudError::new(
                400,
                "InvalidBucketName",
                format!("The specified bucket \"{name}\" is not valid."),
            ));
        }
        let acl = acl_from(req, Some("private"))?;
        if !state.buckets.iter().any(|b| b.name == name) {
            state.buckets.push(Bucket {
                name: name.to_owned(),
                acl,
                tags: Vec::new(),
                objects: BTreeMap::new(),
                creation_date: chrono::Utc::now()
                    .format("%Y-%m-%dT%H:%M:%S.000Z")
                    .to_string(),
            });
        }
        let mut answer = OssAnswer::empty(200);
        answer.headers.push(("location", format!("/{name}")));
        return Ok(answer);
    }
    let index = state
        .buckets
        .iter()
        .position(|b| b.name == name)
        .ok_or_else(|| no_such_bucket(name))?;
    let bucket = &mut state.buckets[index];
    match req.action {
        "DeleteBucket" => {
            if !bucket.objects.is_empty() {
                return Err(CloudError::new(
                    409,
                    "BucketNotEmpty",
                    "The bucket you tried to delete is not empty.",
                ));
            }
            state.buckets.remove(index);
            Ok(OssAnswer::empty(204))
        }
        "GetBucketAcl" => Ok(OssAnswer::xml(format!(
            "{XML_HEAD}<AccessControlPolicy>{OWNER}<AccessControlList><Grant>{}</Grant></AccessControlList></AccessControlPolicy>",
            bucket.acl
        ))),
        "PutBucketAcl" => {
            bucket.acl = acl_from(req, None)?;
            Ok(OssAnswer::empty(200))
        }
        "PutBucketTags" => {
            bucket.tags = tags_from_xml(&req.body)?;
            Ok(OssAnswer::empty(200))
        }
        "GetBucketTags" => {
            let tags: String = bucket
                .tags
                .iter()
                .map(|(k, v)| {
                    format!(
                        "<Tag><Key>{}</Key><Value>{}</Value></Tag>",
                        xml_escape(k),
                        xml_escape(v)
                    )
                })
                .collect();
            Ok(OssAnswer::xml(format!(
                "{XML_HEAD}<Tagging><TagSet>{tags}</TagSet></Tagging>"
            )))
        }
        "GetBucketInfo" => Ok(OssAnswer::xml(format!(
            "{XML_HEAD}<BucketInfo><Bucket><CreationDate>{}</CreationDate><ExtranetEndpoint>oss-{region}.aliyuncs.com</ExtranetEndpoint><IntranetEndpoint>oss-{region}-internal.aliyuncs.com</IntranetEndpoint><Location>oss-{region}</Location><Name>{}</Name><StorageClass>Standard</StorageClass>{OWNER}<AccessControlList><Grant>{}</Grant></AccessControlList></Bucket></BucketInfo>",
            bucket.creation_date,
            xml_escape(&bucket.name),
            bucket.acl
        ))),
        "ListObjects" => {
            let prefix = req
                .query
                .iter()
                .find(|(k, _)| k == "prefix")
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            let mut xml = format!(
                "{XML_HEAD}<ListBucketResult><Name>{}</Name><Prefix>{}</Prefix><Marker></Marker><MaxKeys>1000</MaxKeys><Delimiter></Delimiter><IsTruncated>false</IsTruncated>",
                xml_escape(&bucket.name),
                xml_escape(prefix)
            );
            for (key, object) in bucket.objects.range(prefix.to_owned()..) {
                if !key.starts_with(prefix) {
                    break;
                }
                xml.push_str(&format!(
                    "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>{}</ETag><Type>Normal</Type><Size>{}</Size><StorageClass>Standard</StorageClass>{OWNER}</Contents>",
                    xml_escape(key),
                    object.last_modified,
                    xml_escape(&object.etag),
                    object.data.len()
                ));
            }
            xml.push_str("</ListBucketResult>");
            Ok(OssAnswer::xml(xml))
        }
        "PutObject" => {
            let digest = Md5::digest(&req.body);
            if let Some(given) = req.header("content-md5") {
                let decoded = base64::engine::general_purpose::STANDARD.decode(given.trim());
                if decoded.ok().as_deref() != Some(digest.as_slice()) {
                    return Err(CloudError::new(
                        400,
                        "InvalidDigest",
                        "The Content-MD5 you specified is not valid.",
                    ));
                }
            }
            let etag = format!("\"{}\"", hex::encode_upper(digest));
            bucket.objects.insert(
                req.key.clone(),
                Object {
                    data: req.body.to_vec(),
                    content_type: req
                        .header("content-type")
                        .unwrap_or("application/octet-stream")
                        .to_owned(),
                    etag: etag.clone(),
                    last_modified: httpdate::fmt_http_date(std::time::SystemTime::now()),
                },
            );
            let mut answer = OssAnswer::empty(200);
            answer.headers.push(("etag", etag));
            answer.headers.push((
                "content-md5",
                base64::engine::general_purpose::STANDARD.encode(digest),
            ));
            Ok(answer)
        }
        "GetObject" | "HeadObject" => {
            let object = bucket.objects.get(&req.key).ok_or_else(|| {
                CloudError::new(404, "NoSuchKey", "The specified key does not exist.")
            })?;
            let mut answer = OssAnswer::empty(200);
            answer
                .headers
                .push(("content-type", object.content_type.clone()));
            answer.headers.push(("etag", object.etag.clone()));
            answer
                .headers
                .push(("last-modified", object.last_modified.clone()));
            if req.action == "GetObject" {
                answer.body = object.data.clone();
            } else {
                answer
                    .headers
                    .push(("content-length", object.data.len().to_string()));
            }
            Ok(answer)
        }
        "DeleteObject" => {
            bucket.objects.remove(&req.key);
            Ok(OssAnswer::empty(204))
        }
        _ => Err(CloudError::new(
            501,
            "NotImplemented",
            "The simulator does not implement this OSS operation.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_the_rules() {
        assert!(valid_bucket_name("my-bucket-1"));
        for bad in ["ab", "-abc", "abc-", "ABC", "a_b_c", &"a".repeat(64)] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }
}
