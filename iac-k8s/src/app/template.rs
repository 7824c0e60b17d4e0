//! Application templates: named services, each a set of Kubernetes objects written as typed
//! Rust or as YAML rendered by `minijinja`, their dependencies and the default values; and
//! the rendering of a template with a configuration into one release's objects.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::AppError;
use super::config::{lookup, type_name};
use crate::apply::{Manifest, apply_rank, known_kind};
use crate::manifests::{ManifestError, is_dns1123_label, render_yaml};

/// The label that names the application of every rendered object.
pub const PART_OF_LABEL: &str = "app.kubernetes.io/part-of";

/// The label that names the service of every rendered object.
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";

/// The pod template annotation holding the SHA-256 of the ConfigMaps the pods use: a
/// change of their content changes the pod template, so the pods roll.
pub const CONFIG_HASH_ANNOTATION: &str = "iac.dev/config-hash";

/// The image of readiness-gate init containers (needs `sh` and `nc -z`).
pub const GATE_IMAGE: &str = "busybox:1.36";

/// The volume name of a service's mounted configuration files.
pub const CONFIG_FILES_VOLUME: &str = "config-files";

/// Why a typed service template could not produce its objects.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RenderError {
    /// The configuration has no value at this key path (`db.host`).
    Undefined(String),
    /// The value at a key path is not of the expected type.
    WrongType {
        /// The key path.
        key: String,
        /// What was expected (`a string`).
        expected: &'static str,
        /// What was found (`a number`).
        found: &'static str,
    },
    /// Anything else, said in words.
    Other(String),
}

impl From<ManifestError> for RenderError {
    fn from(e: ManifestError) -> Self {
        RenderError::Other(e.to_string())
    }
}

impl From<serde_json::Error> for RenderError {
    fn from(e: serde_json::Error) -> Self {
        RenderError::Other(format!("an object does not serialize: {e}"))
    }
}

/// What a service template is rendered with.
#[derive(Debug, Clone, Copy)]
pub struct ServiceContext<'a> {
    /// The application's name.
    pub app: &'a str,
    /// The service's name.
    pub service: &'a str,
    /// The namespace the release goes to.
    pub namespace: &'a str,
    /// The environment's name (`prod`).
    pub environment: &'a str,
    /// The layered values.
    pub values: &'a Value,
}

impl<'a> ServiceContext<'a> {
    /// The value at a dotted key path (`db.replicas`).
    pub fn value(&self, key: &str) -> Result<&'a Value, RenderError> {
        lookup(self.values, key).ok_or_else(|| RenderError::Undefined(key.to_owned()))
    }

    /// The string at a key path.
    pub fn str(&self, key: &str) -> Result<&'a str, RenderError> {
        let value = self.value(key)?;
        value.as_str().ok_or_else(|| RenderError::WrongType {
            key: key.to_owned(),
            expected: "a string",
            found: type_name(value),
        })
    }

    /// The integer at a key path.
    pub fn i64(&self, key: &str) -> Result<i64, RenderError> {
        let value = self.value(key)?;
        value.as_i64().ok_or_else(|| RenderError::WrongType {
            key: key.to_owned(),
            expected: "an integer",
            found: type_name(value),
        })
    }

    /// A typed object (`k8s-openapi`) as JSON.
    pub fn object<T: Serialize>(&self, object: &T) -> Result<Value, RenderError> {
        Ok(serde_json::to_value(object)?)
    }
}

/// A service written as Rust: a function of the context to the service's objects.
pub type TypedTemplate =
    dyn Fn(&ServiceContext<'_>) -> Result<Vec<Value>, RenderError> + Send + Sync;

#[derive(Clone)]
enum Source {
    Typed(Arc<TypedTemplate>),
    /// Files by name, in order.
    Yaml(Vec<(String, String)>),
}

/// One service of an application: its objects, the services it depends on and how the
/// configuration reaches its pods.
#[derive(Clone)]
pub struct ServiceTemplate {
    name: String,
    depends_on: Vec<String>,
    source: Source,
    env_from: Option<String>,
    files: Option<(String, String)>,
    readiness_gates: bool,
    /// A YAML file was given to a typed service (reported by validation).
    mixed: bool,
}

impl fmt::Debug for ServiceTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Typed(_) => "typed".to_owned(),
            Source::Yaml(files) => files
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        };
        f.debug_struct("ServiceTemplate")
            .field("name", &self.name)
            .field("depends_on", &self.depends_on)
            .field("source", &source)
            .field("env_from", &self.env_from)
            .field("files", &self.files)
            .field("readiness_gates", &self.readiness_gates)
            .finish()
    }
}

