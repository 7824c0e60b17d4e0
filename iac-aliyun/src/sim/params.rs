//! Request parameters, the cloud's errors, and the small helpers the services share: ids,
//! CIDR blocks, tags, paging.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use rand::Rng;
use serde_json::{Value, json};

/// An error answer: HTTP status, code and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CloudError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl CloudError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        CloudError {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// 400 `MissingParameter`, naming the parameter.
    pub fn missing(name: &str) -> Self {
        Self::new(
            400,
            "MissingParameter",
            format!(
                "The input parameter \"{name}\" that is mandatory for processing this request is not supplied."
            ),
        )
    }

    /// 400 `InvalidParameter`, naming the parameter.
    pub fn invalid(name: &str, why: &str) -> Self {
        Self::new(
            400,
            "InvalidParameter",
            format!("The specified parameter \"{name}\" is not valid: {why}."),
        )
    }

    /// A 400 with a specific code, naming the parameter.
    pub fn bad(code: &str, name: &str, why: &str) -> Self {
        Self::new(
            400,
            code,
            format!("The specified parameter \"{name}\" is not valid: {why}."),
        )
    }

    /// A 404 `<code>` for an object that does not exist.
    pub fn not_found(code: &str, what: &str, id: &str) -> Self {
        Self::new(
            404,
            code,
            format!("The specified {what} \"{id}\" does not exist."),
        )
    }
}

pub(crate) type Res<T> = Result<T, CloudError>;

/// Parameters that sign or route a request, not part of what it asks for.
const COMMON: &[&str] = &[
    "AccessKeyId",
    "Action",
    "Format",
    "Signature",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureType",
    "SignatureVersion",
    "SecurityToken",
    "Timestamp",
    "Version",
];

/// The parameters of an RPC request, query and form body merged.
#[derive(Clone, Debug, Default)]
pub(crate) struct Params(pub Vec<(String, String)>);

impl Params {
    /// The first value of `name`; an empty value counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`, or `""`.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").to_owned()
    }

    /// The value of a required parameter, or 400 `MissingParameter`.
    pub fn required(&self, name: &str) -> Res<&str> {
        self.get(name).ok_or_else(|| CloudError::missing(name))
    }

    /// `name` parsed, `None` when absent, 400 `InvalidParameter` when it does not parse.
    pub fn parse<T: FromStr>(&self, name: &str) -> Res<Option<T>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| CloudError::invalid(name, &format!("\"{v}\" is malformed"))),
        }
    }

    /// An integer in `min..=max`, `default` when absent.
    pub fn int_in(&self, name: &str, default: i64, min: i64, max: i64) -> Res<i64> {
        let value = self.parse::<i64>(name)?.unwrap_or(default);
        if value < min || value > max {
            return Err(CloudError::invalid(
                name,
                &format!("{value} is not between {min} and {max}"),
            ));
        }
        Ok(value)
    }

    /// `true`/`false` in any case.
    pub fn boolean(&self, name: &str) -> Res<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(CloudError::invalid(
                name,
                &format!("\"{v}\" is not true or false"),
            )),
        }
    }

    /// `prefix.1`, `prefix.2`, ... in index order.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        let mut items: Vec<(u32, String)> = self
            .0
            .iter()
            .filter_map(|(k, v)| {
                let n = k.strip_prefix(prefix)?.strip_prefix('.')?.parse().ok()?;
                (!v.is_empty()).then(|| (n, v.clone()))
            })
            .collect();
        items.sort();
        items.into_iter().map(|(_, v)| v).collect()
    }

    /// `prefix.N.Field` grouped by N, in index order.
    pub fn objects(&self, prefix: &str) -> Vec<(u32, BTreeMap<String, String>)> {
        let mut out: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
        for (k, v) in &self.0 {
            let Some(rest) = k.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) else {
                continue;
            };
            let Some((n, field)) = rest.split_once('.') else {
                continue;
            };
            let Ok(n) = n.parse::<u32>() else { continue };
            out.entry(n)
                .or_default()
                .insert(field.to_owned(), v.clone());
        }
        out.into_iter().collect()
    }

    /// `Tag.N.Key` / `Tag.N.Value` pairs (N from 1 to 20).
    pub fn tags(&self) -> Res<Vec<(String, String)>> {
        let mut tags = Vec::new();
        for (n, fields) in self.objects("Tag") {
            if !(1..=20).contains(&n) {
                return Err(CloudError::bad(
                    "InvalidTagKey.Malformed",
                    &format!("Tag.{n}.Key"),
                    "N must be between 1 and 20",
                ));
            }
            let key = fields.get("Key").cloned().unwrap_or_default();
            if key.is_empty() {
                return Err(CloudError::missing(&format!("Tag.{n}.Key")));
            }
            let value = fields.get("Value").cloned().unwrap_or_default();
            tags.retain(|(k, _): &(String, String)| *k != key);
            tags.push((key, value));
        }
        Ok(tags)
    }

    /// What the request asks for, without the common parameters: what a `ClientToken`
    /// replay must match.
    pub fn fingerprint(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .0
            .iter()
            .filter(|(k, _)| !COMMON.contains(&k.as_str()))
            .cloned()
            .collect();
        out.sort();
        out
    }
}

/// True when every filter tag is on the object (an empty filter value matches any value).
pub(crate) fn tags_match(tags: &[(String, String)], filter: &[(String, String)]) -> bool {
    filter.iter().all(|(fk, fv)| {
        tags.iter()
            .any(|(k, v)| k == fk && (fv.is_empty() || v == fv))
    })
}

