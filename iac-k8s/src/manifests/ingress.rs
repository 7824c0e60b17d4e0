//! Ingress objects: rules (host + path → service:port) fanned out per host, TLS and the
//! ingress class.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{
    ManifestError, check_dns1035_label, check_dns1123_label, check_dns1123_subdomain,
    is_dns1123_subdomain,
};
use crate::manifests::slb::wire_enum;

wire_enum!(
    /// How an Ingress path matches.
    PathType {
        /// The path is a prefix, element by element.
        Prefix => "Prefix",
        /// The path matches exactly.
        Exact => "Exact",
        /// The ingress controller decides.
        ImplementationSpecific => "ImplementationSpecific",
    }
);

/// The port of the backend Service: a number or a port name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendPort {
    /// A Service port number, 1–65535.
    Number(u16),
    /// A Service port name.
    Name(String),
}

impl From<u16> for BackendPort {
    fn from(n: u16) -> Self {
        BackendPort::Number(n)
    }
}

impl From<&str> for BackendPort {
    fn from(s: &str) -> Self {
        BackendPort::Name(s.to_owned())
    }
}

/// One route: requests for `host` (empty: any host) under `path` go to `service:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The host (`shop.example.com`, `*.example.com`), or empty for any host.
    pub host: String,
    /// The path, starting with `/`.
    pub path: String,
    /// How the path matches.
    pub path_type: PathType,
    /// The backend Service in the Ingress's namespace.
    pub service: String,
    /// The backend Service's port.
    pub port: BackendPort,
}

/// TLS for some hosts, with the certificate in a `kubernetes.io/tls` Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    /// The hosts the certificate covers (at least one).
    pub hosts: Vec<String>,
    /// The Secret that holds the certificate and key.
    pub secret_name: String,
}

/// Builder of a `networking.k8s.io/v1` Ingress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressBuilder {
    name: String,
    namespace: Option<String>,
    class: Option<String>,
    annotations: BTreeMap<String, String>,
    routes: Vec<Route>,
    tls: Vec<Tls>,
}

impl IngressBuilder {
    /// An Ingress named `name` (a DNS-1123 subdomain) with no rules yet.
    pub fn new(name: impl Into<String>) -> Self {
        IngressBuilder {
            name: name.into(),
            namespace: None,
            class: None,
            annotations: BTreeMap::new(),
            routes: Vec::new(),
            tls: Vec::new(),
        }
    }

    /// Puts the Ingress in `namespace`.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Sets `spec.ingressClassName`.
    pub fn with_class(mut self, class: impl Into<String>) -> Self {
        self.class = Some(class.into());
        self
    }

