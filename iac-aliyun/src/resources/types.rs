//! Typed property structs of the `ALIYUN::*` types, for stacks written in Rust.
//!
//! Each struct serializes to the vendor's property names (the same `Properties` a ROS
//! template holds), and its handle offers the type's `Fn::GetAtt` attributes as typed
//! [`Prop`] references:
//!
//! ```
//! use iac_aliyun::resources::types::{VSwitch, Vpc};
//! use iac_core::stack::Stack;
//!
//! let mut stack = Stack::new("demo");
//! let vpc = stack.add("Vpc", Vpc { cidr_block: "192.168.0.0/16".into(), ..Default::default() });
//! stack.add("VSwitch", VSwitch {
//!     vpc_id: vpc.vpc_id(),
//!     zone_id: "cn-hangzhou-h".into(),
//!     cidr_block: "192.168.1.0/24".into(),
//!     ..Default::default()
//! });
//! let template = stack.template().expect("a valid stack");
//! assert_eq!(template.resources["VSwitch"].type_name, "ALIYUN::ECS::VSwitch");
//! ```

use iac_core::stack::{Prop, Resource, ResourceRef};
use serde::Serialize;
use serde_json::Value;

/// Declares a property struct, its attribute struct and the [`Resource`] impl.
macro_rules! resource {
    (
        $(#[$doc:meta])* $name:ident = $type_name:literal, $attrs:ident {
            $( $(#[$fdoc:meta])* $field:ident : $fty:ty => $wire:literal ),* $(,)?
        }
        attributes { $( $(#[$adoc:meta])* $method:ident : $aty:ty => $attr:literal ),* $(,)? }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, Serialize)]
        pub struct $name {
            $(
                $(#[$fdoc])*
                #[serde(rename = $wire, skip_serializing_if = "Prop::is_unset")]
                pub $field: Prop<$fty>,
            )*
        }

        #[doc = concat!("The `Fn::GetAtt` attributes of a `", $type_name, "`.")]
        #[derive(Debug, Clone)]
        pub struct $attrs(ResourceRef);

        impl From<ResourceRef> for $attrs {
            fn from(reference: ResourceRef) -> Self {
                $attrs(reference)
            }
        }

        impl $attrs {
            /// The resource these attributes belong to.
            pub fn reference(&self) -> &ResourceRef {
                &self.0
            }

            $(
                $(#[$adoc])*
                pub fn $method(&self) -> Prop<$aty> {
                    self.0.attr($attr)
                }
            )*
        }

        impl Resource for $name {
            const TYPE_NAME: &'static str = $type_name;
            type Attrs = $attrs;
        }
    };
}

resource! {
    /// `ALIYUN::ECS::VPC`: a virtual private cloud.
    Vpc = "ALIYUN::ECS::VPC", VpcAttrs {
        /// The CIDR block (`192.168.0.0/16`).
        cidr_block: String => "CidrBlock",
        /// The name.
        vpc_name: String => "VpcName",
        /// The description.
        description: String => "Description",
    }
    attributes {
        /// `VpcId`.
        vpc_id: String => "VpcId",
        /// `VRouterId`.
        vrouter_id: String => "VRouterId",
    }
}

resource! {
    /// `ALIYUN::ECS::VSwitch`: a subnet of a VPC in one zone.
    VSwitch = "ALIYUN::ECS::VSwitch", VSwitchAttrs {
        /// The VPC.
        vpc_id: String => "VpcId",
        /// The zone (`cn-hangzhou-h`).
        zone_id: String => "ZoneId",
        /// The CIDR block, inside the VPC's, mask /16–/29.
        cidr_block: String => "CidrBlock",
        /// The name.
        vswitch_name: String => "VSwitchName",
        /// The description.
        description: String => "Description",
    }
    attributes {
        /// `VSwitchId`.
        vswitch_id: String => "VSwitchId",
        /// `CidrBlock`.
        cidr_block: String => "CidrBlock",
        /// `ZoneId`.
        zone_id: String => "ZoneId",
    }
}

/// One rule of a security group, as `SecurityGroupIngress`/`SecurityGroupEgress` items.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rule {
    /// `tcp`, `udp`, `icmp`, `gre` or `all`.
    #[serde(rename = "IpProtocol")]
    pub ip_protocol: String,
    /// `from/to` (`22/22`; `-1/-1` for protocols without ports).
    #[serde(rename = "PortRange")]
    pub port_range: String,
    /// The source CIDR (ingress).
    #[serde(rename = "SourceCidrIp", skip_serializing_if = "Option::is_none")]
    pub source_cidr_ip: Option<String>,
    /// The destination CIDR (egress).
    #[serde(rename = "DestCidrIp", skip_serializing_if = "Option::is_none")]
    pub dest_cidr_ip: Option<String>,
    /// `accept` (default) or `drop`.
    #[serde(rename = "Policy", skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// 1 (highest, default) – 100.
    #[serde(rename = "Priority", skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
}

impl Rule {
    /// An ingress rule accepting `protocol` on `ports` from `cidr`.
    pub fn ingress(protocol: &str, ports: &str, cidr: &str) -> Self {
        Rule {
            ip_protocol: protocol.into(),
            port_range: ports.into(),
            source_cidr_ip: Some(cidr.into()),
            ..Default::default()
        }
    }
}

resource! {
    /// `ALIYUN::ECS::SecurityGroup`, with its rules.
    SecurityGroup = "ALIYUN::ECS::SecurityGroup", SecurityGroupAttrs {
        /// The VPC.
        vpc_id: String => "VpcId",
        /// The name.
        security_group_name: String => "SecurityGroupName",
        /// The description.
        description: String => "Description",
        /// Ingress rules.
        security_group_ingress: Vec<Rule> => "SecurityGroupIngress",
        /// Egress rules.
        security_group_egress: Vec<Rule> => "SecurityGroupEgress",
    }
    attributes {
        /// `SecurityGroupId`.
        security_group_id: String => "SecurityGroupId",
    }
}

resource! {
    /// `ALIYUN::ECS::SecurityGroupIngress`: one ingress rule added to a group.
    SecurityGroupIngress = "ALIYUN::ECS::SecurityGroupIngress", SecurityGroupIngressAttrs {
        /// The group.
        security_group_id: String => "SecurityGroupId",
        /// `tcp`, `udp`, `icmp`, `gre` or `all`.
        ip_protocol: String => "IpProtocol",
        /// `from/to`.
        port_range: String => "PortRange",
        /// The source CIDR.
        source_cidr_ip: String => "SourceCidrIp",
        /// The source group.
        source_group_id: String => "SourceGroupId",
        /// `accept` or `drop`.
        policy: String => "Policy",
        /// 1–100.
        priority: i64 => "Priority",
    }
    attributes {}
}

resource! {
    /// `ALIYUN::ECS::Instance`: one ECS instance.
    Instance = "ALIYUN::ECS::Instance", InstanceAttrs {
        /// The instance type (`ecs.g7.large`).
        instance_type: String => "InstanceType",
        /// The image.
        image_id: String => "ImageId",
        /// The VSwitch.
        vswitch_id: String => "VSwitchId",
        /// The security group.
        security_group_id: String => "SecurityGroupId",
        /// The zone (must be the VSwitch's).
        zone_id: String => "ZoneId",
        /// The name.
        instance_name: String => "InstanceName",
        /// The host name (Kubernetes node names follow it).
        host_name: String => "HostName",
        /// The login password (a secret: pass a `NoEcho` parameter).
        password: String => "Password",
        /// A fixed private address inside the VSwitch (otherwise one is allocated).
        private_ip_address: String => "PrivateIpAddress",
        /// The key pair.
        key_pair_name: String => "KeyPairName",
        /// The boot script, as text (the handler base64-encodes it).
        user_data: String => "UserData",
        /// Whether to give it a public address.
        allocate_public_ip: bool => "AllocatePublicIP",
        /// The public bandwidth in Mbit/s (a public address when > 0).
        internet_max_bandwidth_out: i64 => "InternetMaxBandwidthOut",
        /// `cloud_efficiency`, `cloud_ssd`, `cloud_essd`.
        system_disk_category: String => "SystemDiskCategory",
        /// GiB.
        system_disk_size: i64 => "SystemDiskSize",
    }
    attributes {
        /// `InstanceId`.
        instance_id: String => "InstanceId",
        /// `PrivateIp`.
        private_ip: String => "PrivateIp",
        /// `PublicIp`.
        public_ip: String => "PublicIp",
        /// `HostName`.
        host_name: String => "HostName",
        /// `ZoneId`.
        zone_id: String => "ZoneId",
    }
}

resource! {
    /// `ALIYUN::ECS::InstanceGroup`: `MaxAmount` identical instances; changing the amount
    /// scales in place.
    InstanceGroup = "ALIYUN::ECS::InstanceGroup", InstanceGroupAttrs {
        /// How many instances.
        max_amount: i64 => "MaxAmount",
        /// The instance type.
        instance_type: String => "InstanceType",
        /// The image.
        image_id: String => "ImageId",
        /// The VSwitch.
        vswitch_id: String => "VSwitchId",
        /// The security group.
        security_group_id: String => "SecurityGroupId",
        /// The zone.
        zone_id: String => "ZoneId",
        /// The name prefix (a 3-digit suffix is added).
        instance_name: String => "InstanceName",
        /// The host name prefix (a 3-digit suffix is added).
        host_name: String => "HostName",
        /// The login password.
        password: String => "Password",
        /// The key pair.
        key_pair_name: String => "KeyPairName",
        /// The boot script, as text.
        user_data: String => "UserData",
        /// Whether to give each a public address.
        allocate_public_ip: bool => "AllocatePublicIP",
        /// `cloud_efficiency`, `cloud_ssd`, `cloud_essd`.
        system_disk_category: String => "SystemDiskCategory",
        /// GiB.
        system_disk_size: i64 => "SystemDiskSize",
    }
    attributes {
        /// `InstanceIds`.
        instance_ids: Vec<String> => "InstanceIds",
        /// `PrivateIps`.
        private_ips: Vec<String> => "PrivateIps",
        /// `PublicIps`.
        public_ips: Vec<String> => "PublicIps",
        /// `HostNames`.
        host_names: Vec<String> => "HostNames",
    }
}

resource! {
    /// `ALIYUN::SLB::LoadBalancer`: a classic load balancer.
    LoadBalancer = "ALIYUN::SLB::LoadBalancer", LoadBalancerAttrs {
        /// The name.
        load_balancer_name: String => "LoadBalancerName",
        /// `internet` or `intranet`.
        address_type: String => "AddressType",
        /// `slb.s1.small` ...
        load_balancer_spec: String => "LoadBalancerSpec",
        /// The VPC (intranet).
        vpc_id: String => "VpcId",
        /// The VSwitch (intranet).
        vswitch_id: String => "VSwitchId",
        /// Mbit/s.
        bandwidth: i64 => "Bandwidth",
        /// A fixed private address (intranet only).
        address: String => "Address",
    }
    attributes {
        /// `LoadBalancerId`.
        load_balancer_id: String => "LoadBalancerId",
        /// `IpAddress`.
        ip_address: String => "IpAddress",
    }
}

resource! {
    /// `ALIYUN::SLB::Listener`: a listener, created and started.
    Listener = "ALIYUN::SLB::Listener", ListenerAttrs {
        /// The load balancer.
        load_balancer_id: String => "LoadBalancerId",
        /// The front port.
        listener_port: i64 => "ListenerPort",
        /// `tcp`, `udp` or `http`.
        protocol: String => "Protocol",
        /// The backend port.
        backend_server_port: i64 => "BackendServerPort",
        /// Mbit/s, −1 for unlimited.
        bandwidth: i64 => "Bandwidth",
        /// `wrr`, `wlc`, `rr`.
        scheduler: String => "Scheduler",
        /// Health check settings (`{"Interval": 2, ...}`).
        health_check: Value => "HealthCheck",
    }
    attributes {
        /// `ListenerPortsAndProtocol`.
        listener_ports_and_protocol: Value => "ListenerPortsAndProtocol",
    }
}

resource! {
    /// `ALIYUN::SLB::BackendServerAttachment`: instances behind a load balancer.
    BackendServerAttachment = "ALIYUN::SLB::BackendServerAttachment", BackendServerAttachmentAttrs {
        /// The load balancer.
        load_balancer_id: String => "LoadBalancerId",
        /// The instances.
        backend_server_list: Vec<String> => "BackendServerList",
        /// Their weights (the last repeats).
        backend_server_weight_list: Vec<i64> => "BackendServerWeightList",
    }
    attributes {
        /// `BackendServers`.
        backend_servers: Value => "BackendServers",
    }
}

resource! {
    /// `ALIYUN::NAS::FileSystem`: a NAS file system.
    FileSystem = "ALIYUN::NAS::FileSystem", FileSystemAttrs {
        /// `NFS` or `SMB`.
        protocol_type: String => "ProtocolType",
        /// `Performance` or `Capacity`.
        storage_type: String => "StorageType",
        /// The zone.
        zone_id: String => "ZoneId",
        /// The description.
        description: String => "Description",
    }
    attributes {
        /// `FileSystemId`.
        file_system_id: String => "FileSystemId",
    }
}

resource! {
    /// `ALIYUN::NAS::MountTarget`: where a VPC mounts a file system.
    MountTarget = "ALIYUN::NAS::MountTarget", MountTargetAttrs {
        /// The file system.
        file_system_id: String => "FileSystemId",
        /// `VPC`.
        network_type: String => "NetworkType",
        /// The VPC.
        vpc_id: String => "VpcId",
        /// The VSwitch.
        vswitch_id: String => "VSwitchId",
        /// The access group (`DEFAULT_VPC_GROUP_NAME`).
        access_group_name: String => "AccessGroupName",
    }
    attributes {
        /// `MountTargetDomain`: the NFS server.
        mount_target_domain: String => "MountTargetDomain",
    }
}

resource! {
    /// `ALIYUN::OSS::Bucket`.
    Bucket = "ALIYUN::OSS::Bucket", BucketAttrs {
        /// The globally unique name.
        bucket_name: String => "BucketName",
        /// `private`, `public-read`, `public-read-write`.
        access_control: String => "AccessControl",
        /// Delete the objects with the bucket.
        deletion_force: bool => "DeletionForce",
    }
    attributes {
        /// `Name`.
        name: String => "Name",
        /// `DomainName`.
        domain_name: String => "DomainName",
        /// `InternalDomainName`.
        internal_domain_name: String => "InternalDomainName",
    }
}
