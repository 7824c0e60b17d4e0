//! Heat Orchestration Templates (HOT): import into the iac-core [`Template`] IR.
//!
//! [`load_str`], [`load_with_files`] and [`load_path`] read a HOT template (YAML, or JSON
//! when the text starts with `{`, as Heat decides) into a [`HotTemplate`]: the iac-core
//! template plus the HOT version, the parameter groups and the problems the import found.
//! [`HotTemplate::validate`] then runs iac-core's validation and reports every problem at
//! once, with HOT paths (`resources.server.properties.networks[0].port`) and HOT function
//! names.
//!
//! # Versions
//!
//! `heat_template_version` is one of the dates Heat registers, `2013-05-23` … `2021-04-16`,
//! or a release name Heat accepts for one of them (`newton`, `ocata`, `pike`, `queens`,
//! `rocky`, `wallaby`); see [`HotVersion`]. The YAML reader keeps an unquoted date as the
//! text it is (a YAML 1.1 reader would make it a date). Each version has its own set of
//! functions, as in Heat: a function of a newer version is plain data in an older one, and a
//! function an older version had and a newer one removed (`Fn::Join`, `Fn::Select`, `Ref`)
//! is an error.
//!
//! # Mapping onto the IR
//!
//! | HOT | IR |
//! |---|---|
//! | `get_param: name` / `get_resource: name` | `Ref` |
//! | `get_param: [name, path...]` | `Fn::GetPath [{Ref: name}, path...]` |
//! | `get_attr: [resource, attribute]` | `Fn::GetAtt` |
//! | `get_attr: [resource, attribute, path...]` | `Fn::GetAtt [resource, attribute, path...]` |
//! | `str_replace` (`_strict`, `_vstrict`) | `Fn::StrReplace` (`Strict`, `VStrict`) |
//! | `list_join`, `str_split`, `repeat`, `map_merge` | `Fn::ListJoin`, `Fn::StrSplit`, `Fn::Repeat`, `Fn::MapMerge` |
//! | `list_concat` (`_unique`), `contains`, `filter`, `map_replace`, `digest` | `Fn::ListConcat` (`Unique`), `Fn::Contains`, `Fn::Filter`, `Fn::MapReplace`, `Fn::Digest` |
//! | `equals`, `not`, `and`, `or`, `if` | `Fn::EqualsStrict`, `Fn::Not`, `Fn::And`, `Fn::Or`, `Fn::If` |
//! | `get_file: name` | the file's content, read at import |
//! | `get_param: name` of an undeclared parameter, in an output | `Fn::Error` (a [warning](HotTemplate::warnings); the output carries the error after apply, as in Heat) |
//! | `Fn::Select`, `Fn::Join`, `Fn::Split`, `Fn::Replace`, `Ref` (old versions) | the same |
//!
//! The `Fn::*` functions without a ROS namesake have Heat's semantics exactly (see
//! `iac_core::eval`). An inline condition (a boolean or an expression as a resource's or
//! output's `condition`, or as the first argument of `if`) becomes a condition of its own
//! in the IR's `Conditions`, named after the HOT path where it was written.
//!
//! Parameters keep their type (`string`, `number`, `comma_delimited_list`, `json`,
//! `boolean`) and constraints: `length` and `range` become the min/max bounds, `allowed_values`
//! and `allowed_pattern` their IR namesakes, all checked by iac-core's parameter resolution
//! (defaults are checked by [`HotTemplate::validate`]). Patterns are Python `re` patterns,
//! look-around included, matched against the whole value; one that is not a regular
//! expression is a problem of the template, as in Heat. Several constraints of one kind,
//! which must all hold, are kept with their meaning: several `length` or `range` bounds
//! become the tightest, several `allowed_values` lists their common values, and several
//! `allowed_pattern`s stay several, each with its own description, which a value that breaks
//! it is told (one pattern's description joins the others in `ConstraintDescription`, so
//! that the parameter keeps the ROS shape). `custom_constraint` (a Nova flavor,
//! a Glance image, ...) is **recorded, not enforced**: it is kept in the declaration's extra
//! key `CustomConstraints`, since checking it needs the cloud. So is `modulo` (`Modulo`).
//! `hidden: true` makes the parameter secret (`NoEcho`). The pseudo parameters are
//! [`PSEUDO_PARAMETERS`].
//!
//! `deletion_policy: Snapshot` becomes the IR's `DeletionPolicy::Snapshot` (the engine
//! refuses it for a type whose handler takes no snapshots, as Heat does; `OS::Cinder::Volume`
//! takes a Cinder backup); `external_id` becomes the IR's `ExternalId` (the engine adopts the
//! existing object, never updates nor deletes it). Neither has a ROS equivalent: writing such
//! a template as ROS fails, naming the resource.
//!
//! # Not supported (reported as problems, never dropped silently)
//!
//! - The functions `make_url`, `yaql`, `resource_facade`, `Fn::GetAZs`,
//!   `Fn::MemberListToMap`, `Fn::ResourceFacade`; `get_attr` of all attributes (no attribute
//!   name).
//! - `update_policy`.
//! - A parameter and a resource with the same name (HOT tells them apart by `get_param` and
//!   `get_resource`; the IR has one `Ref`).
//!
//! # Known differences from Heat
//!
//! - Before 2015-10-15 Heat's `str_replace` and `list_join` refuse list and map values;
//!   the IR functions write them as JSON (as Heat does from 2015-10-15 on). Before
//!   2016-10-14 `repeat` accepts only lists; the IR function also iterates a map's keys.
//! - YAML is read as YAML 1.2: `yes`/`no`/`on`/`off` are texts, where Heat's YAML 1.1 reader
//!   makes them booleans.
//! - A `length` constraint of a `comma_delimited_list` is checked on each item (iac-core's
//!   rule), where Heat counts the items.
//! - An `allowed_pattern` allows a value that it can match whole in some way; Heat takes
//!   the first match from the start and requires it to end at the end, so `a|ab` refuses
//!   `ab` in Heat and allows it here (see `iac_core::params::WholeValuePattern`).
//! - An output whose value cannot be evaluated for another reason than an undeclared
//!   parameter (an attribute the resource does not give) fails the apply, where Heat shows
//!   the output with its error.
//! - Heat's validation reads the object an `external_id` names and refuses a missing one;
//!   here validation and plans make no calls, and the apply fails the resource instead
//!   (`CREATE_FAILED`, naming the resource and the id). Heat refuses any change of
//!   `external_id`; the engine re-imports a changed id (it still refuses adding or removing
//!   one).
//! - `deletion_policy: Snapshot`: a rollback deletes what the failed apply created without a
//!   backup (Heat backs up a `CREATE_COMPLETE` volume even then), and a volume whose update
//!   failed is backed up (Heat skips `UPDATE_FAILED` ones): no data is deleted without its
//!   backup. `OS::Nova::Server` takes no snapshot here (Heat makes an image).
//!
//! ```
//! use iac_openstack::hot;
//!
//! let t = hot::load_str(r#"
//! heat_template_version: 2018-08-31
//! parameters:
//!   net_name: {type: string, default: private}
//! resources:
//!   net:
//!     type: OS::Neutron::Net
//!     properties: {name: {get_param: net_name}}
//!   subnet:
//!     type: OS::Neutron::Subnet
//!     properties: {network: {get_resource: net}, cidr: 10.0.0.0/24}
//! outputs:
//!   cidr: {value: {get_attr: [subnet, cidr]}}
//! "#).unwrap();
//! assert_eq!(t.version().date(), "2018-08-31");
//! t.validate(&|ty| hot::SUPPORTED_RESOURCE_TYPES.contains(&ty)).unwrap();
//!
//! let bad = hot::load_str(r#"
//! heat_template_version: rocky
//! resources:
//!   port:
//!     type: OS::Neutron::Port
//!     properties: {network: {get_resource: nett}, fixed_ips: [{subnet: {get_param: sub}}]}
//! "#).unwrap();
//! assert_eq!(
//!     bad.validate(&|_| true).unwrap_err().to_string(),
//!     "resources.port.properties.fixed_ips[0].subnet.get_param: get_param names unknown parameter 'sub'\n\
//!      resources.port.properties.network.get_resource: get_resource names unknown resource 'nett'"
//! );
//! ```

