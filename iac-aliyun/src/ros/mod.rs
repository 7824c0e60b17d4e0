//! ROS templates: loading them from wherever they are shared, checking them against this
//! crate's handlers, and deploying them through the ROS service ([`RosDeployer`]).
//!
//! The template model is `iac_core`'s (it is ROS-shaped): [`iac_core::loader`] reads and
//! writes JSON and YAML, short tags included. This module adds what needs the cloud:
//!
//! - [`load`]: a template from a file path, an `http(s)://` URL, or an `oss://bucket/key`
//!   URL read through the OSS client; [`load_text`] guesses the format of a text;
//! - [`pseudo_parameters`]: `ALIYUN::Region`, `ALIYUN::AccountId`, `ALIYUN::StackName`, …
//!   for the engine;
//! - [`check`]: every problem at once, with JSON paths: parameter values against their
//!   declarations, `Count` expansion, references, functions, cycles, resource types no
//!   handler serves, and property names against the handlers' schemas (required ones
//!   missing are errors, unknown ones warnings); [`unknown_types`] lists the unsupported
//!   types with the ids that use them.
//!
//! ```
//! use iac_aliyun::client::{Client, ClientConfig};
//! use iac_aliyun::resources::registry;
//! use iac_aliyun::ros::{check, load_text, pseudo_parameters};
//! use iac_aliyun::sign::AccessKey;
//! use indexmap::IndexMap;
//!
//! let client = Client::new(ClientConfig::new("cn-hangzhou", AccessKey::new("id", "secret"))).unwrap();
//! let template = load_text("
//! ROSTemplateFormatVersion: '2015-09-01'
//! Parameters:
//!   N: {Type: Number, Default: 2}
//! Resources:
//!   Vpc: {Type: ALIYUN::ECS::VPC, Properties: {CidrBlock: 10.0.0.0/8}}
//!   Vsw:
//!     Type: ALIYUN::ECS::VSwitch
//!     Count: !Ref N
//!     Properties:
//!       VpcId: !Ref Vpc
//!       ZoneId: cn-hangzhou-h
//!       CidrBlock: !Sub '10.0.${ALIYUN::Index}.0/24'
//!       Colour: blue
//!   Eip: {Type: ALIYUN::VPC::EIP}
//! ").unwrap();
//! let pseudo = pseudo_parameters("cn-hangzhou", "1234567890");
//! let errors = check(&template, &IndexMap::new(), &registry(&client), &pseudo).unwrap_err();
//! assert_eq!(errors.to_string(), "Resources.Eip.Type: unknown resource type 'ALIYUN::VPC::EIP'");
//!
//! let mut template = template;
//! template.resources.shift_remove("Eip");
//! let checked = check(&template, &IndexMap::new(), &registry(&client), &pseudo).unwrap();
//! assert!(checked.template.resources.contains_key("Vsw[1]"));
//! assert_eq!(checked.warnings.len(), 2); // Colour, on both copies
//! ```

pub mod deployer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use iac_core::count;
use iac_core::engine::PseudoParameters;
use iac_core::loader::{self, Format, LoadError};
use iac_core::model::Template;
use iac_core::params::resolve_parameters;
use iac_core::provider::Registry;
use iac_core::validate::{
    ProblemKind, ValidationError, ValidationErrors, check_properties, validate,
};
use indexmap::IndexMap;
use serde_json::Value;
use thiserror::Error;

use crate::client::Client;
use crate::error::ApiError;

pub use deployer::{DeployError, Deployer, EventPage, RosDeployer, RosStackStatus, TemplateSource};

/// The pseudo parameters ROS offers every template (`ALIYUN::Index` only under `Count`,
/// `ALIYUN::StackId` only when the stack has an id: on the ROS service).
pub const PSEUDO_PARAMETER_NAMES: &[&str] = &[
    "ALIYUN::StackName",
    "ALIYUN::StackId",
    "ALIYUN::Region",
    "ALIYUN::AccountId",
    "ALIYUN::TenantId",
    "ALIYUN::ResourceGroupId",
    "ALIYUN::NoValue",
    "ALIYUN::Index",
];

