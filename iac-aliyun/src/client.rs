//! The signed API client: RPC calls to ECS, VPC, SLB, NAS and ROS, and OSS REST calls.
//!
//! One [`Client`] holds the credentials, the region, an HTTP connection pool and the retry
//! policy. Every RPC call is a `POST` of a form body (so large parameters such as
//! `UserData` and `TemplateBody` never meet URL limits) with `Format=JSON`, signed with the
//! RPC V1 signature or, if configured, ACS3. A call that fails in a way the cloud documents
//! as transient is sent again with a fresh nonce, timestamp and signature but the same
//! parameters, `ClientToken` included; a call that changes something and carries no
//! `ClientToken` is only retried when the cloud answered that it did nothing (throttling),
//! because otherwise it might act twice.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use iac_aliyun::client::{Client, ClientConfig, Params};
//! use iac_aliyun::endpoints::Product;
//!
//! let client = Client::from_env()?;
//! let vpcs: serde_json::Value =
//!     client.rpc(Product::Vpc, "DescribeVpcs", Params::new().with("PageSize", "50")).await?;
//! println!("{vpcs}");
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use rand::Rng;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::credentials::{self, CredentialsError, SystemSource};
use crate::endpoints::{self, Network, Product};
use crate::error::{ApiError, xml_field};
use crate::sign::{AccessKey, acs3, oss, percent_encode, rpc};

/// Which signature RPC calls carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SignatureStyle {
    /// RPC signature V1 (`HMAC-SHA1`, `SignatureVersion=1.0`), as every SDK still sends.
    #[default]
    RpcV1,
    /// The newer header signature `ACS3-HMAC-SHA256`.
    Acs3,
}

/// How a client sends calls again after failures the cloud calls transient.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included (1 = never retry).
    pub max_attempts: u32,
    /// The first backoff; doubled per attempt, with full jitter.
    pub base_delay: Duration,
    /// The longest backoff.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// Never retry: the caller (the engine) owns retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    fn delay(&self, attempt: u32) -> Duration {
        let cap = self
            .base_delay
            .saturating_mul(1 << attempt.min(16))
            .min(self.max_delay);
        cap.mul_f64(rand::thread_rng().gen_range(0.0..=1.0))
    }
}

/// What a [`Client`] is built from.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The region every call goes to (`cn-hangzhou`).
    pub region: String,
    /// The access key that signs.
    pub access_key: AccessKey,
    /// Send every product to this base URL (`http://127.0.0.1:8080`) instead of the
    /// cloud's endpoints: for the simulator and tests. OSS is then addressed path-style.
    pub endpoint_override: Option<String>,
    /// Public or VPC-internal endpoints.
    pub network: Network,
    /// The signature of RPC calls.
    pub signature: SignatureStyle,
    /// Timeout of one HTTP exchange.
    pub timeout: Duration,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// Keep idle connections for reuse (on by default). Tests in paused tokio time turn it
    /// off: an idle pool keeps timers that let the paused clock jump while a call is on the
    /// wire.
    pub pool_connections: bool,
}

impl ClientConfig {
    /// A configuration with the defaults: public endpoints, RPC V1 signatures, 30 s per
    /// exchange, 3 attempts.
    pub fn new(region: impl Into<String>, access_key: AccessKey) -> Self {
        ClientConfig {
            region: region.into(),
            access_key,
            endpoint_override: None,
            network: Network::Public,
            signature: SignatureStyle::RpcV1,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            pool_connections: true,
        }
    }

    /// Keeps idle connections for reuse (the default) or not.
    pub fn with_connection_pool(mut self, pool: bool) -> Self {
        self.pool_connections = pool;
        self
    }

    /// Sends every call to `base_url` (the simulator's address).
    pub fn with_endpoint(mut self, base_url: impl Into<String>) -> Self {
        self.endpoint_override = Some(base_url.into().trim_end_matches('/').to_owned());
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the signature style of RPC calls.
    pub fn with_signature(mut self, style: SignatureStyle) -> Self {
        self.signature = style;
        self
    }

    /// Sets the timeout of one HTTP exchange.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The credential chain failed.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// No credentials are configured anywhere.
    #[error(
        "no Alibaba Cloud credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or configure the aliyun CLI"
    )]
    NoCredentials,
    /// No region is configured.
    #[error("no region: set ALIBABA_CLOUD_REGION_ID or the CLI profile's region_id")]
    NoRegion,
    /// The HTTP stack could not start.
    #[error("the HTTP client could not be built: {0}")]
    Http(String),
}

