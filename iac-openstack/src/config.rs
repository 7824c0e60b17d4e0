//! Where a cloud's configuration comes from: `clouds.yaml` (with `OS_CLOUD`) or the `OS_*`
//! environment variables, read through an injectable [`Source`].
//!
//! The rules follow the OpenStack client libraries:
//! - when `OS_CLOUD` is set, everything comes from that entry of `clouds.yaml`, looked up in
//!   `OS_CLIENT_CONFIG_FILE`, then `./clouds.yaml`, `~/.config/openstack/clouds.yaml` and
//!   `/etc/openstack/clouds.yaml`; a `secure.yaml` beside it is merged in (passwords kept
//!   apart);
//! - otherwise `OS_AUTH_URL` and the other `OS_*` variables describe the cloud.
//!
//! `auth_type` (`OS_AUTH_TYPE`) is `password` (the default), `v3applicationcredential`
//! (the default when an application credential is given) or `v3token` / `token` (the
//! default when `OS_TOKEN` is set). Passwords, secrets and tokens are [`Secret`]s: `Debug`
//! prints `***` and no error message ever holds one.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use iac_core::Secret;
use serde_yaml::Value as Yaml;

/// Where configuration is read from: environment variables and files.
pub trait Source {
    /// An environment variable, if set and not empty.
    fn var(&self, name: &str) -> Option<String>;
    /// The user's home directory.
    fn home(&self) -> Option<PathBuf>;
    /// A file's text; `None` when it does not exist.
    fn read(&self, path: &Path) -> std::io::Result<Option<String>>;
}

/// The real process environment and filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemSource;

impl Source for SystemSource {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    fn home(&self) -> Option<PathBuf> {
        std::env::var_os("HOME").map(PathBuf::from)
    }

    fn read(&self, path: &Path) -> std::io::Result<Option<String>> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A [`Source`] made of a map of variables and a map of files: for tests.
#[derive(Debug, Clone, Default)]
pub struct MapSource {
    /// Environment variables.
    pub vars: BTreeMap<String, String>,
    /// Files by path.
    pub files: BTreeMap<PathBuf, String>,
    /// The home directory.
    pub home: Option<PathBuf>,
}

impl MapSource {
    /// Sets a variable (builder style).
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Adds a file (builder style).
    pub fn file(mut self, path: impl Into<PathBuf>, text: &str) -> Self {
        self.files.insert(path.into(), text.to_owned());
        self
    }
}

impl Source for MapSource {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).filter(|v| !v.is_empty()).cloned()
    }

    fn home(&self) -> Option<PathBuf> {
        self.home.clone()
    }

    fn read(&self, path: &Path) -> std::io::Result<Option<String>> {
        Ok(self.files.get(path).cloned())
    }
}

/// A Keystone object named by id, or by name within a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    /// By id.
    Id(String),
    /// By name, in a domain (by id or name); no domain means `Default`.
    Name {
        /// The name.
        name: String,
        /// Its domain.
        domain: Option<Box<Named>>,
    },
}

impl Named {
    /// The object named `name` in the domain named `domain`.
    pub fn in_domain(name: impl Into<String>, domain: Named) -> Self {
        Named::Name {
            name: name.into(),
            domain: Some(Box::new(domain)),
        }
    }

    /// A domain (or any object) by name, with no domain of its own.
    pub fn name(name: impl Into<String>) -> Self {
        Named::Name {
            name: name.into(),
            domain: None,
        }
    }

    /// The JSON Keystone wants for it (`{"id": ..}` or `{"name": .., "domain": {..}}`).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Named::Id(id) => serde_json::json!({ "id": id }),
            Named::Name { name, domain } => {
                let mut v = serde_json::json!({ "name": name });
                if let Some(domain) = domain {
                    v["domain"] = domain.to_json();
                }
                v
            }
        }
    }
}

/// What a token is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// No scope: an unscoped token (no catalog).
    Unscoped,
    /// A project.
    Project(Named),
    /// A domain.
    Domain(Named),
    /// The whole deployment (`system: all`).
    System,
}

