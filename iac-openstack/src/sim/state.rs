//! The simulator's world: every object, and the dispatch of each call to it.

use std::collections::{BTreeMap, HashMap};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use chrono::{Duration, Utc};
use serde_json::{Value, json};

use super::SimConfig;

/// What exists in the simulated cloud, by kind: object ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Ids per collection (`networks`, `ports`, `images`, `servers`, `volumes`, `projects`).
    pub objects: BTreeMap<String, Vec<String>>,
}

impl Inventory {
    /// Ids of one collection.
    pub fn of(&self, collection: &str) -> &[String] {
        self.objects.get(collection).map_or(&[], Vec::as_slice)
    }
}

struct TokenInfo {
    user_id: String,
    project_id: Option<String>,
    expires_at: chrono::DateTime<Utc>,
    restricted: bool,
}

struct AppCred {
    id: String,
    name: String,
    user_id: String,
    project_id: String,
    secret: String,
}

pub(super) struct World {
    config: SimConfig,
    base: String,
    next_id: u64,
    pub(super) throttle: (u32, u64),
    pub(super) calls: HashMap<String, u64>,
    tokens: HashMap<String, TokenInfo>,
    passwords: HashMap<String, String>,
    app_creds: Vec<AppCred>,
    /// (project, user, role).
    grants: Vec<(String, String, String)>,
    /// Objects per collection, in creation order.
    objects: BTreeMap<&'static str, Vec<Value>>,
    image_data: HashMap<String, Vec<u8>>,
    /// Reads left before a server or volume settles.
    settling: HashMap<String, u32>,
    /// Next host number per subnet.
    next_host: HashMap<String, u32>,
}

type Answer = (Response, Option<(String, String)>);

fn respond(status: StatusCode, body: Value) -> Response {
    let mut r = Response::new(Body::from(if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    }));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", "application/json".parse().expect("header"));
    r.headers_mut()
        .insert("x-openstack-request-id", "req-sim".parse().expect("header"));
    r
}

fn ok(body: Value) -> Answer {
    (respond(StatusCode::OK, body), None)
}

fn status(code: StatusCode, body: Value) -> Answer {
    (respond(code, body), None)
}

/// A service's error body, in that service's shape.
fn error(service: &str, code: StatusCode, kind: &str, message: &str) -> Answer {
    let body = match service {
        "identity" => json!({"error": {"code": code.as_u16(), "title": kind, "message": message}}),
        "network" => json!({"NeutronError": {"type": kind, "message": message, "detail": ""}}),
        "image" => {
            let html = format!(
                "<html>\n <head>\n  <title>{0} {1}</title>\n </head>\n <body>\n  <h1>{0} {1}</h1>\n  {2}<br /><br />\n </body>\n</html>",
                code.as_u16(),
                code.canonical_reason().unwrap_or(""),
                message
            );
            let mut r = Response::new(Body::from(html));
            *r.status_mut() = code;
            r.headers_mut().insert(
                "content-type",
                "text/html; charset=UTF-8".parse().expect("header"),
            );
            return (r, None);
        }
        _ => json!({ kind: {"code": code.as_u16(), "message": message} }),
    };
    status(code, body)
}

