//! The typed Rust front-end: build a [`Template`] in plain Rust.
//!
//! A [`Stack`] collects parameters, conditions, mappings, resources and outputs, and
//! [`Stack::template`] gives the same [`Template`] a ROS JSON file describing the same stack
//! reads into. Resource property structs (defined by the cloud crates) implement
//! [`Resource`]; their fields are [`Prop<T>`] values, literals or references such as
//! `vpc.vpc_id()`.
//!
//! Mistakes in what the user builds (a logical id used twice, a malformed `Fn::Sub`, a
//! `NaN` default) never panic: they are recorded and [`Stack::template`] returns them all
//! in a [`StackError`].
//!
//! # Defining a resource type
//!
//! A cloud crate writes one property struct and one attribute struct per resource type. The
//! attribute struct wraps a [`ResourceRef`]; [`Handle<R>`] dereferences to it, which is how
//! `vpc.vpc_id()` works on a handle of a type defined in another crate.
//!
//! ```
//! use iac_core::stack::{Prop, Resource, ResourceRef};
//! use serde::Serialize;
//!
//! /// `ALIYUN::ECS::VPC`.
//! #[derive(Debug, Clone, Default, Serialize)]
//! #[serde(rename_all = "PascalCase")]
//! pub struct Vpc {
//!     #[serde(skip_serializing_if = "Prop::is_unset")]
//!     pub cidr_block: Prop<String>,
//!     #[serde(skip_serializing_if = "Prop::is_unset")]
//!     pub vpc_name: Prop<String>,
//! }
//!
//! /// The attributes of a `Vpc`.
//! #[derive(Debug, Clone)]
//! pub struct VpcAttrs(ResourceRef);
//!
//! impl From<ResourceRef> for VpcAttrs {
//!     fn from(reference: ResourceRef) -> Self {
//!         VpcAttrs(reference)
//!     }
//! }
//!
//! impl VpcAttrs {
//!     /// `VpcId`.
//!     pub fn vpc_id(&self) -> Prop<String> {
//!         self.0.attr("VpcId")
//!     }
//! }
//!
//! impl Resource for Vpc {
//!     const TYPE_NAME: &'static str = "ALIYUN::ECS::VPC";
//!     type Attrs = VpcAttrs;
//! }
//! ```

mod param;
mod prop;

use std::fmt;
use std::ops::Deref;

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

use crate::expr::{Expr, ExprMap};
use crate::model::{DeletionPolicy, OutputSpec, ResourceSpec, Template, Text};
use crate::provider::ErrorKind;

pub use param::{Param, ParamError};
pub use prop::{Prop, PropError};

/// A resource property struct: serialises to the resource's `Properties` with the vendor's
/// property names.
///
/// The struct must serialise to a JSON object (or `null` for a type without properties);
/// unset optional properties are left out with
/// `#[serde(skip_serializing_if = "Prop::is_unset")]`.
pub trait Resource: Serialize {
    /// The vendor's type name (`ALIYUN::ECS::VPC`).
    const TYPE_NAME: &'static str;
    /// The typed attributes a [`Handle`] of this resource offers (use [`ResourceRef`] for
    /// a type with no attribute methods).
    type Attrs: From<ResourceRef> + Clone;
}

/// A reference to a resource of a stack, by logical id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceRef {
    logical_id: String,
}

impl ResourceRef {
    /// A reference to the resource `logical_id`.
    pub fn new(logical_id: impl Into<String>) -> Self {
        ResourceRef {
            logical_id: logical_id.into(),
        }
    }

    /// The logical id.
    pub fn logical_id(&self) -> &str {
        &self.logical_id
    }

    /// `{"Fn::GetAtt": [logical_id, name]}`: an attribute of the resource.
    pub fn attr<T>(&self, name: impl Into<String>) -> Prop<T> {
        Prop::Expr(Expr::get_att(self.logical_id.clone(), name))
    }

    /// `{"Ref": logical_id}`: the resource's physical id.
    pub fn id(&self) -> Prop<String> {
        Prop::Expr(Expr::reference(self.logical_id.clone()))
    }
}

