//! The OpenStack client: Keystone authentication with a token cache, endpoint selection from
//! the catalog, microversions, error decoding and lazy paginated lists.
//!
//! One [`Client`] holds a [`CloudConfig`], an HTTP connection pool (reqwest, rustls) and the
//! current token. A token is fetched on the first call and reused until less than
//! [`ClientOptions::min_validity`] of its life remains; a call that gets a 401 (a revoked
//! token) re-authenticates once and is sent again. Calls are not retried otherwise: the
//! engine owns retries, from the [`ErrorKind`](iac_core::provider::ErrorKind) of each
//! [`ApiError`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use futures::TryStreamExt;
//! use iac_openstack::client::Client;
//!
//! let client = Client::from_env()?; // OS_CLOUD + clouds.yaml, or OS_* variables
//! let networks: Vec<_> = client.network().list_networks(&[]).try_collect().await?;
//! println!("{} networks", networks.len());
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::auth::{self, Token};
use crate::config::CloudConfig;
use crate::error::{ApiError, parse_retry_after};

/// An OpenStack service, as the catalog types it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Service {
    /// Keystone (`identity`).
    Identity,
    /// Nova (`compute`).
    Compute,
    /// Neutron (`network`).
    Network,
    /// Glance (`image`).
    Image,
    /// Cinder (`block-storage`, or the older `volumev3`).
    BlockStorage,
    /// Heat (`orchestration`).
    Orchestration,
}

impl Service {
    /// The catalog types that serve it, in order of preference.
    pub fn catalog_types(&self) -> &'static [&'static str] {
        match self {
            Service::Identity => &["identity"],
            Service::Compute => &["compute"],
            Service::Network => &["network"],
            Service::Image => &["image"],
            Service::BlockStorage => &["block-storage", "volumev3"],
            Service::Orchestration => &["orchestration"],
        }
    }

    /// A short name for messages and rate-limit keys.
    pub fn name(&self) -> &'static str {
        match self {
            Service::Identity => "identity",
            Service::Compute => "compute",
            Service::Network => "network",
            Service::Image => "image",
            Service::BlockStorage => "volume",
            Service::Orchestration => "orchestration",
        }
    }

    /// The version path some catalogs leave out of the URL (Neutron and Glance register
    /// their root): added unless the URL already ends with it.
    fn version_suffix(&self) -> Option<&'static str> {
        match self {
            Service::Network => Some("/v2.0"),
            Service::Image => Some("/v2"),
            Service::Identity => Some("/v3"),
            _ => None,
        }
    }
}

/// Tunables of a [`Client`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClientOptions {
    /// Timeout of one HTTP exchange.
    pub timeout: Duration,
    /// Re-authenticate when less than this remains of the token's life (10 minutes, as
    /// the OpenStack client libraries do).
    pub min_validity: Duration,
    /// The compute microversion wanted; the client sends the highest the server supports
    /// up to it (negotiated once from the compute root document).
    pub compute_microversion: (u32, u32),
    /// The block-storage microversion sent (`OpenStack-API-Version: volume 3.x`).
    pub volume_microversion: (u32, u32),
    /// Keep idle connections for reuse (on by default; tests in paused time turn it off).
    pub pool_connections: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(60),
            min_validity: Duration::from_secs(600),
            compute_microversion: (2, 100),
            volume_microversion: (3, 60),
            pool_connections: true,
        }
    }
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    /// No body.
    Empty,
    /// JSON.
    Json(Value),
    /// Raw bytes with their content type (a Glance upload, a JSON patch).
    Bytes(Vec<u8>, &'static str),
}

/// An answer that is not an error.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (`null` for an empty body).
    pub fn json(&self) -> Result<Value, String> {
        if self.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|e| format!("the answer is not JSON: {e}"))
    }
}

