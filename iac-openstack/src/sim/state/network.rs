//! Neutron's API in the simulator.

use axum::http::{Method, StatusCode, Uri};
use serde_json::{Map, Value, json};

use super::{Answer, World, error, field_text, host, ok, status};

/// (collection path, body key, error type prefix, store).
const KINDS: &[(&str, &str, &str, &str)] = &[
    ("networks", "network", "Network", "networks"),
    ("subnets", "subnet", "Subnet", "subnets"),
    ("routers", "router", "Router", "routers"),
    ("ports", "port", "Port", "ports"),
    (
        "security-groups",
        "security_group",
        "SecurityGroup",
        "security_groups",
    ),
    (
        "security-group-rules",
        "security_group_rule",
        "SecurityGroupRule",
        "security_group_rules",
    ),
    ("floatingips", "floatingip", "FloatingIP", "floatingips"),
];

fn kind(path: &str) -> Option<(&'static str, &'static str, &'static str, &'static str)> {
    KINDS.iter().find(|k| k.0 == path).copied()
}

fn not_found(what: &str, id: &str) -> Answer {
    error(
        "network",
        StatusCode::NOT_FOUND,
        &format!("{what}NotFound"),
        &format!("{what} {id} could not be found."),
    )
}

fn conflict(kind: &str, message: String) -> Answer {
    error("network", StatusCode::CONFLICT, kind, &message)
}

fn bad(message: &str) -> Answer {
    error(
        "network",
        StatusCode::BAD_REQUEST,
        "HTTPBadRequest",
        message,
    )
}

impl World {
    /// A security group as Neutron shows it: with its rules.
    fn show_group(&self, group: &Value) -> Value {
        let mut g = group.clone();
        let rules: Vec<Value> = self
            .list("security_group_rules")
            .iter()
            .filter(|r| r["security_group_id"] == group["id"])
            .cloned()
            .collect();
        g["security_group_rules"] = Value::Array(rules);
        g
    }

    fn show(&self, store: &str, object: &Value) -> Value {
        if store == "security_groups" {
            self.show_group(object)
        } else {
            object.clone()
        }
    }

    fn allocate(&mut self, subnet: &Value) -> Option<String> {
        let id = field_text(&subnet["id"]);
        let n = self.next_host.entry(id).or_insert(2);
        let ip = host(subnet["cidr"].as_str()?, *n);
        *n += 1;
        ip
    }

    pub(super) fn network(
        &mut self,
        method: &Method,
        rest: &[&str],
        q: &[(String, String)],
        body: Value,
        project: &str,
        uri: &Uri,
    ) -> Answer {
        match (method.clone(), rest) {
            (Method::GET, [path]) => {
                let Some((_, _, _, store)) = kind(path) else {
                    return bad("unknown collection");
                };
                let items: Vec<Value> = self
                    .list(store)
                    .iter()
                    .map(|o| self.show(store, o))
                    .collect();
                let (items, last) = Self::page(items, q);
                let mut answer = json!({ store: items });
                if let Some(marker) = last {
                    answer[format!("{store}_links")] = json!([{"rel": "next", "href": format!("{}{}?{}", self.base, uri.path(), Self::next_query(q, &marker))}]);
                }
                ok(answer)
            }
            (Method::GET, [path, id]) => {
                let Some((_, key, what, store)) = kind(path) else {
                    return bad("unknown collection");
                };
                match self.find(store, id) {
                    Some(o) => ok(json!({ key: self.show(store, o) })),
                    None => not_found(what, id),
                }
            }
            (Method::POST, [path]) => {
                let Some((_, key, _, store)) = kind(path) else {
                    return bad("unknown collection");
                };
                let Some(fields) = body.get(key).and_then(Value::as_object).cloned() else {
                    return bad(&format!("Resource body required: {key}"));
                };
                if fields.contains_key("tags") {
                    // What the real Neutron answered (ml2, tag-creation listed).
                    return bad("Attribute 'tags' not allowed in POST");
                }
                self.neutron_create(store, key, fields, project)
            }
            (Method::PUT, [path, id, "tags"]) => {
                let Some((_, _, what, store)) = kind(path) else {
                    return bad("unknown collection");
                };
                let Some(o) = self.find_mut(store, id) else {
                    return not_found(what, id);
                };
                o["tags"] = body.get("tags").cloned().unwrap_or(json!([]));
                let tags = o["tags"].clone();
                ok(json!({ "tags": tags }))
            }
            (Method::PUT, [path, id]) => {
                let Some((_, key, what, store)) = kind(path) else {
                    return bad("unknown collection");
                };
                let fields = body
                    .get(key)
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                if store == "ports"
                    && fields.contains_key("fixed_ips")
                    && self.list("floatingips").iter().any(|f| f["port_id"] == *id)
                {
                    return bad(&format!(
                        "Bad port request: Cannot update the fixed_ips of the port {id}, because its original fixed_ip has been associated to a floating ip."
                    ));
                }
                let Some(o) = self.find_mut(store, id) else {
                    return not_found(what, id);
                };
                for (k, v) in fields {
                    o[k] = v;
                }
                let o = o.clone();
                ok(json!({ key: self.show(store, &o) }))
            }
            (Method::DELETE, [path, id]) => {
                let Some((_, _, what, store)) = kind(path) else {
                    return bad("unknown collection");
                };
                if self.find(store, id).is_none() {
                    return not_found(what, id);
                }
                self.neutron_delete(store, id)
            }
            (
                Method::PUT,
                [
                    "routers",
                    id,
                    action @ ("add_router_interface" | "remove_router_interface"),
                ],
            ) => {
                if self.find("routers", id).is_none() {
                    return not_found("Router", id);
                }
                self.router_interface(id, action == &"add_router_interface", &body, project)
            }
            _ => error(
                "network",
                StatusCode::NOT_FOUND,
                "HTTPNotFound",
                "The resource could not be found.",
            ),
        }
    }

