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
//!   groups, instances and instance groups, SLB, NAS, OSS, ROS nested stacks and wait
//!   conditions) and their typed property structs;
//! - `sim` (feature `sim`, on by default): a simulated Alibaba Cloud on 127.0.0.1 that speaks
//!   the same wire protocol, so that examples and tests run with no account.
//!
//! - [`ros`]: ROS templates loaded from files, URLs and OSS, checked against the handlers'
//!   schemas, and deployed through the ROS service itself ([`ros::RosDeployer`]); the
//!   template model, its JSON/YAML reader and writer are `iac_core`'s.
//!
//! # Example
//!
//! A stack in typed Rust, planned and applied against the simulator (with an account:
//! `Client::from_env()`):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use iac_aliyun::client::{Client, ClientConfig};
//! use iac_aliyun::resources::{registry, types::{Instance, SecurityGroup, VSwitch, Vpc}};
//! use iac_aliyun::sim::{Delays, SimConfig, Simulator};
//! use iac_core::engine::{Engine, RunOptions, StackInput};
//! use iac_core::stack::Stack;
//!
//! let sim = Simulator::start(SimConfig { delays: Delays::none(), ..SimConfig::default() }).await?;
//! let client = Client::new(ClientConfig::new(sim.region(), sim.access_key()).with_endpoint(sim.endpoint()))?;
//!
//! let mut stack = Stack::new("demo");
//! let vpc = stack.add("Vpc", Vpc { cidr_block: "192.168.0.0/16".into(), ..Default::default() });
//! let vsw = stack.add("VSwitch", VSwitch { vpc_id: vpc.vpc_id(), zone_id: "cn-hangzhou-h".into(),
//!                                          cidr_block: "192.168.1.0/24".into(), ..Default::default() });
//! let sg = stack.add("Sg", SecurityGroup { vpc_id: vpc.vpc_id(), ..Default::default() });
//! let server = stack.add("Server", Instance { vswitch_id: vsw.vswitch_id(), security_group_id: sg.security_group_id(),
//!                                            instance_type: "ecs.g7.large".into(), image_id: "ubuntu_22_04".into(),
//!                                            ..Default::default() });
//! stack.output("ServerIp", server.private_ip());
//!
//! let engine = Engine::builder().provider(registry(&client)).build();
//! let input = StackInput::new("demo", stack.template()?);
//! println!("{}", engine.plan(&input).await?);                        // like `terraform plan`
//! let report = engine.apply(&input, RunOptions::default()).await?;    // events on a channel if asked
//! assert!(report.outputs["ServerIp"].as_str().unwrap().starts_with("192.168.1."));
//! assert_eq!(sim.inventory().instances.len(), 1);
//! # Ok(()) }
//! ```
//!
//! Endpoints follow the vendor's metadata, exceptions included:
//!
//! ```
//! use iac_aliyun::endpoints::{Network, Product, endpoint};
//!
//! assert_eq!(endpoint(Product::Ecs, "cn-hangzhou", Network::Public).unwrap(), "ecs.cn-hangzhou.aliyuncs.com");
//! // SLB in cn-hangzhou is one of the documented exceptions to the regional pattern.
//! assert_eq!(endpoint(Product::Slb, "cn-hangzhou", Network::Public).unwrap(), "slb.aliyuncs.com");
//! ```

pub mod api;
pub mod client;
pub mod credentials;
pub mod endpoints;
pub mod error;
pub mod resources;
pub mod ros;
pub mod sign;
#[cfg(feature = "sim")]
pub mod sim;
