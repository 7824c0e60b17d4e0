//! API errors: each service's error body, decoded, and what the engine should do about it.
//!
//! Every OpenStack service answers errors in its own shape:
//!
//! | service | body |
//! |---|---|
//! | Keystone | `{"error": {"code": 401, "message": "...", "title": "Unauthorized"}}` |
//! | Nova | `{"computeFault": {"code": 406, "message": "..."}}` (also `itemNotFound`, `badRequest`, `overLimit`, ...) |
//! | Neutron | `{"NeutronError": {"type": "NetworkNotFound", "message": "...", "detail": ""}}` |
//! | Cinder | `{"itemNotFound": {"code": 404, "message": "..."}}` like Nova |
//! | Heat | `{"code": 400, "title": "Bad Request", "explanation": "...", "error": {"type": "...", "message": "..."}}` |
//! | Glance | HTML (`<h1>404 Not Found</h1> ...`) |
//!
//! [`ApiError::decode`] reads all of them and falls back to the start of the raw text. The
//! classification is by HTTP status, refined by the service's error type: 413 and 429 are
//! throttling (with the `Retry-After` delay when the service sent one), 409 a conflict
//! retried later, 404 not found, 401 and 403 authentication, 5xx transient, other 4xx
//! invalid. A 401 never reaches the engine before the client has re-authenticated once.

use std::fmt;
use std::time::Duration;

use iac_core::provider::{ErrorKind, HandlerError};
use serde_json::Value;

/// An error an OpenStack service answered with, or a call that got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The service (`network`, `compute`, `identity`, ...).
    pub service: &'static str,
    /// What was called (`POST /v2.0/networks`).
    pub call: Box<str>,
    /// The HTTP status; 0 when no answer was read.
    pub http_status: u16,
    /// The service's error type or title (`NetworkNotFound`, `itemNotFound`, `Conflict`),
    /// or `Http<status>` when the body names none; `Transport`, `EndpointNotFound`,
    /// `Decode` and `Auth` for failures on this side.
    pub code: String,
    /// The service's message.
    pub message: String,
    /// The request id (`x-openstack-request-id`), for the operator's logs.
    pub request_id: Option<Box<str>>,
    /// The delay a 413 or 429 asked for (`Retry-After`, in seconds).
    pub retry_after: Option<Duration>,
}

/// The longest part of a body that is not JSON that an error keeps.
const SNIPPET: usize = 200;

impl ApiError {
    /// Decodes an error answer of `service` to `call`.
    pub fn decode(
        service: &'static str,
        call: &str,
        http_status: u16,
        body: &str,
        request_id: Option<String>,
        retry_after: Option<Duration>,
    ) -> Self {
        let (code, message) = decode_body(body).unwrap_or_else(|| {
            let text = strip_html(body);
            (
                format!("Http{http_status}"),
                text.chars().take(SNIPPET).collect(),
            )
        });
        ApiError {
            service,
            call: call.into(),
            http_status,
            code,
            message,
            request_id: request_id.map(String::into_boxed_str),
            retry_after,
        }
    }

    /// A failure on this side of the wire: `code` names it (`Transport`, `Decode`,
    /// `EndpointNotFound`, `Auth`).
    pub fn local(
        service: &'static str,
        call: &str,
        code: &str,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            service,
            call: call.into(),
            http_status: 0,
            code: code.to_owned(),
            message: message.into(),
            request_id: None,
            retry_after: None,
        }
    }

    /// Whether the service said the object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }

    /// What the engine should do about this error.
    pub fn kind(&self) -> ErrorKind {
        match (self.http_status, self.code.as_str()) {
            (0, "Transport") => ErrorKind::Transient,
            (0, "Auth") => ErrorKind::Auth,
            (0, "EndpointNotFound" | "Config") => ErrorKind::Invalid,
            (0, _) => ErrorKind::Permanent,
            (413 | 429, _) => ErrorKind::Throttled {
                retry_after: self.retry_after,
            },
            (401 | 403, _) => ErrorKind::Auth,
            (404, _) => ErrorKind::NotFound,
            (409, _) => ErrorKind::Conflict,
            // Neutron answers 400 for a port that is still being bound, Cinder for a volume
            // still `creating`: the object is settling.
            (400, "InvalidVolume" | "PortNotUsable") => ErrorKind::NotReady,
            (400..=499, _) => ErrorKind::Invalid,
            (500 | 502 | 503 | 504, _) => ErrorKind::Transient,
            _ => ErrorKind::Permanent,
        }
    }
}

/// The (code, message) of a JSON error body of any of the services, or `None`.
fn decode_body(body: &str) -> Option<(String, String)> {
    let value: Value = serde_json::from_str(body).ok()?;
    let object = value.as_object()?;
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    // Neutron.
    if let Some(e) = object.get("NeutronError") {
        if let Some(message) = e.as_str() {
            return Some(("NeutronError".to_owned(), message.to_owned()));
        }
        return Some((
            text(e.get("type")).unwrap_or_else(|| "NeutronError".to_owned()),
            text(e.get("message")).unwrap_or_default(),
        ));
    }
    // Heat: a top-level explanation, the engine's error type inside.
    if object.contains_key("explanation") {
        let inner = object.get("error");
        let code = text(inner.and_then(|e| e.get("type")))
            .or_else(|| text(object.get("title")))
            .unwrap_or_else(|| "HeatError".to_owned());
        let message = text(inner.and_then(|e| e.get("message")))
            .filter(|m| !m.is_empty())
            .or_else(|| text(object.get("explanation")))
            .unwrap_or_default();
        return Some((code, message));
    }
    // Keystone: {"error": {code, title, message}}.
    if let Some(e) = object.get("error").filter(|e| e.is_object()) {
        return Some((
            text(e.get("title")).unwrap_or_else(|| "Error".to_owned()),
            text(e.get("message")).unwrap_or_default(),
        ));
    }
    // Nova and Cinder: {"<faultName>": {code, message}}.
    if object.len() == 1 {
        let (name, inner) = object.iter().next()?;
        if let Some(message) = text(inner.get("message")) {
            return Some((name.clone(), message));
        }
    }
    // Glance's JSON form and anything else with a message.
    text(object.get("message")).map(|m| ("Error".to_owned(), m))
}

