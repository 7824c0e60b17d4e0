//! Alibaba Cloud for the iac SDK.
//!
//! Written so far:
//! - [`endpoints`]: which host serves ECS, VPC, SLB, NAS, ROS and OSS in a region, from the
//!   vendor's endpoint metadata;
//! - [`credentials`]: the credential chain (environment, then the Aliyun CLI profile), with
//!   secrets that never print;
//! - [`error`]: the vendor's error bodies (RPC JSON and OSS XML) decoded, and classified
//!   into the retry kinds the engine acts on.
//!
//! - [`sign`]: request signing (RPC V1, ACS3, OSS V1) as pure functions, checked against the
//!   vendor's vectors and the official SDKs.
//!
//! Not written yet, and nothing here pretends otherwise: the API client,
//! the `ALIYUN::*` resource handlers, ROS template import and export, and the simulator.
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

pub mod credentials;
pub mod endpoints;
pub mod error;
pub mod sign;
#[cfg(feature = "sim")]
pub mod sim;
