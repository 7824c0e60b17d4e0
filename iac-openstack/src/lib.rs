//! OpenStack for the iac SDK.
//!
//! - [`config`]: the cloud from `clouds.yaml` (`OS_CLOUD`) or `OS_*` variables, read
//!   through an injectable source; secrets never print.
//! - [`auth`]: Keystone v3 (password, application credential, token) and the catalog.
//! - [`client`]: the HTTP client with its token cache (re-authentication before expiry
//!   and once on a 401), endpoint selection, microversions and lazy paginated lists.
//! - [`services`]: Identity, Compute, Network, Image, Block Storage and Orchestration.
//! - [`error`]: each service's error body decoded and classified for the engine.
//! - [`hot`]: Heat Orchestration Templates (HOT) read into the iac-core template IR, with
//!   every `heat_template_version`, HOT's functions and validation with HOT paths.
//! - [`compare`]: two deployments of one template (Heat's and ours) compared resource by
//!   resource through what the services say.
//!
//! ```
//! use iac_openstack::config::{CloudConfig, MapSource};
//!
//! let source = MapSource::default()
//!     .var("OS_AUTH_URL", "http://127.0.0.1:5000/v3")
//!     .var("OS_USERNAME", "demo")
//!     .var("OS_PASSWORD", "demo-secret")
//!     .var("OS_PROJECT_NAME", "demo")
//!     .var("OS_USER_DOMAIN_NAME", "Default")
//!     .var("OS_PROJECT_DOMAIN_NAME", "Default");
//! let config = CloudConfig::from_source(&source).unwrap();
//! assert!(!format!("{config:?}").contains("demo-secret"));
//! let client = iac_openstack::client::Client::new(config).unwrap();
//! assert_eq!(client.auth_count(), 0); // nothing is sent before the first call
//! ```

pub mod auth;
pub mod client;
pub mod compare;
pub mod config;
pub mod error;
pub mod hot;
pub mod resources;
pub mod services;
#[cfg(feature = "sim")]
pub mod sim;
