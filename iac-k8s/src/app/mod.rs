//! Applications on Kubernetes: multi-service templates, versioned configuration, releases
//! deployed in dependency order, diff, history and rollback.
//!
//! - [`AppTemplate`]: named services ([`ServiceTemplate`]), each a set of objects written as
//!   typed Rust (a function of the configuration) or as YAML rendered by `minijinja` with
//!   strict undefined variables; `depends_on` between services; default values.
//! - [`Config`]: nested key/value configuration, every change a new immutable
//!   [`ConfigVersion`] (number, time, message); [`layered`] merges application over
//!   environment over defaults. Values reach pods three ways: template variables, a
//!   generated ConfigMap as environment (`envFrom`), a ConfigMap mounted as files; pod
//!   templates carry [`CONFIG_HASH_ANNOTATION`], so a ConfigMap change rolls the pods.
//! - [`Release`]: (template version, configuration versions) rendered for an
//!   [`Environment`]; [`replicate`] renders dev, staging and prod at once, each in its own
//!   namespace.
//! - [`Deployer`]: applies a release through the iac-core engine with one node per service
//!   ([`SERVICE_TYPE`]), so a service starts only when the services it depends on are ready
//!   (Deployments available, StatefulSets ready); only the services that changed since the
//!   deployed revision are applied (the unchanged ones they depend on are read until ready,
//!   never applied); optional readiness gates add cluster-side ordering.
//!   Every deploy writes a [`Revision`] to a [`HistoryStore`]: Secrets in the cluster like
//!   Helm ([`SecretHistory`]), an iac-core state store ([`StateHistory`]) or memory;
//!   `history`, `diff`, `rollback`.
//! - [`diff_releases`]: a readable unified diff per service and object, and which services
//!   an upgrade updates.
//!
//! ```
//! use chrono::DateTime;
//! use iac_k8s::app::{AppTemplate, Config, Environment, Release, ServiceTemplate, diff_releases};
//! use serde_json::json;
//!
//! let template = AppTemplate::new("shop", "1.0.0")
//!     .with_defaults(json!({"api": {"replicas": 1, "image": "shop/api:1.0"}}))
//!     .with_service(ServiceTemplate::yaml("api").with_file("deployment.yaml", r#"
//! apiVersion: apps/v1
//! kind: Deployment
//! metadata: {name: api}
//! spec:
//!   replicas: {{ values.api.replicas }}
//!   selector: {matchLabels: {app: api}}
//!   template:
//!     metadata: {labels: {app: api}}
//!     spec: {containers: [{name: api, image: "{{ values.api.image }}"}]}
//! "#));
//! let prod = Environment::new("prod", "shop-prod");
//! let mut config = Config::new("shop-prod");
//! let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
//! config.commit(json!({"api": {"replicas": 3}}), "three replicas", at)?;
//! let v1 = Release::render(&template, &prod, config.latest())?;
//! config.set("api.replicas", 5, "five", at)?;
//! let v2 = Release::render(&template, &prod, config.latest())?;
//! let diff = diff_releases(&v1.rendered, &v2.rendered, "config v1", "config v2");
//! assert_eq!(diff.to_update(), ["api"]);
//! assert!(diff.to_string().contains("-  replicas: 3\n+  replicas: 5"));
//! # Ok::<(), iac_k8s::app::AppError>(())
//! ```

mod config;
mod diff;
mod error;
mod history;
mod release;
mod template;

pub use config::{Config, ConfigVersion, layered, lookup, merge};
pub use diff::{Change, ObjectDiff, ReleaseDiff, ServiceDiff, diff_releases};
pub use error::AppError;
pub use history::{
    HistoryStore, MemoryHistory, OWNER, Revision, RevisionStatus, SECRET_TYPE, SecretHistory,
    StateHistory, decode, encode,
};
pub use release::{
    DEFAULT_MAX_HISTORY, DeployReport, Deployer, Environment, Release, SERVICE_TYPE,
    ServiceHandler, replicate,
};
pub use template::{
    AppTemplate, COMPONENT_LABEL, CONFIG_FILES_VOLUME, CONFIG_HASH_ANNOTATION, GATE_IMAGE,
    PART_OF_LABEL, RenderError, RenderedRelease, RenderedService, ServiceContext, ServiceTemplate,
    Target, TypedTemplate,
};
