//! The bootstrap module's error.

use std::fmt;

use iac_core::provider::ErrorKind;

/// One problem of a [`super::ClusterSpec`], naming its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecProblem {
    /// The field, e.g. `pod_cidr` or `control_plane.address`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for SpecProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// What can fail while generating a cluster. Messages never contain a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootstrapError {
    /// The cluster spec has problems (all of them are listed).
    #[error("invalid cluster spec: {}", join(problems))]
    InvalidSpec {
        /// Every problem, each naming its field.
        problems: Vec<SpecProblem>,
    },
    /// A value given by the user (a token, a certificate key, a PEM) is malformed.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The input, e.g. `bootstrap token` or `ca key_pem`.
        field: &'static str,
        /// What is wrong (never the value itself).
        reason: String,
    },
    /// The cryptographic library failed (key generation, signing).
    #[error("{action} failed: {reason}")]
    Crypto {
        /// What was being done.
        action: &'static str,
        /// The library's explanation.
        reason: String,
    },
    /// Serialising a generated document failed.
    #[error("rendering {what} failed")]
    Render {
        /// The document.
        what: &'static str,
        /// The serialiser's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl BootstrapError {
    /// The error's kind for the engine: [`ErrorKind::Invalid`] for bad input,
    /// [`ErrorKind::Permanent`] otherwise.
    pub fn kind(&self) -> ErrorKind {
        match self {
            BootstrapError::InvalidSpec { .. } | BootstrapError::InvalidInput { .. } => {
                ErrorKind::Invalid
            }
            _ => ErrorKind::Permanent,
        }
    }

    /// The spec problems, empty for other errors.
    pub fn problems(&self) -> &[SpecProblem] {
        match self {
            BootstrapError::InvalidSpec { problems } => problems,
            _ => &[],
        }
    }
}

fn join(problems: &[SpecProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
