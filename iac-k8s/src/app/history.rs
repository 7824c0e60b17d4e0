//! Release history: one immutable record per revision, stored like Helm's (one Secret per
//! revision, `data.release` = base64(gzip(JSON)), labelled `owner`, `name`, `version`,
//! `status`) or in an iac-core [`StateStore`], or in memory.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use iac_core::state::{StackState, StateStore};
use kube::api::{Api, DynamicObject, ListParams};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AppError;
use super::template::RenderedRelease;
use crate::apply::{Applier, Manifest, ObjectRef, known_kind};

/// The `owner` label of history Secrets.
pub const OWNER: &str = "iac";

/// The type of history Secrets.
pub const SECRET_TYPE: &str = "iac.dev/app-release.v1";

/// Where a revision stands (Helm's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RevisionStatus {
    /// A first install is being applied.
    PendingInstall,
    /// An upgrade is being applied.
    PendingUpgrade,
    /// A rollback is being applied.
    PendingRollback,
    /// The revision running now.
    Deployed,
    /// Deployed once, replaced by a later revision.
    Superseded,
    /// Its apply failed.
    Failed,
}

impl RevisionStatus {
    /// True while an install, upgrade or rollback is being applied.
    pub fn is_pending(&self) -> bool {
        matches!(
            self,
            RevisionStatus::PendingInstall
                | RevisionStatus::PendingUpgrade
                | RevisionStatus::PendingRollback
        )
    }

    /// The label value (`deployed`).
    pub fn as_str(&self) -> &'static str {
        match self {
            RevisionStatus::PendingInstall => "pending-install",
            RevisionStatus::PendingUpgrade => "pending-upgrade",
            RevisionStatus::PendingRollback => "pending-rollback",
            RevisionStatus::Deployed => "deployed",
            RevisionStatus::Superseded => "superseded",
            RevisionStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for RevisionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One revision of an application in one namespace: what was rendered, from which
/// template and configuration versions, and how it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    /// The application.
    pub app: String,
    /// The namespace.
    pub namespace: String,
    /// The environment.
    pub environment: String,
    /// 1, 2, ... per application and namespace.
    pub number: u32,
    /// Where it stands.
    pub status: RevisionStatus,
    /// `Install`, `Upgrade`, `Rollback to 2`.
    pub description: String,
    /// When it was made.
    pub created: DateTime<Utc>,
    /// When its status last changed.
    pub updated: DateTime<Utc>,
    /// The template version it rendered.
    pub template_version: String,
    /// The application configuration version, if one was used.
    pub config_version: Option<u32>,
    /// The environment configuration version, if one was used.
    pub environment_version: Option<u32>,
    /// The layered values it rendered with.
    pub values: Value,
    /// The rendered objects.
    pub release: RenderedRelease,
}

impl Revision {
    /// `iac.app.v1.<app>.v<number>`: the name of its Secret.
    pub fn secret_name(&self) -> String {
        secret_name(&self.app, self.number)
    }

    /// The Secret that stores it in the cluster.
    pub fn to_secret(&self) -> Result<Value, AppError> {
        let encoded = encode(self)?;
        Ok(json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "type": SECRET_TYPE,
            "metadata": {
                "name": self.secret_name(),
                "namespace": self.namespace,
                "labels": {
                    "owner": OWNER,
                    "name": self.app,
                    "version": self.number.to_string(),
                    "status": self.status.as_str(),
                },
            },
            "data": {"release": BASE64.encode(encoded.as_bytes())},
        }))
    }

    /// Reads a revision back from its Secret (as listed or fetched).
    pub fn from_secret(secret: &Value) -> Result<Self, AppError> {
        let name = secret["metadata"]["name"].as_str().unwrap_or("?");
        let fail = |reason: String| AppError::History {
            app: secret["metadata"]["labels"]["name"]
                .as_str()
                .unwrap_or("?")
                .to_owned(),
            namespace: secret["metadata"]["namespace"]
                .as_str()
                .unwrap_or("?")
                .to_owned(),
            reason: format!("Secret {name}: {reason}"),
        };
        let data = secret["data"]["release"]
            .as_str()
            .ok_or_else(|| fail("has no data.release".into()))?;
        let bytes = BASE64
            .decode(data)
            .map_err(|e| fail(format!("data.release is not base64: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|_| fail("data.release is not text".into()))?;
        decode(&text).map_err(|e| match e {
            AppError::History { reason, .. } => fail(reason),
            other => other,
        })
    }
}

fn secret_name(app: &str, number: u32) -> String {
    format!("iac.app.v1.{app}.v{number}")
}

fn history_error(revision: &Revision, reason: String) -> AppError {
    AppError::History {
        app: revision.app.clone(),
        namespace: revision.namespace.clone(),
        reason,
    }
}

/// A revision as text: base64(gzip(JSON)).
pub fn encode(revision: &Revision) -> Result<String, AppError> {
    let json = serde_json::to_vec(revision)
        .map_err(|e| history_error(revision, format!("cannot be serialized: {e}")))?;
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&json)
        .and_then(|()| gz.finish())
        .map(|bytes| BASE64.encode(bytes))
        .map_err(|e| history_error(revision, format!("cannot be compressed: {e}")))
}

/// Reads [`encode`]'s text. Like Helm, a payload without the gzip magic is read as plain
/// JSON.
pub fn decode(text: &str) -> Result<Revision, AppError> {
    let fail = |reason: String| AppError::History {
        app: "?".into(),
        namespace: "?".into(),
        reason,
    };
    let bytes = BASE64
        .decode(text.trim())
        .map_err(|e| fail(format!("a revision is not base64: {e}")))?;
    let json = if bytes.starts_with(&[0x1f, 0x8b, 0x08]) {
        let mut out = Vec::new();
        GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| fail(format!("a revision is not valid gzip: {e}")))?;
        out
    } else {
        bytes
    };
    serde_json::from_slice(&json).map_err(|e| fail(format!("a revision is not a record: {e}")))
}

