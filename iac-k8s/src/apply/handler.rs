//! `KUBERNETES::Manifest`: one Kubernetes object, applied with server-side apply.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use iac_core::provider::{
    Attributes, CreateRequest, Created, Deleted, HandlerError, PhysicalId, Properties, Readiness,
    ResourceHandler, Schema, UpdateBehavior::Mutable, Updated,
};
use kube::Client;
use kube::api::DynamicObject;
use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::wait::load_balancer_ingress;
use super::{Applier, DEFAULT_FIELD_MANAGER, Manifest, ObjectRef, ReadyState, assess};

/// The type name this handler serves.
pub const TYPE_NAME: &str = "KUBERNETES::Manifest";

/// The handler of `KUBERNETES::Manifest`.
///
/// Properties: `Manifest` (one object, as JSON or as a YAML string; required), `Release`
/// (labels the object `iac.dev/release`; optional), `Kubeconfig` (inline kubeconfig
/// content, a secret; optional, else the handler's default client). Physical id:
/// `<apiVersion>/<kind>/<namespace>/<name>`. Attributes: `Name`, `Namespace`, `Uid`, and
/// `LoadBalancerIngress` for Services that have one.
///
/// A change of the object's group, kind, namespace or name cannot be done in place; the
/// engine replaces by property name only, so such an update fails as
/// [`ErrorKind::Invalid`](iac_core::provider::ErrorKind::Invalid) and asks for a new
/// logical id.
pub struct ManifestHandler {
    default: Option<Applier>,
    field_manager: String,
    schema: Schema,
    /// Clients built from inline kubeconfigs, by the SHA-256 of the content.
    inline: Mutex<HashMap<[u8; 32], Applier>>,
}

impl fmt::Debug for ManifestHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inline = self.inline.lock().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("ManifestHandler")
            .field("field_manager", &self.field_manager)
            .field("has_default_client", &self.default.is_some())
            .field("inline_clients", &inline)
            .finish_non_exhaustive()
    }
}

impl ManifestHandler {
    /// The handler, applying through `client` when a resource gives no `Kubeconfig`;
    /// field manager [`DEFAULT_FIELD_MANAGER`].
    pub fn new(client: Client) -> Self {
        Self::build(Some(client), DEFAULT_FIELD_MANAGER)
    }

    /// The handler with another field manager (builder style).
    pub fn with_field_manager(self, field_manager: &str) -> Self {
        let client = self.default.map(|a| a.client().clone());
        Self::build(client, field_manager)
    }

    /// A handler without a default client: every resource must give `Kubeconfig`.
    pub fn without_default_client() -> Self {
        Self::build(None, DEFAULT_FIELD_MANAGER)
    }

    fn build(client: Option<Client>, field_manager: &str) -> Self {
        let default = client.map(|c| Applier::new(c, field_manager));
        let field_manager = default
            .as_ref()
            .map_or(field_manager, |a| a.field_manager())
            .to_owned();
        let schema = Schema::new(TYPE_NAME)
            .with_property("Manifest", true, Mutable)
            .with_property("Release", false, Mutable)
            .with_property("Kubeconfig", false, Mutable)
            .with_attributes(&["Name", "Namespace", "Uid", "LoadBalancerIngress"])
            .with_readiness_hint(Duration::from_secs(2))
            .with_ready_timeout(Duration::from_secs(15 * 60))
            .strict();
        ManifestHandler {
            default,
            field_manager,
            schema,
            inline: Mutex::new(HashMap::new()),
        }
    }

    /// The applier for a resource: its inline kubeconfig's, else the default one; labelled
    /// with its `Release`.
    async fn applier(&self, props: &Properties) -> Result<Applier, HandlerError> {
        let base = match props.get("Kubeconfig") {
            Some(Value::String(text)) if !text.is_empty() => self.inline_applier(text).await?,
            Some(Value::Null) | None => self.default.clone().ok_or_else(|| {
                HandlerError::new(
                    iac_core::provider::ErrorKind::Invalid,
                    format!(
                        "{TYPE_NAME}: no Kubeconfig given and the handler has no default client"
                    ),
                )
            })?,
            Some(_) => {
                return Err(HandlerError::invalid(format!(
                    "{TYPE_NAME}: Kubeconfig must be the kubeconfig's text"
                )));
            }
        };
        match props.get("Release") {
            Some(Value::String(release)) if !release.is_empty() => Ok(base.with_release(release)?),
            None | Some(Value::Null) => Ok(base),
            Some(_) => Err(HandlerError::invalid(format!(
                "{TYPE_NAME}: Release must be a string"
            ))),
        }
    }

    async fn inline_applier(&self, text: &str) -> Result<Applier, HandlerError> {
        let key: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        if let Some(found) = self.inline.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(found);
        }
        // The parse errors of a kubeconfig may quote its content: they are not passed on.
        let unusable = |what: &str| {
            HandlerError::new(
                iac_core::provider::ErrorKind::Auth,
                format!(
                    "{TYPE_NAME}: the Kubeconfig property {what} (details withheld: it holds credentials; a value read back from state is redacted and must be given again)"
                ),
            )
        };
        let kubeconfig =
            Kubeconfig::from_yaml(text).map_err(|_| unusable("is not kubeconfig YAML"))?;
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|_| unusable("names no usable context, cluster and user"))?;
        if config.accept_invalid_certs {
            return Err(unusable(
                "asks to skip TLS verification (insecure-skip-tls-verify): the API server's certificate is always verified; give its CA (certificate-authority-data) instead",
            ));
        }
        let client = Client::try_from(config)
            .map_err(|_| unusable("could not give a client (TLS or proxy settings)"))?;
        let applier = Applier::new(client, &self.field_manager);
        if let Ok(mut cache) = self.inline.lock() {
            cache.insert(key, applier.clone());
        }
        Ok(applier)
    }
}

