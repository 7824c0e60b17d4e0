//! API errors: the vendor's error body, decoded, and what the engine should do about it.
//!
//! An RPC error answers with a JSON body
//! `{"RequestId", "HostId", "Code", "Message", "Recommend"}` and an HTTP status; OSS answers
//! with XML `<Error><Code/><Message/><RequestId/><HostId/></Error>`. The classification
//! follows the vendor's documented codes: throttling is retried after slowing down; service
//! unavailability, internal errors and 5xx are transient; busy and conflicting states are
//! conflicts retried later; idempotency mismatches, bad parameters and signature or
//! permission errors are never retried.

use std::fmt;

use iac_core::provider::{ErrorKind, HandlerError};
use serde::Deserialize;

/// An error the Alibaba Cloud API answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The vendor's code (`InvalidVSwitchId.NotFound`, `Throttling.User`).
    pub code: String,
    /// The vendor's message.
    pub message: String,
    /// The request id, for support.
    pub request_id: Option<String>,
    /// The HTTP status.
    pub http_status: u16,
    /// The action that failed (`RunInstances`), when known.
    pub action: Option<String>,
}

#[derive(Deserialize)]
struct RpcBody {
    #[serde(alias = "code")]
    #[serde(rename = "Code")]
    code: Option<String>,
    #[serde(alias = "message")]
    #[serde(rename = "Message")]
    message: Option<String>,
    #[serde(alias = "requestId")]
    #[serde(rename = "RequestId")]
    request_id: Option<String>,
}

/// Text between `<tag>` and `</tag>` in a small XML document.
pub(crate) fn xml_field<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    let start = body.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(&body[start..end])
}

impl ApiError {
    /// Decodes an error answer. A body that is neither the JSON nor the XML error shape
    /// still gives an error, named by its HTTP status, with the start of the body.
    pub fn decode(http_status: u16, body: &str, action: Option<&str>) -> Self {
        let action = action.map(str::to_owned);
        if let Ok(rpc) = serde_json::from_str::<RpcBody>(body)
            && let Some(code) = rpc.code
        {
            return ApiError {
                code,
                message: rpc.message.unwrap_or_default(),
                request_id: rpc.request_id,
                http_status,
                action,
            };
        }
        if let Some(code) = xml_field(body, "Code") {
            return ApiError {
                code: code.to_owned(),
                message: xml_field(body, "Message").unwrap_or_default().to_owned(),
                request_id: xml_field(body, "RequestId").map(str::to_owned),
                http_status,
                action,
            };
        }
        let snippet: String = body.chars().take(200).collect();
        ApiError {
            code: format!("Http{http_status}"),
            message: snippet,
            request_id: None,
            http_status,
            action,
        }
    }

    /// An error of the connection itself: no HTTP answer was read (refused, reset, timed
    /// out, dropped mid-answer). Its code is `Transport` and its HTTP status 0; it is
    /// transient, and whether the action happened is unknown.
    pub fn transport(action: Option<&str>, message: impl Into<String>) -> Self {
        ApiError {
            code: "Transport".to_owned(),
            message: message.into(),
            request_id: None,
            http_status: 0,
            action: action.map(str::to_owned),
        }
    }

    /// Whether the cloud said the object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }

