//! Applying manifests to a cluster with server-side apply, pruning what a release no
//! longer has, waiting for rollout, and the `KUBERNETES::Manifest` resource handler.
//!
//! An [`Applier`] sends each object with server-side apply (one field manager, `force`), in
//! a safe order (Namespaces, CRDs, ServiceAccounts and RBAC, ConfigMaps and Secrets,
//! storage, Services, workloads, Ingress), and labels it `app.kubernetes.io/managed-by`
//! and, when a release is set, `iac.dev/release`. The API resource of the common kinds
//! comes from a built-in table ([`KNOWN_KINDS`]); other kinds are found by discovery.
//! [`Applier::prune`] deletes the objects of a release that a new apply no longer has;
//! [`Applier::wait`] waits, each object with its own timeout, until Deployments are
//! rolled out, StatefulSets ready, LoadBalancer Services have an address and PVCs are bound.
//!
//! [`ManifestHandler`] is the engine's handler of `KUBERNETES::Manifest`: single calls,
//! readiness by polling, never sleeping.
//!
//! ```no_run
//! use std::time::Duration;
//! use iac_k8s::apply::Applier;
//! use serde_json::json;
//!
//! # async fn run() -> Result<(), iac_k8s::apply::Error> {
//! let applier = Applier::from_kubeconfig().await?.with_release("shop")?;
//! let objects = vec![
//!     json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
//!     json!({"apiVersion": "apps/v1", "kind": "Deployment",
//!            "metadata": {"name": "web", "namespace": "prod"},
//!            "spec": {"selector": {"matchLabels": {"app": "web"}},
//!                     "template": {"metadata": {"labels": {"app": "web"}},
//!                                  "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}),
//! ];
//! let report = applier.apply(&objects).await?;
//! applier.prune("shop", &report.objects()).await?;
//! applier.wait(&report.objects(), Duration::from_secs(300)).await?;
//! # Ok(())
//! # }
//! ```

mod error;
mod handler;
mod object;
mod wait;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::Client;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::Scope;
use serde_json::Value;

pub use error::{Error, NotReady, kind_of_status};
pub use handler::{ManifestHandler, TYPE_NAME as MANIFEST_TYPE};
pub use object::{
    KNOWN_KINDS, KnownKind, MANAGED_BY_LABEL, Manifest, ObjectRef, RELEASE_LABEL, apply_rank,
    check_label_value, known_kind, parse_yaml_stream,
};
pub(crate) use wait::has_readiness;
pub use wait::{ReadyState, assess};

/// The field manager used when none is given.
pub const DEFAULT_FIELD_MANAGER: &str = "iac";

/// One applied object: its reference and the object the server answered with.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The object (`apps/v1 Deployment prod/web`).
    pub object: ObjectRef,
    /// The live object after the apply (its uid, generation and status).
    pub live: DynamicObject,
}

/// What [`Applier::apply`] did, in the order it did it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApplyReport {
    /// The applied objects, in apply order.
    pub applied: Vec<Applied>,
}

impl ApplyReport {
    /// The references of the applied objects, in apply order: what to keep when pruning
    /// and what to wait for.
    pub fn objects(&self) -> Vec<ObjectRef> {
        self.applied.iter().map(|a| a.object.clone()).collect()
    }
}

/// What [`Applier::prune`] deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// The deleted objects, in deletion order.
    pub deleted: Vec<ObjectRef>,
}

/// Where an object is served: its API resource and whether it lives in a namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Group, version, kind and plural.
    pub resource: ApiResource,
    /// True for namespaced kinds.
    pub namespaced: bool,
}

/// Applies, prunes and waits for objects through one `kube` client and field manager.
#[derive(Clone)]
pub struct Applier {
    client: Client,
    field_manager: String,
    release: Option<String>,
    discovered: Arc<Mutex<HashMap<(String, String), Resolved>>>,
}

impl fmt::Debug for Applier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Applier")
            .field("field_manager", &self.field_manager)
            .field("release", &self.release)
            .field("default_namespace", &self.client.default_namespace())
            .finish_non_exhaustive()
    }
}

impl Applier {
    /// An applier over `client` using `field_manager` (at most 128 characters; empty means
    /// [`DEFAULT_FIELD_MANAGER`]).
    pub fn new(client: Client, field_manager: &str) -> Self {
        let field_manager = if field_manager.is_empty() {
            DEFAULT_FIELD_MANAGER
        } else {
            field_manager
        };
        Applier {
            client,
            field_manager: field_manager.chars().take(128).collect(),
            release: None,
            discovered: Arc::default(),
        }
    }

