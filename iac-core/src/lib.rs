//! The core of the iac SDK: typed resource models, templates, the dependency graph and the
//! engine that plans, applies, rolls back, destroys and resumes.
//!
//! `iac-core` knows no cloud and makes no network calls, but for the PostgreSQL state store
//! of its `postgres` feature. Cloud crates (`iac-aliyun`, `iac-openstack`) and `iac-k8s`
//! implement [`provider::ResourceHandler`] for their resource types; the [`engine::Engine`]
//! drives them.
//!
//! - [`model`]: the template IR in the ROS / CloudFormation JSON shape; [`loader`] reads and
//!   writes it as JSON or YAML; [`stack`] builds it from typed Rust.
//! - [`count`]: ROS `Count` expansion (`A[0]` … `A[n-1]`, `ALIYUN::Index`).
//! - [`eval`] and [`params`]: intrinsic functions, conditions and parameter constraints.
//! - [`validate`] and [`graph`]: every problem of a template with its JSON path, and the
//!   dependency graph with its pure queue.
//! - [`engine`]: plan, apply, destroy and resume, with events; [`state`]: where the engine
//!   keeps what it created, with a journal that makes an apply resumable after a crash.
//! - [`memory`]: an in-memory cloud, the test double the engine is checked on.
//!
//! # Example
//!
//! ```
//! use iac_core::engine::{Engine, RunOptions, StackInput};
//! use iac_core::memory::{MemoryCloud, MemoryConfig};
//! use iac_core::model::Template;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let template: Template = serde_json::from_str(r#"{
//!   "Parameters": {"Cidr": {"Type": "String", "Default": "192.168.0.0/16"}},
//!   "Resources": {
//!     "Vpc":     {"Type": "Demo::Vpc",     "Properties": {"CidrBlock": {"Ref": "Cidr"}}},
//!     "VSwitch": {"Type": "Demo::VSwitch", "Properties": {"VpcId": {"Ref": "Vpc"},
//!                                                         "CidrBlock": "192.168.1.0/24"}}
//!   },
//!   "Outputs": {"VSwitchId": {"Value": {"Ref": "VSwitch"}}}
//! }"#)?;
//!
//! let cloud = MemoryCloud::new(MemoryConfig::default());
//! let engine = Engine::builder().provider(cloud.registry(&["Demo::Vpc", "Demo::VSwitch"])).build();
//! let stack = StackInput::new("demo", template);
//! println!("{}", engine.plan(&stack).await?);                       // like `terraform plan`
//! let report = engine.apply(&stack, RunOptions::default()).await?;   // events on a channel if asked
//! println!("{:?}", report.outputs);
//! assert_eq!(cloud.len(), 2);
//! assert!(engine.plan(&stack).await?.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

pub mod count;
pub mod engine;
pub mod eval;
pub mod expr;
pub mod graph;
pub mod loader;
pub mod memory;
pub mod model;
pub mod params;
pub mod provider;
pub mod secret;
pub mod stack;
pub mod state;
pub mod validate;

pub use expr::Expr;
pub use model::Template;
pub use secret::Secret;