/// Where revisions are kept.
#[async_trait]
pub trait HistoryStore: Send + Sync {
    /// Every revision of `app` in `namespace`, oldest first.
    async fn list(&self, app: &str, namespace: &str) -> Result<Vec<Revision>, AppError>;

    /// Writes a revision (a new one, or a status change of an existing one).
    async fn put(&self, revision: &Revision) -> Result<(), AppError>;

    /// Deletes revision `number` (pruning beyond the history limit).
    async fn delete(&self, app: &str, namespace: &str, number: u32) -> Result<(), AppError>;
}

/// History in memory (tests, dry runs, a single process).
#[derive(Debug, Default)]
pub struct MemoryHistory {
    revisions: Mutex<BTreeMap<(String, String, u32), String>>,
}

impl MemoryHistory {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl HistoryStore for MemoryHistory {
    async fn list(&self, app: &str, namespace: &str) -> Result<Vec<Revision>, AppError> {
        let stored: Vec<String> = self
            .revisions
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|((a, n, _), _)| a == app && n == namespace)
                    .map(|(_, text)| text.clone())
                    .collect()
            })
            .unwrap_or_default();
        stored.iter().map(|t| decode(t)).collect()
    }

    async fn put(&self, revision: &Revision) -> Result<(), AppError> {
        // Stored encoded, as the other stores do, so the round trip is always exercised.
        let text = encode(revision)?;
        if let Ok(mut m) = self.revisions.lock() {
            m.insert(
                (
                    revision.app.clone(),
                    revision.namespace.clone(),
                    revision.number,
                ),
                text,
            );
        }
        Ok(())
    }

    async fn delete(&self, app: &str, namespace: &str, number: u32) -> Result<(), AppError> {
        if let Ok(mut m) = self.revisions.lock() {
            m.remove(&(app.to_owned(), namespace.to_owned(), number));
        }
        Ok(())
    }
}

/// History in the cluster: one Secret per revision in the application's namespace (see
/// [`Revision::to_secret`]), listed by the labels `owner=iac,name=<app>`.
#[derive(Debug, Clone)]
pub struct SecretHistory {
    applier: Applier,
}

impl SecretHistory {
    /// History through `applier`'s client (its field manager writes the Secrets).
    pub fn new(applier: Applier) -> Self {
        SecretHistory { applier }
    }
}