struct Inner {
    http: reqwest::Client,
    config: CloudConfig,
    options: ClientOptions,
    token: tokio::sync::Mutex<Option<Arc<Token>>>,
    auth_count: AtomicU64,
    call_count: AtomicU64,
    compute_version: tokio::sync::OnceCell<String>,
}

/// The OpenStack client. Cheap to clone: clones share the token and the connection pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .field("options", &self.inner.options)
            .finish()
    }
}

/// What went wrong building a client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The configuration is incomplete or wrong.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

impl Client {
    /// A client for `config` with default options.
    pub fn new(config: CloudConfig) -> Result<Client, ClientError> {
        Self::with_options(config, ClientOptions::default())
    }

    /// A client for `config`.
    pub fn with_options(
        config: CloudConfig,
        options: ClientOptions,
    ) -> Result<Client, ClientError> {
        let mut builder = reqwest::Client::builder().timeout(options.timeout);
        if !options.pool_connections {
            builder = builder.pool_max_idle_per_host(0);
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::Http(e.to_string()))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                config,
                options,
                token: tokio::sync::Mutex::new(None),
                auth_count: AtomicU64::new(0),
                call_count: AtomicU64::new(0),
                compute_version: tokio::sync::OnceCell::new(),
            }),
        })
    }

    /// A client for the cloud the environment names (`OS_CLOUD` or `OS_*`).
    pub fn from_env() -> Result<Client, ClientError> {
        Self::new(CloudConfig::from_env()?)
    }

    /// The configuration.
    pub fn config(&self) -> &CloudConfig {
        &self.inner.config
    }

    /// How many times this client (and its clones) authenticated.
    pub fn auth_count(&self) -> u64 {
        self.inner.auth_count.load(Ordering::Relaxed)
    }

    /// How many calls this client (and its clones) sent to the services, retries after a
    /// 401 included and authentication not (that is [`Client::auth_count`]).
    pub fn call_count(&self) -> u64 {
        self.inner.call_count.load(Ordering::Relaxed)
    }

    /// The current token, authenticating if there is none or it is about to expire.
    pub async fn token(&self) -> Result<Arc<Token>, ApiError> {
        let mut slot = self.inner.token.lock().await;
        if let Some(token) = slot.as_ref() {
            let left = token.expires_at - chrono::Utc::now();
            let min = chrono::Duration::from_std(self.inner.options.min_validity)
                .unwrap_or(chrono::Duration::MAX);
            if left > min {
                return Ok(Arc::clone(token));
            }
        }
        let token = Arc::new(self.authenticate().await?);
        *slot = Some(Arc::clone(&token));
        Ok(token)
    }

    /// Forgets `token` (when it is still the current one), so the next call authenticates.
    async fn forget(&self, token: &Arc<Token>) {
        let mut slot = self.inner.token.lock().await;
        if slot.as_ref().is_some_and(|t| Arc::ptr_eq(t, token)) {
            *slot = None;
        }
    }

    async fn authenticate(&self) -> Result<Token, ApiError> {
        let url = auth::token_url(&self.inner.config.auth_url);
        let call = "POST /v3/auth/tokens";
        let body = auth::request_body(&self.inner.config.auth);
        let response = self
            .inner
            .http
            .post(&url)
            .json(&body)
            .send()
            .await
            .map_err(|e| ApiError::local("identity", call, "Transport", transport(&e, &url)))?;
        self.inner.auth_count.fetch_add(1, Ordering::Relaxed);
        let status = response.status();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .map_err(|e| ApiError::local("identity", call, "Transport", e.to_string()))?;
        if !status.is_success() {
            return Err(decode_error("identity", call, status, &headers, &text));
        }
        let subject = headers
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::local("identity", call, "Decode", "no X-Subject-Token header")
            })?;
        Token::parse(subject, &text).map_err(|m| ApiError::local("identity", call, "Decode", m))
    }

    /// The base URL of a service: its catalog endpoint, with the version path added for
    /// services that register their root.
    pub async fn endpoint(&self, service: Service) -> Result<String, ApiError> {
        let token = self.token().await?;
        self.endpoint_of(&token, service)
    }

    fn endpoint_of(&self, token: &Token, service: Service) -> Result<String, ApiError> {
        let config = &self.inner.config;
        let url = token
            .catalog
            .endpoint(
                service.catalog_types(),
                config.interface,
                config.region.as_deref(),
            )
            .map_err(|m| ApiError::local(service.name(), "catalog", "EndpointNotFound", m))?;
        let url = url.trim_end_matches('/');
        Ok(match service.version_suffix() {
            Some(suffix) if !url.ends_with(suffix) => format!("{url}{suffix}"),
            _ => url.to_owned(),
        })
    }

    /// The compute microversion in use: the highest the server supports up to the one
    /// asked for (negotiated once).
    pub async fn compute_microversion(&self) -> Result<String, ApiError> {
        self.inner
            .compute_version
            .get_or_try_init(|| async {
                let root = self.endpoint(Service::Compute).await?;
                let answer = self
                    .raw(Service::Compute, Method::GET, &root, Body::Empty, &[])
                    .await?;
                let doc = answer
                    .json()
                    .map_err(|m| ApiError::local("compute", "GET /", "Decode", m))?;
                let max = doc
                    .pointer("/version/version")
                    .and_then(Value::as_str)
                    .and_then(parse_version);
                let (want_major, want_minor) = self.inner.options.compute_microversion;
                Ok(match max {
                    Some((major, minor)) if (major, minor) < (want_major, want_minor) => {
                        format!("{major}.{minor}")
                    }
                    // No microversions announced: the base version.
                    None => "2.1".to_owned(),
                    Some(_) => format!("{want_major}.{want_minor}"),
                })
            })
            .await
            .cloned()
    }

    async fn version_headers(
        &self,
        service: Service,
    ) -> Result<Vec<(&'static str, String)>, ApiError> {
        Ok(match service {
            Service::Compute => {
                let v = self.compute_microversion().await?;
                vec![
                    ("OpenStack-API-Version", format!("compute {v}")),
                    ("X-OpenStack-Nova-API-Version", v),
                ]
            }
            Service::BlockStorage => {
                let (major, minor) = self.inner.options.volume_microversion;
                vec![("OpenStack-API-Version", format!("volume {major}.{minor}"))]
            }
            _ => Vec::new(),
        })
    }

    /// Sends one call to `service`. `path` is relative to the service's base URL
    /// (`/networks`) or absolute (a pagination link). A 401 re-authenticates once; other
    /// error statuses come back decoded.
    pub async fn send(
        &self,
        service: Service,
        method: Method,
        path: &str,
        body: Body,
    ) -> Result<Answer, ApiError> {
        let headers = self.version_headers(service).await?;
        self.raw(service, method, path, body, &headers).await
    }

    async fn raw(
        &self,
        service: Service,
        method: Method,
        path: &str,
        body: Body,
        extra_headers: &[(&'static str, String)],
    ) -> Result<Answer, ApiError> {
        let mut reauthenticated = false;
        loop {
            let token = self.token().await?;
            let url = if path.starts_with("http://") || path.starts_with("https://") {
                path.to_owned()
            } else {
                format!("{}{path}", self.endpoint_of(&token, service)?)
            };
            let call = format!("{method} {}", call_path(&url));
            let mut request = self
                .inner
                .http
                .request(method.clone(), &url)
                .header("X-Auth-Token", token.value.expose())
                .header("Accept", "application/json");
            for (name, value) in extra_headers {
                request = request.header(*name, value);
            }
            request = match &body {
                Body::Empty => request,
                Body::Json(v) => request.json(v),
                Body::Bytes(bytes, content_type) => request
                    .header(CONTENT_TYPE, HeaderValue::from_static(content_type))
                    .body(bytes.clone()),
            };
            self.inner.call_count.fetch_add(1, Ordering::Relaxed);
            let response = request.send().await.map_err(|e| {
                ApiError::local(service.name(), &call, "Transport", transport(&e, &url))
            })?;
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response
                .bytes()
                .await
                .map_err(|e| ApiError::local(service.name(), &call, "Transport", e.to_string()))?;
            if status == StatusCode::UNAUTHORIZED && !reauthenticated {
                // Revoked or expired early: authenticate again, once.
                tracing::debug!(service = service.name(), call, "401: re-authenticating");
                self.forget(&token).await;
                reauthenticated = true;
                continue;
            }
            if !status.is_success() {
                let text = String::from_utf8_lossy(&bytes);
                return Err(decode_error(service.name(), &call, status, &headers, &text));
            }
            return Ok(Answer {
                status: status.as_u16(),
                headers,
                body: bytes.to_vec(),
            });
        }
    }

    /// Revokes `token` at Keystone's `url` (`.../v3/auth/tokens`).
    pub(crate) async fn revoke(&self, url: &str, token: &iac_core::Secret) -> Result<(), ApiError> {
        let header = [("X-Subject-Token", token.expose().to_owned())];
        self.raw(Service::Identity, Method::DELETE, url, Body::Empty, &header)
            .await
            .map(drop)
    }

    /// Sends a call and decodes the JSON answer; with `key`, the object under that key
    /// (`{"network": {...}}`).
    pub async fn call<T: DeserializeOwned>(
        &self,
        service: Service,
        method: Method,
        path: &str,
        body: Body,
        key: Option<&str>,
    ) -> Result<T, ApiError> {
        let call = format!("{method} {path}");
        let answer = self.send(service, method, path, body).await?;
        let mut value = answer
            .json()
            .map_err(|m| ApiError::local(service.name(), &call, "Decode", m))?;
        if let Some(key) = key {
            value = value.get_mut(key).map(Value::take).ok_or_else(|| {
                ApiError::local(
                    service.name(),
                    &call,
                    "Decode",
                    format!("no '{key}' in the answer"),
                )
            })?;
        }
        serde_json::from_value(value).map_err(|e| {
            ApiError::local(
                service.name(),
                &call,
                "Decode",
                format!("unexpected answer: {e}"),
            )
        })
    }

    /// `DELETE path`; an object already gone (404) is success.
    pub async fn delete(&self, service: Service, path: &str) -> Result<(), ApiError> {
        match self.send(service, Method::DELETE, path, Body::Empty).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A lazy list: the items under `key` of `path` with `query`, page after page, each
    /// page fetched when the stream reaches it. Follows `<key>_links` (`rel: next`), Glance's
    /// `next` and Keystone's `links.next`.
    pub fn list<T: DeserializeOwned + Send + 'static>(
        &self,
        service: Service,
        path: &str,
        key: &str,
        query: &[(&str, &str)],
    ) -> BoxStream<'static, Result<T, ApiError>> {
        let first = if query.is_empty() {
            path.to_owned()
        } else {
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect();
            format!("{path}?{}", q.join("&"))
        };
        let client = self.clone();
        let key = key.to_owned();
        stream::try_unfold(Some(first), move |next| {
            let client = client.clone();
            let key = key.clone();
            async move {
                let Some(path) = next else {
                    return Ok(None);
                };
                let call = format!("GET {path}");
                let answer = client
                    .send(service, Method::GET, &path, Body::Empty)
                    .await?;
                let body = answer
                    .json()
                    .map_err(|m| ApiError::local(service.name(), &call, "Decode", m))?;
                let items: Vec<T> = serde_json::from_value(
                    body.get(&key).cloned().unwrap_or(Value::Array(Vec::new())),
                )
                .map_err(|e| {
                    ApiError::local(service.name(), &call, "Decode", format!("'{key}': {e}"))
                })?;
                let next = if items.is_empty() {
                    None
                } else {
                    let base = client.endpoint(service).await?;
                    next_link(&body, &key)
                        .map(|link| absolute(&base, service.version_suffix(), &link))
                };
                Ok(Some((stream::iter(items.into_iter().map(Ok)), next)))
            }
        })
        .map(|page: Result<_, ApiError>| match page {
            Ok(items) => items.left_stream(),
            Err(e) => stream::once(async { Err(e) }).right_stream(),
        })
        .flatten()
        .boxed()
    }
}

