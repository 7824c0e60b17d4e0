//! The wire: telling RPC (V1 or ACS3 signed) from OSS, checking signatures, injecting
//! faults, dispatching to the services and writing the answers as the cloud does.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State as AxState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use chrono::{DateTime, NaiveDateTime, Utc};
use rand::Rng;
use serde_json::Value;
use tokio::time::Instant;

use super::oss::{self, OssAnswer, OssRequest, xml_escape};
use super::params::{CloudError, Params, Res, new_request_id};
use super::state::{Replay, State};
use super::{Shared, persist};
use super::{ecs, nas, slb, vpc};
use crate::sign::{AccessKey, acs3, rpc};

/// Largest request body accepted (OSS objects included).
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// How far a request's timestamp may be from the wall clock.
const MAX_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

/// Actions that honour `ClientToken`.
const TOKEN_ACTIONS: &[&str] = &[
    "RunInstances",
    "DeleteInstances",
    "CreateSecurityGroup",
    "AuthorizeSecurityGroup",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroup",
    "RevokeSecurityGroupEgress",
    "CreateVpc",
    "DeleteVpc",
    "CreateVSwitch",
    "CreateLoadBalancer",
    "CreateFileSystem",
];

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .fallback(handle)
        .with_state(shared)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// A request, authenticated.
enum Call {
    Rpc {
        action: String,
        version: String,
        params: Params,
    },
    Oss(OssRequest),
}

impl Call {
    fn action(&self) -> String {
        match self {
            Call::Rpc { action, .. } => action.clone(),
            Call::Oss(req) => req.action().to_owned(),
        }
    }
}

/// What the faults decided before the action.
enum Before {
    Refuse(CloudError),
    Throttle,
    ServerError,
    Drop,
    Perform,
}

async fn handle(
    AxState(shared): AxState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if shared.is_closed() {
        return dropped();
    }
    let request_id = new_request_id();
    if let Some(handle) = uri.path().strip_prefix(super::ros::SIGNAL_PATH) {
        if method != Method::POST && method != Method::PUT {
            let err = CloudError::new(405, "MethodNotAllowed", "Signals are POSTed.");
            return error_response(false, &method, &err, &request_id);
        }
        *shared
            .lock()
            .calls
            .entry("SignalWaitCondition".to_owned())
            .or_insert(0) += 1;
        return match super::ros::signal(&shared.ros, handle, &body) {
            Ok(answer) => json_response(answer, &request_id),
            Err(err) => error_response(false, &method, &err, &request_id),
        };
    }
    let is_oss = uri.path() != "/"
        || header_str(&headers, "authorization").is_some_and(|a| a.starts_with("OSS "));
    let call = {
        let mut state = shared.lock();
        if is_oss {
            oss::authenticate(&mut state, &method, &uri, &headers, &body).map(Call::Oss)
        } else if header_str(&headers, "authorization")
            .is_some_and(|a| a.starts_with(acs3::ALGORITHM))
        {
            authenticate_acs3(&mut state, &method, &uri, &headers, &body)
        } else {
            authenticate_rpc(&mut state, &method, &uri, &headers, &body)
        }
    };
    let call = match call {
        Ok(call) => call,
        Err(err) => return error_response(is_oss, &method, &err, &request_id),
    };
    let action = call.action();
    let (before, latency) = {
        let mut state = shared.lock();
        *state.calls.entry(action.clone()).or_insert(0) += 1;
        let before = before_action(&mut state, &action);
        match before {
            Before::Refuse(_) => state.injected.refused += 1,
            Before::Throttle => state.injected.throttled += 1,
            Before::ServerError => state.injected.server_errors += 1,
            Before::Drop => state.injected.dropped += 1,
            Before::Perform => {}
        }
        (before, state.faults.latency)
    };
    let (seq, hook) = shared.next_request();
    let mut performed = false;
    let response = match before {
        Before::Refuse(err) => error_response(is_oss, &method, &err, &request_id),
        Before::Throttle => error_response(
            is_oss,
            &method,
            &CloudError::new(
                400,
                "Throttling.User",
                "Request was denied due to user flow control.",
            ),
            &request_id,
        ),
        Before::ServerError => error_response(
            is_oss,
            &method,
            &CloudError::new(
                503,
                "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server.",
            ),
            &request_id,
        ),
        Before::Drop => dropped(),
        Before::Perform if is_ros(&call) => {
            let Call::Rpc { action, params, .. } = &call else {
                unreachable!("is_ros checked the call")
            };
            // ROS runs the engine, which calls this simulator: no lock is held across it.
            let response = match super::ros::call(&shared.ros, action, params).await {
                Ok(body) => json_response(body, &request_id),
                Err(err) => error_response(false, &method, &err, &request_id),
            };
            let mut state = shared.lock();
            if chance(&mut state, |f| f.timeout_after_success_rate) {
                state.injected.lost_answers += 1;
                dropped()
            } else {
                response
            }
        }
        Before::Perform => {
            let mut state = shared.lock();
            let response = match &call {
                Call::Rpc {
                    action,
                    version,
                    params,
                } => match perform_rpc(&mut state, action, version, params) {
                    Ok(body) => {
                        performed = true;
                        json_response(body, &request_id)
                    }
                    Err(err) => error_response(false, &method, &err, &request_id),
                },
                Call::Oss(req) => match oss::perform(&mut state, req) {
                    Ok(answer) => {
                        performed = true;
                        oss_response(answer, &request_id)
                    }
                    Err(err) => error_response(true, &method, &err, &request_id),
                },
            };
            if performed {
                *state.successes.entry(action.clone()).or_insert(0) += 1;
            }
            if performed
                && changes(&action)
                && let Err(e) = persist::save(&mut state)
            {
                tracing::warn!("the simulator could not save the cloud after {action}: {e}");
            }
            if chance(&mut state, |f| f.timeout_after_success_rate) {
                state.injected.lost_answers += 1;
                dropped()
            } else {
                response
            }
        }
    };
    if let Some(hook) = hook {
        hook(&super::SimRequest {
            action,
            seq,
            performed,
        });
    }
    if latency > Duration::ZERO {
        tokio::time::sleep(latency).await;
    }
    response
}

