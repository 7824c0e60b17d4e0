//! What exists in the simulated cloud, and the bookkeeping of requests (nonces, quotas,
//! call counts, client tokens).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;

use super::params::{Cidr, CloudError, Res};
use super::{
    Delays, Faults, Inventory, SimBackendServer, SimBucket, SimConfig, SimFileSystem, SimInstance,
    SimListener, SimLoadBalancer, SimMountTarget, SimObject, SimRule, SimSecurityGroup, SimVSwitch,
    SimVpc,
};
use crate::sign::AccessKey;

/// `Pending` until `created + delay`, then `ready`.
fn after(created: Instant, delay: Duration, now: Instant, ready: &'static str) -> &'static str {
    if now.saturating_duration_since(created) >= delay {
        ready
    } else {
        "Pending"
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Vpc {
    pub id: String,
    pub name: String,
    pub description: String,
    pub cidr: Cidr,
    pub vrouter_id: String,
    pub route_table_id: String,
    pub tags: Vec<(String, String)>,
    #[serde(skip, default = "Instant::now")]
    pub created: Instant,
    #[serde(rename = "pending_ms", with = "super::persist::millis")]
    pub pending: Duration,
    pub creation_time: String,
}

impl Vpc {
    pub fn status(&self, now: Instant) -> &'static str {
        after(self.created, self.pending, now, "Available")
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct VSwitch {
    pub id: String,
    pub vpc_id: String,
    pub zone_id: String,
    pub name: String,
    pub description: String,
    pub cidr: Cidr,
    pub tags: Vec<(String, String)>,
    #[serde(skip, default = "Instant::now")]
    pub created: Instant,
    #[serde(rename = "pending_ms", with = "super::persist::millis")]
    pub pending: Duration,
    pub creation_time: String,
    /// Offsets from the block start that are in use.
    pub used: BTreeSet<u32>,
}

impl VSwitch {
    pub fn status(&self, now: Instant) -> &'static str {
        after(self.created, self.pending, now, "Available")
    }

    /// True when the address at `offset` is reserved by the cloud: the first three of the
    /// block (network address, gateway, one more) and the last two (one more, broadcast).
    fn reserved(&self, offset: u64) -> bool {
        offset <= 2 || offset.saturating_add(2) >= self.cidr.size()
    }

    /// Addresses that can be handed out: the block without the reserved ones.
    fn usable(&self) -> u64 {
        self.cidr.size().saturating_sub(5)
    }

    pub fn available_ips(&self) -> u64 {
        self.usable().saturating_sub(self.used.len() as u64)
    }

    /// The lowest free address that is not reserved (from block start + 3), or `None` when
    /// the block is full. Addresses claimed with [`VSwitch::claim`] are skipped.
    pub fn allocate(&mut self) -> Option<String> {
        let last = u32::try_from(self.cidr.size().saturating_sub(3)).unwrap_or(u32::MAX);
        let offset = (3..=last).find(|o| !self.used.contains(o))?;
        self.used.insert(offset);
        Some(self.cidr.host(offset).to_string())
    }

    /// Takes a given address (`PrivateIpAddress` of RunInstances, `Address` of
    /// CreateLoadBalancer, named `name` in errors): 400 `InvalidPrivateIpAddress.Malformed`
    /// when it is not an IPv4 address, 400 `InvalidPrivateIpAddress` when it is outside the
    /// block or reserved, 400 `InvalidPrivateIpAddress.Duplicated` when an instance or a load
    /// balancer already has it.
    pub fn claim(&mut self, name: &str, ip: &str) -> Res<String> {
        let addr: std::net::Ipv4Addr = ip.trim().parse().map_err(|_| {
            CloudError::bad(
                "InvalidPrivateIpAddress.Malformed",
                name,
                &format!("\"{ip}\" is not an IPv4 address"),
            )
        })?;
        let bits = u32::from(addr);
        if bits & self.cidr.netmask() != self.cidr.addr {
            return Err(CloudError::bad(
                "InvalidPrivateIpAddress",
                name,
                &format!(
                    "{addr} is not in the CIDR block {} of VSwitch {}",
                    self.cidr, self.id
                ),
            ));
        }
        let offset = bits.wrapping_sub(self.cidr.addr);
        if self.reserved(u64::from(offset)) {
            return Err(CloudError::bad(
                "InvalidPrivateIpAddress",
                name,
                &format!(
                    "{addr} is reserved by the cloud (the first three and the last two addresses of {})",
                    self.cidr
                ),
            ));
        }
        if !self.used.insert(offset) {
            return Err(CloudError::bad(
                "InvalidPrivateIpAddress.Duplicated",
                name,
                &format!("{addr} is already used in VSwitch {}", self.id),
            ));
        }
        Ok(addr.to_string())
    }

    pub fn release(&mut self, ip: &str) {
        if let Ok(ip) = ip.parse::<std::net::Ipv4Addr>() {
            self.used
                .remove(&u32::from(ip).wrapping_sub(self.cidr.addr));
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub description: String,
    pub vpc_id: String,
    pub group_type: String,
    pub tags: Vec<(String, String)>,
    pub rules: Vec<SimRule>,
    pub creation_time: String,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Instance {
    pub id: String,
    pub name: String,
    pub host_name: String,
    pub description: String,
    pub instance_type: String,
    pub image_id: String,
    pub zone_id: String,
    pub vpc_id: String,
    pub vswitch_id: String,
    pub security_group_ids: Vec<String>,
    pub private_ip: String,
    pub public_ip: Option<String>,
    pub user_data: String,
    pub tags: Vec<(String, String)>,
    #[serde(skip, default = "Instant::now")]
    pub created: Instant,
    #[serde(rename = "pending_ms", with = "super::persist::millis")]
    pub pending: Duration,
    #[serde(rename = "starting_ms", with = "super::persist::millis")]
    pub starting: Duration,
    pub creation_time: String,
}

impl Instance {
    pub fn status(&self, now: Instant) -> &'static str {
        let age = now.saturating_duration_since(self.created);
        if age < self.pending {
            "Pending"
        } else if age < self.pending.saturating_add(self.starting) {
            "Starting"
        } else {
            "Running"
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) enum ListenerState {
    Stopped,
    Started {
        #[serde(skip, default = "Instant::now")]
        at: Instant,
        #[serde(rename = "delay_ms", with = "super::persist::millis")]
        delay: Duration,
    },
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Listener {
    pub port: u16,
    pub protocol: String,
    pub backend_port: u16,
    pub bandwidth: i64,
    pub scheduler: String,
    pub state: ListenerState,
    /// Other settings as given (`HealthCheck*`, `PersistenceTimeout`, ...).
    pub settings: BTreeMap<String, String>,
}

impl Listener {
    pub fn status(&self, now: Instant) -> &'static str {
        match self.state {
            ListenerState::Stopped => "stopped",
            ListenerState::Started { at, delay } if now.saturating_duration_since(at) < delay => {
                "starting"
            }
            ListenerState::Started { .. } => "running",
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct LoadBalancer {
    pub id: String,
    pub name: String,
    pub address: String,
    pub address_type: String,
    pub vpc_id: String,
    pub vswitch_id: String,
    pub spec: String,
    pub network_type: String,
    pub bandwidth: i64,
    pub internet_charge_type: String,
    pub tags: Vec<(String, String)>,
    pub listeners: Vec<Listener>,
    pub backends: Vec<SimBackendServer>,
    pub create_time: String,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct MountTarget {
    pub domain: String,
    pub network_type: String,
    pub vpc_id: String,
    pub vswitch_id: String,
    pub access_group: String,
    #[serde(skip, default = "Instant::now")]
    pub created: Instant,
    #[serde(rename = "pending_ms", with = "super::persist::millis")]
    pub pending: Duration,
    /// Set by ModifyMountTarget `Status`.
    pub forced_status: Option<String>,
}

impl MountTarget {
    pub fn status(&self, now: Instant) -> String {
        if now.saturating_duration_since(self.created) < self.pending {
            return "Pending".to_owned();
        }
        self.forced_status
            .clone()
            .unwrap_or_else(|| "Active".to_owned())
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct FileSystem {
    pub id: String,
    pub description: String,
    pub protocol_type: String,
    pub storage_type: String,
    pub file_system_type: String,
    pub zone_id: String,
    pub tags: Vec<(String, String)>,
    pub mount_targets: Vec<MountTarget>,
    pub create_time: String,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Object {
    #[serde(with = "super::persist::base64_bytes")]
    pub data: Vec<u8>,
    pub content_type: String,
    pub etag: String,
    pub last_modified: String,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Bucket {
    pub name: String,
    pub acl: String,
    /// Tags set by `PutBucketTags`.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    pub objects: BTreeMap<String, Object>,
    pub creation_date: String,
}

/// A first answer kept for `ClientToken` replays.
pub(crate) struct Replay {
    pub fingerprint: Vec<(String, String)>,
    pub body: Value,
}

/// Everything the simulator knows.
pub(crate) struct State {
    pub region: String,
    pub zones: Vec<String>,
    pub keys: Vec<AccessKey>,
    pub delays: Delays,
    pub faults: Faults,
    pub rng: StdRng,
    /// Nonces seen, per access key id.
    pub nonces: HashSet<(String, String)>,
    /// Per action: the start of the current one-second window and the calls in it.
    pub quota_windows: HashMap<String, (Instant, u32)>,
    pub calls: BTreeMap<String, u64>,
    /// Calls that succeeded, per action (what [`super::Refusal`] counts).
    pub successes: BTreeMap<String, u64>,
    /// Faults injected so far.
    pub injected: super::InjectedFaults,
    /// Per (action, ClientToken).
    pub tokens: HashMap<(String, String), Replay>,
    pub vpcs: Vec<Vpc>,
    pub vswitches: Vec<VSwitch>,
    pub groups: Vec<SecurityGroup>,
    pub instances: Vec<Instance>,
    pub load_balancers: Vec<LoadBalancer>,
    pub file_systems: Vec<FileSystem>,
    pub buckets: Vec<Bucket>,
    /// The next public address handed out, an offset in 47.0.0.0/8.
    pub next_public_ip: u32,
    /// The file the cloud is saved to ([`SimConfig::persist`]).
    pub persist: Option<std::path::PathBuf>,
}

impl State {
    pub fn new(config: SimConfig) -> Self {
        State {
            region: config.region,
            zones: config.zones,
            keys: config.access_keys,
            delays: config.delays,
            rng: StdRng::seed_from_u64(config.faults.seed),
            faults: config.faults,
            nonces: HashSet::new(),
            quota_windows: HashMap::new(),
            calls: BTreeMap::new(),
            successes: BTreeMap::new(),
            injected: Default::default(),
            tokens: HashMap::new(),
            vpcs: Vec::new(),
            vswitches: Vec::new(),
            groups: Vec::new(),
            instances: Vec::new(),
            load_balancers: Vec::new(),
            file_systems: Vec::new(),
            buckets: Vec::new(),
            next_public_ip: 0x60_0001,
            persist: config.persist,
        }
    }

    /// A public address from 47.0.0.0/8.
    pub fn public_ip(&mut self) -> String {
        let n = self.next_public_ip;
        self.next_public_ip = self.next_public_ip.wrapping_add(1) & 0x00FF_FFFF;
        std::net::Ipv4Addr::from(0x2F00_0000 | (n & 0x00FF_FFFF)).to_string()
    }

    pub fn vpc(&self, id: &str) -> Option<&Vpc> {
        self.vpcs.iter().find(|v| v.id == id)
    }

    pub fn vswitch(&self, id: &str) -> Option<&VSwitch> {
        self.vswitches.iter().find(|v| v.id == id)
    }

    pub fn vswitch_mut(&mut self, id: &str) -> Option<&mut VSwitch> {
        self.vswitches.iter_mut().find(|v| v.id == id)
    }

    pub fn group(&self, id: &str) -> Option<&SecurityGroup> {
        self.groups.iter().find(|g| g.id == id)
    }

    pub fn load_balancer_mut(&mut self, id: &str) -> Option<&mut LoadBalancer> {
        self.load_balancers.iter_mut().find(|l| l.id == id)
    }

    pub fn inventory(&self) -> Inventory {
        let now = Instant::now();
        Inventory {
            vpcs: self
                .vpcs
                .iter()
                .map(|v| SimVpc {
                    id: v.id.clone(),
                    name: v.name.clone(),
                    description: v.description.clone(),
                    status: v.status(now).to_owned(),
                    cidr_block: v.cidr.to_string(),
                    vrouter_id: v.vrouter_id.clone(),
                    route_table_id: v.route_table_id.clone(),
                    tags: v.tags.clone(),
                })
                .collect(),
            vswitches: self
                .vswitches
                .iter()
                .map(|v| SimVSwitch {
                    id: v.id.clone(),
                    name: v.name.clone(),
                    description: v.description.clone(),
                    status: v.status(now).to_owned(),
                    vpc_id: v.vpc_id.clone(),
                    zone_id: v.zone_id.clone(),
                    cidr_block: v.cidr.to_string(),
                    tags: v.tags.clone(),
                })
                .collect(),
            security_groups: self
                .groups
                .iter()
                .map(|g| SimSecurityGroup {
                    id: g.id.clone(),
                    name: g.name.clone(),
                    description: g.description.clone(),
                    vpc_id: g.vpc_id.clone(),
                    security_group_type: g.group_type.clone(),
                    tags: g.tags.clone(),
                    rules: g.rules.clone(),
                })
                .collect(),
            instances: self
                .instances
                .iter()
                .map(|i| SimInstance {
                    id: i.id.clone(),
                    name: i.name.clone(),
                    host_name: i.host_name.clone(),
                    status: i.status(now).to_owned(),
                    instance_type: i.instance_type.clone(),
                    image_id: i.image_id.clone(),
                    zone_id: i.zone_id.clone(),
                    vpc_id: i.vpc_id.clone(),
                    vswitch_id: i.vswitch_id.clone(),
                    security_group_ids: i.security_group_ids.clone(),
                    private_ip: i.private_ip.clone(),
                    public_ip: i.public_ip.clone(),
                    user_data: i.user_data.clone(),
                    tags: i.tags.clone(),
                })
                .collect(),
            load_balancers: self
                .load_balancers
                .iter()
                .map(|l| SimLoadBalancer {
                    id: l.id.clone(),
                    name: l.name.clone(),
                    status: "active".to_owned(),
                    address: l.address.clone(),
                    address_type: l.address_type.clone(),
                    vpc_id: l.vpc_id.clone(),
                    vswitch_id: l.vswitch_id.clone(),
                    tags: l.tags.clone(),
                    listeners: l
                        .listeners
                        .iter()
                        .map(|x| SimListener {
                            port: x.port,
                            protocol: x.protocol.clone(),
                            status: x.status(now).to_owned(),
                            backend_server_port: x.backend_port,
                        })
                        .collect(),
                    backend_servers: l.backends.clone(),
                })
                .collect(),
            file_systems: self
                .file_systems
                .iter()
                .map(|f| SimFileSystem {
                    id: f.id.clone(),
                    description: f.description.clone(),
                    protocol_type: f.protocol_type.clone(),
                    storage_type: f.storage_type.clone(),
                    file_system_type: f.file_system_type.clone(),
                    zone_id: f.zone_id.clone(),
                    status: "Running".to_owned(),
                    tags: f.tags.clone(),
                    mount_targets: f
                        .mount_targets
                        .iter()
                        .map(|m| SimMountTarget {
                            domain: m.domain.clone(),
                            vpc_id: m.vpc_id.clone(),
                            vswitch_id: m.vswitch_id.clone(),
                            status: m.status(now),
                            access_group: m.access_group.clone(),
                        })
                        .collect(),
                })
                .collect(),
            buckets: self
                .buckets
                .iter()
                .map(|b| SimBucket {
                    name: b.name.clone(),
                    acl: b.acl.clone(),
                    tags: b.tags.clone(),
                    objects: b
                        .objects
                        .iter()
                        .map(|(k, o)| SimObject {
                            key: k.clone(),
                            size: o.data.len() as u64,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}