/// The pseudo parameters for stacks deployed by the engine in `region` for `account_id`:
/// `ALIYUN::Region`, `ALIYUN::AccountId` and `ALIYUN::TenantId` (the same account),
/// `ALIYUN::ResourceGroupId` (empty: the default group), `ALIYUN::StackName` and
/// `ALIYUN::NoValue`. `ALIYUN::StackId` is added by [`with_stack_id`] where a stack has an
/// id.
pub fn pseudo_parameters(region: &str, account_id: &str) -> PseudoParameters {
    let mut values = IndexMap::new();
    values.insert("ALIYUN::Region".to_owned(), Value::from(region));
    values.insert("ALIYUN::AccountId".to_owned(), Value::from(account_id));
    values.insert("ALIYUN::TenantId".to_owned(), Value::from(account_id));
    values.insert("ALIYUN::ResourceGroupId".to_owned(), Value::from(""));
    PseudoParameters {
        values,
        stack_name: Some("ALIYUN::StackName".to_owned()),
        no_value: vec!["ALIYUN::NoValue".to_owned()],
    }
}

/// `pseudo` with `ALIYUN::StackId` set to `stack_id`.
pub fn with_stack_id(mut pseudo: PseudoParameters, stack_id: &str) -> PseudoParameters {
    pseudo
        .values
        .insert("ALIYUN::StackId".to_owned(), Value::from(stack_id));
    pseudo
}

/// Why a template could not be fetched or read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RosError {
    /// The text was fetched but is not a template (or the file could not be read).
    #[error("{source_name}: {error}")]
    Load {
        /// The path or URL.
        source_name: String,
        /// What the loader says.
        #[source]
        error: Box<LoadError>,
    },
    /// An `http(s)://` URL could not be fetched.
    #[error("cannot fetch template {url}: {message}")]
    Http {
        /// The URL.
        url: String,
        /// The transport error or the HTTP status.
        message: String,
    },
    /// An `oss://` URL could not be read.
    #[error("cannot read template {url}: {error}")]
    Oss {
        /// The URL.
        url: String,
        /// The OSS error.
        #[source]
        error: Box<ApiError>,
    },
    /// An `oss://` URL was given but no client to read it with, or it names no object.
    #[error("cannot read template {url}: {message}")]
    BadUrl {
        /// The URL.
        url: String,
        /// What is wrong.
        message: String,
    },
}

