//! OpenStack for the iac SDK.
//!
//! This crate will hold the Keystone v3, Nova, Neutron, Cinder and Glance clients, the
//! `OS::*` resource handlers for the `iac-core` engine, Heat (HOT) template import, and a
//! simulator. None of it is written yet: the crate is empty on purpose, so that nothing here
//! pretends to work before it does.
