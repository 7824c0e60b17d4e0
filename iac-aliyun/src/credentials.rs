//! Credentials: where the access key comes from, and how it never shows.
//!
//! The chain, first match wins:
//! 1. the environment: `ALIBABA_CLOUD_ACCESS_KEY_ID`, `ALIBABA_CLOUD_ACCESS_KEY_SECRET`,
//!    `ALIBABA_CLOUD_SECURITY_TOKEN`, `ALIBABA_CLOUD_REGION_ID`, or the older names
//!    `ALICLOUD_ACCESS_KEY`, `ALICLOUD_SECRET_KEY`, `ALICLOUD_SECURITY_TOKEN`,
//!    `ALICLOUD_REGION`;
//! 2. the Aliyun CLI profile file `~/.aliyun/config.json`: the profile named by
//!    `ALIBABA_CLOUD_PROFILE`, else the file's `current` one (modes `AK` and `StsToken`).
//!
//! Everything is read through a [`Source`], so tests never touch the real environment or
//! home directory. Secrets are [`Secret`]s: `Debug` and `Display` print `***`.

use std::fmt;
use std::path::PathBuf;

use iac_core::Secret;
use serde::Deserialize;

/// Where the chain reads from: environment variables and files.
pub trait Source {
    /// An environment variable, if set and not empty.
    fn var(&self, name: &str) -> Option<String>;
    /// The user's home directory.
    fn home(&self) -> Option<PathBuf>;
    /// A file's text; `None` when it does not exist.
    fn read(&self, path: &std::path::Path) -> std::io::Result<Option<String>>;
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

    fn read(&self, path: &std::path::Path) -> std::io::Result<Option<String>> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Where credentials were found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialSource {
    /// Environment variables (which ones, by their prefix).
    Environment(&'static str),
    /// A profile of the Aliyun CLI file.
    Profile {
        /// The file.
        path: PathBuf,
        /// The profile's name.
        name: String,
    },
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Environment(prefix) => write!(f, "environment variables {prefix}*"),
            CredentialSource::Profile { path, name } => {
                write!(f, "profile '{name}' of {}", path.display())
            }
        }
    }
}

/// An access key, with the region it names if any.
#[derive(Clone, PartialEq)]
pub struct Credentials {
    /// The access key id (not secret: it names the key).
    pub access_key_id: String,
    /// The access key secret.
    pub access_key_secret: Secret,
    /// The STS security token, for temporary credentials.
    pub security_token: Option<Secret>,
    /// The region configured with them, if any.
    pub region: Option<String>,
    /// Where they came from.
    pub source: CredentialSource,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &self.access_key_secret)
            .field("security_token", &self.security_token)
            .field("region", &self.region)
            .field("source", &self.source)
            .finish()
    }
}

/// What can be wrong with the configured credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// One half of an access key is set and the other is not.
    #[error("{present} is set but {missing} is not: set both, or neither")]
    Incomplete {
        /// The variable that is set.
        present: &'static str,
        /// The variable that is missing.
        missing: &'static str,
    },
    /// The profile file could not be read.
    #[error("cannot read {path}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The profile file is not valid JSON of the expected shape.
    #[error("{path} is not a valid Aliyun CLI configuration: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong (never a secret: serde names positions and types).
        message: String,
    },
    /// The selected profile does not exist.
    #[error("profile '{name}' is not in {path} (profiles there: {available})")]
    NoSuchProfile {
        /// The name asked for.
        name: String,
        /// The file.
        path: String,
        /// The names that exist.
        available: String,
    },
    /// The profile uses a mode this SDK does not support yet.
    #[error("profile '{name}' in {path} uses mode '{mode}'; only AK and StsToken are supported")]
    UnsupportedMode {
        /// The profile.
        name: String,
        /// The file.
        path: String,
        /// Its mode.
        mode: String,
    },
    /// The profile lacks its access key.
    #[error("profile '{name}' in {path} has no access_key_id or access_key_secret")]
    EmptyProfile {
        /// The profile.
        name: String,
        /// The file.
        path: String,
    },
}

#[derive(Deserialize)]
struct CliConfig {
    #[serde(default)]
    current: String,
    #[serde(default)]
    profiles: Vec<CliProfile>,
}

#[derive(Deserialize)]
struct CliProfile {
    name: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    access_key_secret: String,
    #[serde(default)]
    sts_token: String,
    #[serde(default)]
    region_id: String,
}

/// Names of one generation of environment variables.
struct EnvNames {
    prefix: &'static str,
    id: &'static str,
    secret: &'static str,
    token: &'static str,
    region: &'static str,
}

