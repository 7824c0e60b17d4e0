//! A simulated Alibaba Cloud: a test double that lets examples and tests run with no account.
//!
//! [`Simulator::start`] binds an HTTP/1.1 server on `127.0.0.1` (a random port) that speaks
//! the real wire protocol of the actions it knows, so that a client cannot tell it from the
//! cloud for those actions. It is not a mock of this crate's client: requests are checked
//! and answered the way the cloud does it.
//!
//! - RPC products on path `/`, told apart by `Version`: ECS `2014-05-26`, VPC `2016-04-28`,
//!   SLB `2014-05-15`, NAS `2017-06-26`, ROS `2019-09-10` (stacks run by this crate's engine
//!   and handlers against the simulator itself; see `ros`), with ROS wait conditions: a
//!   handle's URL `/waitcondition/<id>` takes signals POSTed without a signature. Parameters come from the query and/or an
//!   `application/x-www-form-urlencoded` body; answers are JSON with a `RequestId`; errors
//!   are `{"RequestId","HostId","Code","Message"}` with the cloud's HTTP status.
//! - Signatures: RPC V1 (HMAC-SHA1, with timestamp and nonce checks) and V3
//!   (`ACS3-HMAC-SHA256`) for RPC, OSS V1 (`Authorization: OSS id:sig`) for OSS, served
//!   path-style (`/<bucket>/<key>`) on the same endpoint.
//! - Objects change status over time (`Pending` → `Available`, `Pending` → `Starting` →
//!   `Running`, ...) after the [`Delays`] in force when they were created. Statuses are
//!   computed on read from [`tokio::time::Instant`], so tests under
//!   `#[tokio::test(start_paused = true)]` run in virtual time.
//! - [`Faults`] inject throttling, 503s, dropped connections, lost responses and latency,
//!   from one seeded random generator.
//! - `ClientToken` idempotency: a retry with the same token and parameters replays the first
//!   answer; other parameters give `IdempotentParameterMismatch`.
//! - Private addresses come from the VSwitch's block, without the first three and the last
//!   two addresses; RunInstances `PrivateIpAddress` and CreateLoadBalancer `Address` fix one.
//! - [`SimConfig::persist`] keeps the cloud in a JSON file across runs (see `persist`).
//!
//! Choices where the reference leaves a gap are listed in the service files
//! (`vpc`, `ecs`, `slb`, `nas`, `oss`).
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use iac_aliyun::sim::{SimConfig, Simulator};
//!
//! let sim = Simulator::start(SimConfig::default()).await?;
//! assert!(sim.endpoint().starts_with("http://127.0.0.1:"));
//! assert_eq!(sim.access_key().id, "LTAI-sim-key");
//! assert!(sim.inventory().is_empty());
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod ecs;
mod nas;
mod oss;
mod params;
mod persist;
mod ros;
mod slb;
mod state;
mod vpc;
mod wire;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::sign::AccessKey;
use state::State;

/// How the simulated cloud is set up.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The one region served (`RegionId` must name it); default `cn-hangzhou`.
    pub region: String,
    /// The zones of the region; default `cn-hangzhou-h`, `-i`, `-j`.
    pub zones: Vec<String>,
    /// The access keys accepted; default one key, see [`Simulator::access_key`].
    pub access_keys: Vec<AccessKey>,
    /// How long objects stay in their transitional statuses.
    pub delays: Delays,
    /// The faults injected.
    pub faults: Faults,
    /// A JSON file the cloud is kept in across runs (default `None`: nothing is saved).
    /// [`Simulator::start`] loads it when it exists, and the simulator writes it back after
    /// every request that changed something and at [`Simulator::shutdown`]. See
    /// [`Simulator::start`] and [`Simulator::save`] for what is kept.
    pub persist: Option<std::path::PathBuf>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            region: "cn-hangzhou".to_owned(),
            zones: ["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"]
                .into_iter()
                .map(str::to_owned)
                .collect(),
            access_keys: vec![AccessKey::new("LTAI-sim-key", "sim-secret")],
            delays: Delays::default(),
            faults: Faults::default(),
            persist: None,
        }
    }
}

