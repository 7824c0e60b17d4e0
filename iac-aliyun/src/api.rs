//! Typed answers of the actions the `ALIYUN::*` resources call.
//!
//! ECS, VPC, SLB and NAS wrap every list in an object named after the list with one field
//! named after the item: `{"Instances": {"Instance": [...]}}`. [`Wrapped`] reads that shape
//! (and an absent or empty wrapper) into a plain `Vec`.

use std::marker::PhantomData;

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A list as the RPC APIs wrap it: `{"Item": [...]}`, read into its items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapped<T>(pub Vec<T>);

impl<T> Default for Wrapped<T> {
    fn default() -> Self {
        Wrapped(Vec::new())
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Wrapped<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: DeserializeOwned> Visitor<'de> for V<T> {
            type Value = Wrapped<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object holding one list, or a string (an empty wrapper)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some((_, list)) = map.next_entry::<String, OneOrMany<T>>()? {
                    items.extend(list.0);
                }
                Ok(Wrapped(items))
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Wrapped(Vec::new()))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(Wrapped(Vec::new()))
            }
        }
        deserializer.deserialize_any(V(PhantomData))
    }
}

/// One item or a list of them (some answers shrink a one-item list to the item).
struct OneOrMany<T>(Vec<T>);

impl<'de, T: DeserializeOwned> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let items = match value {
            serde_json::Value::Array(items) => items,
            serde_json::Value::Null => Vec::new(),
            one => vec![one],
        };
        items
            .into_iter()
            .map(|v| serde_json::from_value(v).map_err(serde::de::Error::custom))
            .collect::<Result<Vec<T>, _>>()
            .map(OneOrMany)
    }
}

/// A tag as VPC, SLB and NAS write it (`Key`/`Value`) or as ECS writes it
/// (`TagKey`/`TagValue`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Tag {
    /// The key.
    #[serde(alias = "TagKey", rename = "Key")]
    pub key: String,
    /// The value.
    #[serde(alias = "TagValue", rename = "Value", default)]
    pub value: String,
}

/// `CreateVpc`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateVpcResponse {
    /// The new VPC.
    pub vpc_id: String,
    /// Its router.
    #[serde(default, rename = "VRouterId")]
    pub vrouter_id: String,
    /// Its route table.
    #[serde(default)]
    pub route_table_id: String,
}

/// A VPC of `DescribeVpcs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Vpc {
    /// The id.
    pub vpc_id: String,
    /// `Pending` or `Available`.
    pub status: String,
    /// The CIDR block.
    #[serde(default)]
    pub cidr_block: String,
    /// The name.
    #[serde(default)]
    pub vpc_name: String,
    /// The router.
    #[serde(default, rename = "VRouterId")]
    pub vrouter_id: String,
    /// The VSwitches.
    #[serde(default, rename = "VSwitchIds")]
    pub vswitch_ids: Wrapped<String>,
    /// The tags.
    #[serde(default)]
    pub tags: Wrapped<Tag>,
}

/// `DescribeVpcs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeVpcsResponse {
    /// The VPCs.
    #[serde(default)]
    pub vpcs: Wrapped<Vpc>,
}

/// A VSwitch of `DescribeVSwitches`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VSwitch {
    /// The id.
    #[serde(rename = "VSwitchId")]
    pub vswitch_id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// `Pending` or `Available`.
    pub status: String,
    /// The CIDR block.
    #[serde(default)]
    pub cidr_block: String,
    /// The zone.
    #[serde(default)]
    pub zone_id: String,
    /// The name.
    #[serde(default, rename = "VSwitchName")]
    pub vswitch_name: String,
}

/// `DescribeVSwitches`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeVSwitchesResponse {
    /// The VSwitches.
    #[serde(default, rename = "VSwitches")]
    pub vswitches: Wrapped<VSwitch>,
}

/// A security group rule of `DescribeSecurityGroupAttribute`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Permission {
    /// `ingress` or `egress`.
    #[serde(default)]
    pub direction: String,
    /// `tcp`, `udp`, `icmp`, `gre`, `all` (any case on the wire).
    pub ip_protocol: String,
    /// `from/to`.
    pub port_range: String,
    /// Source CIDR of an ingress rule.
    #[serde(default)]
    pub source_cidr_ip: String,
    /// Destination CIDR of an egress rule.
    #[serde(default)]
    pub dest_cidr_ip: String,
    /// Source security group.
    #[serde(default)]
    pub source_group_id: String,
    /// `accept` or `drop`.
    #[serde(default)]
    pub policy: String,
    /// 1–100.
    #[serde(default)]
    pub priority: serde_json::Value,
}

/// `DescribeSecurityGroupAttribute`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityGroupAttribute {
    /// The group.
    pub security_group_id: String,
    /// Its VPC.
    #[serde(default)]
    pub vpc_id: String,
    /// Its rules.
    #[serde(default)]
    pub permissions: Wrapped<Permission>,
}

/// An instance of `DescribeInstances`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Instance {
    /// The id.
    pub instance_id: String,
    /// `Pending`, `Starting`, `Running`, `Stopping`, `Stopped`.
    pub status: String,
    /// The name.
    #[serde(default)]
    pub instance_name: String,
    /// The host name.
    #[serde(default)]
    pub host_name: String,
    /// The zone.
    #[serde(default)]
    pub zone_id: String,
    /// The instance type.
    #[serde(default)]
    pub instance_type: String,
    /// VPC addresses.
    #[serde(default)]
    pub vpc_attributes: VpcAttributes,
    /// Public addresses.
    #[serde(default)]
    pub public_ip_address: Wrapped<String>,
    /// The tags.
    #[serde(default)]
    pub tags: Wrapped<Tag>,
}

