//! The core of the iac SDK: typed resource models, templates, the dependency graph and the
//! engine that plans, applies, rolls back, destroys and resumes.
//!
//! `iac-core` knows no cloud and makes no network calls. Cloud crates (`iac-aliyun`,
//! `iac-openstack`) and `iac-k8s` implement [`provider::ResourceHandler`] for their resource
//! types; the engine drives them.

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