/// How long objects stay in their transitional statuses. An object keeps the delays in
/// force when it was created (or, for a listener, started).
#[derive(Clone, Debug)]
pub struct Delays {
    /// An instance is `Pending` this long after RunInstances (default 2 s).
    pub instance_pending: Duration,
    /// Then `Starting` this long before `Running` (default 3 s).
    pub instance_starting: Duration,
    /// A VPC is `Pending` this long before `Available` (default 1 s).
    pub vpc_pending: Duration,
    /// A VSwitch is `Pending` this long before `Available` (default 1 s).
    pub vswitch_pending: Duration,
    /// A started listener is `starting` this long before `running` (default 1 s).
    pub listener_starting: Duration,
    /// A NAS mount target is `Pending` this long before `Active` (default 2 s).
    pub mount_target_pending: Duration,
}

impl Delays {
    /// No delays: every object is in its final status at once.
    pub fn none() -> Self {
        Delays {
            instance_pending: Duration::ZERO,
            instance_starting: Duration::ZERO,
            vpc_pending: Duration::ZERO,
            vswitch_pending: Duration::ZERO,
            listener_starting: Duration::ZERO,
            mount_target_pending: Duration::ZERO,
        }
    }
}

impl Default for Delays {
    fn default() -> Self {
        Delays {
            instance_pending: Duration::from_secs(2),
            instance_starting: Duration::from_secs(3),
            vpc_pending: Duration::from_secs(1),
            vswitch_pending: Duration::from_secs(1),
            listener_starting: Duration::from_secs(1),
            mount_target_pending: Duration::from_secs(2),
        }
    }
}

/// Faults injected into every request that passed the signature checks, in this order:
/// refusals, quota, throttling, server errors, dropped connections, the action, lost
/// responses, latency.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Seed of the random generator that decides which requests fail.
    pub seed: u64,
    /// Added to every response.
    pub latency: Duration,
    /// Share (0 to 1) of requests answered HTTP 503 `ServiceUnavailable`, not performed.
    pub server_error_rate: f64,
    /// Share of requests whose connection is dropped before the action is performed.
    pub drop_rate: f64,
    /// Share of requests performed whose response is lost (the connection is dropped).
    pub timeout_after_success_rate: f64,
    /// Calls per second allowed, per action name; above it HTTP 400 `Throttling.User` and
    /// the action is not performed. The window is one second of tokio time.
    pub quota_per_second: HashMap<String, u32>,
    /// Share of requests answered HTTP 400 `Throttling.User`, not performed, whatever the
    /// quotas.
    pub throttle_rate: f64,
    /// Permanent failures: calls of an action refused with a fixed error, not performed.
    pub refusals: Vec<Refusal>,
}

/// A permanent failure injected into one action: once `after` calls of `action` succeeded
/// (since the start or the last [`Simulator::reset_counts`]), every further call is
/// answered with `http_status` and `code` and not performed, except that a call repeating
/// an earlier `ClientToken` still gets the first answer, as from the cloud. It stands for
/// what no retry can fix: a quota reached, a permission the key lacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The action refused (`RunInstances`, `DeleteVSwitch`, `PutBucket`).
    pub action: String,
    /// Successful calls of the action before the refusals start.
    pub after: u64,
    /// The HTTP status answered.
    pub http_status: u16,
    /// The error code answered (`QuotaExceeded.Instance`, `Forbidden.RAM`).
    pub code: String,
}

impl Refusal {
    /// Refuses `action` with `http_status` and `code` once `after` calls of it succeeded.
    pub fn new(
        action: impl Into<String>,
        after: u64,
        http_status: u16,
        code: impl Into<String>,
    ) -> Self {
        Refusal {
            action: action.into(),
            after,
            http_status,
            code: code.into(),
        }
    }
}

/// One request that reached an action, as a [`Simulator::on_request`] hook sees it: called
/// after the action was performed (and the cloud saved) and before the answer is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimRequest {
    /// The action (`RunInstances`, `PutBucket`).
    pub action: String,
    /// 1 for the first request that reached an action since the simulator started, then 2...
    pub seq: u64,
    /// True when the action was performed and succeeded (the cloud may have changed);
    /// false when a fault or an error answered it.
    pub performed: bool,
}

/// A function called for every request that reached an action; see [`Simulator::on_request`].
pub type RequestHook = Arc<dyn Fn(&SimRequest) + Send + Sync>;

/// A VPC, as the API shows it now.
#[derive(Clone, Debug, Serialize)]
pub struct SimVpc {
    /// `vpc-…`.
    pub id: String,
    /// VpcName.
    pub name: String,
    /// Description.
    pub description: String,
    /// `Pending` or `Available`.
    pub status: String,
    /// CidrBlock.
    pub cidr_block: String,
    /// The VRouter created with it.
    pub vrouter_id: String,
    /// Its system route table.
    pub route_table_id: String,
    /// Tags, in the order given.
    pub tags: Vec<(String, String)>,
}