impl AsRef<ResourceRef> for ResourceRef {
    fn as_ref(&self) -> &ResourceRef {
        self
    }
}

/// A typed reference to a resource added to a [`Stack`]: dereferences to the resource's
/// attribute methods (`vpc.vpc_id()`).
pub struct Handle<R: Resource> {
    reference: ResourceRef,
    attrs: R::Attrs,
}

impl<R: Resource> Handle<R> {
    fn new(reference: ResourceRef) -> Self {
        Handle {
            attrs: R::Attrs::from(reference.clone()),
            reference,
        }
    }

    /// The logical id.
    pub fn logical_id(&self) -> &str {
        self.reference.logical_id()
    }

    /// The resource's type name.
    pub fn type_name(&self) -> &'static str {
        R::TYPE_NAME
    }

    /// The untyped reference (for [`ResourceOptions::depends_on`] and [`ResourceRef::attr`]).
    pub fn reference(&self) -> &ResourceRef {
        &self.reference
    }

    /// `{"Ref": logical_id}`: the resource's physical id.
    pub fn id(&self) -> Prop<String> {
        self.reference.id()
    }

    /// `{"Fn::GetAtt": [logical_id, name]}`: an attribute with no typed method.
    pub fn attr<T>(&self, name: impl Into<String>) -> Prop<T> {
        self.reference.attr(name)
    }
}

impl<R: Resource> Deref for Handle<R> {
    type Target = R::Attrs;

    fn deref(&self) -> &R::Attrs {
        &self.attrs
    }
}

impl<R: Resource> Clone for Handle<R> {
    fn clone(&self) -> Self {
        Handle {
            reference: self.reference.clone(),
            attrs: self.attrs.clone(),
        }
    }
}

impl<R: Resource> fmt::Debug for Handle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("type_name", &R::TYPE_NAME)
            .field("logical_id", &self.reference.logical_id)
            .finish()
    }
}

impl<R: Resource> AsRef<ResourceRef> for Handle<R> {
    fn as_ref(&self) -> &ResourceRef {
        &self.reference
    }
}

/// Options of a resource besides its properties, for [`Stack::add_with`].
///
/// ```
/// use iac_core::model::DeletionPolicy;
/// use iac_core::stack::{ResourceOptions, ResourceRef};
///
/// let options = ResourceOptions::new()
///     .depends_on(ResourceRef::new("Vpc"))
///     .deletion_policy(DeletionPolicy::Retain);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceOptions {
    depends_on: Vec<String>,
    condition: Option<String>,
    deletion_policy: DeletionPolicy,
    external_id: Option<Prop<String>>,
    metadata: Option<Value>,
}

impl ResourceOptions {
    /// No options: no explicit dependencies, no condition, `DeletionPolicy: Delete`.
    pub fn new() -> Self {
        ResourceOptions::default()
    }

    /// `DependsOn`: create this resource after `resource` (a [`Handle`] or a
    /// [`ResourceRef`]), even with no reference between them. Repeats are kept once.
    pub fn depends_on(mut self, resource: impl AsRef<ResourceRef>) -> Self {
        let id = resource.as_ref().logical_id();
        if !self.depends_on.iter().any(|d| d == id) {
            self.depends_on.push(id.to_owned());
        }
        self
    }

    /// `Condition`: the resource exists only when the condition is true.
    pub fn condition(mut self, condition: &Condition) -> Self {
        self.condition = Some(condition.name.clone());
        self
    }

    /// `DeletionPolicy`.
    pub fn deletion_policy(mut self, policy: DeletionPolicy) -> Self {
        self.deletion_policy = policy;
        self
    }

    /// `DeletionPolicy: Retain`: the cloud object stays when the resource leaves the stack.
    pub fn retain(self) -> Self {
        self.deletion_policy(DeletionPolicy::Retain)
    }

