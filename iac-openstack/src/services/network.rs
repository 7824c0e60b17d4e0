//! Neutron (`network`, API v2.0): networks, subnets, routers and their interfaces, ports,
//! security groups and rules, floating IPs.

use futures::stream::BoxStream;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Fields;
use crate::client::{Body, Client, Service};
use crate::error::ApiError;

/// A network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// Its id.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// `ACTIVE`, `DOWN`, `BUILD`, `ERROR`.
    #[serde(default)]
    pub status: String,
    /// Administrative state.
    #[serde(default)]
    pub admin_state_up: bool,
    /// Ids of its subnets.
    #[serde(default)]
    pub subnets: Vec<String>,
    /// The owning project.
    #[serde(default)]
    pub project_id: String,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Fields,
}

/// A subnet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subnet {
    /// Its id.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its network.
    pub network_id: String,
    /// Its CIDR.
    pub cidr: String,
    /// 4 or 6.
    pub ip_version: u8,
    /// Its gateway, if any.
    #[serde(default)]
    pub gateway_ip: Option<String>,
    /// Whether DHCP is on.
    #[serde(default)]
    pub enable_dhcp: bool,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Fields,
}

/// A router.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Router {
    /// Its id.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// `ACTIVE`, ...
    #[serde(default)]
    pub status: String,
    /// Administrative state.
    #[serde(default)]
    pub admin_state_up: bool,
    /// The external gateway, if set.
    #[serde(default)]
    pub external_gateway_info: Option<Value>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Fields,
}

/// A fixed IP of a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedIp {
    /// The subnet.
    pub subnet_id: String,
    /// The address.
    pub ip_address: String,
}

/// A port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Port {
    /// Its id.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its network.
    pub network_id: String,
    /// `DOWN` until bound, then `ACTIVE`.
    #[serde(default)]
    pub status: String,
    /// Its MAC address.
    #[serde(default)]
    pub mac_address: String,
    /// Its addresses.
    #[serde(default)]
    pub fixed_ips: Vec<FixedIp>,
    /// What uses it (a router, a server).
    #[serde(default)]
    pub device_id: String,
    /// `network:router_interface`, `compute:nova`, ...
    #[serde(default)]
    pub device_owner: String,
    /// Its security groups.
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Fields,
}

/// A security group rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroupRule {
    /// Its id.
    pub id: String,
    /// Its group.
    pub security_group_id: String,
    /// `ingress` or `egress`.
    pub direction: String,
    /// `IPv4` or `IPv6`.
    #[serde(default)]
    pub ethertype: String,
    /// `tcp`, `udp`, `icmp`, a number, or none for any.
    #[serde(default)]
    pub protocol: Option<String>,
    /// First port.
    #[serde(default)]
    pub port_range_min: Option<u32>,
    /// Last port.
    #[serde(default)]
    pub port_range_max: Option<u32>,
    /// Source/destination CIDR.
    #[serde(default)]
    pub remote_ip_prefix: Option<String>,
    /// Source/destination group.
    #[serde(default)]
    pub remote_group_id: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Fields,
}

/// A security group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroup {
    /// Its id.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its description.
    #[serde(default)]
    pub description: String,
    /// Its rules (a new group has two egress rules).
    #[serde(default)]
    pub security_group_rules: Vec<SecurityGroupRule>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Fields,
}

/// A floating IP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FloatingIp {
    /// Its id.
    pub id: String,
    /// The address.
    #[serde(default)]
    pub floating_ip_address: String,
    /// The external network it comes from.
    pub floating_network_id: String,
    /// The port it points at.
    #[serde(default)]
    pub port_id: Option<String>,
    /// The fixed address it points at.
    #[serde(default)]
    pub fixed_ip_address: Option<String>,
    /// `ACTIVE`, `DOWN`.
    #[serde(default)]
    pub status: String,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Fields,
}

/// The network service of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct NetworkApi<'a> {
    client: &'a Client,
}

impl Client {
    /// The network service (Neutron).
    pub fn network(&self) -> NetworkApi<'_> {
        NetworkApi { client: self }
    }
}

