//! Releases: a template version and configuration versions rendered for one environment,
//! deployed through the iac-core engine one node per service, with a revision history.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use iac_core::engine::{Engine, EngineOptions, EventSender, FailurePolicy, RunOptions, StackInput};
use iac_core::model::Template;
use iac_core::provider::{
    Attributes, CreateRequest, Created, Deleted, HandlerError, PhysicalId, Properties, Readiness,
    Registry, ResourceHandler, Schema, UpdateBehavior::Mutable, Updated,
};
use kube::Client;
use serde_json::{Map, Value, json};

use super::AppError;
use super::config::{ConfigVersion, layered};
use super::diff::{ReleaseDiff, diff_releases};
use super::history::{HistoryStore, Revision, RevisionStatus, SecretHistory};
use super::template::{AppTemplate, RenderedRelease, Target, object_key};
use crate::apply::{Applier, Manifest, ObjectRef, ReadyState, assess, has_readiness};

/// The type name of one service of a release in the engine.
pub const SERVICE_TYPE: &str = "KUBERNETES::AppService";

/// The history kept per application and namespace when none is set (Helm's default).
pub const DEFAULT_MAX_HISTORY: usize = 10;

/// An environment: its name, its namespace and its configuration layer.
#[derive(Debug, Clone)]
pub struct Environment {
    /// `prod`.
    pub name: String,
    /// `shop-prod`.
    pub namespace: String,
    /// The environment layer (between the template's defaults and the application's
    /// configuration), if any.
    pub config: Option<ConfigVersion>,
}

impl Environment {
    /// An environment without its own configuration layer.
    pub fn new(name: impl Into<String>, namespace: impl Into<String>) -> Self {
        Environment {
            name: name.into(),
            namespace: namespace.into(),
            config: None,
        }
    }

    /// Sets the environment layer (builder style).
    pub fn with_config(mut self, config: &ConfigVersion) -> Self {
        self.config = Some(config.clone());
        self
    }

    /// Where its releases go.
    pub fn target(&self) -> Target {
        Target::new(&self.name, &self.namespace)
    }
}

/// A rendered release: (template version, configuration versions) for one environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    /// The template version.
    pub template_version: String,
    /// The application configuration version.
    pub config_version: Option<u32>,
    /// The environment configuration version.
    pub environment_version: Option<u32>,
    /// The layered values.
    pub values: Value,
    /// The rendered objects.
    pub rendered: RenderedRelease,
}

impl Release {
    /// Renders `template` for `environment` with the application configuration `config`:
    /// values = `config` over the environment's layer over the template's defaults.
    pub fn render(
        template: &AppTemplate,
        environment: &Environment,
        config: Option<&ConfigVersion>,
    ) -> Result<Self, AppError> {
        let values = layered(
            template.defaults(),
            environment.config.as_ref().map(ConfigVersion::values),
            config.map(ConfigVersion::values),
        );
        let rendered = template.render(&environment.target(), &values)?;
        Ok(Release {
            template_version: template.version().to_owned(),
            config_version: config.map(ConfigVersion::number),
            environment_version: environment.config.as_ref().map(ConfigVersion::number),
            values,
            rendered,
        })
    }

    /// The application.
    pub fn app(&self) -> &str {
        &self.rendered.app
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.rendered.namespace
    }
}

/// Renders one template for several environments at once (dev, staging, prod), each with
/// its application configuration; every environment must have its own namespace.
pub fn replicate(
    template: &AppTemplate,
    environments: &[(Environment, Option<&ConfigVersion>)],
) -> Result<Vec<Release>, AppError> {
    for (i, (env, _)) in environments.iter().enumerate() {
        if let Some((other, _)) = environments[..i]
            .iter()
            .find(|(o, _)| o.namespace == env.namespace || o.name == env.name)
        {
            return Err(AppError::template(
                template.name(),
                format!(
                    "environments `{}` and `{}` must differ in name and namespace (`{}`)",
                    other.name, env.name, env.namespace
                ),
            ));
        }
    }
    environments
        .iter()
        .map(|(env, config)| Release::render(template, env, *config))
        .collect()
}