/// A call's own parameters, in order (common parameters are added when it is signed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// No parameters.
    pub fn new() -> Self {
        Params(Vec::new())
    }

    /// Adds a parameter.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.push((name.into(), value.into()));
        self
    }

    /// Adds a parameter when there is a value.
    pub fn with_opt(mut self, name: impl Into<String>, value: Option<impl Into<String>>) -> Self {
        if let Some(value) = value {
            self.0.push((name.into(), value.into()));
        }
        self
    }

    /// Adds `name.1`, `name.2`, ...: a repeated-list parameter.
    pub fn with_list<S: AsRef<str>>(mut self, name: &str, items: &[S]) -> Self {
        self.0.extend(rpc::flatten_list(name, items));
        self
    }

    /// Adds `Tag.N.Key` / `Tag.N.Value` pairs.
    pub fn with_tags(mut self, tags: &[(String, String)]) -> Self {
        for (i, (k, v)) in tags.iter().enumerate() {
            self.0.push((format!("Tag.{}.Key", i + 1), k.clone()));
            self.0.push((format!("Tag.{}.Value", i + 1), v.clone()));
        }
        self
    }

    /// The value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How a list action pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Paging {
    /// `MaxResults` + `NextToken` (ECS `DescribeInstances`).
    NextToken {
        /// Items per page.
        max_results: u32,
    },
    /// `PageNumber` (from 1) + `PageSize`, until `TotalCount` items were seen.
    PageNumber {
        /// Items per page.
        page_size: u32,
    },
}

/// The Alibaba Cloud API client. Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    http: reqwest::Client,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The access key's Debug shows the id and `***` for the secret.
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish()
    }
}

fn is_read(action: &str) -> bool {
    ["Describe", "List", "Get", "Query"]
        .iter()
        .any(|p| action.starts_with(p))
}