#[async_trait]
impl HistoryStore for SecretHistory {
    async fn list(&self, app: &str, namespace: &str) -> Result<Vec<Revision>, AppError> {
        let secret = known_kind("", "Secret").expect("Secret is a known kind");
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.applier.client().clone(),
            namespace,
            &secret.api_resource("v1"),
        );
        let selector = format!("owner={OWNER},name={app}");
        let listed = match api.list(&ListParams::default().labels(&selector)).await {
            Ok(list) => list.items,
            Err(kube::Error::Api(s)) if s.code == 404 => Vec::new(),
            Err(e) => {
                return Err(crate::apply::Error::from_kube(
                    "list",
                    format!("v1 Secret {namespace}/ (labels {selector})"),
                    e,
                )
                .into());
            }
        };
        let mut revisions = listed
            .iter()
            .map(|item| {
                let mut value = serde_json::to_value(item).unwrap_or_default();
                if value["metadata"]["namespace"].is_null() {
                    value["metadata"]["namespace"] = json!(namespace);
                }
                Revision::from_secret(&value)
            })
            .collect::<Result<Vec<_>, _>>()?;
        revisions.sort_by_key(|r| r.number);
        Ok(revisions)
    }

    async fn put(&self, revision: &Revision) -> Result<(), AppError> {
        let manifest = Manifest::from_value(revision.to_secret()?)?;
        self.applier.apply_one(&manifest).await?;
        Ok(())
    }

    async fn delete(&self, app: &str, namespace: &str, number: u32) -> Result<(), AppError> {
        let object = ObjectRef::new("v1", "Secret", Some(namespace), secret_name(app, number));
        self.applier.delete(&object).await?;
        Ok(())
    }
}

/// History in an iac-core [`StateStore`] (a state file next to the engine's): one stack
/// per application and namespace, `app-history.<app>.<namespace>`, whose outputs hold the
/// encoded revisions by `v<number>`. A revision that renders Secrets with values is refused
/// (a state file would hold them in clear): such applications keep their history in the
/// cluster ([`SecretHistory`]).
#[derive(Clone)]
pub struct StateHistory {
    store: Arc<dyn StateStore>,
}

impl fmt::Debug for StateHistory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateHistory").finish_non_exhaustive()
    }
}

impl StateHistory {
    /// History in `store`.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        StateHistory { store }
    }

    /// The stack name that holds the history of `app` in `namespace`.
    pub fn stack_name(app: &str, namespace: &str) -> String {
        format!("app-history.{app}.{namespace}")
    }

    fn fail(app: &str, namespace: &str, e: impl fmt::Display) -> AppError {
        AppError::History {
            app: app.to_owned(),
            namespace: namespace.to_owned(),
            reason: format!("state store: {e}"),
        }
    }

    async fn change(
        &self,
        app: &str,
        namespace: &str,
        f: impl FnOnce(&mut StackState) + Send,
    ) -> Result<(), AppError> {
        let stack = Self::stack_name(app, namespace);
        let _lock = self
            .store
            .lock(&stack, "history")
            .await
            .map_err(|e| Self::fail(app, namespace, e))?;
        let mut state = self
            .store
            .load(&stack)
            .await
            .map_err(|e| Self::fail(app, namespace, e))?
            .unwrap_or_else(|| StackState::new(&stack));
        f(&mut state);
        state.updated = Utc::now();
        // The next version: a store refuses a save over a version it was not loaded from.
        state.bump_serial();
        self.store
            .save(&state)
            .await
            .map_err(|e| Self::fail(app, namespace, e))
    }
}

#[async_trait]
impl HistoryStore for StateHistory {
    async fn list(&self, app: &str, namespace: &str) -> Result<Vec<Revision>, AppError> {
        let stack = Self::stack_name(app, namespace);
        let Some(state) = self
            .store
            .load(&stack)
            .await
            .map_err(|e| Self::fail(app, namespace, e))?
        else {
            return Ok(Vec::new());
        };
        let mut revisions = state
            .outputs
            .values()
            .map(|v| decode(v.as_str().unwrap_or_default()))
            .collect::<Result<Vec<_>, _>>()?;
        revisions.sort_by_key(|r| r.number);
        Ok(revisions)
    }

    async fn put(&self, revision: &Revision) -> Result<(), AppError> {
        // A state file is not a place for secrets: the revision would carry them in clear
        // (compressed is not encrypted), and a rollback needs them back as they were.
        if let Some(secret) = revision
            .release
            .services
            .values()
            .flat_map(|s| s.secrets_with_values())
            .next()
        {
            return Err(history_error(
                revision,
                format!(
                    "revision {} renders Secret {} with values, which a state file would hold \
                     in clear; keep this application's history in the cluster (SecretHistory)",
                    revision.number,
                    secret["metadata"]["name"].as_str().unwrap_or("?")
                ),
            ));
        }
        let text = encode(revision)?;
        let key = format!("v{}", revision.number);
        self.change(&revision.app, &revision.namespace, move |state| {
            state.outputs.insert(key, Value::String(text));
        })
        .await
    }

    async fn delete(&self, app: &str, namespace: &str, number: u32) -> Result<(), AppError> {
        let key = format!("v{number}");
        self.change(app, namespace, move |state| {
            state.outputs.shift_remove(&key);
        })
        .await
    }
}