/// The `Manifest` property: a JSON object, or a string holding one YAML (or JSON) document.
fn manifest_of(props: &Properties) -> Result<Manifest, HandlerError> {
    let manifest = match props.get("Manifest") {
        Some(Value::String(text)) => {
            let docs = super::parse_yaml_stream(text)?;
            let count = docs.len();
            let mut docs = docs.into_iter();
            match (docs.next(), count) {
                (Some(one), 1) => one,
                _ => {
                    return Err(HandlerError::invalid(format!(
                        "{TYPE_NAME}: Manifest must hold exactly one object, it holds {count}"
                    )));
                }
            }
        }
        Some(value @ Value::Object(_)) => Manifest::from_value(value.clone())?,
        Some(_) => {
            return Err(HandlerError::invalid(format!(
                "{TYPE_NAME}: Manifest must be an object or a YAML string"
            )));
        }
        None => {
            return Err(HandlerError::invalid(format!(
                "{TYPE_NAME}: the Manifest property is required"
            )));
        }
    };
    Ok(manifest)
}

fn readiness(object: &ObjectRef, live: &DynamicObject) -> Readiness {
    match assess(object.group(), &object.kind, live) {
        ReadyState::Ready => Readiness::Ready(attributes(object, live)),
        ReadyState::Pending(status) => Readiness::Pending { status },
        ReadyState::Failed(reason) => Readiness::Failed {
            reason: format!("{object}: {reason}"),
        },
        ReadyState::Terminating => Readiness::Pending {
            status: "Terminating".into(),
        },
    }
}

fn attributes(object: &ObjectRef, live: &DynamicObject) -> Attributes {
    let mut attrs = Attributes::new();
    attrs.insert("Name".into(), Value::String(object.name.clone()));
    attrs.insert(
        "Namespace".into(),
        Value::String(object.namespace.clone().unwrap_or_default()),
    );
    attrs.insert(
        "Uid".into(),
        Value::String(live.metadata.uid.clone().unwrap_or_default()),
    );
    if object.group().is_empty()
        && object.kind == "Service"
        && let Some(address) = load_balancer_ingress(live)
    {
        attrs.insert("LoadBalancerIngress".into(), Value::String(address));
    }
    attrs
}

fn parse_id(physical_id: &PhysicalId) -> Result<ObjectRef, HandlerError> {
    Ok(ObjectRef::parse_physical_id(physical_id.as_str())?)
}

#[async_trait]
impl ResourceHandler for ManifestHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let manifest = manifest_of(request.properties)?;
        let applier = self.applier(request.properties).await?;
        // Server-side apply is idempotent: a retried create applies the same object again.
        let applied = applier.apply_one(&manifest).await?;
        Ok(Created {
            physical_id: PhysicalId::new(applied.object.physical_id()),
            readiness: readiness(&applied.object, &applied.live),
        })
    }

    async fn read(
        &self,
        physical_id: &PhysicalId,
        properties: &Properties,
    ) -> Result<Readiness, HandlerError> {
        let object = parse_id(physical_id)?;
        let applier = self.applier(properties).await?;
        Ok(match applier.get(&object).await? {
            Some(live) => readiness(&object, &live),
            None => Readiness::Gone,
        })
    }

    fn replacement_reason(&self, old: &Properties, new: &Properties) -> Option<String> {
        // The object's identity (group, kind, namespace, name) lives inside the Manifest
        // property: a change of it is a new object, created before the old one is deleted.
        let identity = |props: &Properties| {
            let manifest = manifest_of(props).ok()?;
            let reference = manifest.object_ref(true, "");
            Some(reference)
        };
        let (before, after) = (identity(old)?, identity(new)?);
        (!before.same_object(&after))
            .then(|| format!("the Manifest now names {after}, not {before}"))
    }

    async fn update(
        &self,
        physical_id: &PhysicalId,
        _old: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError> {
        let current = parse_id(physical_id)?;
        let manifest = manifest_of(new)?;
        let applier = self.applier(new).await?;
        let (target, _) = applier.target(&manifest).await?;
        if !target.same_object(&current) {
            return Err(HandlerError::invalid(format!(
                "{TYPE_NAME}: the new Manifest names {target}, not {current}: a change of \
                 group, kind, namespace or name needs a new resource (a new logical id)"
            )));
        }
        let applied = applier.apply_one(&manifest).await?;
        Ok(Updated {
            readiness: readiness(&applied.object, &applied.live),
        })
    }

    async fn delete(
        &self,
        physical_id: &PhysicalId,
        properties: &Properties,
    ) -> Result<Deleted, HandlerError> {
        let object = parse_id(physical_id)?;
        let applier = self.applier(properties).await?;
        Ok(if applier.delete(&object).await? {
            Deleted::InProgress
        } else {
            Deleted::Done
        })
    }
}
