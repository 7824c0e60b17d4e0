//! Nova's and Cinder's APIs in the simulator.

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use serde_json::{Value, json};

use super::{Answer, World, error, field_text, ok, status};

impl World {
    /// Moves a settling server or volume one read closer to ready.
    fn settle(&mut self, store: &'static str, id: &str, ready: &str) {
        if let Some(left) = self.settling.get_mut(id) {
            if *left > 0 {
                *left -= 1;
                return;
            }
            self.settling.remove(id);
            if let Some(o) = self.find_mut(store, id) {
                o["status"] = json!(ready);
            }
        }
    }

    /// Settles a backup (`creating → available` after the configured reads); the volume
    /// it was made of leaves `backing-up` with it.
    fn settle_backup(&mut self, id: &str) {
        self.settle("backups", id, "available");
        let Some(backup) = self.find("backups", id) else {
            return;
        };
        if backup["status"] != "available" {
            return;
        }
        let volume = field_text(&backup["volume_id"]);
        if let Some(v) = self.find_mut("volumes", &volume)
            && v["status"] == "backing-up"
        {
            v["status"] = json!("available");
        }
    }

    pub(super) fn compute(
        &mut self,
        method: &Method,
        rest: &[&str],
        q: &[(String, String)],
        body: Value,
        project: &str,
    ) -> Answer {
        let not_found = |what: &str, id: &str| {
            error(
                "compute",
                StatusCode::NOT_FOUND,
                "itemNotFound",
                &format!("{what} {id} could not be found."),
            )
        };
        match (method.clone(), rest) {
            (Method::GET, ["flavors" | "flavors/detail"])
            | (Method::GET, ["flavors", "detail"]) => ok(json!({"flavors": self.list("flavors")})),
            (Method::GET, ["flavors", id]) => match self.find("flavors", id) {
                Some(f) => ok(json!({"flavor": f})),
                None => not_found("Flavor", id),
            },
            (Method::POST, ["servers"]) => {
                let s = &body["server"];
                let flavor = field_text(&s["flavorRef"]);
                if self.find("flavors", &flavor).is_none() {
                    return error(
                        "compute",
                        StatusCode::BAD_REQUEST,
                        "badRequest",
                        &format!("Flavor {flavor} could not be found."),
                    );
                }
                let image = field_text(&s["imageRef"]);
                if self
                    .find("images", &image)
                    .is_none_or(|i| i["status"] != "active")
                {
                    return error(
                        "compute",
                        StatusCode::BAD_REQUEST,
                        "badRequest",
                        &format!("Image {image} could not be found."),
                    );
                }
                if let Some(data) = s.get("user_data").and_then(Value::as_str)
                    && base64::engine::general_purpose::STANDARD
                        .decode(data)
                        .is_err()
                {
                    return error(
                        "compute",
                        StatusCode::BAD_REQUEST,
                        "badRequest",
                        "Invalid input for field/attribute user_data. Value: not base64.",
                    );
                }
                let mut addresses = serde_json::Map::new();
                let mut bind = Vec::new();
                match &s["networks"] {
                    Value::String(mode) if mode == "none" || mode == "auto" => {}
                    Value::Array(nets) => {
                        for n in nets {
                            if let Some(port_id) = n.get("port").map(field_text) {
                                let Some(port) = self.find_mut("ports", &port_id) else {
                                    return error(
                                        "compute",
                                        StatusCode::BAD_REQUEST,
                                        "badRequest",
                                        &format!("Port {port_id} could not be found."),
                                    );
                                };
                                if port["device_id"] != "" {
                                    return error(
                                        "compute",
                                        StatusCode::CONFLICT,
                                        "conflictingRequest",
                                        &format!("Port {port_id} is still in use."),
                                    );
                                }
                                bind.push(port_id.clone());
                                let (net, ip) = (
                                    field_text(&port["network_id"]),
                                    port["fixed_ips"][0]["ip_address"].clone(),
                                );
                                let name = self
                                    .find("networks", &net)
                                    .map(|n| field_text(&n["name"]))
                                    .unwrap_or_default();
                                addresses.insert(name, json!([{"addr": ip, "version": 4}]));
                                continue;
                            }
                            let net = field_text(&n["uuid"]);
                            let Some(network) = self.find("networks", &net).cloned() else {
                                return error(
                                    "compute",
                                    StatusCode::BAD_REQUEST,
                                    "badRequest",
                                    &format!("Network {net} could not be found."),
                                );
                            };
                            let subnet = network["subnets"][0]
                                .as_str()
                                .and_then(|id| self.find("subnets", id))
                                .cloned();
                            let ip = subnet.and_then(|sub| self.allocate_public(&sub));
                            addresses.insert(
                                field_text(&network["name"]),
                                json!([{"addr": ip, "version": 4}]),
                            );
                        }
                    }
                    _ => {
                        return error(
                            "compute",
                            StatusCode::BAD_REQUEST,
                            "badRequest",
                            "Invalid input for field/attribute networks.",
                        );
                    }
                }
                let id = self.id();
                for port_id in bind {
                    if let Some(port) = self.find_mut("ports", &port_id) {
                        port["device_owner"] = json!("compute:nova");
                        port["device_id"] = json!(id);
                        port["status"] = json!("ACTIVE");
                    }
                }
                let server = json!({"id": id, "name": s["name"], "status": "BUILD", "tenant_id": project, "flavor": {"id": flavor},
                    "image": {"id": image}, "addresses": addresses, "metadata": s.get("metadata").cloned().unwrap_or(json!({})),
                    "OS-EXT-SRV-ATTR:user_data": s.get("user_data").cloned().unwrap_or(Value::Null), "accessIPv4": "", "accessIPv6": "",
                    "OS-EXT-SRV-ATTR:instance_name": format!("instance-{:08x}", self.next_id), "os-extended-volumes:volumes_attached": [], "tags": s.get("tags").cloned().unwrap_or(json!([]))});
                self.settling.insert(id.clone(), self.config.build_reads);
                self.list_mut("servers").push(server);
                status(
                    StatusCode::ACCEPTED,
                    json!({"server": {"id": id, "links": []}}),
                )
            }
            (Method::GET, ["servers", "detail"]) => {
                let ids: Vec<String> = self
                    .list("servers")
                    .iter()
                    .map(|s| field_text(&s["id"]))
                    .collect();
                for id in &ids {
                    self.settle("servers", id, "ACTIVE");
                }
                let (items, _) = Self::page(self.list("servers").to_vec(), q);
                ok(json!({"servers": items}))
            }
            (Method::GET, ["servers", id]) => {
                self.settle("servers", id, "ACTIVE");
                match self.find("servers", id) {
                    Some(s) => ok(json!({"server": s})),
                    None => not_found("Instance", id),
                }
            }
            (Method::PUT, ["servers", id]) => {
                let Some(s) = self.find_mut("servers", id) else {
                    return not_found("Instance", id);
                };
                if let Some(name) = body["server"].get("name") {
                    s["name"] = name.clone();
                }
                let s = s.clone();
                ok(json!({"server": s}))
            }
            (Method::PUT, ["servers", id, "metadata"]) => {
                let Some(s) = self.find_mut("servers", id) else {
                    return not_found("Instance", id);
                };
                s["metadata"] = body["metadata"].clone();
                ok(json!({"metadata": body["metadata"]}))
            }
            (Method::DELETE, ["servers", id]) => {
                if self.remove("servers", id).is_none() {
                    return not_found("Instance", id);
                }
                for port in self.list_mut("ports") {
                    if port["device_id"] == *id {
                        port["device_id"] = json!("");
                        port["device_owner"] = json!("");
                        port["status"] = json!("DOWN");
                    }
                }
                for v in self.list_mut("volumes") {
                    if v["attachments"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x["server_id"] == *id))
                    {
                        v["attachments"] = json!([]);
                        v["status"] = json!("available");
                    }
                }
                status(StatusCode::NO_CONTENT, Value::Null)
            }
            (m, ["servers", sid, "os-volume_attachments", vid @ ..]) => {
                self.attachment(m, sid, vid.first().copied(), &body)
            }
            _ => error(
                "compute",
                StatusCode::NOT_FOUND,
                "itemNotFound",
                "The resource could not be found.",
            ),
        }
    }

    fn allocate_public(&mut self, subnet: &Value) -> Option<String> {
        let id = field_text(&subnet["id"]);
        let n = self.next_host.entry(id).or_insert(2);
        let ip = super::host(subnet["cidr"].as_str()?, *n);
        *n += 1;
        ip
    }

    fn attachment(
        &mut self,
        method: Method,
        server: &str,
        volume: Option<&str>,
        body: &Value,
    ) -> Answer {
        let not_found = |what: &str, id: &str| {
            error(
                "compute",
                StatusCode::NOT_FOUND,
                "itemNotFound",
                &format!("{what} {id} could not be found."),
            )
        };
        if self.find("servers", server).is_none() {
            return not_found("Instance", server);
        }
        let attached = |w: &World, vid: &str| {
            w.find("volumes", vid).is_some_and(|v| {
                v["attachments"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x["server_id"] == server))
            })
        };
        match (method, volume) {
            (Method::POST, None) => {
                let vid = field_text(&body["volumeAttachment"]["volumeId"]);
                let Some(v) = self.find("volumes", &vid) else {
                    return not_found("Volume", &vid);
                };
                if v["status"] != "available" {
                    return error(
                        "compute",
                        StatusCode::BAD_REQUEST,
                        "badRequest",
                        &format!(
                            "Invalid volume: volume {vid} status must be available, but current status is: {}",
                            field_text(&v["status"])
                        ),
                    );
                }
                let device = body["volumeAttachment"]
                    .get("device")
                    .cloned()
                    .unwrap_or(json!("/dev/vdb"));
                let attachment = json!({"attachment_id": format!("att-{vid}"), "serverId": server, "volumeId": vid, "device": device, "tag": null, "delete_on_termination": false});
                if let Some(v) = self.find_mut("volumes", &vid) {
                    v["status"] = json!("in-use");
                    v["attachments"] = json!([{"server_id": server, "attachment_id": format!("att-{vid}"), "volume_id": vid, "device": device}]);
                }
                ok(json!({"volumeAttachment": attachment}))
            }
            (Method::GET, Some(vid)) if attached(self, vid) => {
                let device = self
                    .find("volumes", vid)
                    .map(|v| v["attachments"][0]["device"].clone())
                    .unwrap_or(Value::Null);
                ok(
                    json!({"volumeAttachment": {"attachment_id": format!("att-{vid}"), "serverId": server, "volumeId": vid, "device": device, "tag": null, "delete_on_termination": false}}),
                )
            }
            (Method::DELETE, Some(vid)) if attached(self, vid) => {
                if let Some(v) = self.find_mut("volumes", vid) {
                    v["status"] = json!("available");
                    v["attachments"] = json!([]);
                }
                status(StatusCode::ACCEPTED, Value::Null)
            }
            (_, Some(vid)) => error(
                "compute",
                StatusCode::NOT_FOUND,
                "itemNotFound",
                &format!("volume_id not found: {vid}"),
            ),
            _ => error(
                "compute",
                StatusCode::BAD_REQUEST,
                "badRequest",
                "bad attachment request",
            ),
        }
    }

    pub(super) fn volume(
        &mut self,
        method: &Method,
        rest: &[&str],
        q: &[(String, String)],
        body: Value,
        project: &str,
    ) -> Answer {
        let not_found = |id: &str| {
            error(
                "volume",
                StatusCode::NOT_FOUND,
                "itemNotFound",
                &format!("Volume {id} could not be found."),
            )
        };
        match (method.clone(), rest) {
            (Method::POST, ["volumes"]) => {
                let v = &body["volume"];
                let size = v["size"].as_u64().unwrap_or(0);
                if size < 1 {
                    return error(
                        "volume",
                        StatusCode::BAD_REQUEST,
                        "badRequest",
                        "Invalid input for field/attribute size.",
                    );
                }
                let id = self.id();
                let volume = json!({"id": id, "name": v.get("name").cloned().unwrap_or(Value::Null), "status": "creating", "size": size,
                    "description": v.get("description").cloned().unwrap_or(Value::Null), "volume_type": v.get("volume_type").cloned().unwrap_or(json!("__DEFAULT__")),
                    "availability_zone": v.get("availability_zone").cloned().unwrap_or(json!("nova")), "attachments": [], "bootable": "false",
                    "encrypted": false, "metadata": v.get("metadata").cloned().unwrap_or(json!({})), "created_at": chrono::Utc::now().to_rfc3339(),
                    "os-vol-tenant-attr:tenant_id": project});
                self.settling.insert(id.clone(), self.config.build_reads);
                self.list_mut("volumes").push(volume.clone());
                status(StatusCode::ACCEPTED, json!({"volume": volume}))
            }
            (Method::GET, ["volumes", "detail"]) => {
                let ids: Vec<String> = self
                    .list("volumes")
                    .iter()
                    .map(|s| field_text(&s["id"]))
                    .collect();
                for id in &ids {
                    self.settle("volumes", id, "available");
                }
                let (items, last) = Self::page(self.list("volumes").to_vec(), q);
                let mut answer = json!({"volumes": items});
                if let Some(marker) = last {
                    answer["volumes_links"] = json!([{"rel": "next", "href": format!("{}/volume/v3/{project}/volumes/detail?{}", self.base, Self::next_query(q, &marker))}]);
                }
                ok(answer)
            }
            (Method::GET, ["volumes", id]) => {
                self.settle("volumes", id, "available");
                match self.find("volumes", id) {
                    Some(v) => ok(json!({"volume": v})),
                    None => not_found(id),
                }
            }
            (Method::PUT, ["volumes", id]) => {
                let Some(v) = self.find_mut("volumes", id) else {
                    return not_found(id);
                };
                for (k, val) in body["volume"].as_object().cloned().unwrap_or_default() {
                    v[k] = val;
                }
                let v = v.clone();
                ok(json!({"volume": v}))
            }
            (Method::POST, ["volumes", id, "action"]) => {
                let Some(v) = self.find_mut("volumes", id) else {
                    return not_found(id);
                };
                let new_size = body["os-extend"]["new_size"].as_u64().unwrap_or(0);
                if new_size <= v["size"].as_u64().unwrap_or(0) {
                    return error(
                        "volume",
                        StatusCode::BAD_REQUEST,
                        "badRequest",
                        "New size for extend must be greater than current size.",
                    );
                }
                v["size"] = json!(new_size);
                status(StatusCode::ACCEPTED, Value::Null)
            }
            // Backups (Cinder's backup service): made of an available volume (an in-use
            // one only with `force`), which is `backing-up` until the backup is available.
            (Method::POST, ["backups"]) => {
                let b = &body["backup"];
                let volume_id = field_text(&b["volume_id"]);
                let force = b["force"].as_bool().unwrap_or(false);
                let Some(v) = self.find_mut("volumes", &volume_id) else {
                    return not_found(&volume_id);
                };
                let current = field_text(&v["status"]);
                if !(current == "available" || (current == "in-use" && force)) {
                    return error(
                        "volume",
                        StatusCode::BAD_REQUEST,
                        "badRequest",
                        &format!(
                            "Invalid volume: Volume to be backed up must be available or in-use, but the current status is \"{current}\"."
                        ),
                    );
                }
                if current == "available" {
                    v["status"] = json!("backing-up");
                }
                let size = v["size"].clone();
                let id = self.id();
                let name = b.get("name").cloned().unwrap_or(Value::Null);
                let backup = json!({"id": id, "name": name, "volume_id": volume_id, "status": "creating",
                    "size": size, "description": b.get("description").cloned().unwrap_or(Value::Null),
                    "fail_reason": null, "container": null, "is_incremental": false,
                    "created_at": chrono::Utc::now().to_rfc3339(), "os-backup-project-attr:project_id": project});
                self.settling.insert(id.clone(), self.config.build_reads);
                self.list_mut("backups").push(backup);
                status(
                    StatusCode::ACCEPTED,
                    json!({"backup": {"id": id, "name": name, "links": []}}),
                )
            }
            (Method::GET, ["backups", "detail"]) => {
                let ids: Vec<String> = self
                    .list("backups")
                    .iter()
                    .map(|b| field_text(&b["id"]))
                    .collect();
                for id in &ids {
                    self.settle_backup(id);
                }
                let (items, last) = Self::page(self.list("backups").to_vec(), q);
                let mut answer = json!({"backups": items});
                if let Some(marker) = last {
                    answer["backups_links"] = json!([{"rel": "next", "href": format!("{}/volume/v3/{project}/backups/detail?{}", self.base, Self::next_query(q, &marker))}]);
                }
                ok(answer)
            }
            (Method::GET, ["backups", id]) => {
                self.settle_backup(id);
                match self.find("backups", id) {
                    Some(b) => ok(json!({"backup": b})),
                    None => error(
                        "volume",
                        StatusCode::NOT_FOUND,
                        "itemNotFound",
                        &format!("Backup {id} could not be found."),
                    ),
                }
            }
            (Method::DELETE, ["backups", id]) => match self.remove("backups", id) {
                Some(_) => status(StatusCode::ACCEPTED, Value::Null),
                None => error(
                    "volume",
                    StatusCode::NOT_FOUND,
                    "itemNotFound",
                    &format!("Backup {id} could not be found."),
                ),
            },
            (Method::DELETE, ["volumes", id]) => {
                let Some(v) = self.find("volumes", id) else {
                    return not_found(id);
                };
                if v["status"] != "available" && v["status"] != "error" {
                    return error(
                        "volume",
                        StatusCode::BAD_REQUEST,
                        "badRequest",
                        &format!(
                            "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer. (current status: {})",
                            field_text(&v["status"])
                        ),
                    );
                }
                self.remove("volumes", id);
                status(StatusCode::ACCEPTED, Value::Null)
            }
            _ => error(
                "volume",
                StatusCode::NOT_FOUND,
                "itemNotFound",
                "The resource could not be found.",
            ),
        }
    }
}