    /// An applier over the client `kube` infers: `KUBECONFIG`, then `~/.kube/config`, then
    /// the in-cluster service account; field manager [`DEFAULT_FIELD_MANAGER`]. The API
    /// server's certificate is always verified: a kubeconfig that sets
    /// `insecure-skip-tls-verify` is refused.
    pub async fn from_kubeconfig() -> Result<Self, Error> {
        let config = kube::Config::infer().await.map_err(|e| {
            Error::from_kube("connect to", "the cluster", kube::Error::InferConfig(e))
        })?;
        if config.accept_invalid_certs {
            return Err(Error::Config(
                "the kubeconfig asks to skip TLS verification (insecure-skip-tls-verify): the API server's certificate is always verified; give its CA (certificate-authority-data) instead".into(),
            ));
        }
        let client = Client::try_from(config)
            .map_err(|e| Error::from_kube("connect to", "the cluster", e))?;
        Ok(Self::new(client, DEFAULT_FIELD_MANAGER))
    }

    /// Labels every applied object `iac.dev/release: <release>` (builder style).
    pub fn with_release(mut self, release: &str) -> Result<Self, Error> {
        check_label_value(release)?;
        self.release = Some(release.to_owned());
        Ok(self)
    }

    /// The field manager.
    pub fn field_manager(&self) -> &str {
        &self.field_manager
    }

