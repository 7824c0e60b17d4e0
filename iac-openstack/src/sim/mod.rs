//! The simulated OpenStack (`sim` feature): Keystone, Neutron, Glance, Nova and Cinder on
//! 127.0.0.1, speaking their JSON APIs closely enough for the client and the handlers.
//!
//! It is a test double for examples and reliability tests, not a stand-in for a real check:
//! the scenarios in `tests/` run against it *and* against the real services, so that every
//! behaviour it imitates is one the real services were seen to have. It keeps:
//! - Keystone: the seeded users `admin`/`admin-secret` and `demo`/`demo-secret`, projects
//!   `admin`, `demo`, `service`, roles with `admin → member → reader` implied, password,
//!   application-credential and token authentication, tokens that expire and can be
//!   revoked, projects, users, grants, role assignments, a catalog of every service with
//!   `public`, `internal` and `admin` endpoints in `RegionOne` (Cinder as both
//!   `block-storage` and `volumev3`);
//! - Neutron: networks, subnets (addresses handed out from the CIDR), routers and their
//!   interfaces, ports, security groups (two default egress rules) and rules, floating IPs,
//!   with Neutron's error types and its refusals (`SubnetInUse`, `RouterInUse`,
//!   `NetworkInUse`, `SecurityGroupRuleExists`), `limit`/`marker` pages and `*_links`;
//! - Glance: image records, upload, download, `web-download` import (the simulator fetches
//!   the URL), `glance-direct` staging, JSON-patch updates, `next` pages, HTML errors;
//! - Nova: flavors `m1.tiny` (id 1) and `m1.small` (id 2), servers that go `BUILD → ACTIVE`
//!   after [`SimConfig::build_reads`] reads, base64 user data, the compute root document
//!   and microversion checks (406 beyond 2.100), volume attachments;
//! - Cinder: volumes `creating → available` after [`SimConfig::build_reads`] reads, backups
//!   (`creating → available`, the volume `backing-up` meanwhile),
//!   `in-use` while attached, `os-extend`.
//!
//! [`Simulator::throttle_next`] makes the next calls answer 429 with `Retry-After`.

mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use tokio::sync::oneshot;

pub use state::Inventory;
use state::World;

/// How the simulator behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Reads of a server or volume before it leaves `BUILD`/`creating` (0: at once).
    pub build_reads: u32,
    /// Seconds a token lives.
    pub token_lifetime_secs: i64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            build_reads: 1,
            token_lifetime_secs: 7200,
        }
    }
}

type Shared = Arc<Mutex<World>>;

/// A running simulator. Dropping it (or [`Simulator::shutdown`]) stops the server.
pub struct Simulator {
    addr: SocketAddr,
    world: Shared,
    stop: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Simulator {
    /// Starts a simulator on a free port of 127.0.0.1.
    pub async fn start(config: SimConfig) -> std::io::Result<Simulator> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let world: Shared = Arc::new(Mutex::new(World::new(config, format!("http://{addr}"))));
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&world));
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Simulator {
            addr,
            world,
            stop: Some(stop),
        })
    }

    /// Keystone's URL (`http://127.0.0.1:<port>/identity/v3`).
    pub fn auth_url(&self) -> String {
        format!("http://{}/identity/v3", self.addr)
    }

    /// The base URL of the simulator.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers the next `calls` API calls (not authentication) with 429 and
    /// `Retry-After: retry_after_secs`.
    pub fn throttle_next(&self, calls: u32, retry_after_secs: u64) {
        let mut world = self.world.lock().expect("simulator state");
        world.throttle = (calls, retry_after_secs);
    }

    /// How many times each `METHOD /service/...` path shape was called.
    pub fn calls(&self, key: &str) -> u64 {
        self.world
            .lock()
            .expect("simulator state")
            .calls
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    /// What exists now.
    pub fn inventory(&self) -> Inventory {
        self.world.lock().expect("simulator state").inventory()
    }

    /// Stops the server.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn handle(
    State(world): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // A web-download import fetches its URL outside the lock, then records the result.
    let fetch = {
        let mut w = world.lock().expect("simulator state");
        let (response, fetch) = w.dispatch(&method, &uri, &headers, &body);
        if fetch.is_none() {
            return response;
        }
        (response, fetch)
    };
    let (response, Some((image_id, url))) = fetch else {
        unreachable!("handled above")
    };
    let world = Arc::clone(&world);
    tokio::spawn(async move {
        let data = match reqwest::get(&url).await {
            Ok(r) if r.status().is_success() => r.bytes().await.ok().map(|b| b.to_vec()),
            _ => None,
        };
        world
            .lock()
            .expect("simulator state")
            .finish_import(&image_id, data);
    });
    response
}
