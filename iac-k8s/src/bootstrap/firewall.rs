//! The security-group rules a cluster needs, as plain data.

use super::spec::{API_SERVER_PORT, ClusterSpec, CniPlugin, ControlPlane};

/// The IP protocol of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// IP-in-IP (IP protocol 4, Calico's default encapsulation). A cloud without this
    /// protocol in its rule vocabulary (Alibaba Cloud) must map it to all protocols from the
    /// same source.
    IpInIp,
}

/// Which machines a rule is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RuleTarget {
    /// The masters' security group.
    ControlPlane,
    /// Every machine (masters and nodes).
    AllMachines,
}

/// One inbound rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FirewallRule {
    /// Protocol.
    pub protocol: Protocol,
    /// `from/to` (Alibaba Cloud's notation), `-1/-1` for protocols without ports.
    pub port_range: String,
    /// Source CIDR.
    pub source_cidr: String,
    /// Why the rule exists.
    pub description: String,
    /// Which machines the rule applies to.
    pub applies_to: RuleTarget,
}

fn rule(
    protocol: Protocol,
    from: u16,
    to: u16,
    source: &str,
    applies_to: RuleTarget,
    description: &str,
) -> FirewallRule {
    FirewallRule {
        protocol,
        port_range: format!("{from}/{to}"),
        source_cidr: source.to_string(),
        description: description.to_string(),
        applies_to,
    }
}

/// The inbound rules the cluster of `spec` needs.
///
/// - API server 6443 from the VPC CIDR and the pod CIDR (pods reach it through the
///   `kubernetes` Service, which is DNAT-ed on the sending node, so the source is a pod or
///   node address), and for HA from the load balancer (its `load_balancer_cidr`, or the
///   endpoint's `/32` when it is an IPv4 address);
/// - etcd 2379-2380 between masters (HA only; the masters' addresses are unknown until they
///   boot, so the source is the VPC CIDR);
/// - kubelet 10250 from the VPC and the pod CIDR (metrics-server);
/// - NodePorts 30000-32767 tcp and udp from `node_port_source_cidr` (default the VPC CIDR);
/// - the CNI: flannel VXLAN udp 8472, or Calico BGP tcp 179 and IP-in-IP, from the VPC.
///
/// The service CIDR never appears as a source: Service addresses are rewritten to pod or
/// node addresses before a packet leaves its node.
pub fn cluster_firewall_rules(spec: &ClusterSpec) -> Vec<FirewallRule> {
    use Protocol::*;
    let (masters, all) = (RuleTarget::ControlPlane, RuleTarget::AllMachines);
    let vpc = spec.vpc_cidr.as_str();
    let pod = spec.pod_cidr.as_str();
    let api = API_SERVER_PORT;
    let mut rules = vec![
        rule(
            Tcp,
            api,
            api,
            vpc,
            masters,
            "Kubernetes API server from the VPC",
        ),
        rule(
            Tcp,
            api,
            api,
            pod,
            masters,
            "Kubernetes API server from pods",
        ),
    ];
    if let ControlPlane::HighlyAvailable {
        endpoint,
        load_balancer_cidr,
        ..
    } = &spec.control_plane
    {
        let lb = load_balancer_cidr.clone().or_else(|| {
            endpoint
                .parse::<std::net::Ipv4Addr>()
                .ok()
                .map(|ip| format!("{ip}/32"))
        });
        if let Some(lb) = lb {
            rules.push(rule(
                Tcp,
                api,
                api,
                &lb,
                masters,
                "Kubernetes API server from the load balancer",
            ));
        }
        rules.push(rule(
            Tcp,
            2379,
            2380,
            vpc,
            masters,
            "etcd client and peer traffic between masters",
        ));
    }
    rules.push(rule(
        Tcp,
        10250,
        10250,
        vpc,
        all,
        "kubelet API from the VPC",
    ));
    rules.push(rule(
        Tcp,
        10250,
        10250,
        pod,
        all,
        "kubelet API from pods (metrics-server)",
    ));
    let np = spec.node_port_source_cidr.as_deref().unwrap_or(vpc);
    rules.push(rule(Tcp, 30000, 32767, np, all, "NodePort Services (tcp)"));
    rules.push(rule(Udp, 30000, 32767, np, all, "NodePort Services (udp)"));
    match spec.cni.plugin {
        CniPlugin::Flannel => rules.push(rule(
            Udp,
            8472,
            8472,
            vpc,
            all,
            "flannel VXLAN between machines",
        )),
        CniPlugin::Calico => {
            rules.push(rule(Tcp, 179, 179, vpc, all, "Calico BGP between machines"));
            rules.push(FirewallRule {
                protocol: IpInIp,
                port_range: "-1/-1".into(),
                source_cidr: vpc.to_string(),
                description: "Calico IP-in-IP between machines".into(),
                applies_to: all,
            });
        }
    }
    rules
}