impl ServiceTemplate {
    /// A service whose objects a Rust function makes from the context.
    pub fn typed(
        name: impl Into<String>,
        render: impl Fn(&ServiceContext<'_>) -> Result<Vec<Value>, RenderError> + Send + Sync + 'static,
    ) -> Self {
        Self::with_source(name, Source::Typed(Arc::new(render)))
    }

    /// A service written as YAML files rendered by `minijinja` (add them with
    /// [`ServiceTemplate::with_file`]). A file sees `app`, `service`, `namespace`,
    /// `environment` and `values` (the layered configuration); a variable it uses that the
    /// configuration lacks is an error naming the service, the file and the variable.
    pub fn yaml(name: impl Into<String>) -> Self {
        Self::with_source(name, Source::Yaml(Vec::new()))
    }

    fn with_source(name: impl Into<String>, source: Source) -> Self {
        ServiceTemplate {
            name: name.into(),
            depends_on: Vec::new(),
            source,
            env_from: None,
            files: None,
            readiness_gates: false,
            mixed: false,
        }
    }

    /// Adds a YAML template file (one or more documents) to a YAML service.
    pub fn with_file(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        match &mut self.source {
            Source::Yaml(files) => files.push((name.into(), text.into())),
            // Validation says what is wrong rather than dropping the file silently.
            Source::Typed(_) => self.mixed = true,
        }
        self
    }

    /// Starts this service only once `service` is ready.
    pub fn depends_on(mut self, service: impl Into<String>) -> Self {
        self.depends_on.push(service.into());
        self
    }

    /// Generates ConfigMap `<service>-env` from the values under `section` (nested keys
    /// joined with `_`) and gives it to every container as environment (`envFrom`).
    pub fn with_env_from(mut self, section: impl Into<String>) -> Self {
        self.env_from = Some(section.into());
        self
    }

    /// Generates ConfigMap `<service>-files` from the values under `section` (one file per
    /// key; strings as they are, anything else as JSON) and mounts it read-only at
    /// `mount_path` in every container.
    pub fn with_config_files(
        mut self,
        section: impl Into<String>,
        mount_path: impl Into<String>,
    ) -> Self {
        self.files = Some((section.into(), mount_path.into()));
        self
    }

    /// Adds to every pod template one init container per Service of each dependency that
    /// waits until the Service accepts TCP connections (cluster-side ordering, for pods
    /// that restart without the SDK).
    pub fn with_readiness_gates(mut self) -> Self {
        self.readiness_gates = true;
        self
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The services it depends on.
    pub fn dependencies(&self) -> &[String] {
        &self.depends_on
    }
}

/// An application: named services with their dependencies, and default values.
#[derive(Debug, Clone)]
pub struct AppTemplate {
    name: String,
    version: String,
    defaults: Value,
    services: Vec<ServiceTemplate>,
}

/// Where a release goes: an environment's name and its namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Target {
    /// The environment (`prod`).
    pub environment: String,
    /// The namespace (`shop-prod`).
    pub namespace: String,
}

impl Target {
    /// A target.
    pub fn new(environment: impl Into<String>, namespace: impl Into<String>) -> Self {
        Target {
            environment: environment.into(),
            namespace: namespace.into(),
        }
    }
}

impl AppTemplate {
    /// An application template `name` (a DNS-1123 label) at `version` (any text: `1.4.0`, a
    /// commit).
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        AppTemplate {
            name: name.into(),
            version: version.into(),
            defaults: Value::Object(Map::new()),
            services: Vec::new(),
        }
    }