impl Instance {
    /// The first private address, if any.
    pub fn private_ip(&self) -> Option<&str> {
        self.vpc_attributes
            .private_ip_address
            .0
            .first()
            .map(String::as_str)
    }

    /// The first public address, if any.
    pub fn public_ip(&self) -> Option<&str> {
        self.public_ip_address.0.first().map(String::as_str)
    }
}

/// The VPC part of an instance.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VpcAttributes {
    /// The VPC.
    #[serde(default)]
    pub vpc_id: String,
    /// The VSwitch.
    #[serde(default, rename = "VSwitchId")]
    pub vswitch_id: String,
    /// The private addresses.
    #[serde(default)]
    pub private_ip_address: Wrapped<String>,
}

/// `DescribeInstances`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstancesResponse {
    /// The instances.
    #[serde(default)]
    pub instances: Wrapped<Instance>,
    /// The next page's token; empty on the last page.
    #[serde(default)]
    pub next_token: String,
}

/// `RunInstances`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunInstancesResponse {
    /// The new instances, in order.
    pub instance_id_sets: Wrapped<String>,
}

/// `CreateLoadBalancer`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateLoadBalancerResponse {
    /// The new load balancer.
    pub load_balancer_id: String,
    /// Its address.
    #[serde(default)]
    pub address: String,
}

/// `DescribeLoadBalancerAttribute`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoadBalancerAttribute {
    /// The id.
    pub load_balancer_id: String,
    /// `active`, `inactive` or `locked`.
    #[serde(default)]
    pub load_balancer_status: String,
    /// The address.
    #[serde(default)]
    pub address: String,
    /// The name.
    #[serde(default)]
    pub load_balancer_name: String,
    /// Ports and protocols of its listeners.
    #[serde(default)]
    pub listener_ports_and_protocol: Wrapped<ListenerPortAndProtocol>,
    /// Registered backends.
    #[serde(default)]
    pub backend_servers: Wrapped<BackendServer>,
}

/// A listener of a load balancer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListenerPortAndProtocol {
    /// The port.
    pub listener_port: u16,
    /// `tcp`, `udp`, `http`, `https`.
    pub listener_protocol: String,
}

/// A backend of a load balancer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackendServer {
    /// The instance.
    pub server_id: String,
    /// 0–100.
    #[serde(default)]
    pub weight: serde_json::Value,
}

/// `DescribeLoadBalancer<Protocol>ListenerAttribute`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListenerAttribute {
    /// The port.
    pub listener_port: u16,
    /// `stopped`, `starting`, `running`, `configuring`, `stopping`.
    pub status: String,
    /// The backend port.
    #[serde(default)]
    pub backend_server_port: Option<u16>,
    /// The bandwidth (−1: unlimited).
    #[serde(default)]
    pub bandwidth: Option<i64>,
}

/// `CreateFileSystem`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFileSystemResponse {
    /// The new file system.
    pub file_system_id: String,
}

/// A file system of `DescribeFileSystems`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileSystem {
    /// The id.
    pub file_system_id: String,
    /// `Pending`, `Running`, `Stopped`, ...
    #[serde(default)]
    pub status: String,
    /// The description.
    #[serde(default)]
    pub description: String,
}

/// `DescribeFileSystems`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeFileSystemsResponse {
    /// The file systems.
    #[serde(default)]
    pub file_systems: Wrapped<FileSystem>,
}

/// A mount target of `DescribeMountTargets`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountTarget {
    /// The NFS server name.
    pub mount_target_domain: String,
    /// `Pending`, `Active`, `Inactive`, ...
    pub status: String,
    /// The VSwitch.
    #[serde(default)]
    pub vsw_id: String,
    /// The VPC.
    #[serde(default)]
    pub vpc_id: String,
    /// The access group.
    #[serde(default)]
    pub access_group: String,
}

/// `DescribeMountTargets`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeMountTargetsResponse {
    /// The mount targets.
    #[serde(default)]
    pub mount_targets: Wrapped<MountTarget>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_lists_decode_from_every_shape_the_apis_use() {
        let answer: DescribeInstancesResponse = serde_json::from_str(
            r#"{"RequestId":"r","NextToken":"t","Instances":{"Instance":[{"InstanceId":"i-1","Status":"Running",
                "VpcAttributes":{"PrivateIpAddress":{"IpAddress":["10.0.0.5"]}},"PublicIpAddress":{"IpAddress":[]},
                "Tags":{"Tag":[{"TagKey":"iac:stack","TagValue":"demo"}]}}]}}"#,
        )
        .expect("the documented shape");
        assert_eq!(answer.next_token, "t");
        let instance = &answer.instances.0[0];
        assert_eq!(instance.private_ip(), Some("10.0.0.5"));
        assert_eq!(instance.public_ip(), None);
        assert_eq!(
            instance.tags.0,
            vec![Tag {
                key: "iac:stack".into(),
                value: "demo".into()
            }]
        );

        let empty: DescribeVpcsResponse = serde_json::from_str(r#"{"Vpcs":{"Vpc":[]}}"#).unwrap();
        assert!(empty.vpcs.0.is_empty());
        let absent: DescribeVpcsResponse = serde_json::from_str(r#"{"RequestId":"r"}"#).unwrap();
        assert!(absent.vpcs.0.is_empty());
        let single: RunInstancesResponse =
            serde_json::from_str(r#"{"InstanceIdSets":{"InstanceIdSet":"i-9"}}"#).unwrap();
        assert_eq!(single.instance_id_sets.0, vec!["i-9".to_owned()]);
        let bad = serde_json::from_str::<RunInstancesResponse>(
            r#"{"InstanceIdSets":{"InstanceIdSet":[1]}}"#,
        );
        assert!(bad.is_err(), "a number is not an instance id");
    }
}