/// How the client authenticates with Keystone v3.
#[derive(Clone, PartialEq)]
pub enum AuthMethod {
    /// `password`: a user and its password.
    Password {
        /// The user.
        user: Named,
        /// The password.
        password: Secret,
        /// The scope asked for.
        scope: Scope,
    },
    /// `application_credential`: bound to its project, so no scope.
    ApplicationCredential {
        /// The credential, by id, or by name with its user.
        credential: AppCredential,
        /// The secret.
        secret: Secret,
    },
    /// `token`: an existing token, rescoped.
    Token {
        /// The token.
        token: Secret,
        /// The scope asked for.
        scope: Scope,
    },
}

/// An application credential's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppCredential {
    /// By id.
    Id(String),
    /// By name, with the user that owns it.
    Name {
        /// The credential's name.
        name: String,
        /// Its user.
        user: Named,
    },
}

impl fmt::Debug for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthMethod::Password {
                user,
                password,
                scope,
            } => f
                .debug_struct("Password")
                .field("user", user)
                .field("password", password)
                .field("scope", scope)
                .finish(),
            AuthMethod::ApplicationCredential { credential, secret } => f
                .debug_struct("ApplicationCredential")
                .field("credential", credential)
                .field("secret", secret)
                .finish(),
            AuthMethod::Token { token, scope } => f
                .debug_struct("Token")
                .field("token", token)
                .field("scope", scope)
                .finish(),
        }
    }
}

/// Which endpoint of a service the client calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interface {
    /// `public` (the default).
    #[default]
    Public,
    /// `internal`.
    Internal,
    /// `admin`.
    Admin,
}

impl Interface {
    /// Parses `public`, `publicURL`, `internal`, `internalURL`, `admin`, `adminURL`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim_end_matches("URL") {
            "public" => Some(Interface::Public),
            "internal" => Some(Interface::Internal),
            "admin" => Some(Interface::Admin),
            _ => None,
        }
    }

    /// The catalog's word for it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Interface::Public => "public",
            Interface::Internal => "internal",
            Interface::Admin => "admin",
        }
    }
}

/// One cloud: where Keystone is, how to authenticate, which endpoints to use.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudConfig {
    /// Keystone's URL (`http://127.0.0.1:5000/v3`; `/v3` is added when missing).
    pub auth_url: String,
    /// How to authenticate.
    pub auth: AuthMethod,
    /// The region to pick endpoints in; `None` takes any.
    pub region: Option<String>,
    /// The endpoint interface.
    pub interface: Interface,
    /// Where the configuration came from (`clouds.yaml cloud 'x' (/path)`, `OS_* variables`).
    pub origin: String,
}

/// What is wrong with the configuration; never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Neither `OS_CLOUD` nor `OS_AUTH_URL` is set.
    #[error(
        "no OpenStack cloud configured: set OS_CLOUD (with a clouds.yaml) or OS_AUTH_URL and the other OS_* variables"
    )]
    NotConfigured,
    /// A setting that is required is missing.
    #[error("{origin}: {what} is missing")]
    Missing {
        /// Where the configuration came from.
        origin: String,
        /// What is missing (`auth.password`, `OS_PASSWORD`).
        what: String,
    },
    /// A setting has a value this client does not accept.
    #[error("{origin}: {what} = '{value}' is not supported ({expected})")]
    Unsupported {
        /// Where the configuration came from.
        origin: String,
        /// The setting.
        what: String,
        /// Its value (never a secret setting).
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// `OS_CLOUD` names a cloud no `clouds.yaml` has.
    #[error("cloud '{name}' is not in {searched} (clouds there: {available})")]
    NoSuchCloud {
        /// The cloud asked for.
        name: String,
        /// The files searched.
        searched: String,
        /// The clouds found.
        available: String,
    },
    /// A file could not be read or parsed.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What went wrong (parser positions, never values).
        message: String,
    },
}

/// Settings as flat `key -> value` pairs in clouds.yaml's vocabulary (`auth.username`,
/// `region_name`), from either source.
struct Settings {
    origin: String,
    values: BTreeMap<String, String>,
}

impl Settings {
    fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn missing(&self, what: &str) -> ConfigError {
        ConfigError::Missing {
            origin: self.origin.clone(),
            what: what.to_owned(),
        }
    }