    /// Sets the default values (a JSON object), the lowest configuration layer.
    pub fn with_defaults(mut self, defaults: Value) -> Self {
        self.defaults = defaults;
        self
    }

    /// Adds a service.
    pub fn with_service(mut self, service: ServiceTemplate) -> Self {
        self.services.push(service);
        self
    }

    /// The application's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The template's version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The default values.
    pub fn defaults(&self) -> &Value {
        &self.defaults
    }

    /// The services, in the order they were added.
    pub fn services(&self) -> &[ServiceTemplate] {
        &self.services
    }

    /// Checks names, dependencies and defaults, and returns the services in dependency
    /// order (a service after every service it depends on; otherwise in the order added).
    pub fn order(&self) -> Result<Vec<&ServiceTemplate>, AppError> {
        let fail = |reason: String| Err(AppError::template(&self.name, reason));
        if !is_dns1123_label(&self.name) {
            return fail(format!(
                "the name `{}` is not a DNS-1123 label (lower-case letters, digits and '-')",
                self.name
            ));
        }
        if !self.defaults.is_object() {
            return fail(format!(
                "the defaults must be an object, not {}",
                type_name(&self.defaults)
            ));
        }
        if self.services.is_empty() {
            return fail("has no service".into());
        }
        let mut seen = HashSet::new();
        for s in &self.services {
            if !is_dns1123_label(&s.name) || s.name.len() > 50 {
                return fail(format!(
                    "service name `{}` is not a DNS-1123 label of at most 50 characters",
                    s.name
                ));
            }
            if !seen.insert(s.name.as_str()) {
                return fail(format!("service `{}` is defined twice", s.name));
            }
        }
        for s in &self.services {
            if let Source::Yaml(files) = &s.source
                && files.is_empty()
            {
                return fail(format!("service `{}` has no template file", s.name));
            }
            if s.mixed {
                return fail(format!(
                    "service `{}` is typed and was given a YAML file",
                    s.name
                ));
            }
            for dep in &s.depends_on {
                if dep == &s.name {
                    return fail(format!("service `{}` depends on itself", s.name));
                }
                if !seen.contains(dep.as_str()) {
                    return fail(format!(
                        "service `{}` depends on `{dep}`, which is not a service of the template",
                        s.name
                    ));
                }
            }
        }
        // Kahn's algorithm, taking the earliest added service that is free each time.
        let mut done: Vec<&ServiceTemplate> = Vec::with_capacity(self.services.len());
        while done.len() < self.services.len() {
            let next = self.services.iter().find(|s| {
                !done.iter().any(|d| d.name == s.name)
                    && s.depends_on
                        .iter()
                        .all(|dep| done.iter().any(|d| &d.name == dep))
            });
            match next {
                Some(s) => done.push(s),
                None => {
                    let stuck: Vec<&str> = self
                        .services
                        .iter()
                        .filter(|s| !done.iter().any(|d| d.name == s.name))
                        .map(|s| s.name.as_str())
                        .collect();
                    return fail(format!(
                        "the dependencies of services {} form a cycle",
                        stuck.join(", ")
                    ));
                }
            }
        }
        Ok(done)
    }

    /// Renders every service with `values` (already layered) for `target`.
    pub fn render(&self, target: &Target, values: &Value) -> Result<RenderedRelease, AppError> {
        let order = self.order()?;
        if !is_dns1123_label(&target.namespace) {
            return Err(AppError::template(
                &self.name,
                format!(
                    "the namespace `{}` of environment `{}` is not a DNS-1123 label",
                    target.namespace, target.environment
                ),
            ));
        }
        let mut release = RenderedRelease {
            app: self.name.clone(),
            namespace: target.namespace.clone(),
            environment: target.environment.clone(),
            services: IndexMap::new(),
        };
        for service in order {
            let context = ServiceContext {
                app: &self.name,
                service: &service.name,
                namespace: &target.namespace,
                environment: &target.environment,
                values,
            };
            let objects = render_service(service, &context, &release)?;
            release.services.insert(
                service.name.clone(),
                RenderedService {
                    depends_on: service.depends_on.clone(),
                    objects,
                },
            );
        }
        Ok(release)
    }
}