/// What a deploy or rollback did.
#[derive(Debug, Clone)]
pub struct DeployReport {
    /// The revision written.
    pub revision: u32,
    /// The namespace.
    pub namespace: String,
    /// The services applied, in the engine's dependency order.
    pub updated: Vec<String>,
    /// The services deleted.
    pub removed: Vec<String>,
    /// The services left alone.
    pub unchanged: Vec<String>,
    /// Objects deleted because the new revision no longer renders them.
    pub deleted: Vec<ObjectRef>,
    /// The difference from the revision that was deployed before.
    pub diff: ReleaseDiff,
}

type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Deploys releases to a cluster and keeps their history.
#[derive(Clone)]
pub struct Deployer {
    applier: Applier,
    history: Arc<dyn HistoryStore>,
    options: EngineOptions,
    max_history: usize,
    ready_timeout: Duration,
    clock: Clock,
    events: Option<EventSender>,
}

impl fmt::Debug for Deployer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deployer")
            .field("applier", &self.applier)
            .field("max_history", &self.max_history)
            .field("ready_timeout", &self.ready_timeout)
            .finish_non_exhaustive()
    }
}

impl Deployer {
    /// A deployer over `client`, keeping history as Secrets in the cluster
    /// ([`SecretHistory`]), at most [`DEFAULT_MAX_HISTORY`] revisions.
    pub fn new(client: Client) -> Self {
        let applier = Applier::new(client, crate::apply::DEFAULT_FIELD_MANAGER);
        Deployer {
            history: Arc::new(SecretHistory::new(applier.clone())),
            applier,
            options: EngineOptions::default(),
            max_history: DEFAULT_MAX_HISTORY,
            ready_timeout: Duration::from_secs(10 * 60),
            clock: Arc::new(Utc::now),
            events: None,
        }
    }

    /// Sends the engine's events (one resource per service) to `events` (builder style).
    pub fn with_events(mut self, events: EventSender) -> Self {
        self.events = Some(events);
        self
    }

    /// Keeps history in `history` instead (builder style).
    pub fn with_history(mut self, history: Arc<dyn HistoryStore>) -> Self {
        self.history = history;
        self
    }

    /// Keeps at most `max` revisions per application and namespace (at least 1; the
    /// deployed one is never pruned).
    pub fn with_max_history(mut self, max: usize) -> Self {
        self.max_history = max.max(1);
        self
    }

    /// The engine's options (concurrency, retries, polling). The failure policy is always
    /// `Stop`: a failed service leaves the others as they are, and the revision `failed`.
    pub fn with_engine_options(mut self, options: EngineOptions) -> Self {
        self.options = options;
        self
    }

    /// How long one service may take to become ready.
    pub fn with_ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// The clock that dates revisions.
    pub fn with_clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Every revision of `app` in `namespace`, oldest first.
    pub async fn history(&self, app: &str, namespace: &str) -> Result<Vec<Revision>, AppError> {
        self.history.list(app, namespace).await
    }

    /// Revision `number`.
    pub async fn revision(
        &self,
        app: &str,
        namespace: &str,
        number: u32,
    ) -> Result<Revision, AppError> {
        self.history
            .list(app, namespace)
            .await?
            .into_iter()
            .find(|r| r.number == number)
            .ok_or_else(|| AppError::NoRevision {
                app: app.to_owned(),
                namespace: namespace.to_owned(),
                revision: number,
            })
    }

    /// The difference between two revisions.
    pub async fn diff(
        &self,
        app: &str,
        namespace: &str,
        from: u32,
        to: u32,
    ) -> Result<ReleaseDiff, AppError> {
        let a = self.revision(app, namespace, from).await?;
        let b = self.revision(app, namespace, to).await?;
        Ok(diff_releases(
            &a.release,
            &b.release,
            &format!("revision {from}"),
            &format!("revision {to}"),
        ))
    }

    /// What deploying `release` would change compared with the deployed revision.
    pub async fn plan(&self, release: &Release) -> Result<ReleaseDiff, AppError> {
        let revisions = self
            .history
            .list(release.app(), release.namespace())
            .await?;
        let current = deployed(&revisions);
        Ok(diff_against(current, &release.rendered, "the new release"))
    }

    /// Installs or upgrades: applies only the services whose rendered objects changed since
    /// the deployed revision, each once the services it depends on are ready (unchanged
    /// ones included: they are read, not applied); deletes what
    /// the release no longer renders; writes a new revision. Refused while the newest
    /// revision is pending (another deploy runs, or one was interrupted: roll back).
    pub async fn deploy(&self, release: &Release) -> Result<DeployReport, AppError> {
        self.run(release, None).await
    }

