//! Kubernetes for the iac SDK.
//!
//! - [`bootstrap`]: one-step kubeadm clusters as pure generation: the cluster spec, the CA
//!   and bootstrap token made up front, kubeadm v1beta4 configuration and cloud-init
//!   user-data for masters and nodes, and the firewall rules a cluster needs;
//! - [`manifests`]: typed `k8s-openapi` objects for the cloud-provider bindings: SLB
//!   `LoadBalancer` Services, Ingress, NAS/OSS/Cinder volumes, OpenStack Keystone access;
//! - [`apply`]: server-side apply to a cluster with `kube`, waiting for rollout, pruning,
//!   and the `KUBERNETES::Manifest` resource handler for the iac-core engine.
//!
//! This crate picks no Kubernetes version of `k8s-openapi`: the program that uses it does
//! (the examples and the tests use `v1_35`).
//!
//! Not written yet: application templates with versioned configuration, diff and rollback.
//! Nothing here has run against a real cluster or machine: the generation is checked by
//! shellcheck, cloud-init's schema and the Kubernetes schema validator, the client against a
//! mock API server.

pub mod apply;
pub mod bootstrap;
pub mod manifests;