/// The rendered objects of one release, by service in dependency order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderedRelease {
    /// The application.
    pub app: String,
    /// The namespace every namespaced object is in.
    pub namespace: String,
    /// The environment.
    pub environment: String,
    /// The services, each after the services it depends on.
    pub services: IndexMap<String, RenderedService>,
}

/// The rendered objects of one service. `Debug` shows the values of Secrets as `***`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderedService {
    /// The services it depends on.
    pub depends_on: Vec<String>,
    /// Its objects, in apply order.
    pub objects: Vec<Value>,
}

impl fmt::Debug for RenderedService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let objects: Vec<Value> = self.objects.iter().map(redacted).collect();
        f.debug_struct("RenderedService")
            .field("depends_on", &self.depends_on)
            .field("objects", &objects)
            .finish()
    }
}

/// True for a `v1 Secret`.
pub(crate) fn is_secret(object: &Value) -> bool {
    object["kind"] == "Secret" && object["apiVersion"] == "v1"
}

/// The object with every value of a Secret's `data` and `stringData` replaced by `***`.
pub(crate) fn redacted(object: &Value) -> Value {
    let mut out = object.clone();
    if is_secret(object) {
        for field in ["data", "stringData"] {
            if let Some(Value::Object(map)) = out.get_mut(field) {
                map.values_mut()
                    .for_each(|v| *v = Value::String("***".into()));
            }
        }
    }
    out
}

impl RenderedService {
    /// The Secrets among the objects that hold values (`data` or `stringData`).
    pub fn secrets_with_values(&self) -> impl Iterator<Item = &Value> {
        self.objects.iter().filter(|o| {
            is_secret(o)
                && ["data", "stringData"]
                    .iter()
                    .any(|f| o[*f].as_object().is_some_and(|m| !m.is_empty()))
        })
    }

    /// The objects as one YAML stream (Secrets with their values: this is what is applied).
    pub fn to_yaml(&self) -> String {
        render_yaml(&self.objects)
    }
}

impl RenderedRelease {
    /// Every object of every service as one YAML stream, each service introduced by a
    /// `# service: <name>` comment.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        for (i, (name, service)) in self.services.iter().enumerate() {
            if i > 0 {
                out.push_str("---\n");
            }
            out.push_str("# service: ");
            out.push_str(name);
            out.push('\n');
            out.push_str(&service.to_yaml());
        }
        out
    }

    /// Every object, service by service.
    pub fn objects(&self) -> impl Iterator<Item = &Value> {
        self.services.values().flat_map(|s| s.objects.iter())
    }
}

