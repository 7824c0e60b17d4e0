//! OpenStack for the iac SDK.
//!
//! - [`hot`]: Heat Orchestration Templates (HOT) read into the iac-core template IR, with
//!   every `heat_template_version`, HOT's functions and validation with HOT paths.
//!
//! The Keystone v3, Nova, Neutron, Cinder and Glance clients, the `OS::*` resource handlers
//! and the simulator are still to come; nothing here pretends they exist.
//!
//! ```
//! let t = iac_openstack::hot::load_str(
//!     "heat_template_version: rocky\nresources:\n  net: {type: OS::Neutron::Net}\n",
//! )?;
//! assert_eq!(t.template().resources["net"].type_name, "OS::Neutron::Net");
//! # Ok::<(), iac_core::loader::LoadError>(())
//! ```

pub mod hot;
