//! Alibaba Cloud for the iac SDK.
//!
//! This crate will hold the signed Alibaba Cloud API client (ECS, VPC, SLB, NAS, OSS, ROS),
//! the `ALIYUN::*` resource handlers for the `iac-core` engine, ROS template import and
//! export, and a simulator of the cloud. None of it is written yet: the crate is empty on
//! purpose, so that nothing here pretends to work before it does.