mod paths;
mod translate;
mod version;

use std::path::{Path, PathBuf};

use iac_core::loader::{Format, LoadError, Location};
use iac_core::model::Template;
use iac_core::params::{ParamProblem, resolve_parameters};
use iac_core::validate::{ProblemKind, ValidationError, ValidationErrors, validate};
use indexmap::IndexMap;
use serde_json::{Map, Number, Value};

pub use version::HotVersion;

/// The resource types this crate handles. Kept in one place so that it can later come from
/// the handler registry.
pub const SUPPORTED_RESOURCE_TYPES: &[&str] = &[
    "OS::Neutron::Net",
    "OS::Neutron::Subnet",
    "OS::Neutron::Router",
    "OS::Neutron::RouterInterface",
    "OS::Neutron::Port",
    "OS::Neutron::SecurityGroup",
    "OS::Neutron::FloatingIP",
    "OS::Nova::Server",
    "OS::Cinder::Volume",
    "OS::Cinder::VolumeAttachment",
    "OS::Glance::WebImage",
    "OS::Keystone::Project",
];

/// The types among [`SUPPORTED_RESOURCE_TYPES`] whose handler takes a snapshot before a
/// delete (`deletion_policy: Snapshot`): a Cinder volume is backed up. Heat also snapshots
/// `OS::Nova::Server` (as an image); this crate's server handler does not, so validation
/// refuses Snapshot for it, as Heat refuses it for a type without snapshots.
pub const SNAPSHOT_RESOURCE_TYPES: &[&str] = &["OS::Cinder::Volume"];