    /// `ExternalId`: adopt the existing object with this id (a literal or a parameter)
    /// instead of creating one. The engine reads it, never updates nor deletes it (see
    /// [`crate::model::ResourceSpec::external_id`]).
    ///
    /// ```
    /// use iac_core::stack::{Param, Prop, Resource, ResourceOptions, ResourceRef, Stack};
    ///
    /// #[derive(Default, serde::Serialize)]
    /// struct Volume {}
    /// impl Resource for Volume {
    ///     const TYPE_NAME: &'static str = "OS::Cinder::Volume";
    ///     type Attrs = ResourceRef;
    /// }
    ///
    /// let mut stack = Stack::new("data");
    /// let id = stack.parameter("VolumeId", Param::string());
    /// stack.add_with("Data", Volume {}, ResourceOptions::new().external_id(id));
    /// let template = stack.template().unwrap();
    /// assert_eq!(
    ///     serde_json::to_value(&template.resources["Data"].external_id).unwrap(),
    ///     serde_json::json!({"Ref": "VolumeId"})
    /// );
    /// ```
    pub fn external_id(mut self, id: impl Into<Prop<String>>) -> Self {
        self.external_id = Some(id.into());
        self
    }

    /// `Metadata`, written as given.
    pub fn metadata(mut self, metadata: impl Into<Value>) -> Self {
        self.metadata = Some(metadata.into());
        self
    }
}

/// Options of an output besides its value, for [`Stack::output_with`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputOptions {
    description: Option<Text>,
    condition: Option<String>,
}

impl OutputOptions {
    /// No options.
    pub fn new() -> Self {
        OutputOptions::default()
    }

    /// `Description`.
    pub fn description(mut self, text: impl Into<Text>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// `Condition`: the output exists only when the condition is true.
    pub fn condition(mut self, condition: &Condition) -> Self {
        self.condition = Some(condition.name.clone());
        self
    }
}

/// A named condition declared with [`Stack::condition`], for [`Prop::if_`],
/// [`ResourceOptions::condition`] and [`OutputOptions::condition`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Condition {
    name: String,
}

impl Condition {
    /// The condition's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A boolean condition expression: `Fn::Equals`, `Fn::And`, `Fn::Or`, `Fn::Not`, or another
/// named condition.
///
/// ```
/// use iac_core::stack::{Cond, Param, Stack};
///
/// let mut stack = Stack::new("demo");
/// let env = stack.parameter("Env", Param::string().allowed_values(["dev", "prod"]));
/// let prod = stack.condition("IsProd", Cond::equals(env, "prod".into()));
/// let big = stack.parameter("Big", Param::boolean().default(false));
/// let small_prod = stack.condition(
///     "IsSmallProd",
///     Cond::and([Cond::from(&prod), Cond::not(Cond::equals(big, true.into()))]),
/// );
/// assert_eq!(small_prod.name(), "IsSmallProd");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Cond {
    expr: Result<Expr, PropError>,
}

impl Cond {
    /// `{"Fn::Equals": [a, b]}`.
    pub fn equals<T: Serialize>(a: Prop<T>, b: Prop<T>) -> Self {
        const F: &str = "Fn::Equals";
        let args = || Ok(Expr::List(vec![a.into_arg(F)?, b.into_arg(F)?]));
        Cond::call(F, args())
    }

    /// `{"Fn::And": [c, ...]}`: true when every condition is.
    pub fn and(conditions: impl IntoIterator<Item = Cond>) -> Self {
        Cond::call("Fn::And", Cond::list(conditions))
    }

    /// `{"Fn::Or": [c, ...]}`: true when any condition is.
    pub fn or(conditions: impl IntoIterator<Item = Cond>) -> Self {
        Cond::call("Fn::Or", Cond::list(conditions))
    }

    /// `{"Fn::Not": c}`: true when the condition is false (also written `!condition`).
    // The name mirrors `Fn::Not` next to `and`/`or`; `std::ops::Not` is implemented too.
    #[allow(clippy::should_implement_trait)]
    pub fn not(condition: Cond) -> Self {
        Cond::call("Fn::Not", condition.expr)
    }

    /// The condition as an expression, or why it could not be built.
    pub fn to_expr(&self) -> Result<&Expr, &PropError> {
        self.expr.as_ref()
    }

    fn list(conditions: impl IntoIterator<Item = Cond>) -> Result<Expr, PropError> {
        conditions
            .into_iter()
            .map(|c| c.expr)
            .collect::<Result<Vec<_>, _>>()
            .map(Expr::List)
    }