fn query(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

fn field_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A free host address of an IPv4 CIDR: (network base, prefix) → `base + n`.
fn host(cidr: &str, n: u32) -> Option<String> {
    let (addr, prefix) = cidr.split_once('/')?;
    let prefix: u32 = prefix.parse().ok()?;
    let ip: std::net::Ipv4Addr = addr.parse().ok()?;
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    let base = u32::from(ip) & mask;
    Some(std::net::Ipv4Addr::from(base + n).to_string())
}

/// Whether an object passes one list filter: a field equal to the value, a list field
/// (`tags`) holding it, or (Cinder) `metadata` holding every pair of a JSON object.
fn matches_filter(o: &Value, key: &str, value: &str) -> bool {
    if key == "metadata"
        && let Ok(Value::Object(wanted)) = serde_json::from_str::<Value>(value)
    {
        return wanted.iter().all(|(k, v)| o["metadata"].get(k) == Some(v));
    }
    let path = format!("/{}", key.replace('.', "/"));
    match o.pointer(&path) {
        Some(Value::Array(items)) => items.iter().any(|i| field_text(i) == value),
        Some(field) => field_text(field) == value,
        None => false,
    }
}

impl World {
    pub(super) fn new(config: SimConfig, base: String) -> World {
        let mut w = World {
            config,
            base,
            next_id: 0,
            throttle: (0, 0),
            calls: HashMap::new(),
            tokens: HashMap::new(),
            passwords: HashMap::new(),
            app_creds: Vec::new(),
            grants: Vec::new(),
            objects: BTreeMap::new(),
            image_data: HashMap::new(),
            settling: HashMap::new(),
            next_host: HashMap::new(),
        };
        for (id, name) in [
            ("admin-role", "admin"),
            ("manager-role", "manager"),
            ("member-role", "member"),
            ("reader-role", "reader"),
        ] {
            w.list_mut("roles").push(json!({"id": id, "name": name}));
        }
        for name in ["admin", "demo", "service"] {
            w.list_mut("projects").push(json!({"id": format!("{name}-project"), "name": name, "domain_id": "default", "description": "", "enabled": true, "parent_id": "default", "is_domain": false}));
        }
        for (name, password, project, role) in [
            ("admin", "admin-secret", "admin-project", "admin-role"),
            ("demo", "demo-secret", "demo-project", "member-role"),
        ] {
            let id = format!("{name}-user");
            w.list_mut("users").push(json!({"id": id, "name": name, "domain_id": "default", "enabled": true, "default_project_id": project}));
            w.passwords.insert(id.clone(), password.to_owned());
            w.grants.push((project.to_owned(), id, role.to_owned()));
        }
        for (id, name, vcpus, ram, disk) in
            [("1", "m1.tiny", 1, 512, 1), ("2", "m1.small", 1, 2048, 20)]
        {
            w.list_mut("flavors")
                .push(json!({"id": id, "name": name, "vcpus": vcpus, "ram": ram, "disk": disk}));
        }
        w
    }

    pub(super) fn inventory(&self) -> Inventory {
        let mut inv = Inventory::default();
        for (k, v) in &self.objects {
            if matches!(*k, "roles" | "flavors") {
                continue;
            }
            inv.objects.insert(
                (*k).to_owned(),
                v.iter()
                    .filter_map(|o| o.get("id").and_then(Value::as_str).map(str::to_owned))
                    .collect(),
            );
        }
        inv
    }

    fn id(&mut self) -> String {
        self.next_id += 1;
        // UUID-shaped, so handlers take it for an id and not a name.
        format!("00000000-0000-4000-8000-{:012x}", self.next_id)
    }

    fn list_mut(&mut self, collection: &'static str) -> &mut Vec<Value> {
        self.objects.entry(collection).or_default()
    }

    fn list(&self, collection: &str) -> &[Value] {
        self.objects.get(collection).map_or(&[], Vec::as_slice)
    }

    fn find(&self, collection: &str, id: &str) -> Option<&Value> {
        self.list(collection)
            .iter()
            .find(|o| o.get("id").and_then(Value::as_str) == Some(id))
    }

    fn find_mut(&mut self, collection: &'static str, id: &str) -> Option<&mut Value> {
        self.list_mut(collection)
            .iter_mut()
            .find(|o| o.get("id").and_then(Value::as_str) == Some(id))
    }

    fn remove(&mut self, collection: &'static str, id: &str) -> Option<Value> {
        let list = self.list_mut(collection);
        let at = list
            .iter()
            .position(|o| o.get("id").and_then(Value::as_str) == Some(id))?;
        Some(list.remove(at))
    }

    fn role_name(&self, id: &str) -> String {
        self.find("roles", id)
            .and_then(|r| r.get("name"))
            .map(field_text)
            .unwrap_or_default()
    }

    /// Role names of a user on a project, implied roles expanded.
    fn roles_of(&self, user: &str, project: &str) -> Vec<String> {
        let mut roles = Vec::new();
        for (p, u, r) in &self.grants {
            if p == project && u == user {
                let implied: &[&str] = match self.role_name(r).as_str() {
                    "admin" => &["admin", "manager", "member", "reader"],
                    "manager" => &["manager", "member", "reader"],
                    "member" => &["member", "reader"],
                    _ => &[],
                };
                let name = self.role_name(r);
                for n in implied
                    .iter()
                    .map(|s| (*s).to_owned())
                    .chain(std::iter::once(name))
                {
                    if !roles.contains(&n) {
                        roles.push(n);
                    }
                }
            }
        }
        roles
    }

    pub(super) fn dispatch(
        &mut self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Answer {
        let path = uri.path().trim_end_matches('/').to_owned();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let Some((&service, rest)) = segments.split_first() else {
            return error(
                "identity",
                StatusCode::NOT_FOUND,
                "Not Found",
                "unknown path",
            );
        };
        let shape: Vec<&str> = rest
            .iter()
            .map(|s| {
                if s.len() == 36
                    || s.ends_with("-user")
                    || s.ends_with("-project")
                    || s.ends_with("-role")
                {
                    "{id}"
                } else {
                    s
                }
            })
            .collect();
        *self
            .calls
            .entry(format!("{method} /{service}/{}", shape.join("/")))
            .or_default() += 1;
        if service == "identity" && rest == ["v3", "auth", "tokens"] && method == Method::POST {
            return self.authenticate(body);
        }
        if service == "compute" && rest == ["v2.1"] {
            return ok(
                json!({"version": {"id": "v2.1", "status": "CURRENT", "version": "2.100", "min_version": "2.1"}}),
            );
        }
        // Every other call carries a valid token.
        let token = headers
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let valid = self
            .tokens
            .get(&token)
            .is_some_and(|t| t.expires_at > Utc::now());
        if !valid {
            return error(
                if service == "identity" {
                    "identity"
                } else {
                    "computeFault"
                },
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "The request you have made requires authentication.",
            );
        }
        if self.throttle.0 > 0 {
            self.throttle.0 -= 1;
            let (mut r, _) = error(
                service,
                StatusCode::TOO_MANY_REQUESTS,
                "overLimit",
                "Rate limited",
            );
            r.headers_mut().insert(
                "retry-after",
                self.throttle.1.to_string().parse().expect("header"),
            );
            return (r, None);
        }
        let json_body: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(body).unwrap_or(Value::Null)
        };
        let project = self.tokens[&token].project_id.clone().unwrap_or_default();
        let q = query(uri);
        match service {
            "identity" => self.identity(method, &rest[1..], &q, headers, json_body, &token),
            "network" => self.network(method, &rest[1..], &q, json_body, &project, uri),
            "image" => self.image(method, &rest[1..], &q, headers, body, json_body, &project),
            "compute" => {
                let version = headers
                    .get("x-openstack-nova-api-version")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("2.1");
                let minor: u32 = version
                    .split_once('.')
                    .and_then(|(_, m)| m.parse().ok())
                    .unwrap_or(1);
                if minor > 100 {
                    return error(
                        "compute",
                        StatusCode::NOT_ACCEPTABLE,
                        "computeFault",
                        &format!(
                            "Version {version} is not supported by the API. Minimum is 2.1 and maximum is 2.100."
                        ),
                    );
                }
                self.compute(method, &rest[1..], &q, json_body, &project)
            }
            "volume" => self.volume(
                method,
                rest.get(2..).unwrap_or(&[]),
                &q,
                json_body,
                &project,
            ),
            _ => error(
                "identity",
                StatusCode::NOT_FOUND,
                "Not Found",
                "unknown service",
            ),
        }
    }

    fn authenticate(&mut self, body: &Bytes) -> Answer {
        let unauthorized = || {
            error(
                "identity",
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "The request you have made requires authentication.",
            )
        };
        let Ok(req) = serde_json::from_slice::<Value>(body) else {
            return error(
                "identity",
                StatusCode::BAD_REQUEST,
                "Bad Request",
                "Malformed request body",
            );
        };
        let identity = &req["auth"]["identity"];
        let method = identity["methods"][0].as_str().unwrap_or_default();
        let by_ref = |w: &World, collection: &str, r: &Value| -> Option<String> {
            if let Some(id) = r.get("id").and_then(Value::as_str) {
                return w.find(collection, id).map(|_| id.to_owned());
            }
            let name = r.get("name")?.as_str()?;
            w.list(collection)
                .iter()
                .find(|o| o["name"] == name)
                .and_then(|o| o["id"].as_str())
                .map(str::to_owned)
        };
        let (user_id, mut project_id, restricted) = match method {
            "password" => {
                let user = &identity["password"]["user"];
                let Some(user_id) = by_ref(self, "users", user) else {
                    return unauthorized();
                };
                if self.passwords.get(&user_id).map(String::as_str) != user["password"].as_str() {
                    return unauthorized();
                }
                (user_id, None, false)
            }
            "application_credential" => {
                let ac = &identity["application_credential"];
                let found = self.app_creds.iter().find(|c| {
                    ac["id"].as_str() == Some(c.id.as_str())
                        || (ac["name"].as_str() == Some(c.name.as_str())
                            && by_ref(self, "users", &ac["user"]).as_deref()
                                == Some(c.user_id.as_str()))
                });
                match found {
                    Some(c) if ac["secret"].as_str() == Some(c.secret.as_str()) => {
                        (c.user_id.clone(), Some(c.project_id.clone()), true)
                    }
                    _ => return unauthorized(),
                }
            }
            "token" => match self
                .tokens
                .get(identity["token"]["id"].as_str().unwrap_or_default())
            {
                Some(t) if t.expires_at > Utc::now() => (t.user_id.clone(), None, false),
                _ => return unauthorized(),
            },
            _ => return unauthorized(),
        };
        if let Some(p) = req["auth"].get("scope").and_then(|s| s.get("project")) {
            let Some(id) = by_ref(self, "projects", p) else {
                return unauthorized();
            };
            if self.roles_of(&user_id, &id).is_empty() {
                return unauthorized();
            }
            project_id = Some(id);
        }
        let token = format!("gAAAAA{}", self.id().replace('-', ""));
        let expires_at = Utc::now() + Duration::seconds(self.config.token_lifetime_secs);
        let user = self.find("users", &user_id).cloned().unwrap_or(Value::Null);
        let mut body = json!({"token": {
            "methods": [method], "expires_at": expires_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            "issued_at": Utc::now().to_rfc3339(), "audit_ids": ["sim"],
            "user": {"id": user_id, "name": user["name"], "domain": {"id": "default", "name": "Default"}},
        }});
        if let Some(p) = &project_id {
            let project = self.find("projects", p).cloned().unwrap_or(Value::Null);
            body["token"]["project"] = json!({"id": p, "name": project["name"], "domain": {"id": "default", "name": "Default"}});
            body["token"]["roles"] = json!(
                self.roles_of(&user_id, p)
                    .iter()
                    .map(|r| json!({"id": format!("{r}-role"), "name": r}))
                    .collect::<Vec<_>>()
            );
            body["token"]["catalog"] = self.catalog(p);
        }
        if restricted {
            body["token"]["application_credential"] = json!({"restricted": true});
        }
        self.tokens.insert(
            token.clone(),
            TokenInfo {
                user_id,
                project_id,
                expires_at,
                restricted,
            },
        );
        let mut r = respond(StatusCode::CREATED, body);
        r.headers_mut()
            .insert("x-subject-token", token.parse().expect("header"));
        (r, None)
    }

    fn catalog(&self, project: &str) -> Value {
        let b = &self.base;
        let services = [
            ("identity", "keystone", format!("{b}/identity/v3")),
            ("network", "neutron", format!("{b}/network")),
            ("image", "glance", format!("{b}/image")),
            ("compute", "nova", format!("{b}/compute/v2.1")),
            (
                "block-storage",
                "cinder",
                format!("{b}/volume/v3/{project}"),
            ),
            ("volumev3", "cinderv3", format!("{b}/volume/v3/{project}")),
        ];
        let entries: Vec<Value> = services
            .iter()
            .map(|(t, n, url)| {
                let endpoints: Vec<Value> = ["public", "internal", "admin"]
                    .iter()
                    .map(|i| json!({"interface": i, "region_id": "RegionOne", "region": "RegionOne", "url": url, "id": format!("{n}-{i}")}))
                    .collect();
                json!({"type": t, "name": n, "id": n, "endpoints": endpoints})
            })
            .collect();
        Value::Array(entries)
    }

    /// A page of `items` after `marker`, `limit` long; `next` built by `link` when full.
    fn page(items: Vec<Value>, q: &[(String, String)]) -> (Vec<Value>, Option<String>) {
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let filters: Vec<&(String, String)> = q
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "limit" | "marker" | "include_names" | "sort_dir" | "fields"
                )
            })
            .collect();
        let mut items: Vec<Value> = items
            .into_iter()
            .filter(|o| filters.iter().all(|(k, v)| matches_filter(o, k, v)))
            .collect();
        if let Some(marker) = get("marker")
            && let Some(at) = items.iter().position(|o| o["id"] == marker.as_str())
        {
            items.drain(..=at);
        }
        let limit = get("limit").and_then(|l| l.parse::<usize>().ok());
        match limit {
            Some(n) if items.len() >= n => {
                items.truncate(n);
                let last = items.last().map(|o| field_text(&o["id"]));
                (items, last)
            }
            _ => (items, None),
        }
    }

    fn next_query(q: &[(String, String)], marker: &str) -> String {
        let mut pairs: Vec<(String, String)> =
            q.iter().filter(|(k, _)| k != "marker").cloned().collect();
        pairs.push(("marker".into(), marker.into()));
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    }

    fn identity(
        &mut self,
        method: &Method,
        rest: &[&str],
        q: &[(String, String)],
        headers: &HeaderMap,
        body: Value,
        token: &str,
    ) -> Answer {
        let not_found = |what: &str, id: &str| {
            error(
                "identity",
                StatusCode::NOT_FOUND,
                "Not Found",
                &format!("Could not find {what}: {id}."),
            )
        };
        match (method.clone(), rest) {
            (Method::DELETE, ["auth", "tokens"]) => {
                let subject = headers
                    .get("x-subject-token")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                match self.tokens.remove(subject) {
                    Some(_) => status(StatusCode::NO_CONTENT, Value::Null),
                    None => not_found("token", "x"),
                }
            }
            (Method::GET, [c @ ("projects" | "users" | "roles")]) => {
                let collection: &'static str = match *c {
                    "projects" => "projects",
                    "users" => "users",
                    _ => "roles",
                };
                let (items, _) = Self::page(self.list(collection).to_vec(), q);
                ok(
                    json!({ collection: items, "links": {"next": null, "previous": null, "self": format!("{}/identity/v3/{c}", self.base)} }),
                )
            }
            (Method::POST, [c @ ("projects" | "users")]) => {
                let (collection, key): (&'static str, &str) = if *c == "projects" {
                    ("projects", "project")
                } else {
                    ("users", "user")
                };
                let mut object = body[key].as_object().cloned().unwrap_or_default();
                let name = object.get("name").map(field_text).unwrap_or_default();
                if self
                    .list(collection)
                    .iter()
                    .any(|o| o["name"] == name.as_str())
                {
                    return error(
                        "identity",
                        StatusCode::CONFLICT,
                        "Conflict",
                        &format!(
                            "Conflict occurred attempting to store {key} - Duplicate entry found with name {name}."
                        ),
                    );
                }
                let id = self.id().replace('-', "");
                object.insert("id".into(), json!(id));
                object.entry("domain_id").or_insert(json!("default"));
                object.entry("enabled").or_insert(json!(true));
                if let Some(pw) = object.remove("password") {
                    self.passwords.insert(id.clone(), field_text(&pw));
                }
                if *c == "projects" {
                    object.entry("description").or_insert(json!(""));
                    object.entry("parent_id").or_insert(json!("default"));
                    object.entry("is_domain").or_insert(json!(false));
                }
                let object = Value::Object(object);
                self.list_mut(collection).push(object.clone());
                status(StatusCode::CREATED, json!({ key: object }))
            }
            (m, [c @ ("projects" | "users"), id]) => {
                let (collection, key): (&'static str, &str) = if *c == "projects" {
                    ("projects", "project")
                } else {
                    ("users", "user")
                };
                match m {
                    Method::GET => match self.find(collection, id) {
                        Some(o) => ok(json!({ key: o })),
                        None => not_found(key, id),
                    },
                    Method::PATCH => match self.find_mut(collection, id) {
                        Some(o) => {
                            for (k, v) in body[key].as_object().cloned().unwrap_or_default() {
                                o[k] = v;
                            }
                            let o = o.clone();
                            ok(json!({ key: o }))
                        }
                        None => not_found(key, id),
                    },
                    Method::DELETE => match self.remove(collection, id) {
                        Some(_) => {
                            self.grants.retain(|(p, u, _)| p != id && u != id);
                            status(StatusCode::NO_CONTENT, Value::Null)
                        }
                        None => not_found(key, id),
                    },
                    _ => error(
                        "identity",
                        StatusCode::METHOD_NOT_ALLOWED,
                        "Method Not Allowed",
                        "no",
                    ),
                }
            }
            (m, ["projects", p, "users", u, "roles", r]) => {
                if self.find("projects", p).is_none() {
                    return not_found("project", p);
                }
                if self.find("users", u).is_none() {
                    return not_found("user", u);
                }
                if self.find("roles", r).is_none() {
                    return not_found("role", r);
                }
                let grant = ((*p).to_owned(), (*u).to_owned(), (*r).to_owned());
                match m {
                    Method::PUT => {
                        if !self.grants.contains(&grant) {
                            self.grants.push(grant);
                        }
                        status(StatusCode::NO_CONTENT, Value::Null)
                    }
                    Method::DELETE if self.grants.contains(&grant) => {
                        self.grants.retain(|g| g != &grant);
                        status(StatusCode::NO_CONTENT, Value::Null)
                    }
                    _ => not_found("grant", r),
                }
            }
            (Method::GET, ["role_assignments"]) => {
                let names = q.iter().any(|(k, v)| k == "include_names" && v == "true");
                let items: Vec<Value> = self.grants.iter().map(|(p, u, r)| {
                    let named = |c: &str, id: &str| {
                        let mut v = json!({"id": id});
                        if names {
                            v["name"] = self.find(c, id).map(|o| o["name"].clone()).unwrap_or(Value::Null);
                        }
                        v
                    };
                    json!({"role": named("roles", r), "user": named("users", u), "scope": {"project": named("projects", p)}})
                }).collect();
                let (items, _) = Self::page(items, q);
                ok(json!({"role_assignments": items, "links": {"next": null}}))
            }
            (Method::POST, ["users", u, "application_credentials"]) => {
                if self.tokens.get(token).is_some_and(|t| t.restricted) {
                    return error(
                        "identity",
                        StatusCode::FORBIDDEN,
                        "Forbidden",
                        "Using method 'application_credential' is not allowed for managing additional application credentials.",
                    );
                }
                let project = self
                    .tokens
                    .get(token)
                    .and_then(|t| t.project_id.clone())
                    .unwrap_or_default();
                let cred = AppCred {
                    id: self.id().replace('-', ""),
                    name: field_text(&body["application_credential"]["name"]),
                    user_id: (*u).to_owned(),
                    project_id: project,
                    secret: format!("sim-secret-{}", self.next_id),
                };
                let answer = json!({"application_credential": {"id": cred.id, "name": cred.name, "project_id": cred.project_id, "secret": cred.secret, "user_id": u}});
                self.app_creds.push(cred);
                status(StatusCode::CREATED, answer)
            }
            (Method::DELETE, ["users", _, "application_credentials", id]) => {
                let before = self.app_creds.len();
                self.app_creds.retain(|c| c.id != *id);
                if before == self.app_creds.len() {
                    not_found("application credential", id)
                } else {
                    status(StatusCode::NO_CONTENT, Value::Null)
                }
            }
            _ => error(
                "identity",
                StatusCode::NOT_FOUND,
                "Not Found",
                "The resource could not be found.",
            ),
        }
    }
}

mod compute;
mod image;
mod network;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_a_cidr() {
        assert_eq!(host("10.20.0.0/24", 1).as_deref(), Some("10.20.0.1"));
        assert_eq!(host("10.20.0.7/24", 2).as_deref(), Some("10.20.0.2"));
        assert_eq!(host("nope", 1), None);
    }
}