    /// The release the applied objects are labelled with, if any.
    pub fn release(&self) -> Option<&str> {
        self.release.as_deref()
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Where `api_version`/`kind` is served: the built-in table, else discovery (cached).
    pub async fn resolve(&self, api_version: &str, kind: &str) -> Result<Resolved, Error> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        if let Some(known) = known_kind(group, kind) {
            return Ok(Resolved {
                resource: known.api_resource(version),
                namespaced: known.namespaced,
            });
        }
        let key = (api_version.to_owned(), kind.to_owned());
        if let Some(found) = self.cached(&key) {
            return Ok(found);
        }
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, caps) = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .map_err(|e| match e {
                kube::Error::Discovery(_) => Error::Invalid {
                    object: format!("{api_version} {kind}"),
                    reason: "is not served by the cluster".into(),
                },
                e => Error::from_kube("discover", format!("{api_version} {kind}"), e),
            })?;
        let found = Resolved {
            resource,
            namespaced: caps.scope == Scope::Namespaced,
        };
        if let Ok(mut cache) = self.discovered.lock() {
            cache.insert(key, found.clone());
        }
        Ok(found)
    }

    fn cached(&self, key: &(String, String)) -> Option<Resolved> {
        self.discovered.lock().ok()?.get(key).cloned()
    }

    /// An API handle for one object.
    pub(crate) fn api_for(&self, resolved: &Resolved, object: &ObjectRef) -> Api<DynamicObject> {
        match &object.namespace {
            Some(ns) if resolved.namespaced => {
                Api::namespaced_with(self.client.clone(), ns, &resolved.resource)
            }
            _ => Api::all_with(self.client.clone(), &resolved.resource),
        }
    }

    /// Checks a manifest and finds where it is served and which object it names.
    pub async fn target(&self, manifest: &Manifest) -> Result<(ObjectRef, Resolved), Error> {
        let resolved = self
            .resolve(manifest.api_version(), manifest.kind())
            .await?;
        let object = manifest.object_ref(resolved.namespaced, self.client.default_namespace());
        Ok((object, resolved))
    }

    /// Applies one checked manifest with server-side apply and returns the live object.
    pub async fn apply_one(&self, manifest: &Manifest) -> Result<Applied, Error> {
        let (object, resolved) = self.target(manifest).await?;
        self.apply_resolved(manifest, object, &resolved).await
    }

    async fn apply_resolved(
        &self,
        manifest: &Manifest,
        object: ObjectRef,
        resolved: &Resolved,
    ) -> Result<Applied, Error> {
        let body = manifest.apply_body(&object, &self.field_manager, self.release.as_deref());
        let params = PatchParams::apply(&self.field_manager).force();
        tracing::debug!(object = %object, manager = %self.field_manager, "server-side apply");
        let live = self
            .api_for(resolved, &object)
            .patch(&object.name, &params, &Patch::Apply(&body))
            .await
            .map_err(|e| Error::from_kube("apply", &object, e))?;
        Ok(Applied { object, live })
    }

    /// Applies `objects` (JSON objects, e.g. parsed YAML) with server-side apply, in a safe
    /// order. Every object is checked and resolved before the first is sent; on a failure
    /// the objects before it stay applied and the error names the one that failed.
    pub async fn apply(&self, objects: &[Value]) -> Result<ApplyReport, Error> {
        let mut planned = Vec::with_capacity(objects.len());
        for (i, value) in objects.iter().enumerate() {
            let manifest = Manifest::from_value(value.clone()).map_err(|e| match e {
                Error::Invalid { object, reason } => Error::Invalid {
                    object: format!("object #{} ({object})", i + 1),
                    reason,
                },
                e => e,
            })?;
            let (object, resolved) = self.target(&manifest).await?;
            if let Some((other, _, _)) = planned
                .iter()
                .find(|(o, _, _): &&(ObjectRef, Resolved, Manifest)| o.same_object(&object))
            {
                return Err(Error::Invalid {
                    object: object.to_string(),
                    reason: format!("is given twice (also as {other})"),
                });
            }
            planned.push((object, resolved, manifest));
        }
        planned.sort_by_key(|(o, _, _)| apply_rank(o.group(), &o.kind));
        let mut report = ApplyReport::default();
        for (object, resolved, manifest) in planned {
            report
                .applied
                .push(self.apply_resolved(&manifest, object, &resolved).await?);
        }
        Ok(report)
    }

    /// Applies typed or dynamic objects: see [`Applier::apply`].
    pub async fn apply_dynamic(&self, objects: &[DynamicObject]) -> Result<ApplyReport, Error> {
        let values = objects
            .iter()
            .map(|o| {
                serde_json::to_value(o).map_err(|e| Error::Invalid {
                    object: o.metadata.name.clone().unwrap_or_default(),
                    reason: format!("cannot be serialized: {e}"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.apply(&values).await
    }

    /// Deletes the objects labelled with `release` (and managed by this field manager)
    /// that `keep` does not name, for every kind of [`KNOWN_KINDS`], in reverse apply order
    /// (Ingress first, Namespaces last). Kinds the cluster does not serve are skipped;
    /// objects already being deleted are left alone. Custom resources are not pruned.
    pub async fn prune(&self, release: &str, keep: &[ObjectRef]) -> Result<PruneReport, Error> {
        check_label_value(release)?;
        let selector = format!(
            "{MANAGED_BY_LABEL}={},{RELEASE_LABEL}={release}",
            self.field_manager
        );
        let mut kinds: Vec<&KnownKind> = KNOWN_KINDS.iter().collect();
        kinds.sort_by_key(|k| std::cmp::Reverse(apply_rank(k.group, k.kind)));
        let mut report = PruneReport::default();
        for known in kinds {
            let resource = known.api_resource(known.version);
            let list_api: Api<DynamicObject> = Api::all_with(self.client.clone(), &resource);
            let what = format!("{} {}", resource.api_version, resource.kind);
            let listed = match list_api
                .list(&ListParams::default().labels(&selector))
                .await
            {
                Ok(list) => list,
                Err(kube::Error::Api(s)) if s.code == 404 => continue,
                Err(e) => return Err(Error::from_kube("list", what, e)),
            };
            for item in listed.items {
                if item.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                let Some(name) = item.metadata.name.clone() else {
                    continue;
                };
                let namespace = if known.namespaced {
                    item.metadata.namespace.as_deref()
                } else {
                    None
                };
                let object =
                    ObjectRef::new(&resource.api_version, known.kind, namespace, name.as_str());
                if keep.iter().any(|k| k.same_object(&object)) {
                    continue;
                }
                let resolved = Resolved {
                    resource: resource.clone(),
                    namespaced: known.namespaced,
                };
                tracing::info!(object = %object, release, "prune");
                match self
                    .api_for(&resolved, &object)
                    .delete(&name, &DeleteParams::background())
                    .await
                {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(Error::from_kube("delete", &object, e)),
                }
                report.deleted.push(object);
            }
        }
        Ok(report)
    }

    /// Waits until each object is ready, each with its own `timeout`, all at once:
    /// Deployments rolled out (`is_deployment_completed` at the current generation),
    /// StatefulSets with every replica updated and ready, LoadBalancer Services with an ingress IP or hostname, PVCs `Bound`. Other kinds are
    /// ready once applied. Uses one watch per object (no polling). Fails with
    /// [`Error::Timeout`] naming every object that was not ready, with what was last seen,
    /// or [`Error::Failed`] when one will not get ready by itself.
    pub async fn wait(&self, objects: &[ObjectRef], timeout: Duration) -> Result<(), Error> {
        wait::wait_all(self, objects, timeout).await
    }

    /// Reads one object; `None` when it does not exist.
    pub async fn get(&self, object: &ObjectRef) -> Result<Option<DynamicObject>, Error> {
        let resolved = self.resolve(&object.api_version, &object.kind).await?;
        match self.api_for(&resolved, object).get(&object.name).await {
            Ok(live) => Ok(Some(live)),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(Error::from_kube("get", object, e)),
        }
    }

    /// Deletes one object (background propagation). `Ok(true)` when the object still
    /// exists afterwards (finalizers, graceful deletion), `Ok(false)` when it is gone or was
    /// already gone.
    pub async fn delete(&self, object: &ObjectRef) -> Result<bool, Error> {
        let resolved = self.resolve(&object.api_version, &object.kind).await?;
        match self
            .api_for(&resolved, object)
            .delete(&object.name, &DeleteParams::background())
            .await
        {
            Ok(either) => Ok(either.left().is_some_and(|live| {
                live.metadata.deletion_timestamp.is_some()
                    || live.metadata.finalizers.is_some_and(|f| !f.is_empty())
            })),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
            Err(e) => Err(Error::from_kube("delete", object, e)),
        }
    }
}