/// The current UTC time as the RPC `Timestamp` wants it.
fn timestamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A fresh 128-bit random nonce, hex.
fn nonce() -> String {
    hex::encode(rand::thread_rng().r#gen::<[u8; 16]>())
}

impl Client {
    /// A client for the configuration.
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        let mut builder = reqwest::Client::builder();
        if !config.pool_connections {
            builder = builder.pool_max_idle_per_host(0);
        }
        let http = builder
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("iac-aliyun/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Http(e.to_string()))?;
        Ok(Client {
            inner: Arc::new(Inner { config, http }),
        })
    }

    /// A client from the credential chain (environment, then the aliyun CLI profile).
    pub fn from_env() -> Result<Client, ClientError> {
        let found = credentials::resolve(&SystemSource)?.ok_or(ClientError::NoCredentials)?;
        let region = found.region.clone().ok_or(ClientError::NoRegion)?;
        let key = AccessKey {
            id: found.access_key_id,
            secret: found.access_key_secret,
            security_token: found.security_token,
        };
        Client::new(ClientConfig::new(region, key))
    }

    /// The same client (sharing its connections) with another retry policy. The resource
    /// handlers use `RetryPolicy::none()`: the engine owns retries and rate limits, and a
    /// client that retried throttled calls on its own would hide the throttling from it.
    pub fn with_retry(&self, retry: RetryPolicy) -> Client {
        let mut config = self.inner.config.clone();
        config.retry = retry;
        Client {
            inner: Arc::new(Inner {
                config,
                http: self.inner.http.clone(),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The region calls go to.
    pub fn region(&self) -> &str {
        &self.inner.config.region
    }

    /// The base URL of a product's RPC endpoint.
    fn base_url(&self, product: Product, action: &str) -> Result<String, ApiError> {
        let config = &self.inner.config;
        if let Some(base) = &config.endpoint_override {
            return Ok(base.clone());
        }
        let host = endpoints::endpoint(product, &config.region, config.network)
            .map_err(|e| ApiError::transport(Some(action), e.to_string()))?;
        Ok(format!("https://{host}"))
    }

    /// Calls an RPC action and returns its JSON answer. `RegionId` is added unless given.
    pub async fn rpc(
        &self,
        product: Product,
        action: &str,
        params: Params,
    ) -> Result<Value, ApiError> {
        let base = self.base_url(product, action)?;
        let call = rpc::RpcCall {
            method: "POST",
            action,
            version: product.api_version(),
            region: Some(&self.inner.config.region),
            params: params.0,
        };
        let repeatable = is_read(action) || call.params.iter().any(|(k, _)| k == "ClientToken");
        let retry = &self.inner.config.retry;
        let mut attempt = 0;
        loop {
            let result = self.send_rpc(&base, &call).await;
            attempt += 1;
            let err = match result {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            let kind = err.kind();
            // Throttling means the cloud did nothing; transport and 5xx errors may hide a
            // done action, so they are repeated only when repeating is safe.
            let again = match kind {
                iac_core::provider::ErrorKind::Throttled { .. } => true,
                iac_core::provider::ErrorKind::Transient => repeatable,
                _ => false,
            };
            if !again || attempt >= retry.max_attempts {
                return Err(err);
            }
            tracing::debug!(action, code = %err.code, attempt, "retrying");
            tokio::time::sleep(retry.delay(attempt - 1)).await;
        }
    }

    /// Calls an RPC action and decodes its answer.
    pub async fn call<T: DeserializeOwned>(
        &self,
        product: Product,
        action: &str,
        params: Params,
    ) -> Result<T, ApiError> {
        let value = self.rpc(product, action, params).await?;
        <T as serde::Deserialize>::deserialize(&value).map_err(|e| {
            // Some gateways answer a failure with HTTP 200 and the usual error body: keep
            // the cloud's code rather than reporting a shape mismatch.
            let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
            match (text("Code"), text("Message")) {
                (Some(code), Some(message)) => ApiError {
                    code,
                    message,
                    request_id: text("RequestId"),
                    http_status: 200,
                    action: Some(action.to_owned()),
                },
                _ => ApiError::decode(
                    200,
                    &format!("the answer does not decode: {e}"),
                    Some(action),
                ),
            }
        })
    }

    async fn send_rpc(&self, base: &str, call: &rpc::RpcCall<'_>) -> Result<Value, ApiError> {
        let config = &self.inner.config;
        let key = &config.access_key;
        let url = format!("{base}/");
        let request = match config.signature {
            SignatureStyle::RpcV1 => {
                let signed = rpc::sign_call(call, key, &nonce(), &timestamp());
                self.inner
                    .http
                    .post(&url)
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(signed.encoded)
            }
            SignatureStyle::Acs3 => {
                let mut params: Vec<(String, String)> = Vec::with_capacity(call.params.len() + 1);
                if let Some(region) = call.region
                    && !call.params.iter().any(|(k, _)| k == "RegionId")
                {
                    params.push(("RegionId".into(), region.into()));
                }
                params.extend(call.params.iter().cloned());
                let body = rpc::canonical_query(&params);
                let hashed = acs3::hashed_payload(body.as_bytes());
                let host = url::Url::parse(&url)
                    .ok()
                    .and_then(|u| {
                        u.host_str().map(|h| match u.port() {
                            Some(p) => format!("{h}:{p}"),
                            None => h.to_owned(),
                        })
                    })
                    .unwrap_or_default();
                let mut headers: Vec<(String, String)> = vec![
                    ("host".into(), host),
                    ("x-acs-action".into(), call.action.into()),
                    ("x-acs-version".into(), call.version.into()),
                    ("x-acs-date".into(), timestamp()),
                    ("x-acs-signature-nonce".into(), nonce()),
                    ("x-acs-content-sha256".into(), hashed.clone()),
                    (
                        "content-type".into(),
                        "application/x-www-form-urlencoded".into(),
                    ),
                ];
                if let Some(token) = &key.security_token {
                    headers.push(("x-acs-security-token".into(), token.expose().into()));
                }
                let signed = acs3::sign("POST", "/", &[], &headers, &hashed, key);
                let mut map = HeaderMap::new();
                for (name, value) in headers.iter().filter(|(n, _)| n != "host") {
                    if let (Ok(n), Ok(v)) = (
                        HeaderName::try_from(name.as_str()),
                        HeaderValue::from_str(value),
                    ) {
                        map.insert(n, v);
                    }
                }
                let auth = HeaderValue::from_str(&signed.authorization)
                    .map_err(|e| ApiError::transport(Some(call.action), e.to_string()))?;
                map.insert(AUTHORIZATION, auth);
                map.insert(
                    HeaderName::from_static("x-acs-accept-format"),
                    HeaderValue::from_static("JSON"),
                );
                self.inner.http.post(&url).headers(map).body(body)
            }
        };
        let response = request
            .send()
            .await
            .map_err(|e| ApiError::transport(Some(call.action), describe(&e)))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|e| ApiError::transport(Some(call.action), describe(&e)))?;
        if !(200..300).contains(&status) {
            let err = ApiError::decode(status, &body, Some(call.action));
            tracing::debug!(action = call.action, code = %err.code, request_id = ?err.request_id, "call failed");
            return Err(err);
        }
        serde_json::from_str(&body).map_err(|e| {
            ApiError::decode(
                status,
                &format!(
                    "the answer is not JSON ({e}): {}",
                    body.chars().take(200).collect::<String>()
                ),
                Some(call.action),
            )
        })
    }

    /// Lists every item of a paging action, lazily: pages are fetched as the stream is
    /// read. `items` is the path to the list in an answer (`["Instances", "Instance"]`).
    pub fn list(
        &self,
        product: Product,
        action: &'static str,
        params: Params,
        paging: Paging,
        items: &'static [&'static str],
    ) -> BoxStream<'static, Result<Value, ApiError>> {
        #[derive(Clone)]
        enum Cursor {
            Start,
            Token(String),
            Page(u32, u64),
            Done,
        }
        let client = self.clone();
        stream::try_unfold(Cursor::Start, move |cursor| {
            let client = client.clone();
            let mut params = params.clone();
            async move {
                match (&cursor, paging) {
                    (Cursor::Done, _) => return Ok(None),
                    (_, Paging::NextToken { max_results }) => {
                        params = params.with("MaxResults", max_results.to_string());
                        if let Cursor::Token(token) = &cursor {
                            params = params.with("NextToken", token.clone());
                        }
                    }
                    (_, Paging::PageNumber { page_size }) => {
                        let page = if let Cursor::Page(page, _) = cursor {
                            page
                        } else {
                            1
                        };
                        params = params
                            .with("PageNumber", page.to_string())
                            .with("PageSize", page_size.to_string());
                    }
                }
                let answer = client.rpc(product, action, params).await?;
                let mut list = &answer;
                for key in items {
                    list = list.get(key).unwrap_or(&Value::Null);
                }
                let page: Vec<Value> = list.as_array().cloned().unwrap_or_default();
                let next = match paging {
                    Paging::NextToken { .. } => {
                        match answer.get("NextToken").and_then(Value::as_str) {
                            Some(token) if !token.is_empty() && !page.is_empty() => {
                                Cursor::Token(token.to_owned())
                            }
                            _ => Cursor::Done,
                        }
                    }
                    Paging::PageNumber { .. } => {
                        let (page_no, seen) = if let Cursor::Page(p, s) = cursor {
                            (p, s)
                        } else {
                            (1, 0)
                        };
                        let seen = seen + page.len() as u64;
                        let total = answer
                            .get("TotalCount")
                            .and_then(Value::as_u64)
                            .unwrap_or(0);
                        if page.is_empty() || seen >= total {
                            Cursor::Done
                        } else {
                            Cursor::Page(page_no + 1, seen)
                        }
                    }
                };
                Ok(Some((
                    stream::iter(page.into_iter().map(Ok::<Value, ApiError>)),
                    next,
                )))
            }
        })
        .try_flatten()
        .boxed()
    }

    /// Collects a [`Client::list`] stream.
    pub async fn list_all(
        &self,
        product: Product,
        action: &'static str,
        params: Params,
        paging: Paging,
        items: &'static [&'static str],
    ) -> Result<Vec<Value>, ApiError> {
        self.list(product, action, params, paging, items)
            .try_collect()
            .await
    }

    /// The OSS client of this account and region.
    pub fn oss(&self) -> Oss {
        Oss {
            client: self.clone(),
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A bucket's access control (`x-oss-acl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BucketAcl {
    /// Only the owner.
    #[default]
    Private,
    /// Anyone reads.
    PublicRead,
    /// Anyone reads and writes.
    PublicReadWrite,
}

impl BucketAcl {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            BucketAcl::Private => "private",
            BucketAcl::PublicRead => "public-read",
            BucketAcl::PublicReadWrite => "public-read-write",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "private" => Some(BucketAcl::Private),
            "public-read" => Some(BucketAcl::PublicRead),
            "public-read-write" => Some(BucketAcl::PublicReadWrite),
            _ => None,
        }
    }
}

/// What `GetBucketInfo` says about a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    /// The bucket name.
    pub name: String,
    /// The ACL.
    pub acl: String,
    /// The public endpoint (`oss-cn-hangzhou.aliyuncs.com`).
    pub extranet_endpoint: String,
    /// The VPC-internal endpoint.
    pub intranet_endpoint: String,
}

/// What an OSS call is about: a bucket, an object key (empty for bucket calls) and the
/// sub-resources of the query (`acl`, `bucketInfo`).
#[derive(Clone, Copy)]
struct Target<'a> {
    bucket: &'a str,
    key: &'a str,
    sub: &'a [(String, String)],
}