/// Tags as VPC and NAS show them: `{"Tag":[{"Key","Value"}]}`.
pub(crate) fn tags_kv(tags: &[(String, String)]) -> Value {
    json!({"Tag": tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>()})
}

/// Tags as ECS and SLB show them: `{"Tag":[{"TagKey","TagValue"}]}`.
pub(crate) fn tags_ecs(tags: &[(String, String)]) -> Value {
    json!({"Tag": tags.iter().map(|(k, v)| json!({"TagKey": k, "TagValue": v})).collect::<Vec<_>>()})
}

/// One page by `PageNumber` (from 1) and `PageSize` (default 10, at most `max`): the items,
/// the page number and the page size.
pub(crate) fn page<T>(items: Vec<T>, p: &Params, max: i64) -> Res<(Vec<T>, i64, i64)> {
    let number = p.int_in("PageNumber", 1, 1, i64::from(u32::MAX))?;
    let size = p.int_in("PageSize", 10, 1, max)?;
    let skip = usize::try_from((number - 1).saturating_mul(size)).unwrap_or(usize::MAX);
    let take = usize::try_from(size).unwrap_or(usize::MAX);
    Ok((
        items.into_iter().skip(skip).take(take).collect(),
        number,
        size,
    ))
}

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// `prefix` followed by 20 lower-case alphanumerics.
pub(crate) fn new_id(prefix: &str) -> String {
    let mut rng = rand::thread_rng();
    let tail: String = (0..20)
        .map(|_| char::from(ALNUM[rng.gen_range(0..ALNUM.len())]))
        .collect();
    format!("{prefix}{tail}")
}

/// `n` lower-case hex characters.
pub(crate) fn new_hex(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)]))
        .collect()
}

/// `n` lower-case letters.
pub(crate) fn new_lower(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
        .collect()
}

/// A request id: an upper-case UUID.
pub(crate) fn new_request_id() -> String {
    let mut rng = rand::thread_rng();
    let hex: String = (0..32)
        .map(|_| char::from(b"0123456789ABCDEF"[rng.gen_range(0..16)]))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The wall-clock time as VPC shows creation times: `2024-01-02T03:04:05Z`.
pub(crate) fn wall_time() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// An IPv4 CIDR block, the address aligned to the mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cidr {
    pub addr: u32,
    pub mask: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n` with the host bits zero.
    pub fn parse(text: &str) -> Option<Cidr> {
        let (ip, mask) = text.trim().split_once('/')?;
        let ip: Ipv4Addr = ip.parse().ok()?;
        let mask: u8 = mask.parse().ok()?;
        if mask > 32 {
            return None;
        }
        let addr = u32::from(ip);
        let cidr = Cidr { addr, mask };
        (addr & cidr.netmask() == addr).then_some(cidr)
    }

    pub fn netmask(self) -> u32 {
        if self.mask == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.mask))
        }
    }

    /// True when `other` lies entirely inside this block.
    pub fn contains(self, other: Cidr) -> bool {
        other.mask >= self.mask && other.addr & self.netmask() == self.addr
    }

    pub fn overlaps(self, other: Cidr) -> bool {
        self.contains(other) || other.contains(self)
    }

    /// How many addresses the block holds.
    pub fn size(self) -> u64 {
        1u64 << (32 - u32::from(self.mask))
    }

    /// The address at `offset` from the start of the block.
    pub fn host(self, offset: u32) -> Ipv4Addr {
        Ipv4Addr::from(self.addr.wrapping_add(offset))
    }
}

impl serde::Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Cidr::parse(&text).ok_or_else(|| {
            <D::Error as serde::de::Error>::custom(format!("\"{text}\" is not an IPv4 CIDR block"))
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.addr), self.mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_blocks_parse_contain_and_overlap() {
        let vpc = Cidr::parse("172.16.0.0/12").unwrap();
        let a = Cidr::parse("172.16.1.0/24").unwrap();
        let b = Cidr::parse("172.16.0.0/16").unwrap();
        assert!(vpc.contains(a) && b.contains(a) && a.overlaps(b));
        assert!(!vpc.contains(Cidr::parse("10.0.0.0/24").unwrap()));
        assert_eq!(Cidr::parse("172.16.0.1/12"), None);
        assert_eq!(Cidr::parse("172.16.0.0/33"), None);
        assert_eq!(Cidr::parse("nope"), None);
        assert_eq!(a.host(1).to_string(), "172.16.1.1");
        assert_eq!(a.size(), 256);
        assert_eq!(a.to_string(), "172.16.1.0/24");
    }

    #[test]
    fn params_read_lists_objects_and_tags() {
        let p = Params(
            [
                ("InstanceId.2", "b"),
                ("InstanceId.1", "a"),
                ("Tag.1.Key", "env"),
                ("Tag.1.Value", "prod"),
                ("Tag.2.Key", "team"),
                ("Empty", ""),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        );
        assert_eq!(p.list("InstanceId"), vec!["a", "b"]);
        assert_eq!(p.get("Empty"), None);
        assert_eq!(
            p.tags().unwrap(),
            vec![
                ("env".into(), "prod".into()),
                ("team".into(), String::new())
            ]
        );
        assert_eq!(p.required("Nope").unwrap_err().code, "MissingParameter");
        assert!(tags_match(
            &p.tags().unwrap(),
            &[("env".into(), "prod".into())]
        ));
        assert!(!tags_match(
            &p.tags().unwrap(),
            &[("env".into(), "dev".into())]
        ));
    }
}