fn render_service(
    service: &ServiceTemplate,
    context: &ServiceContext<'_>,
    release: &RenderedRelease,
) -> Result<Vec<Value>, AppError> {
    let raw = match &service.source {
        Source::Typed(render) => render(context).map_err(|e| typed_error(&service.name, e))?,
        Source::Yaml(files) => {
            let mut out = Vec::new();
            for (file, text) in files {
                out.extend(render_file(&service.name, file, text, context)?);
            }
            out
        }
    };
    let mut objects = Vec::with_capacity(raw.len() + 2);
    let mut generated = Vec::new();
    if let Some(section) = &service.env_from {
        generated.push(env_config_map(service, context, section)?);
    }
    if let Some((section, _)) = &service.files {
        generated.push(files_config_map(service, context, section)?);
    }
    for object in generated.into_iter().chain(raw) {
        objects.push(normalize(&service.name, context, object)?);
    }
    for object in &objects {
        let key = object_key(object);
        let clash = release
            .services
            .iter()
            .find(|(_, s)| s.objects.iter().any(|o| object_key(o) == key))
            .map(|(n, _)| n.clone())
            .or_else(|| {
                (objects.iter().filter(|o| object_key(o) == key).count() > 1)
                    .then(|| service.name.clone())
            });
        if let Some(other) = clash {
            return Err(AppError::Object {
                service: service.name.clone(),
                object: describe(object),
                reason: format!("is also rendered by service `{other}`"),
            });
        }
    }
    let gates = if service.readiness_gates {
        readiness_gates(service, context, release)?
    } else {
        Vec::new()
    };
    let mounted = service.files.as_ref().map(|(_, path)| path.as_str());
    let env_map = service
        .env_from
        .as_ref()
        .map(|_| format!("{}-env", service.name));
    let files_map = service
        .files
        .as_ref()
        .map(|_| format!("{}-files", service.name));
    let config_maps: Vec<Value> = objects
        .iter()
        .chain(release.objects())
        .filter(|o| o["kind"] == "ConfigMap" && o["apiVersion"] == "v1")
        .cloned()
        .collect();
    for object in &mut objects {
        let Some(template) = pod_template_mut(object) else {
            continue;
        };
        let spec = template
            .as_object_mut()
            .expect("pod templates are objects")
            .entry("spec")
            .or_insert_with(|| json!({}));
        for_each_container(spec, |container| {
            if let Some(name) = &env_map {
                push(
                    container,
                    "envFrom",
                    json!({"configMapRef": {"name": name}}),
                );
            }
            if let (Some(_), Some(path)) = (&files_map, mounted) {
                push(
                    container,
                    "volumeMounts",
                    json!({"name": CONFIG_FILES_VOLUME, "mountPath": path, "readOnly": true}),
                );
            }
        });
        if let Some(name) = &files_map {
            push(
                spec,
                "volumes",
                json!({"name": CONFIG_FILES_VOLUME, "configMap": {"name": name}}),
            );
        }
        if !gates.is_empty() {
            let init = spec
                .as_object_mut()
                .expect("pod specs are objects")
                .entry("initContainers")
                .or_insert_with(|| json!([]));
            if let Value::Array(list) = init {
                for (i, gate) in gates.iter().enumerate() {
                    list.insert(i, gate.clone());
                }
            }
        }
        let used = referenced_config_maps(spec);
        if !used.is_empty() {
            let hash = config_hash(&used, &config_maps);
            let meta = template
                .as_object_mut()
                .expect("pod templates are objects")
                .entry("metadata")
                .or_insert_with(|| json!({}));
            if let Value::Object(meta) = meta {
                let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
                if let Value::Object(a) = annotations {
                    a.insert(CONFIG_HASH_ANNOTATION.into(), Value::String(hash));
                }
            }
        }
    }
    objects.sort_by_key(|o| {
        let api_version = o["apiVersion"].as_str().unwrap_or("");
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        apply_rank(group, o["kind"].as_str().unwrap_or(""))
    });
    Ok(objects)
}

fn typed_error(service: &str, e: RenderError) -> AppError {
    match e {
        RenderError::Undefined(key) => AppError::UndefinedVariable {
            service: service.to_owned(),
            file: "typed".into(),
            variable: format!("values.{key}"),
        },
        RenderError::WrongType {
            key,
            expected,
            found,
        } => AppError::Render {
            service: service.to_owned(),
            file: "typed".into(),
            line: None,
            reason: format!("values.{key} must be {expected}, not {found}"),
        },
        RenderError::Other(reason) => AppError::Render {
            service: service.to_owned(),
            file: "typed".into(),
            line: None,
            reason,
        },
    }
}

/// The variables a file uses that the context does not have: the roots it knows nothing
/// of, and the key paths under `values` that lead nowhere.
fn missing_variables(
    env: &minijinja::Environment<'_>,
    used: HashSet<String>,
    context: &ServiceContext<'_>,
) -> Vec<String> {
    let globals: HashSet<String> = env.globals().map(|(name, _)| name.to_owned()).collect();
    let mut missing: Vec<String> = used
        .into_iter()
        .filter(|path| {
            let (root, rest) = path.split_once('.').unwrap_or((path, ""));
            match root {
                "app" | "service" | "namespace" | "environment" => false,
                "values" => {
                    // Walk as far as objects go; past a non-object (a string's method, a
                    // list's item) only rendering can tell.
                    let mut node = context.values;
                    for part in rest.split('.').filter(|p| !p.is_empty()) {
                        match node {
                            Value::Object(map) => match map.get(part) {
                                Some(next) => node = next,
                                None => return true,
                            },
                            _ => return false,
                        }
                    }
                    false
                }
                other => !globals.contains(other),
            }
        })
        .collect();
    missing.sort();
    missing
}