/// True for a call to the ROS service.
fn is_ros(call: &Call) -> bool {
    matches!(call, Call::Rpc { version, .. } if version == super::ros::VERSION)
}

/// True when a successful `action` may have changed the cloud: all but reads
/// (`Describe*`, `List*`, `Get*`, `Head*`). Saving after a replayed `ClientToken` is harmless.
fn changes(action: &str) -> bool {
    !["Describe", "List", "Get", "Head"]
        .iter()
        .any(|read| action.starts_with(read))
}

/// True with probability `rate(faults)`; draws from the generator only for a rate above 0.
fn chance(state: &mut State, rate: impl Fn(&super::Faults) -> f64) -> bool {
    let rate = rate(&state.faults);
    rate > 0.0 && state.rng.gen_bool(rate.min(1.0))
}

/// The refusal in force for `action`, if any (see [`super::Refusal`]).
fn refusal(state: &State, action: &str) -> Option<CloudError> {
    let done = state.successes.get(action).copied().unwrap_or(0);
    let refusal = state
        .faults
        .refusals
        .iter()
        .find(|r| r.action == action && done >= r.after)?;
    Some(CloudError::new(
        refusal.http_status,
        &refusal.code,
        format!(
            "The simulator refuses {action} after {} successful calls.",
            refusal.after
        ),
    ))
}

fn before_action(state: &mut State, action: &str) -> Before {
    // Actions with a ClientToken are refused after the token's replay, in `perform_rpc`:
    // the cloud answers a repeated token with the first answer.
    if !TOKEN_ACTIONS.contains(&action)
        && let Some(err) = refusal(state, action)
    {
        return Before::Refuse(err);
    }
    if let Some(&quota) = state.faults.quota_per_second.get(action) {
        let now = Instant::now();
        let window = state
            .quota_windows
            .entry(action.to_owned())
            .or_insert((now, 0));
        if now.duration_since(window.0) >= Duration::from_secs(1) {
            *window = (now, 0);
        }
        window.1 = window.1.saturating_add(1);
        if window.1 > quota {
            return Before::Throttle;
        }
    }
    if chance(state, |f| f.throttle_rate) {
        return Before::Throttle;
    }
    if chance(state, |f| f.server_error_rate) {
        return Before::ServerError;
    }
    if chance(state, |f| f.drop_rate) {
        return Before::Drop;
    }
    Before::Perform
}