const ENV_NAMES: [EnvNames; 2] = [
    EnvNames {
        prefix: "ALIBABA_CLOUD_",
        id: "ALIBABA_CLOUD_ACCESS_KEY_ID",
        secret: "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        token: "ALIBABA_CLOUD_SECURITY_TOKEN",
        region: "ALIBABA_CLOUD_REGION_ID",
    },
    EnvNames {
        prefix: "ALICLOUD_",
        id: "ALICLOUD_ACCESS_KEY",
        secret: "ALICLOUD_SECRET_KEY",
        token: "ALICLOUD_SECURITY_TOKEN",
        region: "ALICLOUD_REGION",
    },
];

fn from_environment(source: &dyn Source) -> Result<Option<Credentials>, CredentialsError> {
    for names in &ENV_NAMES {
        match (source.var(names.id), source.var(names.secret)) {
            (Some(id), Some(secret)) => {
                return Ok(Some(Credentials {
                    access_key_id: id,
                    access_key_secret: Secret::new(secret),
                    security_token: source.var(names.token).map(Secret::new),
                    region: source.var(names.region),
                    source: CredentialSource::Environment(names.prefix),
                }));
            }
            (Some(_), None) => {
                return Err(CredentialsError::Incomplete {
                    present: names.id,
                    missing: names.secret,
                });
            }
            (None, Some(_)) => {
                return Err(CredentialsError::Incomplete {
                    present: names.secret,
                    missing: names.id,
                });
            }
            (None, None) => {}
        }
    }
    Ok(None)
}

fn from_profile(source: &dyn Source) -> Result<Option<Credentials>, CredentialsError> {
    let Some(home) = source.home() else {
        return Ok(None);
    };
    let path = home.join(".aliyun").join("config.json");
    let shown = path.display().to_string();
    let text = match source.read(&path) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(None),
        Err(e) => {
            return Err(CredentialsError::Unreadable {
                path: shown,
                source: e,
            });
        }
    };
    let config: CliConfig = serde_json::from_str(&text).map_err(|e| CredentialsError::Invalid {
        path: shown.clone(),
        message: format!(
            "line {} column {}: {:?}",
            e.line(),
            e.column(),
            e.classify()
        ),
    })?;
    let wanted = source
        .var("ALIBABA_CLOUD_PROFILE")
        .unwrap_or_else(|| config.current.clone());
    let wanted = if wanted.is_empty() {
        "default".to_owned()
    } else {
        wanted
    };
    let Some(profile) = config.profiles.into_iter().find(|p| p.name == wanted) else {
        let available: Vec<String> = serde_json::from_str::<CliConfig>(&text)
            .map(|c| c.profiles.into_iter().map(|p| p.name).collect())
            .unwrap_or_default();
        return Err(CredentialsError::NoSuchProfile {
            name: wanted,
            path: shown,
            available: available.join(", "),
        });
    };
    let mode = if profile.mode.is_empty() {
        "AK"
    } else {
        profile.mode.as_str()
    };
    if mode != "AK" && mode != "StsToken" {
        return Err(CredentialsError::UnsupportedMode {
            name: profile.name,
            path: shown,
            mode: mode.to_owned(),
        });
    }
    if profile.access_key_id.is_empty() || profile.access_key_secret.is_empty() {
        return Err(CredentialsError::EmptyProfile {
            name: profile.name,
            path: shown,
        });
    }
    Ok(Some(Credentials {
        access_key_id: profile.access_key_id,
        access_key_secret: Secret::new(profile.access_key_secret),
        security_token: (mode == "StsToken" && !profile.sts_token.is_empty())
            .then(|| Secret::new(profile.sts_token)),
        region: (!profile.region_id.is_empty()).then_some(profile.region_id),
        source: CredentialSource::Profile {
            path,
            name: profile.name,
        },
    }))
}