    fn call(function: &str, args: Result<Expr, PropError>) -> Self {
        Cond {
            expr: args.map(|args| Expr::call(function, args)),
        }
    }
}

/// `!c` is `{"Fn::Not": c}`.
impl std::ops::Not for Cond {
    type Output = Cond;

    fn not(self) -> Cond {
        Cond::not(self)
    }
}

/// `{"Condition": name}`: the value of a named condition.
impl From<&Condition> for Cond {
    fn from(condition: &Condition) -> Self {
        Cond {
            expr: Ok(Expr::call(
                "Condition",
                Expr::String(condition.name.clone()),
            )),
        }
    }
}

/// A mapping: top-level key → second-level key → value, for [`Stack::mapping`].
///
/// ```
/// use iac_core::stack::Mapping;
///
/// let images = Mapping::new()
///     .entry("cn-hangzhou", [("Ubuntu", "ubuntu_22_04_x64_20G_alibase_20240130.vhd")])
///     .entry("cn-beijing", [("Ubuntu", "ubuntu_22_04_x64_20G_alibase_20240130.vhd")]);
/// # let _ = images;
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mapping {
    entries: IndexMap<String, IndexMap<String, Value>>,
}

impl Mapping {
    /// An empty mapping.
    pub fn new() -> Self {
        Mapping::default()
    }

    /// Adds (or extends) the top-level key `key` with second-level `pairs`.
    pub fn entry<I, K, V>(mut self, key: impl Into<String>, pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<Value>,
    {
        let entry = self.entries.entry(key.into()).or_default();
        for (k, v) in pairs {
            entry.insert(k.into(), v.into());
        }
        self
    }
}

/// A mapping declared with [`Stack::mapping`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MappingRef {
    name: String,
}

impl MappingRef {
    /// The mapping's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `{"Fn::FindInMap": [name, top, second]}`: the value under the two keys.
    pub fn find<T>(
        &self,
        top: impl Into<Prop<String>>,
        second: impl Into<Prop<String>>,
    ) -> Prop<T> {
        const F: &str = "Fn::FindInMap";
        let args = || {
            Ok(Expr::List(vec![
                Expr::String(self.name.clone()),
                top.into().into_arg(F)?,
                second.into().into_arg(F)?,
            ]))
        };
        match args() {
            Ok(args) => Prop::Expr(Expr::call(F, args)),
            Err(err) => Prop::Invalid(err),
        }
    }
}

/// A section of a template, named in [`StackProblem`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Section {
    /// `Parameters`.
    Parameters,
    /// `Mappings`.
    Mappings,
    /// `Conditions`.
    Conditions,
    /// `Resources`.
    Resources,
    /// `Outputs`.
    Outputs,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Section::Parameters => "Parameters",
            Section::Mappings => "Mappings",
            Section::Conditions => "Conditions",
            Section::Resources => "Resources",
            Section::Outputs => "Outputs",
        })
    }
}

/// One mistake found while building a [`Stack`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StackProblem {
    /// A name is empty or holds characters other than ASCII letters, digits, `_` and `-`.
    #[error("{section}.{name:?}: not a valid name (use ASCII letters, digits, '_' and '-')")]
    InvalidName {
        /// Where the name was declared.
        section: Section,
        /// The name as given.
        name: String,
    },
    /// A name was declared twice in the same section; the first declaration is kept.
    #[error("{section}.{name}: declared twice (the first declaration is kept)")]
    Duplicate {
        /// The section.
        section: Section,
        /// The name.
        name: String,
    },
    /// A name is both a parameter and a resource, so `{"Ref": name}` is ambiguous.
    #[error("Parameters.{name} and Resources.{name}: {{\"Ref\": {name:?}}} is ambiguous")]
    RefClash {
        /// The name.
        name: String,
    },
    /// A parameter builder was given a value that cannot be written.
    #[error("Parameters.{name}: {source}")]
    Parameter {
        /// The parameter.
        name: String,
        /// What is wrong.
        #[source]
        source: ParamError,
    },
    /// A condition could not be built.
    #[error("Conditions.{name}: {source}")]
    Condition {
        /// The condition.
        name: String,
        /// What is wrong.
        #[source]
        source: PropError,
    },
    /// A resource's properties could not be written.
    #[error("Resources.{logical_id} ({type_name}): properties cannot be written: {message}")]
    Properties {
        /// The resource.
        logical_id: String,
        /// Its type.
        type_name: String,
        /// What is wrong (an invalid [`Prop`], a serialisation failure).
        message: String,
    },
    /// A resource's properties did not serialise to a JSON object.
    #[error(
        "Resources.{logical_id} ({type_name}): properties must be a JSON object, found {found}"
    )]
    NotAnObject {
        /// The resource.
        logical_id: String,
        /// Its type.
        type_name: String,
        /// The JSON kind found (`a string`, `a list`, ...).
        found: &'static str,
    },
    /// An output has no value (it is unset) or its value could not be built.
    #[error("Outputs.{name}: {source}")]
    Output {
        /// The output.
        name: String,
        /// What is wrong.
        #[source]
        source: PropError,
    },
}

