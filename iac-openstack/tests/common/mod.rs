//! The clouds every scenario runs against: the simulator always, and the real OpenStack
//! services that `../shared/peers/openstack.sh` runs when `IAC_OS_OPENRC` names its openrc
//! (as `.ci/openstack.sh` exports it) or the openrc is sourced (`IAC_OS_MODE` set).
//!
//! On a machine without the services the real half of a scenario is skipped (with a line
//! on stderr). In CI it must not be: `.ci/openstack.sh` exports `IAC_OS_CI_SET` (`light` or
//! `full`), the set it started, and then a missing openrc, a lighter set or a service
//! missing from the catalog fails the test instead of skipping it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use iac_openstack::client::{Client, ClientOptions};
#[cfg(feature = "sim")]
use iac_openstack::config::MapSource;
use iac_openstack::config::{CloudConfig, Source, SystemSource};
#[cfg(feature = "sim")]
use iac_openstack::sim::{SimConfig, Simulator};

/// A cloud to run a scenario on.
pub struct Target {
    /// `sim` or `real`.
    pub name: &'static str,
    /// The admin's configuration.
    pub admin: CloudConfig,
    /// A non-admin user's configuration (member of project `demo`).
    pub demo: CloudConfig,
    /// The simulator, kept alive for the target's life.
    #[cfg(feature = "sim")]
    pub sim: Option<Simulator>,
}

impl Target {
    /// A client of `config` with test options.
    pub fn client(&self, config: &CloudConfig) -> Client {
        Client::with_options(config.clone(), ClientOptions::default()).expect("a client")
    }
}

/// Variables from an openrc file (or the process environment), files from the disk, and
/// `OS_CLOUD` when given.
struct OpenrcSource {
    vars: std::collections::BTreeMap<String, String>,
    cloud: Option<&'static str>,
}

impl OpenrcSource {
    /// The `export K=V` lines of `IAC_OS_OPENRC`, or the process environment.
    fn load(cloud: Option<&'static str>) -> Option<OpenrcSource> {
        let vars = if let Some(path) = std::env::var_os("IAC_OS_OPENRC") {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("IAC_OS_OPENRC {}: {e}", path.to_string_lossy()));
            text.lines()
                .filter_map(|l| l.trim().strip_prefix("export "))
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| {
                    (
                        k.to_owned(),
                        v.trim_matches(|c| c == '\'' || c == '"').to_owned(),
                    )
                })
                .collect()
        } else if real_enabled() {
            std::env::vars()
                .filter(|(k, _)| k.starts_with("OS_") || k.starts_with("IAC_OS_"))
                .collect()
        } else {
            return None;
        };
        Some(OpenrcSource { vars, cloud })
    }
}

impl Source for OpenrcSource {
    fn var(&self, name: &str) -> Option<String> {
        if name == "OS_CLOUD" {
            return self.cloud.map(str::to_owned);
        }
        self.vars.get(name).filter(|v| !v.is_empty()).cloned()
    }
    fn home(&self) -> Option<PathBuf> {
        SystemSource.home()
    }
    fn read(&self, path: &Path) -> std::io::Result<Option<String>> {
        SystemSource.read(path)
    }
}

/// True when the real services' openrc is named or sourced.
pub fn real_enabled() -> bool {
    std::env::var_os("IAC_OS_OPENRC").is_some()
        || std::env::var("IAC_OS_MODE").is_ok_and(|m| !m.is_empty())
}

/// The set of services CI started (`IAC_OS_CI_SET`, exported by `.ci/openstack.sh`):
/// `light`, `full`, or `None` outside CI.
pub fn ci_set() -> Option<String> {
    std::env::var("IAC_OS_CI_SET")
        .ok()
        .filter(|s| !s.is_empty())
}

