//! Errors of application templates, configurations, releases and their history.

use iac_core::provider::ErrorKind;

/// Why rendering, deploying, diffing or reading the history of an application failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The template's structure is wrong (a name, a dependency, a cycle, the defaults).
    #[error("app template {template}: {reason}")]
    Template {
        /// The template's name.
        template: String,
        /// Why.
        reason: String,
    },
    /// A template uses a variable that the configuration does not have.
    #[error("service {service}, {file}: undefined variable `{variable}`")]
    UndefinedVariable {
        /// The service.
        service: String,
        /// The template file (`deployment.yaml`), or `typed` for a Rust template.
        file: String,
        /// The variable as written (`values.db.host`).
        variable: String,
    },
    /// A template could not be parsed or rendered, or did not render to objects.
    #[error("service {service}, {file}{}: {reason}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Render {
        /// The service.
        service: String,
        /// The template file, or `typed`.
        file: String,
        /// The line in the template (or in the rendered text), when known.
        line: Option<usize>,
        /// Why.
        reason: String,
    },
    /// A rendered object cannot be part of the release.
    #[error("service {service}: {object} {reason}")]
    Object {
        /// The service.
        service: String,
        /// The object (`apps/v1 Deployment web`).
        object: String,
        /// Why.
        reason: String,
    },
    /// A configuration or one of its values is wrong.
    #[error("config {config}: {reason}")]
    Config {
        /// The configuration's name.
        config: String,
        /// What is wrong, with the key (`values.web.replicas`).
        reason: String,
    },
    /// The release history could not be read or written.
    #[error("history of {app} in {namespace}: {reason}")]
    History {
        /// The application.
        app: String,
        /// Its namespace.
        namespace: String,
        /// Why.
        reason: String,
    },
    /// A revision asked for does not exist.
    #[error("{app} in {namespace} has no revision {revision}")]
    NoRevision {
        /// The application.
        app: String,
        /// Its namespace.
        namespace: String,
        /// The revision number asked for.
        revision: u32,
    },
    /// Another deploy of the application is running, or one was interrupted.
    #[error(
        "{app} in {namespace}: revision {revision} is {status}: another deploy is running or \
         was interrupted (roll back to a revision to go on)"
    )]
    InProgress {
        /// The application.
        app: String,
        /// Its namespace.
        namespace: String,
        /// The pending revision.
        revision: u32,
        /// Its status (`pending-upgrade`).
        status: &'static str,
    },
    /// A call to the cluster failed.
    #[error(transparent)]
    Apply(#[from] crate::apply::Error),
    /// The engine could not deploy the release (a service failed or did not get ready).
    #[error("revision {revision} of {app} in {namespace} failed: {summary}")]
    Deploy {
        /// The application.
        app: String,
        /// Its namespace.
        namespace: String,
        /// The revision that failed (recorded with status `failed`).
        revision: u32,
        /// Which services failed and why.
        summary: String,
        /// The engine's error.
        #[source]
        source: Box<iac_core::engine::EngineError>,
    },
}

impl AppError {
    /// What the caller should do about it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AppError::Template { .. }
            | AppError::UndefinedVariable { .. }
            | AppError::Render { .. }
            | AppError::Object { .. }
            | AppError::Config { .. } => ErrorKind::Invalid,
            AppError::NoRevision { .. } => ErrorKind::NotFound,
            AppError::InProgress { .. } => ErrorKind::Conflict,
            AppError::History { .. } => ErrorKind::Permanent,
            AppError::Apply(e) => e.kind(),
            AppError::Deploy { source, .. } => source.kind(),
        }
    }

    pub(crate) fn config(config: &str, reason: impl Into<String>) -> Self {
        AppError::Config {
            config: config.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn template(template: &str, reason: impl Into<String>) -> Self {
        AppError::Template {
            template: template.to_owned(),
            reason: reason.into(),
        }
    }
}