/// Runs the chain: the environment, then the Aliyun CLI profile. `Ok(None)` when nothing is
/// configured anywhere (callers then use the simulator, never a real account by accident).
pub fn resolve(source: &dyn Source) -> Result<Option<Credentials>, CredentialsError> {
    match from_environment(source)? {
        Some(found) => Ok(Some(found)),
        None => from_profile(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::path::Path;

    #[derive(Default)]
    struct FakeSource {
        vars: HashMap<&'static str, &'static str>,
        files: HashMap<PathBuf, String>,
    }

    impl Source for FakeSource {
        fn var(&self, name: &str) -> Option<String> {
            self.vars
                .get(name)
                .map(|v| (*v).to_owned())
                .filter(|v| !v.is_empty())
        }
        fn home(&self) -> Option<PathBuf> {
            Some(PathBuf::from("/home/u"))
        }
        fn read(&self, path: &Path) -> std::io::Result<Option<String>> {
            Ok(self.files.get(path).cloned())
        }
    }

    fn with_profile(json: &str) -> FakeSource {
        let mut source = FakeSource::default();
        source.files.insert(
            PathBuf::from("/home/u/.aliyun/config.json"),
            json.to_owned(),
        );
        source
    }

    const CONFIG: &str = r#"{"current": "work", "profiles": [
        {"name": "default", "mode": "AK", "access_key_id": "LTAIdefault", "access_key_secret": "sec-default", "region_id": "cn-beijing"},
        {"name": "work", "mode": "StsToken", "access_key_id": "STS.work", "access_key_secret": "sec-work", "sts_token": "tok-work", "region_id": "cn-hangzhou"},
        {"name": "role", "mode": "RamRoleArn", "access_key_id": "x", "access_key_secret": "y"}
    ]}"#;

    #[test]
    fn the_environment_comes_first_and_the_new_names_before_the_old() {
        let mut source = with_profile(CONFIG);
        source.vars.insert("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAInew");
        source
            .vars
            .insert("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "sec-new");
        source
            .vars
            .insert("ALIBABA_CLOUD_REGION_ID", "eu-central-1");
        source.vars.insert("ALICLOUD_ACCESS_KEY", "LTAIold");
        source.vars.insert("ALICLOUD_SECRET_KEY", "sec-old");
        let found = resolve(&source).unwrap().unwrap();
        assert_eq!(found.access_key_id, "LTAInew");
        assert_eq!(found.access_key_secret.expose(), "sec-new");
        assert_eq!(found.region.as_deref(), Some("eu-central-1"));
        assert_eq!(
            found.source,
            CredentialSource::Environment("ALIBABA_CLOUD_")
        );
        source.vars.remove("ALIBABA_CLOUD_ACCESS_KEY_ID");
        source.vars.remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
        let found = resolve(&source).unwrap().unwrap();
        assert_eq!(
            (
                found.access_key_id.as_str(),
                found.access_key_secret.expose()
            ),
            ("LTAIold", "sec-old")
        );
    }

    #[test]
    fn half_a_key_is_an_error_naming_the_missing_variable() {
        let mut source = FakeSource::default();
        source.vars.insert("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAInew");
        let err = resolve(&source).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ALIBABA_CLOUD_ACCESS_KEY_ID is set but ALIBABA_CLOUD_ACCESS_KEY_SECRET is not: set both, or neither"
        );
    }

    #[test]
    fn the_profile_file_gives_the_current_or_the_named_profile() {
        let mut source = with_profile(CONFIG);
        let found = resolve(&source).unwrap().unwrap();
        assert_eq!(found.access_key_id, "STS.work");
        assert_eq!(
            found.security_token.as_ref().map(Secret::expose),
            Some("tok-work")
        );
        assert_eq!(found.region.as_deref(), Some("cn-hangzhou"));
        assert_eq!(
            found.source.to_string(),
            "profile 'work' of /home/u/.aliyun/config.json"
        );
        source.vars.insert("ALIBABA_CLOUD_PROFILE", "default");
        let found = resolve(&source).unwrap().unwrap();
        assert_eq!(
            (found.access_key_id.as_str(), found.security_token.is_none()),
            ("LTAIdefault", true)
        );
        source.vars.insert("ALIBABA_CLOUD_PROFILE", "role");
        assert!(matches!(
            resolve(&source),
            Err(CredentialsError::UnsupportedMode { .. })
        ));
        source.vars.insert("ALIBABA_CLOUD_PROFILE", "nope");
        let err = resolve(&source).unwrap_err().to_string();
        assert_eq!(
            err,
            "profile 'nope' is not in /home/u/.aliyun/config.json (profiles there: default, work, role)"
        );
    }

    #[test]
    fn nothing_configured_is_none_and_a_broken_file_is_an_error_without_secrets() {
        assert!(resolve(&FakeSource::default()).unwrap().is_none());
        let broken = with_profile(
            r#"{"current": "a", "profiles": [{"name": "a", "access_key_secret": "sec-leak", "#,
        );
        let err = resolve(&broken).unwrap_err().to_string();
        assert!(
            err.starts_with("/home/u/.aliyun/config.json is not a valid Aliyun CLI configuration"),
            "{err}"
        );
        assert!(!err.contains("sec-leak"));
    }

    #[test]
    fn secrets_never_print() {
        let found = resolve(&with_profile(CONFIG)).unwrap().unwrap();
        let shown = format!("{found:?} {found:#?}");
        assert!(
            !shown.contains("sec-work") && !shown.contains("tok-work"),
            "{shown}"
        );
        assert!(shown.contains("STS.work") && shown.contains("***"));
    }
}