/// The text of an HTML error page (Glance), tags dropped and spaces collapsed.
fn strip_html(body: &str) -> String {
    let mut out = String::with_capacity(body.len().min(4 * SNIPPET));
    let mut in_tag = false;
    let mut last_space = true;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
            }
            _ if in_tag => {}
            c if c.is_whitespace() => {
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
            }
            c => {
                out.push(c);
                last_space = false;
            }
        }
        if out.len() > 4 * SNIPPET {
            break;
        }
    }
    out.trim().to_owned()
}

/// The delay of a `Retry-After` header: seconds, or an HTTP date (counted from now).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.service, self.call, self.code)?;
        if self.http_status != 0 {
            write!(f, " (HTTP {})", self.http_status)?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(after) = self.retry_after {
            write!(f, " (retry after {} s)", after.as_secs())?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request {id}]")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(status: u16, body: &str) -> ApiError {
        ApiError::decode("svc", "GET /x", status, body, Some("req-1".into()), None)
    }

    #[test]
    fn every_service_body_is_decoded() {
        let keystone = decode(
            401,
            r#"{"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}"#,
        );
        assert_eq!(
            (keystone.code.as_str(), keystone.kind()),
            ("Unauthorized", ErrorKind::Auth)
        );
        assert!(keystone.message.starts_with("The request you have made"));
        let nova = decode(
            404,
            r#"{"itemNotFound": {"code": 404, "message": "Instance x could not be found."}}"#,
        );
        assert_eq!(
            (nova.code.as_str(), nova.kind()),
            ("itemNotFound", ErrorKind::NotFound)
        );
        let neutron = decode(
            409,
            r#"{"NeutronError": {"type": "SubnetInUse", "message": "Unable to complete operation on subnet s: One or more ports have an IP allocation from this subnet.", "detail": ""}}"#,
        );
        assert_eq!(
            (neutron.code.as_str(), neutron.kind()),
            ("SubnetInUse", ErrorKind::Conflict)
        );
        let heat = decode(
            400,
            r#"{"code": 400, "title": "Bad Request", "explanation": "The server could not comply with the request since it is either malformed or otherwise incorrect.", "error": {"type": "StackValidationFailed", "traceback": null, "message": "Property error: resources.x.properties: Unknown Property nope"}}"#,
        );
        assert_eq!(heat.code, "StackValidationFailed");
        assert!(heat.message.contains("Unknown Property nope"));
        assert_eq!(heat.kind(), ErrorKind::Invalid);
        let glance = decode(
            415,
            "<html>\n <head>\n  <title>415 Unsupported Media Type</title>\n </head>\n <body>\n  <h1>415 Unsupported Media Type</h1>\n  Image disk_format qcow2 does not match stream data raw<br /><br />\n </body>\n</html>",
        );
        assert_eq!(glance.code, "Http415");
        assert!(
            glance
                .message
                .contains("Image disk_format qcow2 does not match stream data raw"),
            "{}",
            glance.message
        );
        assert!(!glance.message.contains('<'));
        assert_eq!(glance.kind(), ErrorKind::Invalid);
    }

    #[test]
    fn over_limit_carries_retry_after_and_5xx_is_transient() {
        let e = ApiError::decode(
            "compute",
            "POST /servers",
            413,
            r#"{"overLimit": {"code": 413, "message": "Rate limited", "retryAfter": "7"}}"#,
            None,
            parse_retry_after("7"),
        );
        assert_eq!(
            e.kind(),
            ErrorKind::Throttled {
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert!(e.to_string().contains("retry after 7 s"), "{e}");
        assert_eq!(
            decode(429, "").kind(),
            ErrorKind::Throttled { retry_after: None }
        );
        assert_eq!(decode(503, "busy").kind(), ErrorKind::Transient);
        assert_eq!(decode(500, "{}").code, "Http500");
        assert_eq!(
            ApiError::local("network", "GET /", "Transport", "refused").kind(),
            ErrorKind::Transient
        );
        assert_eq!(
            ApiError::local("volume", "GET /", "EndpointNotFound", "none").kind(),
            ErrorKind::Invalid
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn display_names_service_call_status_and_request() {
        let e = decode(
            404,
            r#"{"NeutronError": {"type": "NetworkNotFound", "message": "Network n could not be found.", "detail": ""}}"#,
        );
        assert_eq!(
            e.to_string(),
            "svc GET /x: NetworkNotFound (HTTP 404): Network n could not be found. [request req-1]"
        );
        let handler: HandlerError = e.into();
        assert_eq!(handler.kind, ErrorKind::NotFound);
    }
}