/// The pseudo parameters of HOT (`get_param: OS::stack_name`); the engine's evaluation
/// context must supply their values.
pub const PSEUDO_PARAMETERS: &[&str] = &["OS::stack_name", "OS::stack_id", "OS::project_id"];

/// A HOT template read into the iac-core IR.
#[derive(Debug, Clone)]
pub struct HotTemplate {
    version: HotVersion,
    template: Template,
    parameter_groups: Vec<Value>,
    problems: Vec<ValidationError>,
    warnings: Vec<ValidationError>,
    hoisted: IndexMap<String, String>,
}

impl HotTemplate {
    /// The `heat_template_version`.
    pub fn version(&self) -> &HotVersion {
        &self.version
    }

    /// The iac-core template the engine runs.
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// The iac-core template, taken out.
    pub fn into_template(self) -> Template {
        self.template
    }

    /// `parameter_groups`, as written (they only order parameters in user interfaces).
    pub fn parameter_groups(&self) -> &[Value] {
        &self.parameter_groups
    }

    /// The problems the import itself found (paths in HOT terms); [`validate`](Self::validate)
    /// reports them with the rest.
    pub fn import_problems(&self) -> &[ValidationError] {
        &self.problems
    }

    /// What Heat accepts when it validates the template and reports only later, with HOT
    /// paths: `get_param` of an undeclared parameter inside an output (the stack is created;
    /// the output shows the error when it is read). [`validate`](Self::validate) passes
    /// over them; the IR holds such a value as `Fn::Error`, so that the engine's report
    /// gives the output its error ([`iac_core::engine::Report::output_errors`]) and the
    /// other outputs their values.
    pub fn warnings(&self) -> &[ValidationError] {
        &self.warnings
    }

