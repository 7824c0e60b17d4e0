//! Kubernetes for the iac SDK.
//!
//! - [`bootstrap`]: one-step kubeadm clusters as pure generation: the cluster spec, the CA
//!   and bootstrap token made up front, kubeadm v1beta4 configuration and cloud-init
//!   user-data for masters and nodes, and the firewall rules a cluster needs;
//! - [`manifests`]: typed `k8s-openapi` objects for the cloud-provider bindings: SLB
//!   `LoadBalancer` Services, Ingress, NAS/OSS/Cinder volumes, OpenStack Keystone access;
//! - [`apply`]: server-side apply to a cluster with `kube`, waiting for rollout, pruning,
//!   and the `KUBERNETES::Manifest` resource handler for the iac-core engine;
//! - [`app`]: applications of several services with versioned, layered configuration,
//!   deployed in dependency order through the engine, with history, diff and rollback.
//!
//! This crate picks no Kubernetes version of `k8s-openapi`: the program that uses it does
//! (the examples and the tests use `v1_35`).
//!
//! Nothing here has run against a real cluster or machine: the generation is checked by
//! shellcheck, cloud-init's schema and the Kubernetes schema validator, the client against a
//! mock API server.

pub mod app;
pub mod apply;
pub mod bootstrap;
pub mod manifests;

use iac_core::provider::ErrorKind;

/// Any error of this crate: one per module, wrapped, each with its [`ErrorKind`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A cluster spec, its secrets or its generated files ([`bootstrap`]).
    #[error(transparent)]
    Bootstrap(#[from] bootstrap::BootstrapError),
    /// Options that cannot become manifests ([`manifests`]).
    #[error(transparent)]
    Manifest(#[from] manifests::ManifestError),
    /// Applying to, pruning or waiting on a cluster ([`apply`]).
    #[error(transparent)]
    Apply(#[from] apply::Error),
    /// Application templates, configurations, releases and their history ([`app`]).
    #[error(transparent)]
    App(#[from] app::AppError),
}

impl Error {
    /// What the caller should do about it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Bootstrap(e) => e.kind(),
            Error::Manifest(e) => e.kind(),
            Error::Apply(e) => e.kind(),
            Error::App(e) => e.kind(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_error_converts_and_keeps_its_kind() {
        let spec = bootstrap::ClusterSpec::new(
            "not-a-version",
            "192.168.0.0/16",
            bootstrap::ControlPlane::single("192.168.1.10"),
            2,
        );
        let err: Error = spec.validate().unwrap_err().into();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert!(err.to_string().contains("version"), "{err}");
    }
}