    /// Adds an annotation for the ingress controller.
    pub fn with_annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.annotations.insert(key.into(), value.into());
        self
    }

    /// Adds a route: `host` (empty: any host) + `path` → `service:port`.
    pub fn with_route(
        mut self,
        host: impl Into<String>,
        path: impl Into<String>,
        path_type: PathType,
        service: impl Into<String>,
        port: impl Into<BackendPort>,
    ) -> Self {
        self.routes.push(Route {
            host: host.into(),
            path: path.into(),
            path_type,
            service: service.into(),
            port: port.into(),
        });
        self
    }

    /// Adds TLS for `hosts` with the certificate in Secret `secret_name`.
    pub fn with_tls<I, S>(mut self, hosts: I, secret_name: impl Into<String>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tls.push(Tls {
            hosts: hosts.into_iter().map(Into::into).collect(),
            secret_name: secret_name.into(),
        });
        self
    }

    /// The Ingress: one rule per host (in the order hosts first appear), its paths in the
    /// order given.
    ///
    /// Rejected: a `name`, `namespace`, `class`, service name or secret name that is not a
    /// valid Kubernetes name; no `routes`; a host that is not a DNS name (a leading `*.` is
    /// allowed); a path not starting with `/`; the same host, path and path type twice
    /// (`routes`); port 0 or an empty port name; `tls` with no hosts or a host that is not
    /// a DNS name.
    pub fn build(&self) -> Result<Ingress, ManifestError> {
        let object = match &self.namespace {
            Some(ns) => format!("Ingress {ns}/{}", self.name),
            None => format!("Ingress {}", self.name),
        };
        check_dns1123_subdomain(&object, "name", &self.name)?;
        if let Some(ns) = &self.namespace {
            check_dns1123_label(&object, "namespace", ns)?;
        }
        if let Some(class) = &self.class {
            check_dns1123_subdomain(&object, "class", class)?;
        }
        if self.routes.is_empty() {
            return Err(ManifestError::invalid(
                &object,
                "routes",
                "an Ingress needs at least one route",
            ));
        }
        let mut hosts: Vec<&str> = Vec::new();
        let mut paths: BTreeMap<&str, Vec<HTTPIngressPath>> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        for r in &self.routes {
            if !r.host.is_empty() && !is_host(&r.host) {
                return Err(ManifestError::invalid(
                    &object,
                    "routes",
                    format!(
                        "host `{}` is not a DNS name (a leading `*.` is allowed)",
                        r.host
                    ),
                ));
            }
            if !r.path.starts_with('/') {
                return Err(ManifestError::invalid(
                    &object,
                    "routes",
                    format!("path `{}` must start with '/'", r.path),
                ));
            }
            if !seen.insert((r.host.as_str(), r.path.as_str(), r.path_type)) {
                return Err(ManifestError::invalid(
                    &object,
                    "routes",
                    format!(
                        "path `{}` ({}) is routed twice for host `{}`",
                        r.path,
                        r.path_type.as_str(),
                        if r.host.is_empty() { "*" } else { &r.host }
                    ),
                ));
            }
            check_dns1035_label(&object, "routes", &r.service)?;
            let port = match &r.port {
                BackendPort::Number(0) => {
                    return Err(ManifestError::invalid(
                        &object,
                        "routes",
                        format!("{}: port 0 is not allowed", r.service),
                    ));
                }
                BackendPort::Number(n) => ServiceBackendPort {
                    number: Some(i32::from(*n)),
                    name: None,
                },
                BackendPort::Name(n) if n.is_empty() => {
                    return Err(ManifestError::invalid(
                        &object,
                        "routes",
                        format!("{}: empty port name", r.service),
                    ));
                }
                BackendPort::Name(n) => ServiceBackendPort {
                    name: Some(n.clone()),
                    number: None,
                },
            };
            if !paths.contains_key(r.host.as_str()) {
                hosts.push(&r.host);
            }
            paths.entry(&r.host).or_default().push(HTTPIngressPath {
                path: Some(r.path.clone()),
                path_type: r.path_type.as_str().to_owned(),
                backend: IngressBackend {
                    service: Some(IngressServiceBackend {
                        name: r.service.clone(),
                        port: Some(port),
                    }),
                    resource: None,
                },
            });
        }
        let mut tls = Vec::new();
        for t in &self.tls {
            if t.hosts.is_empty() {
                return Err(ManifestError::invalid(
                    &object,
                    "tls",
                    format!("TLS with secret `{}` lists no hosts", t.secret_name),
                ));
            }
            for h in &t.hosts {
                if !is_host(h) {
                    return Err(ManifestError::invalid(
                        &object,
                        "tls",
                        format!("host `{h}` is not a DNS name"),
                    ));
                }
            }
            check_dns1123_subdomain(&object, "tls", &t.secret_name)?;
            tls.push(IngressTLS {
                hosts: Some(t.hosts.clone()),
                secret_name: Some(t.secret_name.clone()),
            });
        }
        let rules = hosts
            .into_iter()
            .map(|host| IngressRule {
                host: (!host.is_empty()).then(|| host.to_owned()),
                http: Some(HTTPIngressRuleValue {
                    paths: paths.remove(host).unwrap_or_default(),
                }),
            })
            .collect();
        Ok(Ingress {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: self.namespace.clone(),
                annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(IngressSpec {
                ingress_class_name: self.class.clone(),
                rules: Some(rules),
                tls: (!tls.is_empty()).then_some(tls),
                default_backend: None,
            }),
            status: None,
        })
    }
}

fn is_host(host: &str) -> bool {
    is_dns1123_subdomain(host.strip_prefix("*.").unwrap_or(host))
}