    /// Every problem of the template at once (what Heat accepts and reports later is in
    /// [`warnings`](Self::warnings), not here): the import's, the parameter defaults that break
    /// their constraints, and iac-core's validation (references, function shapes, unknown
    /// resource types per `known_types`, dependency cycles), with HOT paths and function
    /// names.
    pub fn validate(&self, known_types: &dyn Fn(&str) -> bool) -> Result<(), ValidationErrors> {
        let mut problems = self.problems.clone();
        problems.extend(self.default_problems());
        for (id, spec) in &self.template.resources {
            let supported = SUPPORTED_RESOURCE_TYPES.contains(&spec.type_name.as_str());
            if spec.deletion_policy == iac_core::model::DeletionPolicy::Snapshot
                && supported
                && !SNAPSHOT_RESOURCE_TYPES.contains(&spec.type_name.as_str())
            {
                problems.push(ValidationError {
                    path: paths::join_key(&paths::join_key("resources", id), "deletion_policy"),
                    kind: ProblemKind::Unsupported,
                    message: format!(
                        "\"Snapshot\" deletion policy not supported: {} takes no snapshots in \
                         this SDK",
                        spec.type_name
                    ),
                });
            }
        }
        if let Err(errors) = validate(&self.template, known_types, PSEUDO_PARAMETERS) {
            for e in errors.errors() {
                // The import checks get_param / get_resource (both `Ref` in the IR) itself,
                // in HOT words.
                let is_ref = matches!(
                    e.kind,
                    ProblemKind::UnknownReference | ProblemKind::WrongReference
                ) && e.message.starts_with("Ref ")
                    && !e.message.contains("in an ExternalId");
                if is_ref {
                    continue;
                }
                problems.push(ValidationError {
                    path: paths::hot_path(&e.path, &self.hoisted),
                    kind: e.kind,
                    message: paths::hot_message(&e.message),
                });
            }
        }
        match ValidationErrors::from_problems(problems) {
            None => Ok(()),
            Some(errors) => Err(errors),
        }
    }

    /// Defaults that break their parameter's type or constraints (Heat checks them when it
    /// validates a template).
    fn default_problems(&self) -> Vec<ValidationError> {
        let Err(errors) = resolve_parameters(&self.template.parameters, &IndexMap::new()) else {
            return Vec::new();
        };
        errors
            .errors
            .into_iter()
            .filter(|e| !matches!(e.problem, ParamProblem::Missing))
            .map(|e| ValidationError {
                path: paths::join_key(&paths::join_key("parameters", &e.parameter), "default"),
                kind: ProblemKind::Unsupported,
                message: e.to_string(),
            })
            .collect()
    }
}

/// Reads a HOT template from text; `get_file` finds nothing (use [`load_with_files`]).
pub fn load_str(text: &str) -> Result<HotTemplate, LoadError> {
    load_with_files(text, &|_| None)
}

/// Reads a HOT template from text; `files` gives the content of each `get_file` name (like
/// the `files` map of Heat's API), `None` when there is none.
pub fn load_with_files(
    text: &str,
    files: &dyn Fn(&str) -> Option<String>,
) -> Result<HotTemplate, LoadError> {
    let (doc, format) = parse(text)?;
    let Value::Object(doc) = doc else {
        return Err(structure(
            format,
            "",
            format!("a template must be a map, found {}", kind_of(&doc)),
        ));
    };
    let version = read_version(&doc, format)?;
    let translated = translate::translate(&doc, &version, files);
    Ok(HotTemplate {
        version,
        template: translated.template,
        parameter_groups: translated.parameter_groups,
        problems: translated.problems,
        warnings: translated.warnings,
        hoisted: translated.hoisted,
    })
}

/// Reads a HOT template file; `get_file` names are read relative to the file's folder (as
/// `openstack stack create -t` does).
pub fn load_path(path: &Path) -> Result<HotTemplate, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        file: path.to_owned(),
        source,
    })?;
    let dir: PathBuf = path.parent().map(Path::to_owned).unwrap_or_default();
    let files = move |name: &str| {
        let name = name.strip_prefix("file://").unwrap_or(name);
        std::fs::read_to_string(dir.join(name)).ok()
    };
    load_with_files(&text, &files).map_err(|err| in_file(err, path))
}