    /// Deploys several releases (one per environment) one after the other; stops at the
    /// first that fails.
    pub async fn deploy_all(&self, releases: &[Release]) -> Result<Vec<DeployReport>, AppError> {
        let mut reports = Vec::with_capacity(releases.len());
        for release in releases {
            reports.push(self.deploy(release).await?);
        }
        Ok(reports)
    }

    /// Deploys what revision `to` rendered again, as a new revision (`Rollback to <to>`).
    /// Also the way out when an interrupted deploy left the newest revision pending.
    pub async fn rollback(
        &self,
        app: &str,
        namespace: &str,
        to: u32,
    ) -> Result<DeployReport, AppError> {
        let old = self.revision(app, namespace, to).await?;
        let release = Release {
            template_version: old.template_version,
            config_version: old.config_version,
            environment_version: old.environment_version,
            values: old.values,
            rendered: old.release,
        };
        self.run(&release, Some(to)).await
    }

    async fn run(
        &self,
        release: &Release,
        rollback_to: Option<u32>,
    ) -> Result<DeployReport, AppError> {
        let (app, namespace) = (release.app(), release.namespace());
        let revisions = self.history.list(app, namespace).await?;
        if let Some(last) = revisions.last()
            && last.status.is_pending()
            && rollback_to.is_none()
        {
            return Err(AppError::InProgress {
                app: app.to_owned(),
                namespace: namespace.to_owned(),
                revision: last.number,
                status: last.status.as_str(),
            });
        }
        if let Some(last) = revisions.last()
            && last.status.is_pending()
        {
            // Rolling back past an interrupted deploy: that one failed.
            self.set_status(&mut last.clone(), RevisionStatus::Failed)
                .await?;
        }
        let number = revisions.last().map_or(1, |r| r.number + 1);
        let current = deployed(&revisions);
        let diff = diff_against(current, &release.rendered, &format!("revision {number}"));
        let now = (self.clock)();
        let (status, description) = match (rollback_to, current) {
            (Some(to), _) => (RevisionStatus::PendingRollback, format!("Rollback to {to}")),
            (None, None) => (RevisionStatus::PendingInstall, "Install".to_owned()),
            (None, Some(_)) => (RevisionStatus::PendingUpgrade, "Upgrade".to_owned()),
        };
        if current.is_none() {
            // The namespace first: the history Secret of the first revision lives in it.
            let ns = json!({"apiVersion": "v1", "kind": "Namespace",
                            "metadata": {"name": namespace}});
            self.applier
                .clone()
                .with_release(app)?
                .apply_one(&Manifest::from_value(ns)?)
                .await?;
        }
        let mut revision = Revision {
            app: app.to_owned(),
            namespace: namespace.to_owned(),
            environment: release.rendered.environment.clone(),
            number,
            status,
            description,
            created: now,
            updated: now,
            template_version: release.template_version.clone(),
            config_version: release.config_version,
            environment_version: release.environment_version,
            values: release.values.clone(),
            release: release.rendered.clone(),
        };
        self.history.put(&revision).await?;

        let applied = match self.apply_services(release, &diff, number).await {
            Ok(updated) => self
                .delete_dropped(current, &release.rendered)
                .await
                .map(|deleted| (updated, deleted)),
            Err(e) => Err(e),
        };
        let (updated, deleted) = match applied {
            Ok(done) => done,
            Err(e) => {
                self.set_status(&mut revision, RevisionStatus::Failed)
                    .await?;
                return Err(e);
            }
        };
        if let Some(previous) = current {
            self.set_status(&mut previous.clone(), RevisionStatus::Superseded)
                .await?;
        }
        self.set_status(&mut revision, RevisionStatus::Deployed)
            .await?;
        if let Err(e) = self.prune_history(app, namespace, number).await {
            // The release is deployed and recorded; old revisions go next time.
            tracing::warn!(app, namespace, error = %e, "pruning the release history failed");
        }
        Ok(DeployReport {
            revision: number,
            namespace: namespace.to_owned(),
            updated,
            removed: diff.to_remove().into_iter().map(str::to_owned).collect(),
            unchanged: diff.unchanged().into_iter().map(str::to_owned).collect(),
            deleted,
            diff,
        })
    }