/// OSS REST calls, signed with the OSS V1 header signature.
#[derive(Debug, Clone)]
pub struct Oss {
    client: Client,
}

impl Oss {
    fn url(&self, bucket: &str, key: &str, query: &str) -> String {
        let config = &self.client.inner.config;
        let path: String = key
            .split('/')
            .map(percent_encode)
            .collect::<Vec<_>>()
            .join("/");
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        match &config.endpoint_override {
            Some(base) if key.is_empty() => format!("{base}/{bucket}{query}"),
            Some(base) => format!("{base}/{bucket}/{path}{query}"),
            None => format!(
                "https://{bucket}.oss-{}.aliyuncs.com/{path}{query}",
                config.region
            ),
        }
    }

    async fn send(
        &self,
        name: &'static str,
        method: reqwest::Method,
        target: Target<'_>,
        mut headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<(u16, String), ApiError> {
        let Target { bucket, key, sub } = target;
        let config = &self.client.inner.config;
        let retry = &config.retry;
        let mut attempt = 0;
        let query: String = sub
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={}", percent_encode(v))
                }
            })
            .collect::<Vec<_>>()
            .join("&");
        if let Some(token) = &config.access_key.security_token {
            headers.push(("x-oss-security-token".into(), token.expose().into()));
        }
        loop {
            let mut all = headers.clone();
            all.push(("Date".into(), httpdate::fmt_http_date(SystemTime::now())));
            let signed = oss::sign(method.as_str(), bucket, key, &all, sub, &config.access_key);
            let mut map = HeaderMap::new();
            for (n, v) in &all {
                if let (Ok(n), Ok(v)) = (HeaderName::try_from(n.as_str()), HeaderValue::from_str(v))
                {
                    map.insert(n, v);
                }
            }
            if let Ok(auth) = HeaderValue::from_str(&signed.authorization) {
                map.insert(AUTHORIZATION, auth);
            }
            let result = async {
                let response = self
                    .client
                    .inner
                    .http
                    .request(method.clone(), self.url(bucket, key, &query))
                    .headers(map)
                    .body(body.clone())
                    .send()
                    .await
                    .map_err(|e| ApiError::transport(Some(name), describe(&e)))?;
                let status = response.status().as_u16();
                let text = response
                    .text()
                    .await
                    .map_err(|e| ApiError::transport(Some(name), describe(&e)))?;
                if (200..300).contains(&status) {
                    Ok((status, text))
                } else {
                    Err(ApiError::decode(status, &text, Some(name)))
                }
            }
            .await;
            attempt += 1;
            match result {
                Ok(ok) => return Ok(ok),
                // Every OSS call here is idempotent: PUT and DELETE of the same thing twice
                // leave the same result.
                Err(e) if e.kind().is_retryable() && attempt < retry.max_attempts => {
                    tokio::time::sleep(retry.delay(attempt - 1)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Creates a bucket (`PUT /`); creating a bucket this account owns already succeeds.
    pub async fn put_bucket(&self, bucket: &str, acl: BucketAcl) -> Result<(), ApiError> {
        let headers = vec![("x-oss-acl".to_owned(), acl.as_str().to_owned())];
        self.send(
            "PutBucket",
            reqwest::Method::PUT,
            Target {
                bucket,
                key: "",
                sub: &[],
            },
            headers,
            Vec::new(),
        )
        .await
        .map(drop)
    }

    /// Changes a bucket's ACL.
    pub async fn put_bucket_acl(&self, bucket: &str, acl: BucketAcl) -> Result<(), ApiError> {
        let headers = vec![("x-oss-acl".to_owned(), acl.as_str().to_owned())];
        let sub = [("acl".to_owned(), String::new())];
        self.send(
            "PutBucketAcl",
            reqwest::Method::PUT,
            Target {
                bucket,
                key: "",
                sub: &sub,
            },
            headers,
            Vec::new(),
        )
        .await
        .map(drop)
    }

    /// Reads a bucket's name, ACL and endpoints.
    pub async fn bucket_info(&self, bucket: &str) -> Result<BucketInfo, ApiError> {
        let sub = [("bucketInfo".to_owned(), String::new())];
        let (_, body) = self
            .send(
                "GetBucketInfo",
                reqwest::Method::GET,
                Target {
                    bucket,
                    key: "",
                    sub: &sub,
                },
                Vec::new(),
                Vec::new(),
            )
            .await?;
        Ok(BucketInfo {
            name: xml_field(&body, "Name")
                .map(str::to_owned)
                .unwrap_or_else(|| bucket.to_owned()),
            acl: xml_field(&body, "Grant")
                .map(str::to_owned)
                .unwrap_or_default(),
            extranet_endpoint: xml_field(&body, "ExtranetEndpoint")
                .map(str::to_owned)
                .unwrap_or_default(),
            intranet_endpoint: xml_field(&body, "IntranetEndpoint")
                .map(str::to_owned)
                .unwrap_or_default(),
        })
    }

    /// Deletes an empty bucket; a bucket that is gone already is success.
    pub async fn delete_bucket(&self, bucket: &str) -> Result<(), ApiError> {
        match self
            .send(
                "DeleteBucket",
                reqwest::Method::DELETE,
                Target {
                    bucket,
                    key: "",
                    sub: &[],
                },
                Vec::new(),
                Vec::new(),
            )
            .await
        {
            Err(e) if e.code == "NoSuchBucket" => Ok(()),
            other => other.map(drop),
        }
    }

    /// The keys of the objects in a bucket (the first 1000).
    pub async fn list_objects(&self, bucket: &str) -> Result<Vec<String>, ApiError> {
        let (_, body) = self
            .send(
                "ListObjects",
                reqwest::Method::GET,
                Target {
                    bucket,
                    key: "",
                    sub: &[],
                },
                Vec::new(),
                Vec::new(),
            )
            .await?;
        let mut keys = Vec::new();
        let mut rest = body.as_str();
        while let Some(start) = rest.find("<Key>") {
            let after = &rest[start + 5..];
            let Some(end) = after.find("</Key>") else {
                break;
            };
            keys.push(after[..end].to_owned());
            rest = &after[end..];
        }
        Ok(keys)
    }

    /// Sets a bucket's tags (`PUT /?tagging`), replacing the ones it had.
    pub async fn put_bucket_tags(
        &self,
        bucket: &str,
        tags: &[(String, String)],
    ) -> Result<(), ApiError> {
        use base64::Engine as _;
        use md5::Digest as _;
        let escape = |t: &str| {
            t.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let set: String = tags
            .iter()
            .map(|(k, v)| {
                format!(
                    "<Tag><Key>{}</Key><Value>{}</Value></Tag>",
                    escape(k),
                    escape(v)
                )
            })
            .collect();
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Tagging><TagSet>{set}</TagSet></Tagging>"
        )
        .into_bytes();
        let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&body));
        let headers = vec![
            ("Content-MD5".to_owned(), md5),
            ("Content-Type".to_owned(), "application/xml".to_owned()),
        ];
        let sub = [("tagging".to_owned(), String::new())];
        self.send(
            "PutBucketTags",
            reqwest::Method::PUT,
            Target {
                bucket,
                key: "",
                sub: &sub,
            },
            headers,
            body,
        )
        .await
        .map(drop)
    }

    /// Uploads an object, with its `Content-MD5` so the server checks it arrived whole.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), ApiError> {
        use base64::Engine as _;
        use md5::Digest as _;
        let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&body));
        let headers = vec![
            ("Content-MD5".to_owned(), md5),
            ("Content-Type".to_owned(), content_type.to_owned()),
        ];
        self.send(
            "PutObject",
            reqwest::Method::PUT,
            Target {
                bucket,
                key,
                sub: &[],
            },
            headers,
            body,
        )
        .await
        .map(drop)
    }

    /// Downloads an object as text.
    pub async fn get_object(&self, bucket: &str, key: &str) -> Result<String, ApiError> {
        self.send(
            "GetObject",
            reqwest::Method::GET,
            Target {
                bucket,
                key,
                sub: &[],
            },
            Vec::new(),
            Vec::new(),
        )
        .await
        .map(|(_, body)| body)
    }

    /// Deletes an object (an absent object is success).
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), ApiError> {
        self.send(
            "DeleteObject",
            reqwest::Method::DELETE,
            Target {
                bucket,
                key,
                sub: &[],
            },
            Vec::new(),
            Vec::new(),
        )
        .await
        .map(drop)
    }
}