/// The mistakes found while building a [`Stack`], returned by [`Stack::template`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("stack {stack:?} is not valid: {}", list(.problems))]
pub struct StackError {
    stack: String,
    problems: Vec<StackProblem>,
}

fn list(problems: &[StackProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl StackError {
    /// The stack's name.
    pub fn stack(&self) -> &str {
        &self.stack
    }

    /// Every problem, in the order they were made.
    pub fn problems(&self) -> &[StackProblem] {
        &self.problems
    }

    /// Always [`ErrorKind::Invalid`]: the stack must be fixed, retrying cannot help.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }
}

/// A stack written in Rust: parameters, conditions, mappings, resources and outputs that
/// become a [`Template`].
///
/// Every method that declares something takes the name it declares and returns a typed
/// reference to it. Mistakes are recorded, never panicked on, and returned by
/// [`Stack::template`].
///
/// ```
/// use iac_core::model::DeletionPolicy;
/// use iac_core::stack::{Cond, OutputOptions, Param, Prop, Resource, ResourceOptions, ResourceRef, Stack};
/// use serde::Serialize;
///
/// // A resource type, as a cloud crate defines it.
/// #[derive(Default, Serialize)]
/// #[serde(rename_all = "PascalCase")]
/// struct Bucket {
///     bucket_name: Prop<String>,
///     #[serde(skip_serializing_if = "Prop::is_unset")]
///     access_control: Prop<String>,
/// }
/// impl Resource for Bucket {
///     const TYPE_NAME: &'static str = "ALIYUN::OSS::Bucket";
///     type Attrs = ResourceRef;
/// }
///
/// let mut stack = Stack::new("site");
/// stack.description("A bucket for the web site");
/// let env = stack.parameter("Env", Param::string().default("dev").allowed_values(["dev", "prod"]));
/// let prod = stack.condition("IsProd", Cond::equals(env.clone(), "prod".into()));
/// let bucket = stack.add_with(
///     "Site",
///     Bucket {
///         bucket_name: Prop::join("-", [Prop::pseudo("ALIYUN::StackName"), env]),
///         access_control: Prop::if_(&prod, "public-read", "private"),
///     },
///     ResourceOptions::new().deletion_policy(DeletionPolicy::Retain),
/// );
/// stack.output_with(
///     "DomainName",
///     bucket.attr::<String>("DomainName"),
///     OutputOptions::new().description("Where the site is served"),
/// );
///
/// let template = stack.template().expect("a valid stack");
/// assert_eq!(template.resources["Site"].type_name, "ALIYUN::OSS::Bucket");
/// assert_eq!(
///     serde_json::to_value(&template.resources["Site"].properties["AccessControl"]).unwrap(),
///     serde_json::json!({"Fn::If": ["IsProd", "public-read", "private"]})
/// );
///
/// // A second resource with the same logical id is reported, not panicked on.
/// stack.add("Site", Bucket { bucket_name: "other".into(), ..Default::default() });
/// let err = stack.template().unwrap_err();
/// assert_eq!(err.to_string(), "stack \"site\" is not valid: Resources.Site: declared twice (the first declaration is kept)");
/// ```
#[derive(Clone)]
pub struct Stack {
    name: String,
    template: Template,
    problems: Vec<StackProblem>,
}

impl Stack {
    /// An empty stack called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Stack {
            name: name.into(),
            template: Template::default(),
            problems: Vec::new(),
        }
    }

    /// The stack's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets the template's `Description`.
    pub fn description(&mut self, text: impl Into<Text>) {
        self.template.description = Some(text.into());
    }

    /// Sets the template's `Metadata`.
    pub fn metadata(&mut self, metadata: impl Into<Value>) {
        self.template.metadata = Some(metadata.into());
    }

    /// Declares the parameter `name` and returns `{"Ref": name}` typed as its values.
    pub fn parameter<T>(&mut self, name: impl Into<String>, param: Param<T>) -> Prop<T> {
        let name = name.into();
        let (decl, problems) = param.into_parts();
        if self.check_name(Section::Parameters, &name) {
            if self.template.resources.contains_key(&name) {
                self.problems
                    .push(StackProblem::RefClash { name: name.clone() });
            }
            self.problems
                .extend(problems.into_iter().map(|source| StackProblem::Parameter {
                    name: name.clone(),
                    source,
                }));
            self.template.parameters.insert(name.clone(), decl);
        }
        Prop::Expr(Expr::reference(name))
    }

    /// Declares the condition `name`.
    pub fn condition(&mut self, name: impl Into<String>, condition: Cond) -> Condition {
        let name = name.into();
        if self.check_name(Section::Conditions, &name) {
            match condition.expr {
                Ok(expr) => {
                    self.template.conditions.insert(name.clone(), expr);
                }
                Err(source) => self.problems.push(StackProblem::Condition {
                    name: name.clone(),
                    source,
                }),
            }
        }
        Condition { name }
    }

    /// Declares the mapping `name`.
    pub fn mapping(&mut self, name: impl Into<String>, mapping: Mapping) -> MappingRef {
        let name = name.into();
        if self.check_name(Section::Mappings, &name) {
            self.template.mappings.insert(name.clone(), mapping.entries);
        }
        MappingRef { name }
    }

    /// Adds the resource `logical_id` with these properties.
    pub fn add<R: Resource>(&mut self, logical_id: impl Into<String>, properties: R) -> Handle<R> {
        self.add_with(logical_id, properties, ResourceOptions::default())
    }

    /// Adds the resource `logical_id` with these properties and options.
    pub fn add_with<R: Resource>(
        &mut self,
        logical_id: impl Into<String>,
        properties: R,
        options: ResourceOptions,
    ) -> Handle<R> {
        let logical_id = logical_id.into();
        let written = serde_json::to_value(&properties);
        let reference = self.add_resource(logical_id, R::TYPE_NAME, written, options);
        Handle::new(reference)
    }

    /// Adds a resource of a type that has no typed struct: `properties` is the
    /// `Properties` object as written in a template.
    pub fn add_untyped(
        &mut self,
        logical_id: impl Into<String>,
        type_name: impl Into<String>,
        properties: ExprMap,
        options: ResourceOptions,
    ) -> ResourceRef {
        let type_name = type_name.into();
        let written = Ok(Expr::Map(properties).to_json());
        self.add_resource(logical_id.into(), &type_name, written, options)
    }

    fn add_resource(
        &mut self,
        logical_id: String,
        type_name: &str,
        written: serde_json::Result<Value>,
        options: ResourceOptions,
    ) -> ResourceRef {
        let reference = ResourceRef::new(logical_id.clone());
        if !self.check_name(Section::Resources, &logical_id) {
            return reference;
        }
        if self.template.parameters.contains_key(&logical_id) {
            self.problems.push(StackProblem::RefClash {
                name: logical_id.clone(),
            });
        }
        let properties = match written {
            Ok(Value::Object(map)) => map
                .into_iter()
                .map(|(k, v)| (k, Expr::from_json(v)))
                .collect(),
            Ok(Value::Null) => ExprMap::new(),
            Ok(other) => {
                self.problems.push(StackProblem::NotAnObject {
                    logical_id: logical_id.clone(),
                    type_name: type_name.to_owned(),
                    found: json_kind(&other),
                });
                ExprMap::new()
            }
            Err(err) => {
                self.problems.push(StackProblem::Properties {
                    logical_id: logical_id.clone(),
                    type_name: type_name.to_owned(),
                    message: err.to_string(),
                });
                ExprMap::new()
            }
        };
        let mut spec = ResourceSpec::new(type_name);
        spec.properties = properties;
        spec.depends_on = options.depends_on;
        spec.condition = options.condition;
        spec.deletion_policy = options.deletion_policy;
        spec.external_id = match options.external_id.map(|id| id.into_arg("ExternalId")) {
            None => None,
            Some(Ok(expr)) => Some(expr),
            Some(Err(err)) => {
                self.problems.push(StackProblem::Properties {
                    logical_id: logical_id.clone(),
                    type_name: type_name.to_owned(),
                    message: err.to_string(),
                });
                None
            }
        };
        spec.metadata = options.metadata;
        self.template.resources.insert(logical_id, spec);
        reference
    }

    /// Declares the output `name` with this value.
    pub fn output<T: Serialize>(&mut self, name: impl Into<String>, value: Prop<T>) {
        self.output_with(name, value, OutputOptions::default());
    }

    /// Declares the output `name` with this value and options (description, condition).
    pub fn output_with<T: Serialize>(
        &mut self,
        name: impl Into<String>,
        value: Prop<T>,
        options: OutputOptions,
    ) {
        let name = name.into();
        if !self.check_name(Section::Outputs, &name) {
            return;
        }
        match value.into_arg("the output") {
            Ok(expr) => {
                let mut spec = OutputSpec::new(expr);
                spec.description = options.description;
                spec.condition = options.condition;
                self.template.outputs.insert(name, spec);
            }
            Err(source) => self.problems.push(StackProblem::Output { name, source }),
        }
    }

    /// The problems recorded so far.
    pub fn problems(&self) -> &[StackProblem] {
        &self.problems
    }

    /// The template of the stack, or every problem recorded while building it.
    ///
    /// The template has no `ROSTemplateFormatVersion` (exporters add it).
    pub fn template(&self) -> Result<Template, StackError> {
        if self.problems.is_empty() {
            Ok(self.template.clone())
        } else {
            Err(StackError {
                stack: self.name.clone(),
                problems: self.problems.clone(),
            })
        }
    }

    /// Records a problem and returns false if `name` is not a valid name or is already
    /// declared in `section`.
    fn check_name(&mut self, section: Section, name: &str) -> bool {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            self.problems.push(StackProblem::InvalidName {
                section,
                name: name.to_owned(),
            });
            return false;
        }
        let taken = match section {
            Section::Parameters => self.template.parameters.contains_key(name),
            Section::Mappings => self.template.mappings.contains_key(name),
            Section::Conditions => self.template.conditions.contains_key(name),
            Section::Resources => self.template.resources.contains_key(name),
            Section::Outputs => self.template.outputs.contains_key(name),
        };
        if taken {
            self.problems.push(StackProblem::Duplicate {
                section,
                name: name.to_owned(),
            });
        }
        !taken
    }
}

/// Prints names, types and problems, never values (a `NoEcho` parameter's default is a
/// secret).
impl fmt::Debug for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.template;
        f.debug_struct("Stack")
            .field("name", &self.name)
            .field("parameters", &t.parameters.keys().collect::<Vec<_>>())
            .field("conditions", &t.conditions.keys().collect::<Vec<_>>())
            .field(
                "resources",
                &t.resources
                    .iter()
                    .map(|(id, spec)| (id, &spec.type_name))
                    .collect::<Vec<_>>(),
            )
            .field("outputs", &t.outputs.keys().collect::<Vec<_>>())
            .field("problems", &self.problems)
            .finish()
    }
}

impl TryFrom<&Stack> for Template {
    type Error = StackError;

    fn try_from(stack: &Stack) -> Result<Template, StackError> {
        stack.template()
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Text::Plain(text)
    }
}