/// Performs an RPC action, with `ClientToken` replays.
fn perform_rpc(state: &mut State, action: &str, version: &str, params: &Params) -> Res<Value> {
    let token = if TOKEN_ACTIONS.contains(&action) {
        params.get("ClientToken").map(str::to_owned)
    } else {
        None
    };
    if let Some(token) = &token {
        if token.len() > 64 || !token.is_ascii() {
            return Err(CloudError::bad(
                "InvalidClientToken.Malformed",
                "ClientToken",
                "it must be at most 64 ASCII characters",
            ));
        }
        if let Some(replay) = state.tokens.get(&(action.to_owned(), token.clone())) {
            return if replay.fingerprint == params.fingerprint() {
                Ok(replay.body.clone())
            } else {
                Err(CloudError::new(
                    400,
                    "IdempotentParameterMismatch",
                    "The specified parameters are different from before with the same ClientToken.",
                ))
            };
        }
    }
    if let Some(err) = refusal(state, action) {
        state.injected.refused += 1;
        return Err(err);
    }
    let body = match version {
        vpc::VERSION => vpc::call(state, action, params),
        ecs::VERSION => ecs::call(state, action, params),
        slb::VERSION => slb::call(state, action, params),
        nas::VERSION => nas::call(state, action, params),
        other => {
            return Err(CloudError::new(
                400,
                "InvalidVersion",
                format!("The specified parameter \"Version\" is not valid: \"{other}\"."),
            ));
        }
    }
    .unwrap_or_else(|| {
        Err(CloudError::new(
            404,
            "InvalidAction.NotFound",
            format!("Specified api \"{action}\" is not found for version \"{version}\"."),
        ))
    })?;
    if let Some(token) = token {
        state.tokens.insert(
            (action.to_owned(), token),
            Replay {
                fingerprint: params.fingerprint(),
                body: body.clone(),
            },
        );
    }
    Ok(body)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Query and (form) body parameters, merged.
fn rpc_params(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Res<(Vec<(String, String)>, Params)> {
    let malformed = || CloudError::invalid("Body", "the parameters are not valid form encoding");
    let query = rpc::decode_form(uri.query().unwrap_or("")).ok_or_else(malformed)?;
    let mut all = query.clone();
    let form = header_str(headers, "content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form && !body.is_empty() {
        let text = std::str::from_utf8(body).map_err(|_| malformed())?;
        all.extend(rpc::decode_form(text).ok_or_else(malformed)?);
    }
    Ok((query, Params(all)))
}

fn incomplete(what: &str) -> CloudError {
    CloudError::new(
        400,
        "IncompleteSignature",
        format!("The request signature does not conform to Aliyun standards: {what}."),
    )
}

fn key_for(state: &State, id: &str) -> Res<AccessKey> {
    state
        .keys
        .iter()
        .find(|k| k.id == id)
        .cloned()
        .ok_or_else(|| {
            CloudError::new(
                400,
                "InvalidAccessKeyId.NotFound",
                "Specified access key is not found.",
            )
        })
}

fn check_time(text: &str) -> Res<()> {
    let parsed = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ")
        .map(|t| t.and_utc())
        .or_else(|_| DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)))
        .map_err(|_| {
            CloudError::new(
                400,
                "InvalidTimeStamp.Format",
                format!("The specified parameter \"Timestamp\" is not valid: \"{text}\"."),
            )
        })?;
    if (Utc::now() - parsed).abs() > MAX_SKEW {
        return Err(CloudError::new(
            400,
            "InvalidTimeStamp.Expired",
            format!("Specified time stamp or date value is expired: \"{text}\"."),
        ));
    }
    Ok(())
}

fn check_nonce(state: &mut State, key_id: &str, nonce: &str) -> Res<()> {
    if !state.nonces.insert((key_id.to_owned(), nonce.to_owned())) {
        return Err(CloudError::new(
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ));
    }
    Ok(())
}

fn check_format(params: &Params) -> Res<()> {
    match params.get("Format") {
        Some(f) if !f.eq_ignore_ascii_case("JSON") => Err(CloudError::invalid(
            "Format",
            "the simulator only answers JSON",
        )),
        _ => Ok(()),
    }
}

fn mismatch() -> CloudError {
    CloudError::new(
        400,
        "SignatureDoesNotMatch",
        "Specified signature is not matched with our calculation.",
    )
}