    fn named(&self, id_key: &str, name_key: &str, domain: Option<Named>) -> Option<Named> {
        if let Some(id) = self.get(id_key) {
            return Some(Named::Id(id.to_owned()));
        }
        self.get(name_key).map(|name| Named::Name {
            name: name.to_owned(),
            domain: domain.map(Box::new),
        })
    }

    fn domain(&self, prefix: &str) -> Option<Named> {
        self.named(
            &format!("auth.{prefix}domain_id"),
            &format!("auth.{prefix}domain_name"),
            None,
        )
    }

    fn into_config(self) -> Result<CloudConfig, ConfigError> {
        let auth_url = self
            .get("auth.auth_url")
            .ok_or_else(|| self.missing("auth.auth_url"))?
            .to_owned();
        let default_domain = self.domain("");
        let user_domain = self.domain("user_").or_else(|| default_domain.clone());
        let project_domain = self.domain("project_").or_else(|| default_domain.clone());
        let scope = if let Some(project) =
            self.named("auth.project_id", "auth.project_name", project_domain)
        {
            Scope::Project(project)
        } else if self.get("auth.system_scope") == Some("all") {
            Scope::System
        } else if let Some(domain) = self.named("auth.domain_id", "auth.domain_name", None) {
            Scope::Domain(domain)
        } else {
            Scope::Unscoped
        };
        let auth_type = self.get("auth_type").map(str::to_owned).unwrap_or_else(|| {
            if self.get("auth.application_credential_secret").is_some() {
                "v3applicationcredential".to_owned()
            } else if self.get("auth.token").is_some() {
                "v3token".to_owned()
            } else {
                "password".to_owned()
            }
        });
        let auth = match auth_type.as_str() {
            "password" | "v3password" => {
                let user = self
                    .named("auth.user_id", "auth.username", user_domain)
                    .ok_or_else(|| self.missing("auth.username or auth.user_id"))?;
                let password = self
                    .get("auth.password")
                    .ok_or_else(|| self.missing("auth.password"))?;
                AuthMethod::Password {
                    user,
                    password: Secret::new(password),
                    scope,
                }
            }
            "v3applicationcredential" | "applicationcredential" => {
                let secret = self
                    .get("auth.application_credential_secret")
                    .ok_or_else(|| self.missing("auth.application_credential_secret"))?;
                let credential = if let Some(id) = self.get("auth.application_credential_id") {
                    AppCredential::Id(id.to_owned())
                } else {
                    let name = self
                        .get("auth.application_credential_name")
                        .ok_or_else(|| {
                            self.missing(
                            "auth.application_credential_id or auth.application_credential_name",
                        )
                        })?;
                    let user = self
                        .named("auth.user_id", "auth.username", user_domain)
                        .ok_or_else(|| {
                            self.missing("auth.username or auth.user_id (with a credential name)")
                        })?;
                    AppCredential::Name {
                        name: name.to_owned(),
                        user,
                    }
                };
                AuthMethod::ApplicationCredential {
                    credential,
                    secret: Secret::new(secret),
                }
            }
            "v3token" | "token" => {
                let token = self
                    .get("auth.token")
                    .ok_or_else(|| self.missing("auth.token"))?;
                AuthMethod::Token {
                    token: Secret::new(token),
                    scope,
                }
            }
            other => {
                return Err(ConfigError::Unsupported {
                    origin: self.origin.clone(),
                    what: "auth_type".to_owned(),
                    value: other.to_owned(),
                    expected: "password, v3applicationcredential or v3token".to_owned(),
                });
            }
        };
        let interface = match self.get("interface") {
            None => Interface::Public,
            Some(text) => Interface::parse(text).ok_or_else(|| ConfigError::Unsupported {
                origin: self.origin.clone(),
                what: "interface".to_owned(),
                value: text.to_owned(),
                expected: "public, internal or admin".to_owned(),
            })?,
        };
        if let Some(version) = self.get("identity_api_version")
            && version != "3"
        {
            return Err(ConfigError::Unsupported {
                origin: self.origin.clone(),
                what: "identity_api_version".to_owned(),
                value: version.to_owned(),
                expected: "3".to_owned(),
            });
        }
        Ok(CloudConfig {
            auth_url,
            auth,
            region: self.get("region_name").map(str::to_owned),
            interface,
            origin: self.origin,
        })
    }
}