fn render_file(
    service: &str,
    file: &str,
    text: &str,
    context: &ServiceContext<'_>,
) -> Result<Vec<Value>, AppError> {
    let render_error = |line: Option<usize>, reason: String| AppError::Render {
        service: service.to_owned(),
        file: file.to_owned(),
        line,
        reason,
    };
    let reason = |e: &minijinja::Error| match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    };
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // minijinja escapes `.yaml` files as JSON by default, which quotes every string twice
    // in a YAML template; values go in as they are (`| tojson` quotes on demand).
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.add_template(file, text)
        .map_err(|e| render_error(e.line(), reason(&e)))?;
    let template = env
        .get_template(file)
        .map_err(|e| render_error(e.line(), reason(&e)))?;
    let vars = json!({
        "app": context.app,
        "service": context.service,
        "namespace": context.namespace,
        "environment": context.environment,
        "values": context.values,
    });
    let rendered = match template.render(minijinja::Value::from_serialize(&vars)) {
        Ok(text) => text,
        Err(e) if e.kind() == minijinja::ErrorKind::UndefinedError => {
            let missing = missing_variables(&env, template.undeclared_variables(true), context);
            // The missing variable written on the failing line, else the first missing one.
            let line_text = e
                .line()
                .and_then(|l| text.lines().nth(l.saturating_sub(1)))
                .unwrap_or("");
            let variable = missing
                .iter()
                .find(|v| line_text.contains(v.as_str()))
                .or(missing.first());
            return Err(match variable {
                Some(variable) => AppError::UndefinedVariable {
                    service: service.to_owned(),
                    file: match e.line() {
                        Some(line) => format!("{file} line {line}"),
                        None => file.to_owned(),
                    },
                    variable: variable.clone(),
                },
                None => render_error(e.line(), reason(&e)),
            });
        }
        Err(e) => return Err(render_error(e.line(), reason(&e))),
    };
    let mut objects = Vec::new();
    for (i, document) in serde_yaml::Deserializer::from_str(&rendered).enumerate() {
        let value = Value::deserialize(document).map_err(|e| {
            render_error(
                e.location().map(|l| l.line()),
                format!(
                    "the rendered text is not YAML (line of the rendered text): {}",
                    first_line(&e.to_string())
                ),
            )
        })?;
        match value {
            Value::Null => {}
            Value::Object(_) => objects.push(value),
            other => {
                return Err(render_error(
                    None,
                    format!(
                        "document #{} renders to {}, not an object",
                        i + 1,
                        type_name(&other)
                    ),
                ));
            }
        }
    }
    Ok(objects)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// `apps/Deployment/web`: an object's identity within one namespace.
pub(crate) fn object_key(object: &Value) -> String {
    let api_version = object["apiVersion"].as_str().unwrap_or("");
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    format!(
        "{group}/{}/{}",
        object["kind"].as_str().unwrap_or(""),
        object["metadata"]["name"].as_str().unwrap_or("")
    )
}

/// `apps/v1 Deployment web`.
pub(crate) fn describe(object: &Value) -> String {
    format!(
        "{} {} {}",
        object["apiVersion"].as_str().unwrap_or("?"),
        object["kind"].as_str().unwrap_or("?"),
        object["metadata"]["name"].as_str().unwrap_or("?")
    )
}

