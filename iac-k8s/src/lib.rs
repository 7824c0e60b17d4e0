//! Kubernetes for the iac SDK.
//!
//! This crate will hold kubeadm cluster bootstrap (user-data and kubeadm configuration),
//! typed manifests with the Alibaba Cloud and OpenStack cloud-provider bindings, application
//! templates with versioned configuration, and the `KUBERNETES::*` resource handlers. None of
//! it is written yet: the crate is empty on purpose, so that nothing here pretends to work
//! before it does.