fn in_file(err: LoadError, path: &Path) -> LoadError {
    match err {
        LoadError::Syntax {
            format,
            location,
            message,
        } => LoadError::Syntax {
            format,
            location: Location {
                file: Some(path.to_owned()),
                ..location
            },
            message,
        },
        LoadError::Structure {
            format,
            location,
            path: json_path,
            message,
        } => LoadError::Structure {
            format,
            location: Location {
                file: Some(path.to_owned()),
                ..location
            },
            path: json_path,
            message,
        },
        other => other,
    }
}

fn structure(format: Format, path: &str, message: String) -> LoadError {
    LoadError::Structure {
        format,
        location: Location::default(),
        path: path.to_owned(),
        message,
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn read_version(doc: &Map<String, Value>, format: Format) -> Result<HotVersion, LoadError> {
    const KEY: &str = "heat_template_version";
    let known = || HotVersion::known().collect::<Vec<_>>().join(", ");
    match doc.get(KEY) {
        Some(Value::String(v)) => HotVersion::parse(v).ok_or_else(|| {
            structure(
                format,
                KEY,
                format!("unknown version '{v}' (known: {})", known()),
            )
        }),
        Some(other) => Err(structure(
            format,
            KEY,
            format!("must be a date or a release name, found {}", kind_of(other)),
        )),
        None => Err(structure(
            format,
            "",
            format!("not a HOT template: '{KEY}' is missing"),
        )),
    }
}

/// JSON when the text starts with `{` (Heat's rule), YAML otherwise.
fn parse(text: &str) -> Result<(Value, Format), LoadError> {
    // A byte order mark is not content (Heat's YAML reader skips it too).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('{') {
        let value = serde_json::from_str(text).map_err(|err| LoadError::Syntax {
            format: Format::Json,
            location: Location {
                file: None,
                position: Some((err.line(), err.column())).filter(|&(line, _)| line > 0),
            },
            message: err.to_string(),
        })?;
        return Ok((value, Format::Json));
    }
    let yaml: serde_yaml::Value = serde_yaml::from_str(text).map_err(|err| LoadError::Syntax {
        format: Format::Yaml,
        location: Location {
            file: None,
            position: err.location().map(|l| (l.line(), l.column())),
        },
        message: err.to_string(),
    })?;
    let mut path = String::new();
    let value = yaml_to_json(yaml, &mut path)
        .map_err(|(path, message)| structure(Format::Yaml, &path, message))?;
    Ok((value, Format::Yaml))
}

/// A YAML value as JSON; keys become texts. On error: the path and what is wrong.
fn yaml_to_json(value: serde_yaml::Value, path: &mut String) -> Result<Value, (String, String)> {
    use serde_yaml::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::String(s) => Value::String(s),
        Y::Number(n) => {
            let number = if let Some(i) = n.as_i64() {
                Some(Number::from(i))
            } else if let Some(u) = n.as_u64() {
                Some(Number::from(u))
            } else {
                n.as_f64().and_then(Number::from_f64)
            };
            Value::Number(number.ok_or_else(|| {
                (
                    path.clone(),
                    format!("the number {n} cannot be represented in JSON"),
                )
            })?)
        }
        Y::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                out.push(yaml_to_json(item, path)?);
                path.truncate(len);
            }
            Value::Array(out)
        }
        Y::Mapping(mapping) => {
            let mut out = Map::with_capacity(mapping.len());
            for (key, item) in mapping {
                let key = match key {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    Y::Null => "null".to_owned(),
                    Y::Sequence(_) | Y::Mapping(_) | Y::Tagged(_) => {
                        return Err((
                            path.clone(),
                            "a mapping key must be a text, number or boolean".to_owned(),
                        ));
                    }
                };
                let len = path.len();
                paths::push_key(path, &key);
                let item = yaml_to_json(item, path)?;
                path.truncate(len);
                out.insert(key, item);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            return Err((
                path.clone(),
                format!("YAML tag {} is not part of HOT", tagged.tag),
            ));
        }
    })
}