/// Checks an object, puts it in the release's namespace and labels it with the app and
/// service.
fn normalize(
    service: &str,
    context: &ServiceContext<'_>,
    object: Value,
) -> Result<Value, AppError> {
    let what = describe(&object);
    let manifest = Manifest::from_value(object.clone()).map_err(|e| AppError::Object {
        service: service.to_owned(),
        object: what.clone(),
        reason: match e {
            crate::apply::Error::Invalid { reason, .. } => reason,
            other => other.to_string(),
        },
    })?;
    let mut object = object;
    let namespaced = known_kind(manifest.group(), manifest.kind()).is_none_or(|k| k.namespaced);
    let meta = object
        .as_object_mut()
        .expect("checked to be an object")
        .entry("metadata")
        .or_insert_with(|| json!({}));
    let Value::Object(meta) = meta else {
        unreachable!("Manifest::from_value found metadata.name in it");
    };
    match (meta.get("namespace").and_then(Value::as_str), namespaced) {
        (Some(ns), true) if ns != context.namespace => {
            return Err(AppError::Object {
                service: service.to_owned(),
                object: what,
                reason: format!(
                    "is in namespace `{ns}`; the release deploys to `{}` (leave the namespace out)",
                    context.namespace
                ),
            });
        }
        (Some(_), false) => {
            return Err(AppError::Object {
                service: service.to_owned(),
                object: what,
                reason: "is cluster-scoped and must not have a namespace".into(),
            });
        }
        (None, true) => {
            meta.insert(
                "namespace".into(),
                Value::String(context.namespace.to_owned()),
            );
        }
        _ => {}
    }
    let labels = meta.entry("labels").or_insert_with(|| json!({}));
    let Value::Object(labels) = labels else {
        return Err(AppError::Object {
            service: service.to_owned(),
            object: what,
            reason: "has metadata.labels that is not a map".into(),
        });
    };
    labels.insert(PART_OF_LABEL.into(), Value::String(context.app.to_owned()));
    labels.insert(COMPONENT_LABEL.into(), Value::String(service.to_owned()));
    Ok(object)
}

fn section<'a>(
    service: &ServiceTemplate,
    context: &ServiceContext<'a>,
    key: &str,
) -> Result<&'a Map<String, Value>, AppError> {
    match lookup(context.values, key) {
        Some(Value::Object(map)) => Ok(map),
        Some(other) => Err(AppError::Render {
            service: service.name.clone(),
            file: "config".into(),
            line: None,
            reason: format!("values.{key} must be an object, not {}", type_name(other)),
        }),
        None => Err(AppError::UndefinedVariable {
            service: service.name.clone(),
            file: "config".into(),
            variable: format!("values.{key}"),
        }),
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn env_config_map(
    service: &ServiceTemplate,
    context: &ServiceContext<'_>,
    key: &str,
) -> Result<Value, AppError> {
    fn flatten(prefix: &str, map: &Map<String, Value>, out: &mut BTreeMap<String, String>) {
        for (k, v) in map {
            let name = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}_{k}")
            };
            match v {
                Value::Object(inner) => flatten(&name, inner, out),
                other => {
                    out.insert(name, scalar_text(other));
                }
            }
        }
    }
    let mut data = BTreeMap::new();
    flatten("", section(service, context, key)?, &mut data);
    if let Some(bad) = data.keys().find(|k| !is_env_name(k)) {
        return Err(AppError::Render {
            service: service.name.clone(),
            file: "config".into(),
            line: None,
            reason: format!(
                "values.{key}: `{bad}` is not an environment variable name \
                 ([A-Za-z_][A-Za-z0-9_]*)"
            ),
        });
    }
    Ok(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": format!("{}-env", service.name)},
        "data": data,
    }))
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn files_config_map(
    service: &ServiceTemplate,
    context: &ServiceContext<'_>,
    key: &str,
) -> Result<Value, AppError> {
    let mut data = BTreeMap::new();
    for (name, value) in section(service, context, key)? {
        let valid = name.len() <= 253
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid || name == "." || name == ".." {
            return Err(AppError::Render {
                service: service.name.clone(),
                file: "config".into(),
                line: None,
                reason: format!(
                    "values.{key}: `{name}` is not a ConfigMap key (letters, digits, '-', '_', '.')"
                ),
            });
        }
        let text = match value {
            Value::String(s) => s.clone(),
            other => serde_json::to_string_pretty(other).unwrap_or_default(),
        };
        data.insert(name.clone(), text);
    }
    Ok(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": format!("{}-files", service.name)},
        "data": data,
    }))
}