macro_rules! neutron_crud {
    ($ty:ty, $one:literal, $many:literal,
     $get:ident, $list:ident, $create:ident, $update:ident, $delete:ident) => {
        #[doc = concat!("Reads one ", $one, ".")]
        pub async fn $get(&self, id: &str) -> Result<$ty, ApiError> {
            self.client
                .call(Service::Network, Method::GET, &format!("/{}/{id}", $many), Body::Empty, Some($one))
                .await
        }

        #[doc = concat!("Lists ", $many, " matching `query` (Neutron filters: `name`, `network_id`, ...), page by page.")]
        pub fn $list(&self, query: &[(&str, &str)]) -> BoxStream<'static, Result<$ty, ApiError>> {
            self.client.list(Service::Network, concat!("/", $many), $many, query)
        }

        #[doc = concat!("Creates a ", $one, " from the API's fields.")]
        pub async fn $create(&self, fields: Fields) -> Result<$ty, ApiError> {
            self.client
                .call(Service::Network, Method::POST, concat!("/", $many), Body::Json(json!({ $one: fields })), Some($one))
                .await
        }

        #[doc = concat!("Changes fields of a ", $one, ".")]
        pub async fn $update(&self, id: &str, fields: Fields) -> Result<$ty, ApiError> {
            self.client
                .call(Service::Network, Method::PUT, &format!("/{}/{id}", $many), Body::Json(json!({ $one: fields })), Some($one))
                .await
        }

        #[doc = concat!("Deletes a ", $one, "; one already gone is deleted.")]
        pub async fn $delete(&self, id: &str) -> Result<(), ApiError> {
            self.client.delete(Service::Network, &format!("/{}/{id}", $many)).await
        }
    };
}

impl NetworkApi<'_> {
    neutron_crud!(
        Network,
        "network",
        "networks",
        get_network,
        list_networks,
        create_network,
        update_network,
        delete_network
    );
    neutron_crud!(
        Subnet,
        "subnet",
        "subnets",
        get_subnet,
        list_subnets,
        create_subnet,
        update_subnet,
        delete_subnet
    );
    neutron_crud!(
        Router,
        "router",
        "routers",
        get_router,
        list_routers,
        create_router,
        update_router,
        delete_router
    );
    neutron_crud!(
        Port,
        "port",
        "ports",
        get_port,
        list_ports,
        create_port,
        update_port,
        delete_port
    );
    neutron_crud!(
        SecurityGroup,
        "security_group",
        "security-groups",
        get_security_group,
        list_security_groups,
        create_security_group,
        update_security_group,
        delete_security_group
    );
    neutron_crud!(
        FloatingIp,
        "floatingip",
        "floatingips",
        get_floating_ip,
        list_floating_ips,
        create_floating_ip,
        update_floating_ip,
        delete_floating_ip
    );

    /// Reads one security group rule.
    pub async fn get_security_group_rule(&self, id: &str) -> Result<SecurityGroupRule, ApiError> {
        self.client
            .call(
                Service::Network,
                Method::GET,
                &format!("/security-group-rules/{id}"),
                Body::Empty,
                Some("security_group_rule"),
            )
            .await
    }

    /// Creates a security group rule from the API's fields.
    pub async fn create_security_group_rule(
        &self,
        fields: Fields,
    ) -> Result<SecurityGroupRule, ApiError> {
        self.client
            .call(
                Service::Network,
                Method::POST,
                "/security-group-rules",
                Body::Json(json!({ "security_group_rule": fields })),
                Some("security_group_rule"),
            )
            .await
    }

    /// Deletes a security group rule; one already gone is deleted.
    pub async fn delete_security_group_rule(&self, id: &str) -> Result<(), ApiError> {
        self.client
            .delete(Service::Network, &format!("/security-group-rules/{id}"))
            .await
    }

    /// Attaches a router to a subnet (`{"subnet_id"}`) or a port (`{"port_id"}`); returns
    /// the interface's `port_id` and `subnet_id`.
    pub async fn add_router_interface(
        &self,
        router_id: &str,
        fields: Fields,
    ) -> Result<RouterInterface, ApiError> {
        self.client
            .call(
                Service::Network,
                Method::PUT,
                &format!("/routers/{router_id}/add_router_interface"),
                Body::Json(Value::Object(fields)),
                None,
            )
            .await
    }

    /// Detaches a router from a subnet or port; an interface already gone is removed.
    pub async fn remove_router_interface(
        &self,
        router_id: &str,
        fields: Fields,
    ) -> Result<(), ApiError> {
        let path = format!("/routers/{router_id}/remove_router_interface");
        match self
            .client
            .send(
                Service::Network,
                Method::PUT,
                &path,
                Body::Json(Value::Object(fields)),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// What `add_router_interface` answers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RouterInterface {
    /// The router.
    pub id: String,
    /// The port made on the subnet (or given).
    pub port_id: String,
    /// The subnet.
    pub subnet_id: String,
}