/// `OS_*` variable → clouds.yaml key.
const ENV_KEYS: &[(&str, &str)] = &[
    ("OS_AUTH_URL", "auth.auth_url"),
    ("OS_AUTH_TYPE", "auth_type"),
    ("OS_USERNAME", "auth.username"),
    ("OS_USER_ID", "auth.user_id"),
    ("OS_PASSWORD", "auth.password"),
    ("OS_USER_DOMAIN_NAME", "auth.user_domain_name"),
    ("OS_USER_DOMAIN_ID", "auth.user_domain_id"),
    ("OS_PROJECT_NAME", "auth.project_name"),
    ("OS_TENANT_NAME", "auth.project_name"),
    ("OS_PROJECT_ID", "auth.project_id"),
    ("OS_TENANT_ID", "auth.project_id"),
    ("OS_PROJECT_DOMAIN_NAME", "auth.project_domain_name"),
    ("OS_PROJECT_DOMAIN_ID", "auth.project_domain_id"),
    ("OS_DOMAIN_NAME", "auth.domain_name"),
    ("OS_DOMAIN_ID", "auth.domain_id"),
    ("OS_SYSTEM_SCOPE", "auth.system_scope"),
    ("OS_TOKEN", "auth.token"),
    (
        "OS_APPLICATION_CREDENTIAL_ID",
        "auth.application_credential_id",
    ),
    (
        "OS_APPLICATION_CREDENTIAL_NAME",
        "auth.application_credential_name",
    ),
    (
        "OS_APPLICATION_CREDENTIAL_SECRET",
        "auth.application_credential_secret",
    ),
    ("OS_REGION_NAME", "region_name"),
    ("OS_INTERFACE", "interface"),
    ("OS_ENDPOINT_TYPE", "interface"),
    ("OS_IDENTITY_API_VERSION", "identity_api_version"),
];