    fn neutron_create(
        &mut self,
        store: &'static str,
        key: &str,
        mut f: Map<String, Value>,
        project: &str,
    ) -> Answer {
        let id = self.id();
        f.insert("id".into(), json!(id));
        let project = f
            .get("project_id")
            .map(field_text)
            .unwrap_or_else(|| project.to_owned());
        f.insert("project_id".into(), json!(project));
        f.insert("tenant_id".into(), json!(project));
        f.entry("name").or_insert(json!(""));
        f.entry("description").or_insert(json!(""));
        f.entry("tags").or_insert(json!([]));
        match store {
            "networks" => {
                f.insert("status".into(), json!("ACTIVE"));
                f.insert("subnets".into(), json!([]));
                f.entry("admin_state_up").or_insert(json!(true));
                f.entry("shared").or_insert(json!(false));
                f.entry("router:external").or_insert(json!(false));
                f.entry("port_security_enabled").or_insert(json!(true));
                f.insert("mtu".into(), json!(1450));
            }
            "subnets" => {
                let net = field_text(f.get("network_id").unwrap_or(&Value::Null));
                if self.find("networks", &net).is_none() {
                    return not_found("Network", &net);
                }
                let cidr = f.get("cidr").map(field_text).unwrap_or_default();
                if host(&cidr, 0).is_none() {
                    return bad(&format!(
                        "Invalid input for cidr. Reason: '{cidr}' is not a valid IP subnet."
                    ));
                }
                if !f.contains_key("gateway_ip") {
                    f.insert("gateway_ip".into(), json!(host(&cidr, 1)));
                }
                f.entry("ip_version").or_insert(json!(4));
                f.entry("enable_dhcp").or_insert(json!(true));
                f.entry("dns_nameservers").or_insert(json!([]));
                f.entry("host_routes").or_insert(json!([]));
                f.entry("allocation_pools")
                    .or_insert(json!([{"start": host(&cidr, 2), "end": host(&cidr, 254)}]));
                if let Some(n) = self.find_mut("networks", &net)
                    && let Some(subnets) = n["subnets"].as_array_mut()
                {
                    subnets.push(json!(id));
                }
            }
            "routers" => {
                f.insert("status".into(), json!("ACTIVE"));
                f.entry("admin_state_up").or_insert(json!(true));
                f.entry("routes").or_insert(json!([]));
                if let Some(gw) = f
                    .get("external_gateway_info")
                    .filter(|g| !g.is_null())
                    .cloned()
                {
                    let net = field_text(&gw["network_id"]);
                    let Some(ext) = self.find("networks", &net).cloned() else {
                        return not_found("Network", &net);
                    };
                    if ext["router:external"] != json!(true) {
                        return bad(&format!(
                            "Bad router request: Network {net} is not an external network."
                        ));
                    }
                    let subnet = ext["subnets"][0]
                        .as_str()
                        .and_then(|s| self.find("subnets", s))
                        .cloned();
                    let ips = match subnet {
                        Some(s) => json!([{"subnet_id": s["id"], "ip_address": self.allocate(&s)}]),
                        None => json!([]),
                    };
                    f.insert("external_gateway_info".into(), json!({"network_id": net, "enable_snat": gw.get("enable_snat").cloned().unwrap_or(json!(true)), "external_fixed_ips": ips}));
                }
            }
            "ports" => {
                let net = field_text(f.get("network_id").unwrap_or(&Value::Null));
                let Some(network) = self.find("networks", &net).cloned() else {
                    return not_found("Network", &net);
                };
                let mut ips = Vec::new();
                let wanted = f
                    .get("fixed_ips")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_else(|| {
                        network["subnets"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .take(1)
                            .map(|s| json!({"subnet_id": s}))
                            .collect()
                    });
                for ip in wanted {
                    let sid = field_text(&ip["subnet_id"]);
                    let Some(subnet) = self.find("subnets", &sid).cloned() else {
                        return not_found("Subnet", &sid);
                    };
                    let addr = ip
                        .get("ip_address")
                        .map(field_text)
                        .or_else(|| self.allocate(&subnet));
                    ips.push(json!({"subnet_id": sid, "ip_address": addr}));
                }
                f.insert("fixed_ips".into(), Value::Array(ips));
                for sg in f
                    .get("security_groups")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
                {
                    let sg = field_text(&sg);
                    if self.find("security_groups", &sg).is_none() {
                        return not_found("SecurityGroup", &sg);
                    }
                }
                f.entry("security_groups").or_insert(json!([]));
                f.insert("status".into(), json!("DOWN"));
                f.insert("binding:vif_type".into(), json!("unbound"));
                f.insert(
                    "mac_address".into(),
                    json!(format!(
                        "fa:16:3e:00:{:02x}:{:02x}",
                        (self.next_id >> 8) & 0xff,
                        self.next_id & 0xff
                    )),
                );
                f.entry("device_id").or_insert(json!(""));
                f.entry("device_owner").or_insert(json!(""));
                f.entry("admin_state_up").or_insert(json!(true));
                f.entry("allowed_address_pairs").or_insert(json!([]));
            }
            "security_groups" => {
                for ethertype in ["IPv4", "IPv6"] {
                    let rule_id = self.id();
                    self.list_mut("security_group_rules").push(json!({"id": rule_id, "security_group_id": id, "direction": "egress", "ethertype": ethertype,
                        "protocol": null, "port_range_min": null, "port_range_max": null, "remote_ip_prefix": null, "remote_group_id": null, "project_id": project, "description": ""}));
                }
            }
            "security_group_rules" => {
                let sg = field_text(f.get("security_group_id").unwrap_or(&Value::Null));
                if self.find("security_groups", &sg).is_none() {
                    return not_found("SecurityGroup", &sg);
                }
                for k in [
                    "protocol",
                    "port_range_min",
                    "port_range_max",
                    "remote_ip_prefix",
                    "remote_group_id",
                ] {
                    f.entry(k).or_insert(Value::Null);
                }
                f.entry("ethertype").or_insert(json!("IPv4"));
                let same = |r: &Value| {
                    [
                        "security_group_id",
                        "direction",
                        "ethertype",
                        "protocol",
                        "port_range_min",
                        "port_range_max",
                        "remote_ip_prefix",
                        "remote_group_id",
                    ]
                    .iter()
                    .all(|k| r[*k] == f[*k])
                };
                if let Some(existing) = self.list("security_group_rules").iter().find(|r| same(r)) {
                    return conflict(
                        "SecurityGroupRuleExists",
                        format!(
                            "Security group rule already exists. Rule id is {}.",
                            field_text(&existing["id"])
                        ),
                    );
                }
            }
            "floatingips" => {
                let net = field_text(f.get("floating_network_id").unwrap_or(&Value::Null));
                let Some(ext) = self.find("networks", &net).cloned() else {
                    return not_found("Network", &net);
                };
                if ext["router:external"] != json!(true) {
                    return bad(&format!(
                        "Bad floatingip request: Network {net} is not a valid external network."
                    ));
                }
                let Some(subnet) = ext["subnets"][0]
                    .as_str()
                    .and_then(|s| self.find("subnets", s))
                    .cloned()
                else {
                    return conflict(
                        "ExternalIpAddressExhausted",
                        format!("Unable to find any IP address on external network {net}."),
                    );
                };
                let addr = self.allocate(&subnet);
                f.insert("floating_ip_address".into(), json!(addr));
                if let Some(port) = f.get("port_id").filter(|p| !p.is_null()).map(field_text) {
                    let Some(p) = self.find("ports", &port) else {
                        return not_found("Port", &port);
                    };
                    f.entry("fixed_ip_address")
                        .or_insert(p["fixed_ips"][0]["ip_address"].clone());
                }
                f.entry("port_id").or_insert(Value::Null);
                f.entry("fixed_ip_address").or_insert(Value::Null);
                f.insert("router_id".into(), Value::Null);
                f.insert("status".into(), json!("DOWN"));
            }
            _ => {}
        }
        let object = Value::Object(f);
        self.list_mut(store).push(object.clone());
        status(
            StatusCode::CREATED,
            json!({ key: self.show(store, &object) }),
        )
    }

    fn neutron_delete(&mut self, store: &'static str, id: &str) -> Answer {
        let ports = self.list("ports").to_vec();
        match store {
            "subnets" => {
                if ports.iter().any(|p| {
                    p["device_owner"] != "network:dhcp"
                        && p["fixed_ips"]
                            .as_array()
                            .is_some_and(|ips| ips.iter().any(|ip| ip["subnet_id"] == id))
                }) {
                    return conflict(
                        "SubnetInUse",
                        format!(
                            "Unable to complete operation on subnet {id}: One or more ports have an IP allocation from this subnet."
                        ),
                    );
                }
                for n in self.list_mut("networks") {
                    if let Some(s) = n["subnets"].as_array_mut() {
                        s.retain(|x| x != id);
                    }
                }
            }
            "networks" => {
                if ports.iter().any(|p| p["network_id"] == id) {
                    return conflict(
                        "NetworkInUse",
                        format!(
                            "Unable to complete operation on network {id}. There are one or more ports still in use on the network."
                        ),
                    );
                }
                self.list_mut("subnets").retain(|s| s["network_id"] != id);
            }
            "routers"
                if ports.iter().any(|p| {
                    p["device_id"] == id && p["device_owner"] == "network:router_interface"
                }) =>
            {
                return conflict("RouterInUse", format!("Router {id} still has ports"));
            }
            "security_groups" => {
                if ports.iter().any(|p| {
                    p["security_groups"]
                        .as_array()
                        .is_some_and(|g| g.iter().any(|x| x == id))
                }) {
                    return conflict("SecurityGroupInUse", format!("Security Group {id} in use."));
                }
                self.list_mut("security_group_rules")
                    .retain(|r| r["security_group_id"] != id);
            }
            "ports" => {
                if ports
                    .iter()
                    .any(|p| p["id"] == id && p["device_owner"] == "network:router_interface")
                {
                    return conflict(
                        "PortInUse",
                        format!(
                            "Port {id} cannot be deleted directly via the port API: has device owner network:router_interface."
                        ),
                    );
                }
                for fip in self.list_mut("floatingips") {
                    if fip["port_id"] == id {
                        fip["port_id"] = Value::Null;
                        fip["fixed_ip_address"] = Value::Null;
                    }
                }
            }
            _ => {}
        }
        self.remove(store, id);
        status(StatusCode::NO_CONTENT, Value::Null)
    }

    fn router_interface(&mut self, router: &str, add: bool, body: &Value, project: &str) -> Answer {
        let subnet_id = body.get("subnet_id").map(field_text);
        let port_id = body.get("port_id").map(field_text);
        let on_router = |w: &World| -> Option<Value> {
            w.list("ports")
                .iter()
                .find(|p| {
                    p["device_id"] == router
                        && p["device_owner"] == "network:router_interface"
                        && (port_id.as_deref().is_some_and(|id| p["id"] == id)
                            || subnet_id.as_deref().is_some_and(|s| {
                                p["fixed_ips"]
                                    .as_array()
                                    .is_some_and(|ips| ips.iter().any(|ip| ip["subnet_id"] == s))
                            }))
                })
                .cloned()
        };
        if !add {
            let Some(port) = on_router(self) else {
                return error(
                    "network",
                    StatusCode::NOT_FOUND,
                    "RouterInterfaceNotFoundForSubnet",
                    &format!(
                        "Router {router} has no interface on {}",
                        subnet_id.or(port_id).unwrap_or_default()
                    ),
                );
            };
            let pid = field_text(&port["id"]);
            self.remove("ports", &pid);
            return ok(
                json!({"id": router, "port_id": pid, "subnet_id": port["fixed_ips"][0]["subnet_id"]}),
            );
        }
        if let Some(existing) = on_router(self) {
            let subnet = field_text(&existing["fixed_ips"][0]["subnet_id"]);
            return bad(&format!(
                "Bad router request: Router already has a port on subnet {subnet}."
            ));
        }
        let port = if let Some(pid) = port_id {
            let Some(p) = self.find_mut("ports", &pid) else {
                return not_found("Port", &pid);
            };
            p["device_id"] = json!(router);
            p["device_owner"] = json!("network:router_interface");
            p.clone()
        } else {
            let sid = subnet_id.unwrap_or_default();
            let Some(subnet) = self.find("subnets", &sid).cloned() else {
                return not_found("Subnet", &sid);
            };
            let fields = json!({"network_id": subnet["network_id"], "device_id": router, "device_owner": "network:router_interface",
                "fixed_ips": [{"subnet_id": sid, "ip_address": subnet["gateway_ip"]}]});
            let (_, _) = self.neutron_create(
                "ports",
                "port",
                fields.as_object().cloned().unwrap_or_default(),
                project,
            );
            self.list("ports").last().cloned().unwrap_or(Value::Null)
        };
        ok(
            json!({"id": router, "port_id": port["id"], "subnet_id": port["fixed_ips"][0]["subnet_id"], "subnet_ids": [port["fixed_ips"][0]["subnet_id"]], "tenant_id": project}),
        )
    }
}
