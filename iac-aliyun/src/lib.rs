//! Alibaba Cloud for the iac SDK.
//!
//! - [`sign`]: request signing (RPC V1, ACS3, OSS V1) as pure functions, checked against the
//!   vendor's vectors and the official SDKs;
//! - [`credentials`]: the credential chain (environment, then the Aliyun CLI profile), with
//!   secrets that never print;
//! - [`endpoints`]: which host serves ECS, VPC, SLB, NAS, ROS and OSS in a region, from the
//!   vendor's endpoint metadata;
//! - [`client`]: the signed client (RPC over form POSTs, OSS REST), retries that keep the
//!   `ClientToken`, lazy paging; [`api`]: typed answers; [`error`]: the vendor's error
//!   bodies decoded and classified into the retry kinds the engine acts on;
//! - [`resources`]: the `ALIYUN::*` handlers the engine drives (VPC, VSwitch, security
//!   groups, instances and instance groups, SLB, NAS, OSS) and their typed property structs;
//! - `sim` (feature `sim`, on by default): a simulated Alibaba Cloud on 127.0.0.1 that speaks
//!   the same wire protocol, so that examples and tests run with no account.
//!
//! Not written yet, and nothing here pretends otherwise: ROS template import/export and the
//! ROS service deployer.
//!
//! # Example
//!
//! ```
//! use iac_aliyun::endpoints::{Network, Product, endpoint};
//!
//! assert_eq!(endpoint(Product::Ecs, "cn-hangzhou", Network::Public).unwrap(), "ecs.cn-hangzhou.aliyuncs.com");
//! // SLB in cn-hangzhou is one of the documented exceptions to the regional pattern.
//! assert_eq!(endpoint(Product::Slb, "cn-hangzhou", Network::Public).unwrap(), "slb.aliyuncs.com");
//! assert_eq!(endpoint(Product::Ros, "eu-central-1", Network::Public).unwrap(), "ros.aliyuncs.com");
//! ```

pub mod api;
pub mod client;
pub mod credentials;
pub mod endpoints;
pub mod error;
pub mod resources;
pub mod sign;
#[cfg(feature = "sim")]
pub mod sim;