/// A VSwitch, as the API shows it now.
#[derive(Clone, Debug, Serialize)]
pub struct SimVSwitch {
    /// `vsw-…`.
    pub id: String,
    /// VSwitchName.
    pub name: String,
    /// Description.
    pub description: String,
    /// `Pending` or `Available`.
    pub status: String,
    /// The VPC it belongs to.
    pub vpc_id: String,
    /// Its zone.
    pub zone_id: String,
    /// CidrBlock.
    pub cidr_block: String,
    /// Tags.
    pub tags: Vec<(String, String)>,
}

/// A security group rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimRule {
    /// `ingress` or `egress`.
    pub direction: String,
    /// `tcp`, `udp`, `icmp`, `gre` or `all` (lower case).
    pub ip_protocol: String,
    /// `a/b`.
    pub port_range: String,
    /// SourceCidrIp (ingress).
    pub source_cidr_ip: String,
    /// DestCidrIp (egress).
    pub dest_cidr_ip: String,
    /// SourceGroupId (ingress) or DestGroupId (egress).
    pub source_group_id: String,
    /// `accept` or `drop`.
    pub policy: String,
    /// 1 to 100.
    pub priority: u32,
    /// `intranet` or `internet`.
    pub nic_type: String,
    /// Description.
    pub description: String,
}

/// A security group and its rules.
#[derive(Clone, Debug, Serialize)]
pub struct SimSecurityGroup {
    /// `sg-…`.
    pub id: String,
    /// SecurityGroupName.
    pub name: String,
    /// Description.
    pub description: String,
    /// The VPC it belongs to.
    pub vpc_id: String,
    /// `normal` or `enterprise`.
    pub security_group_type: String,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// Its rules, ingress and egress.
    pub rules: Vec<SimRule>,
}

/// An ECS instance, as the API shows it now.
#[derive(Clone, Debug, Serialize)]
pub struct SimInstance {
    /// `i-…`.
    pub id: String,
    /// InstanceName.
    pub name: String,
    /// HostName.
    pub host_name: String,
    /// `Pending`, `Starting` or `Running`.
    pub status: String,
    /// InstanceType.
    pub instance_type: String,
    /// ImageId.
    pub image_id: String,
    /// The zone of its VSwitch.
    pub zone_id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// Its VSwitch.
    pub vswitch_id: String,
    /// Its security groups.
    pub security_group_ids: Vec<String>,
    /// The private IP, from the VSwitch CIDR.
    pub private_ip: String,
    /// The public IP, when InternetMaxBandwidthOut was above 0.
    pub public_ip: Option<String>,
    /// UserData, Base64 as received.
    pub user_data: String,
    /// Tags.
    pub tags: Vec<(String, String)>,
}

/// A listener of a load balancer.
#[derive(Clone, Debug, Serialize)]
pub struct SimListener {
    /// ListenerPort.
    pub port: u16,
    /// `tcp`, `udp` or `http`.
    pub protocol: String,
    /// `stopped`, `starting` or `running`.
    pub status: String,
    /// BackendServerPort.
    pub backend_server_port: u16,
}

/// A backend server registered with a load balancer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SimBackendServer {
    /// The instance id.
    pub server_id: String,
    /// 0 to 100.
    pub weight: u32,
    /// `ecs` or `eni`.
    pub server_type: String,
}

/// A classic load balancer (SLB).
#[derive(Clone, Debug, Serialize)]
pub struct SimLoadBalancer {
    /// `lb-…`.
    pub id: String,
    /// LoadBalancerName.
    pub name: String,
    /// `active`.
    pub status: String,
    /// Its IP address.
    pub address: String,
    /// `internet` or `intranet`.
    pub address_type: String,
    /// Its VPC, empty for classic.
    pub vpc_id: String,
    /// Its VSwitch, empty for classic.
    pub vswitch_id: String,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// Its listeners.
    pub listeners: Vec<SimListener>,
    /// Its backend servers.
    pub backend_servers: Vec<SimBackendServer>,
}

/// A NAS mount target.
#[derive(Clone, Debug, Serialize)]
pub struct SimMountTarget {
    /// MountTargetDomain.
    pub domain: String,
    /// Its VPC.
    pub vpc_id: String,
    /// Its VSwitch.
    pub vswitch_id: String,
    /// `Pending`, `Active` or `Inactive`.
    pub status: String,
    /// AccessGroupName.
    pub access_group: String,
}