fn readiness_gates(
    service: &ServiceTemplate,
    context: &ServiceContext<'_>,
    release: &RenderedRelease,
) -> Result<Vec<Value>, AppError> {
    let mut gates = Vec::new();
    for dep in &service.depends_on {
        let rendered = &release.services[dep.as_str()];
        let services: Vec<&Value> = rendered
            .objects
            .iter()
            .filter(|o| o["kind"] == "Service" && o["apiVersion"] == "v1")
            .collect();
        if services.is_empty() {
            return Err(AppError::Object {
                service: service.name.clone(),
                object: format!("readiness gate on `{dep}`"),
                reason: format!("cannot be made: service `{dep}` renders no Kubernetes Service"),
            });
        }
        for svc in services {
            let name = svc["metadata"]["name"].as_str().unwrap_or_default();
            let Some(port) = svc["spec"]["ports"][0]["port"].as_i64() else {
                return Err(AppError::Object {
                    service: service.name.clone(),
                    object: format!("readiness gate on `{dep}`"),
                    reason: format!("cannot be made: Service `{name}` has no port"),
                });
            };
            let host = format!("{name}.{}.svc", context.namespace);
            let mut container = format!("wait-for-{name}");
            container.truncate(63);
            let container = container.trim_end_matches('-').to_owned();
            gates.push(json!({
                "name": container,
                "image": GATE_IMAGE,
                "command": ["sh", "-c", format!(
                    "until nc -z -w 2 {host} {port}; do echo waiting for {host}:{port}; sleep 2; done"
                )],
            }));
        }
    }
    Ok(gates)
}

/// The pod template of a workload, if the object has one.
fn pod_template_mut(object: &mut Value) -> Option<&mut Value> {
    let api_version = object["apiVersion"].as_str().unwrap_or("");
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let pointer = match (group, object["kind"].as_str().unwrap_or("")) {
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") | ("batch", "Job") => {
            "/spec/template"
        }
        ("batch", "CronJob") => "/spec/jobTemplate/spec/template",
        _ => return None,
    };
    object.pointer_mut(pointer).filter(|t| t.is_object())
}

fn for_each_container(spec: &mut Value, mut f: impl FnMut(&mut Value)) {
    if let Some(Value::Array(containers)) = spec.get_mut("containers") {
        containers.iter_mut().for_each(&mut f);
    }
}

fn push(object: &mut Value, key: &str, item: Value) {
    if let Value::Object(map) = object {
        let list = map.entry(key).or_insert_with(|| json!([]));
        if let Value::Array(list) = list
            && !list.contains(&item)
        {
            list.push(item);
        }
    }
}

/// The names of the ConfigMaps a pod spec uses (volumes, projected volumes, `envFrom`,
/// `env[].valueFrom`), sorted.
fn referenced_config_maps(spec: &Value) -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut add = |v: &Value| {
        if let Some(n) = v.as_str() {
            names.insert(n.to_owned());
        }
    };
    for volume in spec["volumes"].as_array().into_iter().flatten() {
        add(&volume["configMap"]["name"]);
        for source in volume["projected"]["sources"]
            .as_array()
            .into_iter()
            .flatten()
        {
            add(&source["configMap"]["name"]);
        }
    }
    for list in ["containers", "initContainers"] {
        for container in spec[list].as_array().into_iter().flatten() {
            for from in container["envFrom"].as_array().into_iter().flatten() {
                add(&from["configMapRef"]["name"]);
            }
            for env in container["env"].as_array().into_iter().flatten() {
                add(&env["valueFrom"]["configMapKeyRef"]["name"]);
            }
        }
    }
    names.into_iter().collect()
}

/// SHA-256 (hex) over the name and content of each used ConfigMap the release renders
/// (ConfigMaps made elsewhere are not known, and count by name only).
fn config_hash(used: &[String], config_maps: &[Value]) -> String {
    let mut hasher = Sha256::new();
    for name in used {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        if let Some(cm) = config_maps
            .iter()
            .find(|c| c["metadata"]["name"].as_str() == Some(name))
        {
            let content = json!({"data": cm["data"], "binaryData": cm["binaryData"]});
            hasher.update(serde_json::to_vec(&content).unwrap_or_default());
        }
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}