/// Reads a template from `location`: an `http://` or `https://` URL, an
/// `oss://bucket/key` URL (through `client`'s OSS; a `?RegionId=` suffix is ignored), or a
/// file path. The format comes from the extension, else from the text.
pub async fn load(location: &str, client: Option<&Client>) -> Result<Template, RosError> {
    let loaded = |text: &str| {
        load_text_named(text, location).map_err(|error| RosError::Load {
            source_name: location.to_owned(),
            error: Box::new(error),
        })
    };
    if location.starts_with("http://") || location.starts_with("https://") {
        let http = |message: String| RosError::Http {
            url: location.to_owned(),
            message,
        };
        let response = reqwest::get(location)
            .await
            .map_err(|e| http(e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(http(format!("HTTP {status}")));
        }
        let text = response.text().await.map_err(|e| http(e.to_string()))?;
        return loaded(&text);
    }
    if let Some(rest) = location.strip_prefix("oss://") {
        let bad = |message: &str| RosError::BadUrl {
            url: location.to_owned(),
            message: message.to_owned(),
        };
        let rest = rest.split_once('?').map_or(rest, |(path, _)| path);
        let (bucket, key) = rest
            .split_once('/')
            .filter(|(b, k)| !b.is_empty() && !k.is_empty())
            .ok_or_else(|| bad("an OSS URL is oss://bucket/key"))?;
        let client = client.ok_or_else(|| bad("reading from OSS needs a client"))?;
        let text = client
            .oss()
            .get_object(bucket, key)
            .await
            .map_err(|error| RosError::Oss {
                url: location.to_owned(),
                error: Box::new(error),
            })?;
        return loaded(&text);
    }
    let path = PathBuf::from(location);
    loader::load_path(&path)
        .or_else(|err| match err {
            // No known extension: read the file and tell the format from its text.
            LoadError::UnknownExtension { .. } => std::fs::read_to_string(&path)
                .map_err(|source| LoadError::Io {
                    file: path.clone(),
                    source,
                })
                .and_then(|text| load_text(&text)),
            other => Err(other),
        })
        .map_err(|error| RosError::Load {
            source_name: location.to_owned(),
            error: Box::new(error),
        })
}

/// Reads a template from text, JSON if it starts with `{`, YAML otherwise.
pub fn load_text(text: &str) -> Result<Template, LoadError> {
    if text.trim_start().starts_with('{') {
        loader::load_json(text)
    } else {
        loader::load_yaml(text)
    }
}

/// Reads text fetched from `name`: the format by the name's extension, else by the text.
fn load_text_named(text: &str, name: &str) -> Result<Template, LoadError> {
    let path = name.split(['?', '#']).next().unwrap_or(name);
    match Format::from_path(Path::new(path)) {
        Some(Format::Json) => loader::load_json(text),
        Some(Format::Yaml) => loader::load_yaml(text),
        _ => load_text(text),
    }
}

/// A template that passed [`check`].
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The template with every `Count` expanded: what the engine applies.
    pub template: Template,
    /// Problems that do not stop a deployment (properties the handlers do not know).
    pub warnings: Vec<ValidationError>,
}

/// Checks `template` for a deployment with the parameter values `given` and reports every
/// problem at once (see the module docs). On success, hands back the template with `Count`
/// expanded and the warnings.
pub fn check(
    template: &Template,
    given: &IndexMap<String, Value>,
    registry: &Registry,
    pseudo: &PseudoParameters,
) -> Result<Checked, ValidationErrors> {
    let mut errors = Vec::new();
    if let Err(problems) = resolve_parameters(&template.parameters, given) {
        errors.extend(problems.errors.iter().map(|e| ValidationError {
            path: format!("Parameters.{}", e.parameter),
            kind: ProblemKind::Parameter,
            message: e.to_string(),
        }));
    }
    let pseudo_values = pseudo.for_stack("");
    let names: Vec<String> = pseudo.names();
    let expanded = match count::expand(template, given, &pseudo_values) {
        Ok(expanded) => expanded,
        Err(problems) => {
            // Parameter problems are reported above already.
            errors.extend(
                problems
                    .errors()
                    .iter()
                    .filter(|e| !e.message.starts_with("Count cannot be evaluated"))
                    .cloned(),
            );
            // Check the rest as if each counted resource were one.
            count::as_single(template)
        }
    };
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let known = |t: &str| registry.contains(t);
    if let Err(problems) = validate(&expanded, &known, &names) {
        errors.extend(problems.errors().iter().cloned());
    }
    let schema_of = |t: &str| registry.get(t).map(|h| h.schema());
    let findings = check_properties(&expanded, &schema_of);
    errors.extend(findings.errors);
    if errors.is_empty() {
        Ok(Checked {
            template: expanded,
            warnings: findings.warnings,
        })
    } else {
        Err(ValidationErrors::new(errors))
    }
}

/// The resource types of `template` that no handler of `registry` serves, each with the
/// logical ids that use it.
pub fn unknown_types(template: &Template, registry: &Registry) -> BTreeMap<String, Vec<String>> {
    let mut unknown: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (id, spec) in &template.resources {
        if !registry.contains(&spec.type_name) {
            unknown
                .entry(spec.type_name.clone())
                .or_default()
                .push(id.clone());
        }
    }
    unknown
}

#[cfg(test)]
mod tests;