fn authenticate_rpc(
    state: &mut State,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Res<Call> {
    let (_, params) = rpc_params(uri, headers, body)?;
    let need = |name: &str| {
        params
            .get(name)
            .ok_or_else(|| incomplete(&format!("\"{name}\" is missing")))
    };
    let key_id = need("AccessKeyId")?.to_owned();
    let signature_method = need("SignatureMethod")?;
    let signature_version = need("SignatureVersion")?;
    let nonce = need("SignatureNonce")?.to_owned();
    let timestamp = need("Timestamp")?;
    let signature = need("Signature")?.to_owned();
    if signature_method != "HMAC-SHA1" {
        return Err(incomplete("\"SignatureMethod\" must be HMAC-SHA1"));
    }
    if signature_version != "1.0" {
        return Err(incomplete("\"SignatureVersion\" must be 1.0"));
    }
    check_time(timestamp)?;
    let key = key_for(state, &key_id)?;
    let unsigned: Vec<&(String, String)> =
        params.0.iter().filter(|(k, _)| k != "Signature").collect();
    let unsigned: Vec<(&str, &str)> = unsigned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if rpc::sign(method.as_str(), &unsigned, &key.secret) != signature {
        return Err(mismatch());
    }
    check_nonce(state, &key_id, &nonce)?;
    check_format(&params)?;
    let action = params.required("Action")?.to_owned();
    let version = params.required("Version")?.to_owned();
    Ok(Call::Rpc {
        action,
        version,
        params,
    })
}

fn authenticate_acs3(
    state: &mut State,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Res<Call> {
    let authorization = header_str(headers, "authorization").unwrap_or("");
    let fields = authorization
        .strip_prefix(acs3::ALGORITHM)
        .unwrap_or("")
        .trim();
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in fields.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed_headers = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    let (Some(key_id), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(incomplete("the Authorization header is malformed"));
    };
    let need = |name: &str| {
        header_str(headers, name).ok_or_else(|| incomplete(&format!("\"{name}\" is missing")))
    };
    let action = need("x-acs-action")?.to_owned();
    let version = need("x-acs-version")?.to_owned();
    let date = need("x-acs-date")?;
    let nonce = need("x-acs-signature-nonce")?.to_owned();
    let hashed = need("x-acs-content-sha256")?;
    check_time(date)?;
    let key = key_for(state, key_id)?;
    if hashed != acs3::hashed_payload(body) {
        return Err(CloudError::new(
            400,
            "SignatureDoesNotMatch",
            "The x-acs-content-sha256 header does not match the body.",
        ));
    }
    let mut pairs = Vec::new();
    for name in signed_headers.split(';').filter(|n| !n.is_empty()) {
        let value = header_str(headers, name).ok_or_else(mismatch)?;
        pairs.push((name.to_owned(), value.to_owned()));
    }
    let (query, mut params) = rpc_params(uri, headers, body)?;
    let signed = acs3::sign(method.as_str(), "/", &query, &pairs, hashed, &key);
    if signed.signature != signature || signed.signed_headers != signed_headers {
        return Err(mismatch());
    }
    check_nonce(state, key_id, &nonce)?;
    check_format(&params)?;
    params.0.push(("Action".to_owned(), action.clone()));
    params.0.push(("Version".to_owned(), version.clone()));
    Ok(Call::Rpc {
        action,
        version,
        params,
    })
}

/// A response whose body fails at once: hyper aborts the connection and the client sees a
/// transport error, not an answer.
fn dropped() -> Response {
    let failing = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "simulated dropped connection",
        ))
    });
    Response::new(Body::from_stream(failing))
}

fn json_response(mut body: Value, request_id: &str) -> Response {
    if let Value::Object(map) = &mut body {
        map.insert("RequestId".to_owned(), Value::String(request_id.to_owned()));
    }
    let mut response = Response::new(Body::from(body.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    response
}

pub(crate) fn error_response(
    oss: bool,
    method: &Method,
    err: &CloudError,
    request_id: &str,
) -> Response {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = if oss {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>{}</Code>\n  <Message>{}</Message>\n  <RequestId>{request_id}</RequestId>\n  <HostId>127.0.0.1</HostId>\n</Error>\n",
            xml_escape(&err.code),
            xml_escape(&err.message),
        );
        let body = if method == Method::HEAD {
            Body::empty()
        } else {
            Body::from(body)
        };
        let mut response = Response::new(body);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        if let Ok(id) = HeaderValue::from_str(request_id) {
            response.headers_mut().insert("x-oss-request-id", id);
        }
        response
    } else {
        json_response(
            serde_json::json!({
                "HostId": "127.0.0.1",
                "Code": err.code,
                "Message": err.message,
            }),
            request_id,
        )
    };
    *response.status_mut() = status;
    response
}

fn oss_response(answer: OssAnswer, request_id: &str) -> Response {
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-oss-request-id", id);
    }
    response
}