impl CloudConfig {
    /// The configuration the process environment describes (see the module docs).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&SystemSource)
    }

    /// The configuration `source` describes: `OS_CLOUD` in clouds.yaml, else `OS_*`.
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        if let Some(cloud) = source.var("OS_CLOUD") {
            return Self::from_clouds_yaml(source, &cloud);
        }
        if source.var("OS_AUTH_URL").is_none() {
            return Err(ConfigError::NotConfigured);
        }
        let mut values = BTreeMap::new();
        for (var, key) in ENV_KEYS {
            if let Some(value) = source.var(var) {
                values.entry((*key).to_owned()).or_insert(value);
            }
        }
        Settings {
            origin: "OS_* variables".to_owned(),
            values,
        }
        .into_config()
    }

    /// The cloud `name` of the first `clouds.yaml` found (see the module docs), merged
    /// with `secure.yaml` from the same places.
    pub fn from_clouds_yaml(source: &dyn Source, name: &str) -> Result<Self, ConfigError> {
        let mut dirs: Vec<PathBuf> = vec![PathBuf::from(".")];
        if let Some(home) = source.home() {
            dirs.push(home.join(".config/openstack"));
        }
        dirs.push(PathBuf::from("/etc/openstack"));
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(file) = source.var("OS_CLIENT_CONFIG_FILE") {
            candidates.push(PathBuf::from(file));
        }
        candidates.extend(dirs.iter().map(|d| d.join("clouds.yaml")));
        let searched = candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let (path, clouds) = candidates
            .iter()
            .find_map(|path| match read_yaml(source, path) {
                Ok(Some(yaml)) => Some(Ok((path.clone(), yaml))),
                Ok(None) => None,
                Err(e) => Some(Err(e)),
            })
            .transpose()?
            .ok_or_else(|| ConfigError::NoSuchCloud {
                name: name.to_owned(),
                searched: searched.clone(),
                available: "none: no clouds.yaml found".to_owned(),
            })?;
        let entry = clouds
            .get("clouds")
            .and_then(|c| c.get(name))
            .cloned()
            .ok_or_else(|| ConfigError::NoSuchCloud {
                name: name.to_owned(),
                searched: path.display().to_string(),
                available: clouds
                    .get("clouds")
                    .and_then(Yaml::as_mapping)
                    .map(|m| {
                        m.keys()
                            .filter_map(Yaml::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default(),
            })?;
        let mut values = BTreeMap::new();
        flatten("", &entry, &mut values);
        let secure_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        for dir in std::iter::once(secure_dir).chain(dirs) {
            let secure = dir.join("secure.yaml");
            if let Some(yaml) = read_yaml(source, &secure)? {
                if let Some(entry) = yaml.get("clouds").and_then(|c| c.get(name)) {
                    flatten("", entry, &mut values);
                }
                break;
            }
        }
        Settings {
            origin: format!("clouds.yaml cloud '{name}' ({})", path.display()),
            values,
        }
        .into_config()
    }
}

fn read_yaml(source: &dyn Source, path: &Path) -> Result<Option<Yaml>, ConfigError> {
    let file_error = |message: String| ConfigError::File {
        path: path.display().to_string(),
        message,
    };
    let Some(text) = source.read(path).map_err(|e| file_error(e.to_string()))? else {
        return Ok(None);
    };
    serde_yaml::from_str(&text).map(Some).map_err(|e| {
        file_error(match e.location() {
            Some(at) => format!(
                "not valid YAML at line {} column {}",
                at.line(),
                at.column()
            ),
            None => "not valid YAML".to_owned(),
        })
    })
}

/// Flattens a YAML mapping into dotted keys (`auth.username`); scalars only.
fn flatten(prefix: &str, value: &Yaml, out: &mut BTreeMap<String, String>) {
    match value {
        Yaml::Mapping(map) => {
            for (k, v) in map {
                if let Some(k) = k.as_str() {
                    let key = if prefix.is_empty() {
                        k.to_owned()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flatten(&key, v, out);
                }
            }
        }
        Yaml::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        Yaml::Number(n) => {
            out.insert(prefix.to_owned(), n.to_string());
        }
        Yaml::Bool(b) => {
            out.insert(prefix.to_owned(), b.to_string());
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOUDS: &str = "
clouds:
  iac-admin:
    auth:
      auth_url: http://127.0.0.1:5000/v3
      username: admin
      password: admin-secret
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: internal
    identity_api_version: 3
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: http://k/v3
      application_credential_id: ac-1
  ids:
    auth:
      auth_url: http://k
      user_id: u-1
      project_id: p-1
";

    #[test]
    fn clouds_yaml_with_os_cloud_and_secure_yaml() {
        let source = MapSource::default()
            .var("OS_CLOUD", "iac-admin")
            .var("OS_CLIENT_CONFIG_FILE", "/s/clouds.yaml")
            .var("OS_AUTH_URL", "http://ignored")
            .file("/s/clouds.yaml", CLOUDS);
        let c = CloudConfig::from_source(&source).unwrap();
        assert_eq!(c.auth_url, "http://127.0.0.1:5000/v3");
        assert_eq!(c.region.as_deref(), Some("RegionOne"));
        assert_eq!(c.interface, Interface::Internal);
        let AuthMethod::Password {
            user,
            password,
            scope,
        } = &c.auth
        else {
            panic!("{:?}", c.auth)
        };
        assert_eq!(user, &Named::in_domain("admin", Named::name("Default")));
        assert_eq!(password.expose(), "admin-secret");
        assert_eq!(
            scope,
            &Scope::Project(Named::in_domain("admin", Named::name("Default")))
        );
        let debug = format!("{c:?}");
        assert!(!debug.contains("admin-secret"), "{debug}");

        // The application credential's secret lives in secure.yaml.
        let source = MapSource::default()
            .var("OS_CLOUD", "appcred")
            .var("OS_CLIENT_CONFIG_FILE", "/s/clouds.yaml")
            .file("/s/clouds.yaml", CLOUDS)
            .file(
                "/s/secure.yaml",
                "clouds:\n  appcred:\n    auth:\n      application_credential_secret: s3cr3t\n",
            );
        let c = CloudConfig::from_source(&source).unwrap();
        assert_eq!(
            c.auth,
            AuthMethod::ApplicationCredential {
                credential: AppCredential::Id("ac-1".into()),
                secret: Secret::new("s3cr3t"),
            }
        );
        assert!(!format!("{c:?}").contains("s3cr3t"));

        let source = MapSource::default()
            .var("OS_CLOUD", "ids")
            .var("OS_CLIENT_CONFIG_FILE", "/s/clouds.yaml")
            .file("/s/clouds.yaml", CLOUDS);
        let e = CloudConfig::from_source(&source).unwrap_err();
        assert_eq!(
            e.to_string(),
            "clouds.yaml cloud 'ids' (/s/clouds.yaml): auth.password is missing"
        );
        let source = MapSource::default()
            .var("OS_CLOUD", "nope")
            .var("OS_CLIENT_CONFIG_FILE", "/s/clouds.yaml")
            .file("/s/clouds.yaml", CLOUDS);
        let e = CloudConfig::from_source(&source).unwrap_err().to_string();
        assert!(
            e.contains("cloud 'nope'") && e.contains("iac-admin, appcred, ids"),
            "{e}"
        );
    }

    #[test]
    fn clouds_yaml_search_order_home_then_etc() {
        let source = MapSource {
            home: Some("/home/u".into()),
            ..MapSource::default()
        }
        .var("OS_CLOUD", "iac-admin")
        .file("/home/u/.config/openstack/clouds.yaml", CLOUDS)
        .file("/etc/openstack/clouds.yaml", "clouds: {}");
        let c = CloudConfig::from_source(&source).unwrap();
        assert!(c.origin.contains("/home/u/.config/openstack/clouds.yaml"));
        let bad = MapSource::default()
            .var("OS_CLOUD", "x")
            .file("/etc/openstack/clouds.yaml", "clouds: [unclosed");
        let e = CloudConfig::from_source(&bad).unwrap_err().to_string();
        assert!(
            e.starts_with("/etc/openstack/clouds.yaml: not valid YAML at line"),
            "{e}"
        );
    }

    #[test]
    fn os_variables_for_password_token_and_application_credentials() {
        let base = MapSource::default().var("OS_AUTH_URL", "http://k:5000");
        let c = CloudConfig::from_source(
            &base
                .clone()
                .var("OS_USER_ID", "u-1")
                .var("OS_PASSWORD", "pw")
                .var("OS_PROJECT_NAME", "demo")
                .var("OS_PROJECT_DOMAIN_ID", "default")
                .var("OS_INTERFACE", "adminURL"),
        )
        .unwrap();
        assert_eq!(c.interface, Interface::Admin);
        assert_eq!(
            c.auth,
            AuthMethod::Password {
                user: Named::Id("u-1".into()),
                password: Secret::new("pw"),
                scope: Scope::Project(Named::in_domain("demo", Named::Id("default".into()))),
            }
        );
        let c = CloudConfig::from_source(&base.clone().var("OS_TOKEN", "tok-123")).unwrap();
        assert_eq!(
            c.auth,
            AuthMethod::Token {
                token: Secret::new("tok-123"),
                scope: Scope::Unscoped
            }
        );
        assert!(!format!("{c:?}").contains("tok-123"));
        let c = CloudConfig::from_source(
            &base
                .clone()
                .var("OS_APPLICATION_CREDENTIAL_NAME", "ci")
                .var("OS_APPLICATION_CREDENTIAL_SECRET", "sec")
                .var("OS_USERNAME", "demo")
                .var("OS_USER_DOMAIN_NAME", "Default"),
        )
        .unwrap();
        assert_eq!(
            c.auth,
            AuthMethod::ApplicationCredential {
                credential: AppCredential::Name {
                    name: "ci".into(),
                    user: Named::in_domain("demo", Named::name("Default"))
                },
                secret: Secret::new("sec"),
            }
        );
        let e = CloudConfig::from_source(&base.clone().var("OS_AUTH_TYPE", "saml2")).unwrap_err();
        assert!(
            e.to_string()
                .contains("auth_type = 'saml2' is not supported")
        );
        let e = CloudConfig::from_source(&base.var("OS_USERNAME", "x")).unwrap_err();
        assert_eq!(e.to_string(), "OS_* variables: auth.password is missing");
        assert_eq!(
            CloudConfig::from_source(&MapSource::default()).unwrap_err(),
            ConfigError::NotConfigured
        );
    }
}