    /// One engine node per changed service, each depending on the services it depends on;
    /// the unchanged ones among those are nodes that only wait.
    async fn apply_services(
        &self,
        release: &Release,
        diff: &ReleaseDiff,
        number: u32,
    ) -> Result<Vec<String>, AppError> {
        let (app, namespace) = (release.app(), release.namespace());
        let changed = diff.to_update();
        if changed.is_empty() {
            return Ok(Vec::new());
        }
        let mut resources = Map::new();
        // The unchanged services that a changed one depends on are nodes too, that only
        // wait until they are ready (read, never applied).
        let waited: Vec<&str> = release
            .rendered
            .services
            .iter()
            .filter(|(name, _)| !changed.contains(&name.as_str()))
            .filter(|(name, _)| {
                changed.iter().any(|c| {
                    release.rendered.services[*c]
                        .depends_on
                        .iter()
                        .any(|d| d == *name)
                })
            })
            .map(|(name, _)| name.as_str())
            .collect();
        for name in changed.iter().chain(&waited) {
            let service = &release.rendered.services[*name];
            let apply = changed.contains(name);
            let depends_on: Vec<&str> = if apply {
                service.depends_on.iter().map(String::as_str).collect()
            } else {
                Vec::new()
            };
            let manifests = Value::Array(service.objects.clone()).to_string();
            resources.insert(
                (*name).to_owned(),
                json!({"Type": SERVICE_TYPE, "DependsOn": depends_on,
                       "Properties": {"Service": name, "Manifests": manifests,
                                      "Release": app, "Apply": apply}}),
            );
        }
        let template: Template = serde_json::from_value(json!({"Resources": resources}))
            .map_err(|e| AppError::template(app, format!("engine template: {e}")))?;
        let mut registry = Registry::new();
        registry.register(Arc::new(ServiceHandler::new(
            self.applier.clone(),
            self.ready_timeout,
        )));
        let mut options = self.options.clone();
        options.failure_policy = FailurePolicy::Stop;
        let engine = Engine::builder()
            .provider(registry)
            .options(options)
            .build();
        let stack = StackInput::new(format!("app.{app}.{namespace}.r{number}"), template);
        let mut run = RunOptions::default();
        if let Some(events) = &self.events {
            run = run.with_events(events.clone());
        }
        match engine.apply(&stack, run).await {
            Ok(report) => Ok(report
                .resources
                .into_iter()
                .map(|r| r.logical_id)
                .filter(|id| changed.contains(&id.as_str()))
                .collect()),
            Err(e) => Err(AppError::Deploy {
                app: app.to_owned(),
                namespace: namespace.to_owned(),
                revision: number,
                summary: match e.report() {
                    Some(report) => {
                        // The engine stops at a failure: what it never reached did not start.
                        let reached = |name: &str| {
                            report.resources.iter().any(|r| r.logical_id == name)
                                || report.failures.iter().any(|f| f.logical_id == name)
                        };
                        let not_started: Vec<&str> =
                            changed.iter().copied().filter(|n| !reached(n)).collect();
                        report
                            .failures
                            .iter()
                            .map(|f| format!("service {}: {}", f.logical_id, f.message))
                            .chain(
                                (!not_started.is_empty())
                                    .then(|| format!("not started: {}", not_started.join(", "))),
                            )
                            .collect::<Vec<_>>()
                            .join("; ")
                    }
                    None => e.to_string(),
                },
                source: Box::new(e),
            }),
        }
    }

    /// Deletes the objects of the deployed revision that `new` does not render, in reverse
    /// order (dependants first).
    async fn delete_dropped(
        &self,
        current: Option<&Revision>,
        new: &RenderedRelease,
    ) -> Result<Vec<ObjectRef>, AppError> {
        let Some(current) = current else {
            return Ok(Vec::new());
        };
        let keep: Vec<String> = new.objects().map(object_key).collect();
        let dropped: Vec<&Value> = current
            .release
            .objects()
            .filter(|o| !keep.contains(&object_key(o)))
            .collect();
        let mut deleted = Vec::new();
        for object in dropped.into_iter().rev() {
            let manifest = Manifest::from_value(object.clone())?;
            let (target, _) = self.applier.target(&manifest).await?;
            self.applier.delete(&target).await?;
            deleted.push(target);
        }
        Ok(deleted)
    }