/// A NAS file system.
#[derive(Clone, Debug, Serialize)]
pub struct SimFileSystem {
    /// FileSystemId (10 hex characters).
    pub id: String,
    /// Description.
    pub description: String,
    /// `NFS` or `SMB`.
    pub protocol_type: String,
    /// StorageType.
    pub storage_type: String,
    /// FileSystemType.
    pub file_system_type: String,
    /// Its zone.
    pub zone_id: String,
    /// `Running`.
    pub status: String,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// Its mount targets.
    pub mount_targets: Vec<SimMountTarget>,
}

/// An OSS object.
#[derive(Clone, Debug, Serialize)]
pub struct SimObject {
    /// The object key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
}

/// An OSS bucket.
#[derive(Clone, Debug, Serialize)]
pub struct SimBucket {
    /// The bucket name.
    pub name: String,
    /// `private`, `public-read` or `public-read-write`.
    pub acl: String,
    /// Its tags.
    pub tags: Vec<(String, String)>,
    /// Its objects, by key.
    pub objects: Vec<SimObject>,
}

/// Faults the simulator injected, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct InjectedFaults {
    /// `Throttling.User` answers above a quota.
    pub throttled: u64,
    /// HTTP 503 answers (nothing was done).
    pub server_errors: u64,
    /// Connections dropped before the action.
    pub dropped: u64,
    /// Connections dropped after the action was done ("timeout after success").
    pub lost_answers: u64,
    /// Calls refused by a [`Refusal`].
    pub refused: u64,
}

impl InjectedFaults {
    /// All of them.
    pub fn total(&self) -> u64 {
        self.throttled + self.server_errors + self.dropped + self.lost_answers + self.refused
    }
}

/// A snapshot of everything that exists in the simulated cloud, in creation order.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Inventory {
    /// VPCs.
    pub vpcs: Vec<SimVpc>,
    /// VSwitches.
    pub vswitches: Vec<SimVSwitch>,
    /// Security groups.
    pub security_groups: Vec<SimSecurityGroup>,
    /// ECS instances.
    pub instances: Vec<SimInstance>,
    /// Load balancers.
    pub load_balancers: Vec<SimLoadBalancer>,
    /// NAS file systems.
    pub file_systems: Vec<SimFileSystem>,
    /// OSS buckets.
    pub buckets: Vec<SimBucket>,
}

impl Inventory {
    /// True when nothing exists.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many objects exist: VPCs, VSwitches, security groups, instances, load balancers
    /// and their listeners, file systems and their mount targets, buckets and their objects.
    /// Security group rules and backend registrations are not counted.
    pub fn len(&self) -> usize {
        self.vpcs.len()
            + self.vswitches.len()
            + self.security_groups.len()
            + self.instances.len()
            + self
                .load_balancers
                .iter()
                .map(|lb| 1 + lb.listeners.len())
                .sum::<usize>()
            + self
                .file_systems
                .iter()
                .map(|fs| 1 + fs.mount_targets.len())
                .sum::<usize>()
            + self
                .buckets
                .iter()
                .map(|b| 1 + b.objects.len())
                .sum::<usize>()
    }
}

/// What the server task and the handle share.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Set when the simulator stops: connections still open get dropped.
    closed: AtomicBool,
    /// The ROS service: stacks run by the engine against this simulator.
    ros: Arc<ros::RosService>,
    /// Called for every request that reached an action ([`Simulator::on_request`]).
    hook: Mutex<Option<RequestHook>>,
    /// Requests that reached an action since the start.
    seq: std::sync::atomic::AtomicU64,
}

impl Shared {
    /// The state, also after a panic elsewhere poisoned the lock.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True once the simulator was shut down or dropped.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// The next request number and the hook to tell, if any.
    pub(crate) fn next_request(&self) -> (u64, Option<RequestHook>) {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let hook = self.hook.lock().unwrap_or_else(|e| e.into_inner()).clone();
        (seq, hook)
    }
}