/// The real services: the admin from the openrc's `OS_*` variables, the demo user from
/// its clouds.yaml entry `iac-demo` (so both configuration paths are exercised). Panics
/// when CI said it started them (`IAC_OS_CI_SET`) and no openrc is named.
pub fn real() -> Option<Target> {
    let (Some(admin), Some(demo)) = (
        OpenrcSource::load(None),
        OpenrcSource::load(Some("iac-demo")),
    ) else {
        if let Some(set) = ci_set() {
            panic!(
                "IAC_OS_CI_SET={set}: CI started the real OpenStack services, but neither IAC_OS_OPENRC nor IAC_OS_MODE is set (see .ci/openstack.sh)"
            );
        }
        eprintln!("real OpenStack: skipped (set IAC_OS_OPENRC, see .ci/openstack.sh)");
        return None;
    };
    let admin = CloudConfig::from_source(&admin).expect("OS_* variables of the openrc");
    let demo = CloudConfig::from_source(&demo).expect("clouds.yaml iac-demo");
    Some(Target {
        name: "real",
        admin,
        demo,
        #[cfg(feature = "sim")]
        sim: None,
    })
}

/// Whether the real services include Nova, Cinder and Heat (`openstack.sh --full`).
/// Panics when CI said it started the full set (`IAC_OS_CI_SET=full`) and the openrc says
/// otherwise.
pub fn real_full() -> bool {
    let mode = OpenrcSource::load(None).and_then(|s| s.var("IAC_OS_MODE"));
    let full = mode.as_deref() == Some("full");
    if ci_set().as_deref() == Some("full") && !full {
        panic!(
            "IAC_OS_CI_SET=full: CI started the full OpenStack set, but the openrc says IAC_OS_MODE={}",
            mode.as_deref().unwrap_or("(unset)")
        );
    }
    full
}

/// The catalog types the full set adds to Keystone, Glance and Neutron.
pub const FULL_SET_TYPES: &[&[&str]] = &[
    &["compute"],
    &["block-storage", "volumev3"],
    &["orchestration"],
    &["placement"],
];

/// The real services when they are the full set, checked through the catalog: `None`
/// (with a line naming `what` on stderr) when they do not run or are the light set outside
/// CI; a panic when CI said it started the full set and it is not there, or when a full
/// set's catalog lacks one of [`FULL_SET_TYPES`].
pub async fn real_full_target(what: &str) -> Option<Target> {
    let t = match real() {
        Some(t) if real_full() => t,
        _ => {
            eprintln!(
                "{what}: skipped (needs the full set: openstack.sh start --full; CI starts it unless IAC_OS_FULL=0)"
            );
            return None;
        }
    };
    let token = t
        .client(&t.demo)
        .token()
        .await
        .unwrap_or_else(|e| panic!("{what}: the full OpenStack set does not answer: {e}"));
    let missing: Vec<String> = FULL_SET_TYPES
        .iter()
        .filter(|types| {
            !token
                .catalog
                .services
                .iter()
                .any(|s| types.contains(&s.service_type.as_str()))
        })
        .map(|types| types.join(" or "))
        .collect();
    assert!(
        missing.is_empty(),
        "{what}: the openrc says the full OpenStack set runs, but the catalog has no {}",
        missing.join(", ")
    );
    Some(t)
}

/// The simulator, with the same users and projects as the real services.
#[cfg(feature = "sim")]
pub async fn sim() -> Target {
    let sim = Simulator::start(SimConfig::default())
        .await
        .expect("simulator");
    let vars = |user: &str, password: &str, project: &str| {
        MapSource::default()
            .var("OS_AUTH_URL", &sim.auth_url())
            .var("OS_USERNAME", user)
            .var("OS_PASSWORD", password)
            .var("OS_PROJECT_NAME", project)
            .var("OS_USER_DOMAIN_NAME", "Default")
            .var("OS_PROJECT_DOMAIN_NAME", "Default")
            .var("OS_REGION_NAME", "RegionOne")
    };
    let admin = CloudConfig::from_source(&vars("admin", "admin-secret", "admin")).unwrap();
    let demo = CloudConfig::from_source(&vars("demo", "demo-secret", "demo")).unwrap();
    Target {
        name: "sim",
        admin,
        demo,
        sim: Some(sim),
    }
}

/// Every target: the simulator, and the real services when enabled.
pub async fn targets() -> Vec<Target> {
    let mut out = Vec::new();
    #[cfg(feature = "sim")]
    out.push(sim().await);
    out.extend(real());
    out
}

/// A name unique to this run, so that runs against the same real cloud never collide.
pub fn unique(prefix: &str) -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{:x}", std::process::id(), nanos & 0xffff_ffff)
}