    async fn set_status(
        &self,
        revision: &mut Revision,
        status: RevisionStatus,
    ) -> Result<(), AppError> {
        revision.status = status;
        revision.updated = (self.clock)();
        self.history.put(revision).await
    }

    /// Deletes the oldest revisions beyond the limit, never the one just deployed.
    async fn prune_history(&self, app: &str, namespace: &str, keep: u32) -> Result<(), AppError> {
        let revisions = self.history.list(app, namespace).await?;
        let excess = revisions.len().saturating_sub(self.max_history);
        for old in revisions.iter().filter(|r| r.number != keep).take(excess) {
            self.history.delete(app, namespace, old.number).await?;
        }
        Ok(())
    }
}

/// The revision running now: the newest `deployed` one.
fn deployed(revisions: &[Revision]) -> Option<&Revision> {
    revisions
        .iter()
        .rev()
        .find(|r| r.status == RevisionStatus::Deployed)
}

fn diff_against(current: Option<&Revision>, new: &RenderedRelease, to: &str) -> ReleaseDiff {
    match current {
        Some(current) => diff_releases(
            &current.release,
            new,
            &format!("revision {}", current.number),
            to,
        ),
        None => {
            let empty = RenderedRelease {
                services: Default::default(),
                ..new.clone()
            };
            diff_releases(&empty, new, "nothing deployed", to)
        }
    }
}

/// The handler of [`SERVICE_TYPE`]: all objects of one service, applied together with
/// server-side apply; ready when every object is (Deployments available, StatefulSets
/// ready, LoadBalancer Services with an address, PVCs bound).
///
/// Properties: `Service` (its name), `Manifests` (a JSON list of objects, as a string so
/// that the engine does not read keys like `Ref` in them as functions), `Release` (the
/// `iac.dev/release` label), `Apply` (`false`: an unchanged service that a changed one
/// depends on; nothing is sent, the node only waits until it is ready). Physical id:
/// `<namespace>/<service>`.
pub struct ServiceHandler {
    applier: Applier,
    schema: Schema,
}

impl fmt::Debug for ServiceHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceHandler")
            .field("applier", &self.applier)
            .finish_non_exhaustive()
    }
}

struct Parsed {
    service: String,
    objects: Vec<Value>,
    manifests: Vec<Manifest>,
    applier: Applier,
}

impl ServiceHandler {
    /// The handler, applying through `applier`; a service may take `ready_timeout` to get
    /// ready.
    pub fn new(applier: Applier, ready_timeout: Duration) -> Self {
        let schema = Schema::new(SERVICE_TYPE)
            .with_property("Service", true, Mutable)
            .with_property("Manifests", true, Mutable)
            .with_property("Release", false, Mutable)
            .with_property("Apply", false, Mutable)
            .with_attributes(&["Service", "Objects"])
            .with_readiness_hint(Duration::from_secs(2))
            .with_ready_timeout(ready_timeout)
            .strict();
        ServiceHandler { applier, schema }
    }