/// The next-page link of a list answer, in any of the services' shapes.
fn next_link(body: &Value, key: &str) -> Option<String> {
    if let Some(links) = body.get(format!("{key}_links")).and_then(Value::as_array) {
        return links
            .iter()
            .find(|l| l.get("rel").and_then(Value::as_str) == Some("next"))
            .and_then(|l| l.get("href"))
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    if let Some(next) = body.get("next").and_then(Value::as_str) {
        return Some(next.to_owned());
    }
    body.pointer("/links/next")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A link made absolute. Glance sends `/v2/images?marker=`, relative to its root, which
/// may sit under a path prefix (`http://host/image`): a link that starts with the service's
/// version path goes under the endpoint's root, as the OpenStack SDK does; another relative
/// link goes under the origin.
fn absolute(base: &str, suffix: Option<&str>, link: &str) -> String {
    if link.starts_with("http://") || link.starts_with("https://") {
        return link.to_owned();
    }
    if let Some(suffix) = suffix
        && let Some(root) = base.strip_suffix(suffix)
        && link.starts_with(&format!("{suffix}/"))
    {
        return format!("{root}{link}");
    }
    match url::Url::parse(base).and_then(|b| b.join(link)) {
        Ok(url) => url.to_string(),
        Err(_) => link.to_owned(),
    }
}

/// The path and query of a URL, for messages.
fn call_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/", |i| &rest[i..])
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn parse_version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn transport(e: &reqwest::Error, url: &str) -> String {
    let mut message = format!("{url}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    message
}

fn decode_error(
    service: &'static str,
    call: &str,
    status: StatusCode,
    headers: &HeaderMap,
    text: &str,
) -> ApiError {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let request_id = header("x-openstack-request-id")
        .or_else(|| header("x-compute-request-id"))
        .map(str::to_owned);
    let retry_after = header("retry-after").and_then(parse_retry_after);
    ApiError::decode(
        service,
        call,
        status.as_u16(),
        text,
        request_id,
        retry_after,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn next_links_of_each_service() {
        let neutron = json!({"networks": [{}], "networks_links": [
            {"rel": "previous", "href": "http://n/v2.0/networks?marker=a&page_reverse=True"},
            {"rel": "next", "href": "http://n/v2.0/networks?limit=1&marker=b"}]});
        assert_eq!(
            next_link(&neutron, "networks").as_deref(),
            Some("http://n/v2.0/networks?limit=1&marker=b")
        );
        let glance = json!({"images": [{}], "next": "/v2/images?limit=1&marker=c"});
        let link = next_link(&glance, "images").unwrap();
        assert_eq!(
            absolute("http://g:9292/v2", Some("/v2"), &link),
            "http://g:9292/v2/images?limit=1&marker=c"
        );
        assert_eq!(
            absolute("http://h/image/v2", Some("/v2"), &link),
            "http://h/image/v2/images?limit=1&marker=c"
        );
        assert_eq!(absolute("http://h/x/v2", None, "/y"), "http://h/y");
        let keystone = json!({"projects": [], "links": {"next": null, "self": "x"}});
        assert_eq!(next_link(&keystone, "projects"), None);
        assert_eq!(call_path("http://h:1/v2.0/ports?x=1"), "/v2.0/ports?x=1");
        assert_eq!(parse_version("2.104"), Some((2, 104)));
    }
}
