//! The services, one vocabulary for all: `get_*`, `list_*` (lazy streams that fetch the
//! next page when the stream reaches it), `create_*`, `update_*`, `delete_*` and, where a
//! resource settles, `wait_*`.
//!
//! Answers are typed structs holding the fields the handlers and callers use, with every
//! other field the service sent kept in `extra`. Create and update bodies are the API's
//! own fields as a JSON object ([`Fields`]): the Heat properties of a resource map onto them
//! one to one, and a new API field needs no new release of this crate.
//!
//! `delete_*` treats an object that is already gone as deleted. `wait_*` are for programs
//! that use the client directly; the resource handlers never wait (the engine polls).

pub mod compute;
pub mod identity;
pub mod image;
pub mod network;
pub mod orchestration;
pub mod volume;

use std::time::Duration;

use crate::error::ApiError;

/// The fields of a create or update body: a JSON object.
pub type Fields = serde_json::Map<String, serde_json::Value>;

/// Builds [`Fields`] from pairs, leaving out `null` values.
pub fn fields<const N: usize>(pairs: [(&str, serde_json::Value); N]) -> Fields {
    pairs
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

/// An answer of which only the new object's id matters.
#[derive(serde::Deserialize)]
pub(crate) struct NewId {
    pub(crate) id: String,
}

/// How a `wait_*` call polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// Time between two reads.
    pub interval: Duration,
    /// Give up after this long.
    pub timeout: Duration,
}

impl Default for Wait {
    fn default() -> Self {
        Wait {
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(600),
        }
    }
}

/// Polls `read` until it returns `Some`, or fails when `wait.timeout` passes; the error
/// says what was waited for and the last status seen.
pub(crate) async fn wait_until<T, F, Fut>(
    wait: Wait,
    what: &str,
    mut read: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Result<T, String>, ApiError>>,
{
    let deadline = tokio::time::Instant::now() + wait.timeout;
    loop {
        let last = match read().await? {
            Ok(done) => return Ok(done),
            Err(status) => status,
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::local(
                "wait",
                what,
                "Timeout",
                format!("still {last} after {} s", wait.timeout.as_secs()),
            ));
        }
        tokio::time::sleep(wait.interval).await;
    }
}