    fn parse(&self, props: &Properties) -> Result<Parsed, HandlerError> {
        let service = props
            .get("Service")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                HandlerError::invalid(format!("{SERVICE_TYPE}: Service must be a string"))
            })?
            .to_owned();
        let text = props
            .get("Manifests")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                HandlerError::invalid(format!(
                    "{SERVICE_TYPE} {service}: Manifests must be a JSON list in a string"
                ))
            })?;
        let list: Vec<Value> = serde_json::from_str(text).map_err(|e| {
            HandlerError::invalid(format!(
                "{SERVICE_TYPE} {service}: Manifests is not a JSON list: {e}"
            ))
        })?;
        let manifests = list
            .iter()
            .cloned()
            .map(Manifest::from_value)
            .collect::<Result<Vec<_>, _>>()?;
        let applier = match props.get("Release").and_then(Value::as_str) {
            Some(release) => self.applier.clone().with_release(release)?,
            None => self.applier.clone(),
        };
        Ok(Parsed {
            service,
            objects: list,
            manifests,
            applier,
        })
    }

    async fn readiness(
        applier: &Applier,
        service: &str,
        manifests: &[Manifest],
    ) -> Result<Readiness, HandlerError> {
        for manifest in manifests {
            if !has_readiness(manifest.group(), manifest.kind()) {
                continue;
            }
            let (object, _) = applier.target(manifest).await?;
            let state = match applier.get(&object).await? {
                Some(live) => assess(object.group(), &object.kind, &live),
                None => ReadyState::Pending("not found".into()),
            };
            match state {
                ReadyState::Ready => {}
                ReadyState::Pending(status) => {
                    return Ok(Readiness::Pending {
                        status: format!("{object}: {status}"),
                    });
                }
                ReadyState::Failed(reason) => {
                    return Ok(Readiness::Failed {
                        reason: format!("{object}: {reason}"),
                    });
                }
                ReadyState::Terminating => {
                    return Ok(Readiness::Pending {
                        status: format!("{object}: being deleted"),
                    });
                }
            }
        }
        let mut attrs = Attributes::new();
        attrs.insert("Service".into(), Value::String(service.to_owned()));
        attrs.insert("Objects".into(), json!(manifests.len()));
        Ok(Readiness::Ready(attrs))
    }

    async fn apply(&self, props: &Properties) -> Result<(String, Readiness), HandlerError> {
        let Parsed {
            service,
            objects,
            manifests,
            applier,
        } = self.parse(props)?;
        let report = applier.apply(&objects).await?;
        let namespace = report
            .applied
            .iter()
            .find_map(|a| a.object.namespace.clone())
            .unwrap_or_default();
        // The answers of the applies already say how ready each object is.
        for applied in &report.applied {
            match assess(applied.object.group(), &applied.object.kind, &applied.live) {
                ReadyState::Ready => {}
                ReadyState::Failed(reason) => {
                    return Ok((
                        format!("{namespace}/{service}"),
                        Readiness::Failed {
                            reason: format!("{}: {reason}", applied.object),
                        },
                    ));
                }
                other => {
                    let status = match other {
                        ReadyState::Pending(s) => s,
                        _ => "being deleted".into(),
                    };
                    return Ok((
                        format!("{namespace}/{service}"),
                        Readiness::Pending {
                            status: format!("{}: {status}", applied.object),
                        },
                    ));
                }
            }
        }
        let mut attrs = Attributes::new();
        attrs.insert("Service".into(), Value::String(service.clone()));
        attrs.insert("Objects".into(), json!(manifests.len()));
        Ok((format!("{namespace}/{service}"), Readiness::Ready(attrs)))
    }
}

#[async_trait]
impl ResourceHandler for ServiceHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        if request.properties.get("Apply") == Some(&Value::Bool(false)) {
            let parsed = self.parse(request.properties)?;
            let namespace = parsed
                .manifests
                .iter()
                .find_map(|m| m.namespace().map(str::to_owned))
                .unwrap_or_default();
            return Ok(Created {
                physical_id: PhysicalId::new(format!("{namespace}/{}", parsed.service)),
                readiness: Self::readiness(&parsed.applier, &parsed.service, &parsed.manifests)
                    .await?,
            });
        }
        // Server-side apply is idempotent: a retried create applies the same objects again.
        let (id, readiness) = self.apply(request.properties).await?;
        Ok(Created {
            physical_id: PhysicalId::new(id),
            readiness,
        })
    }

    async fn read(
        &self,
        _physical_id: &PhysicalId,
        properties: &Properties,
    ) -> Result<Readiness, HandlerError> {
        let parsed = self.parse(properties)?;
        Self::readiness(&parsed.applier, &parsed.service, &parsed.manifests).await
    }

    async fn update(
        &self,
        _physical_id: &PhysicalId,
        _old: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError> {
        let (_, readiness) = self.apply(new).await?;
        Ok(Updated { readiness })
    }

    async fn delete(
        &self,
        _physical_id: &PhysicalId,
        properties: &Properties,
    ) -> Result<Deleted, HandlerError> {
        let parsed = self.parse(properties)?;
        let mut remaining = false;
        for manifest in parsed.manifests.iter().rev() {
            let (object, _) = parsed.applier.target(manifest).await?;
            remaining |= parsed.applier.delete(&object).await?;
        }
        Ok(if remaining {
            Deleted::InProgress
        } else {
            Deleted::Done
        })
    }
}
