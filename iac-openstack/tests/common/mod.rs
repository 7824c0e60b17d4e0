//! The clouds every scenario runs against: the simulator always, and the real OpenStack
//! services that `../shared/peers/openstack.sh` runs when its openrc is sourced
//! (`IAC_OS_MODE` set, as `.ci/openstack.sh` does).

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

/// The process environment, with `OS_CLOUD` replaced: reads the real clouds.yaml.
struct CloudSource(&'static str);

impl Source for CloudSource {
    fn var(&self, name: &str) -> Option<String> {
        if name == "OS_CLOUD" {
            return Some(self.0.to_owned());
        }
        SystemSource.var(name)
    }
    fn home(&self) -> Option<PathBuf> {
        SystemSource.home()
    }
    fn read(&self, path: &Path) -> std::io::Result<Option<String>> {
        SystemSource.read(path)
    }
}

/// True when the real services' openrc is in the environment.
pub fn real_enabled() -> bool {
    std::env::var("IAC_OS_MODE").is_ok_and(|m| !m.is_empty())
}

/// The real services: the admin from the `OS_*` variables, the demo user from the
/// clouds.yaml entry `iac-demo` (so both configuration paths are exercised).
pub fn real() -> Option<Target> {
    if !real_enabled() {
        eprintln!("real OpenStack: skipped (source the openrc of ../shared/peers/openstack.sh)");
        return None;
    }
    let admin = CloudConfig::from_env().expect("OS_* variables of the openrc");
    let demo = CloudConfig::from_source(&CloudSource("iac-demo")).expect("clouds.yaml iac-demo");
    Some(Target {
        name: "real",
        admin,
        demo,
        #[cfg(feature = "sim")]
        sim: None,
    })
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
