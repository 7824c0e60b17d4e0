//! Errors of applying, pruning and waiting, each naming the object and the action.

use std::time::Duration;

use iac_core::provider::{ErrorKind, HandlerError};

/// An object that did not become ready in time, with what was last seen of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    /// The object (`apps/v1 Deployment prod/web`).
    pub object: String,
    /// Its last observed status (`1 of 3 replicas available`).
    pub last_status: String,
}

/// Why applying, pruning or waiting failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A manifest or argument is wrong; nothing was sent for it.
    #[error("{object} {reason}")]
    Invalid {
        /// What is wrong (`apps/v1 Deployment prod/web`, `YAML document #2`).
        object: String,
        /// Why.
        reason: String,
    },
    /// The API server refused a call.
    #[error("{action} {object}: HTTP {code} {reason}: {message}")]
    Api {
        /// `apply`, `get`, `delete`, `list`, `discover`.
        action: &'static str,
        /// The object or kind the call was about.
        object: String,
        /// The HTTP status.
        code: u16,
        /// The server's reason (`Conflict`, `Invalid`, `NotFound`).
        reason: String,
        /// The server's message.
        message: String,
        /// The delay the server asked for (`Retry-After` / `retryAfterSeconds`).
        retry_after: Option<Duration>,
    },
    /// The call did not get an answer from the API server (connection, TLS, timeouts) or
    /// the answer could not be read.
    #[error("{action} {object} failed")]
    Client {
        /// `apply`, `get`, `delete`, `list`, `watch`.
        action: &'static str,
        /// The object or kind the call was about.
        object: String,
        /// What the client reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The client could not be configured (no kubeconfig, bad kubeconfig, no in-cluster
    /// service account). The kubeconfig's content is never part of this error.
    #[error("Kubernetes client configuration: {0}")]
    Config(String),
    /// Objects did not become ready within the timeout.
    #[error("not ready within {}s: {}", timeout.as_secs(), list_not_ready(not_ready))]
    Timeout {
        /// The timeout each object was given.
        timeout: Duration,
        /// The objects that were not ready, with their last status.
        not_ready: Vec<NotReady>,
    },
    /// An object reached a state it will not leave by itself (a Deployment past its
    /// progress deadline, a failed Job).
    #[error("{object} failed: {reason}")]
    Failed {
        /// The object.
        object: String,
        /// Why.
        reason: String,
    },
}

fn list_not_ready(items: &[NotReady]) -> String {
    items
        .iter()
        .map(|n| format!("{} ({})", n.object, n.last_status))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Error {
    /// What the engine should do about it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid { .. } => ErrorKind::Invalid,
            Error::Api {
                code, retry_after, ..
            } => kind_of_status(*code, *retry_after),
            Error::Client { .. } => ErrorKind::Transient,
            Error::Config(_) => ErrorKind::Auth,
            Error::Timeout { .. } => ErrorKind::Transient,
            Error::Failed { .. } => ErrorKind::Permanent,
        }
    }

    /// True when the server said the object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }

    /// Wraps a `kube` error of `action` on `object`.
    pub(crate) fn from_kube(action: &'static str, object: impl ToString, e: kube::Error) -> Self {
        let object = object.to_string();
        match e {
            kube::Error::Api(status) => Error::Api {
                action,
                object,
                code: status.code,
                reason: status.reason.clone(),
                message: status.message.clone(),
                retry_after: status
                    .details
                    .as_ref()
                    .map(|d| d.retry_after_seconds)
                    .filter(|s| *s > 0)
                    .map(|s| Duration::from_secs(u64::from(s))),
            },
            kube::Error::InferConfig(_) | kube::Error::InferKubeconfig(_) => {
                Error::Config(format!("{action} {object}: no usable kubeconfig"))
            }
            // The text of an auth error may carry exec plugin output: left out.
            kube::Error::Auth(_) => Error::Config(format!(
                "{action} {object}: the credentials of the kubeconfig could not be used"
            )),
            other => Error::Client {
                action,
                object,
                source: Box::new(other),
            },
        }
    }
}

/// The engine's reading of an HTTP status from the API server.
pub fn kind_of_status(code: u16, retry_after: Option<Duration>) -> ErrorKind {
    match code {
        404 | 410 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        429 => ErrorKind::Throttled { retry_after },
        401 | 403 => ErrorKind::Auth,
        400 | 405 | 406 | 413 | 415 | 422 => ErrorKind::Invalid,
        408 | 500..=599 => ErrorKind::Transient,
        _ => ErrorKind::Permanent,
    }
}

impl From<Error> for HandlerError {
    fn from(e: Error) -> Self {
        let kind = e.kind();
        let mut message = e.to_string();
        if let Error::Client { source, .. } = &e {
            message = format!("{message}: {source}");
        }
        HandlerError::new(kind, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_kinds() {
        assert_eq!(kind_of_status(404, None), ErrorKind::NotFound);
        assert_eq!(kind_of_status(409, None), ErrorKind::Conflict);
        assert_eq!(kind_of_status(422, None), ErrorKind::Invalid);
        assert_eq!(kind_of_status(400, None), ErrorKind::Invalid);
        assert_eq!(kind_of_status(403, None), ErrorKind::Auth);
        assert_eq!(kind_of_status(503, None), ErrorKind::Transient);
        assert_eq!(
            kind_of_status(429, Some(Duration::from_secs(2))),
            ErrorKind::Throttled {
                retry_after: Some(Duration::from_secs(2))
            }
        );
    }

    #[test]
    fn timeout_names_every_object() {
        let e = Error::Timeout {
            timeout: Duration::from_secs(30),
            not_ready: vec![NotReady {
                object: "apps/v1 Deployment prod/web".into(),
                last_status: "0 of 2 replicas available".into(),
            }],
        };
        assert_eq!(
            e.to_string(),
            "not ready within 30s: apps/v1 Deployment prod/web (0 of 2 replicas available)"
        );
    }
}