    /// What the engine should do about this error.
    pub fn kind(&self) -> ErrorKind {
        classify(&self.code, self.http_status)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(action) = &self.action {
            write!(f, "{action}: ")?;
        }
        write!(
            f,
            "{} (HTTP {}): {}",
            self.code, self.http_status, self.message
        )?;
        if let Some(id) = &self.request_id {
            write!(f, " [RequestId {id}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl From<ApiError> for HandlerError {
    fn from(e: ApiError) -> Self {
        HandlerError::new(e.kind(), e.to_string())
    }
}

/// The engine's reading of a vendor error code and HTTP status.
pub fn classify(code: &str, http_status: u16) -> ErrorKind {
    const NEVER: &[&str] = &[
        "IdempotentParameterMismatch",
        "InvalidIdempotenceParameter.Mismatch",
    ];
    // The request's authentication was refused: a reused nonce, a malformed signature or a
    // timestamp too far from the cloud's clock (a skewed local clock) cannot be fixed by
    // sending the same request again, and they are the credentials' or the host's problem.
    const AUTH: &[&str] = &["SignatureNonceUsed", "IncompleteSignature"];
    const TRANSIENT: &[&str] = &[
        "ServiceUnavailable",
        "InternalError",
        "UnknownError",
        "SystemBusy",
        "OperationBusy",
        "ServiceIsStopping",
        "BackendServer.configuring",
        "ServiceIsConfiguring",
        "LastTokenProcessing",
    ];
    const CONFLICT: &[&str] = &[
        "OperationConflict",
        "IncorrectInstanceStatus",
        "IncorrectDiskStatus",
        "TaskConflict",
        "InvalidOperation.Conflict",
    ];
    if NEVER.contains(&code) {
        return ErrorKind::Invalid;
    }
    if AUTH.contains(&code) || code.starts_with("InvalidTimeStamp") {
        return ErrorKind::Auth;
    }
    if http_status == 0 {
        // No answer at all: the connection failed or dropped (see `ApiError::transport`).
        return ErrorKind::Transient;
    }
    if code.starts_with("Incorrect") && code.ends_with("Status") && !CONFLICT.contains(&code) {
        // `IncorrectVpcStatus`, `IncorrectVSwitchStatus`: the object is still settling.
        return ErrorKind::NotReady;
    }
    if code.starts_with("Throttling") || code == "Rejected.Throttling" {
        return ErrorKind::Throttled { retry_after: None };
    }
    if code.starts_with("SignatureDoesNotMatch")
        || code.starts_with("InvalidAccessKeyId")
        || code.starts_with("Forbidden")
        || code == "InvalidSecurityToken.Expired"
    {
        return ErrorKind::Auth;
    }
    if TRANSIENT
        .iter()
        .any(|c| code == *c || code.starts_with(&format!("{c}.")))
    {
        return ErrorKind::Transient;
    }
    if CONFLICT.contains(&code) || code.starts_with("DependencyViolation") {
        return ErrorKind::Conflict;
    }
    if code.ends_with(".NotFound") || code.starts_with("NoSuch") || code == "StackNotFound" {
        return ErrorKind::NotFound;
    }
    if code.starts_with("InvalidParameter")
        || code.starts_with("MissingParameter")
        || code.starts_with("Invalid")
    {
        return ErrorKind::Invalid;
    }
    match http_status {
        500 | 502 | 503 | 504 => ErrorKind::Transient,
        401 | 403 => ErrorKind::Auth,
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        400..=499 => ErrorKind::Invalid,
        _ => ErrorKind::Permanent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_codes_are_classified() {
        let cases: &[(&str, u16, ErrorKind)] = &[
            (
                "Throttling",
                400,
                ErrorKind::Throttled { retry_after: None },
            ),
            (
                "Throttling.User",
                400,
                ErrorKind::Throttled { retry_after: None },
            ),
            (
                "Rejected.Throttling",
                400,
                ErrorKind::Throttled { retry_after: None },
            ),
            ("ServiceUnavailable", 503, ErrorKind::Transient),
            (
                "ServiceUnavailable.RegionMaintaining",
                503,
                ErrorKind::Transient,
            ),
            ("InternalError", 500, ErrorKind::Transient),
            ("UnknownError", 400, ErrorKind::Transient),
            ("SystemBusy", 400, ErrorKind::Transient),
            ("LastTokenProcessing", 403, ErrorKind::Transient),
            ("OperationConflict", 409, ErrorKind::Conflict),
            ("IncorrectInstanceStatus", 403, ErrorKind::Conflict),
            ("TaskConflict", 400, ErrorKind::Conflict),
            ("DependencyViolation.VSwitch", 400, ErrorKind::Conflict),
            ("IdempotentParameterMismatch", 400, ErrorKind::Invalid),
            (
                "InvalidIdempotenceParameter.Mismatch",
                403,
                ErrorKind::Invalid,
            ),
            ("SignatureNonceUsed", 400, ErrorKind::Auth),
            ("IncompleteSignature", 400, ErrorKind::Auth),
            ("InvalidTimeStamp.Expired", 400, ErrorKind::Auth),
            ("InvalidTimeStamp.Format", 400, ErrorKind::Auth),
            ("SignatureDoesNotMatch", 400, ErrorKind::Auth),
            ("InvalidAccessKeyId.NotFound", 404, ErrorKind::Auth),
            ("Forbidden.RAM", 403, ErrorKind::Auth),
            ("InvalidParameter.CidrBlock", 400, ErrorKind::Invalid),
            ("InvalidInstanceId.NotFound", 404, ErrorKind::NotFound),
            ("NoSuchBucket", 404, ErrorKind::NotFound),
            ("Http502", 502, ErrorKind::Transient),
            ("QuotaExceeded.Something", 400, ErrorKind::Invalid),
        ];
        for (code, status, kind) in cases {
            assert_eq!(classify(code, *status), *kind, "{code} ({status})");
        }
    }

    #[test]
    fn rpc_oss_and_unknown_bodies_decode() {
        let rpc = r#"{"RequestId":"4C4A-1","HostId":"ecs.ap-southeast-3.aliyuncs.com","Code":"InvalidImageId.NotFound","Message":"The specified ImageId does not exist.","Recommend":"https://api.alibabacloud.com/troubleshoot"}"#;
        let e = ApiError::decode(404, rpc, Some("RunInstances"));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(
            e.to_string(),
            "RunInstances: InvalidImageId.NotFound (HTTP 404): The specified ImageId does not exist. [RequestId 4C4A-1]"
        );
        let lower = ApiError::decode(
            400,
            r#"{"code":"Throttling.User","message":"slow down","requestId":"r2"}"#,
            None,
        );
        assert_eq!(
            (lower.code.as_str(), lower.request_id.as_deref()),
            ("Throttling.User", Some("r2"))
        );
        let oss = "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist.</Message><RequestId>5C3D</RequestId><HostId>b.oss-cn-hangzhou.aliyuncs.com</HostId></Error>";
        let e = ApiError::decode(404, oss, None);
        assert_eq!(
            (e.code.as_str(), e.request_id.as_deref(), e.kind()),
            ("NoSuchBucket", Some("5C3D"), ErrorKind::NotFound)
        );
        let html = ApiError::decode(502, "<html>Bad Gateway</html>", Some("DescribeInstances"));
        assert_eq!(
            (html.code.as_str(), html.kind()),
            ("Http502", ErrorKind::Transient)
        );
        let handler: HandlerError = html.into();
        assert_eq!(handler.kind, ErrorKind::Transient);
        assert!(handler.message.contains("DescribeInstances"));
    }
}