/// A running simulated cloud. Dropping it (or [`Simulator::shutdown`]) stops the server.
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    region: String,
    access_key: AccessKey,
    task: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime.
    ///
    /// With [`SimConfig::persist`] set, the cloud is first loaded from that file: every
    /// object with its fields, tags, children and addresses, the `ClientToken` replays and
    /// the next public address. Objects in a transitional status resume it with the delay
    /// they had left when saved, counted from now. A missing file is an empty cloud; a file
    /// that does not parse, or whose `"version"` is not 1, is an error of kind
    /// [`std::io::ErrorKind::InvalidData`] naming the file.
    pub async fn start(config: SimConfig) -> std::io::Result<Simulator> {
        let access_key = config.access_keys.first().cloned().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the simulator needs at least one access key",
            )
        })?;
        let mut state = State::new(config);
        if let Some(path) = state.persist.clone() {
            persist::load(&mut state, &path)?;
        }
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let region = state.region.clone();
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            closed: AtomicBool::new(false),
            ros: Arc::default(),
            hook: Mutex::new(None),
            seq: std::sync::atomic::AtomicU64::new(0),
        });
        shared
            .ros
            .connect(&format!("http://{addr}"), &region, access_key.clone());
        let app = wire::router(shared.clone());
        let task = tokio::spawn(async move {
            // The server only ends when its task is aborted; an accept error ends it early
            // and clients then see refused connections.
            let _ = axum::serve(listener, app).await;
        });
        Ok(Simulator {
            shared,
            addr,
            region,
            access_key,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`: ECS, VPC, SLB, NAS and OSS are all served there.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The first configured access key (by default id `LTAI-sim-key`, secret `sim-secret`).
    pub fn access_key(&self) -> AccessKey {
        self.access_key.clone()
    }

    /// The region served.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Replaces the faults from the next request on, and re-seeds the random generator.
    pub fn set_faults(&self, faults: Faults) {
        let mut state = self.shared.lock();
        state.rng = StdRng::seed_from_u64(faults.seed);
        state.quota_windows.clear();
        state.faults = faults;
    }

    /// Calls `hook` for every request that reaches an action (its signature checked), after
    /// the action was performed and the cloud saved, before the answer is written; `None`
    /// removes it. The hook runs on the server's task and must not block for long: it is
    /// how a test stops a client at an exact point, such as right after a create the client
    /// has not yet heard about.
    pub fn on_request(&self, hook: Option<RequestHook>) {
        *self.shared.hook.lock().unwrap_or_else(|e| e.into_inner()) = hook;
    }

    /// Replaces the delays for objects created (or listeners started) from now on.
    pub fn set_delays(&self, delays: Delays) {
        self.shared.lock().delays = delays;
    }

    /// Requests that reached `action` (throttled and failed ones included).
    pub fn calls(&self, action: &str) -> u64 {
        self.shared.lock().calls.get(action).copied().unwrap_or(0)
    }

    /// Requests per action name.
    pub fn call_counts(&self) -> BTreeMap<String, u64> {
        self.shared.lock().calls.clone()
    }

    /// Requests that reached any action.
    pub fn total_calls(&self) -> u64 {
        self.shared.lock().calls.values().sum()
    }

    /// Forgets the call counts and the injected-fault counts.
    pub fn reset_counts(&self) {
        let mut state = self.shared.lock();
        state.calls.clear();
        state.successes.clear();
        state.injected = InjectedFaults::default();
    }

    /// How many faults were injected since the start or the last [`Simulator::reset_counts`].
    pub fn injected_faults(&self) -> InjectedFaults {
        self.shared.lock().injected
    }

    /// A snapshot of everything that exists now.
    pub fn inventory(&self) -> Inventory {
        self.shared.lock().inventory()
    }

    /// The save at shutdown (or drop): logged, not returned.
    fn final_save(&self) {
        if let Err(e) = self.save() {
            tracing::warn!("the simulator could not save the cloud: {e}");
        }
    }

    /// Writes the whole cloud to the [`SimConfig::persist`] file now (atomically: a
    /// temporary file in the same directory, mode 0600 on unix, fsync, rename). `Ok(())`
    /// with nothing written when no file is configured. Nonces, call counts, faults, quota
    /// windows, delays and access keys are not saved.
    pub fn save(&self) -> std::io::Result<()> {
        persist::save(&mut self.shared.lock())
    }

    /// Saves a last time when a file is configured, stops the server and waits for its task
    /// to end. A failed save is logged (`tracing` warning).
    pub async fn shutdown(mut self) {
        self.final_save();
        self.shared.closed.store(true, Ordering::SeqCst);
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if self.task.is_some() {
            self.final_save();
        }
        self.shared.closed.store(true, Ordering::SeqCst);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("endpoint", &self.endpoint())
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}
