//! Plans: what an apply would change, resource by resource and property by property.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::provider::{PhysicalId, Properties, Schema};
use crate::state::{ResourcePhase, ResourceState};

/// What an apply does to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// Create a new object.
    Create,
    /// Change the object in place.
    Update,
    /// Create a new object and delete the old one (a property forces it).
    Replace,
    /// Delete the object (the resource left the template).
    Delete,
    /// Forget the object but leave it in the cloud (`DeletionPolicy: Retain`).
    Forget,
    /// Finish an operation an earlier apply left unfinished (resume).
    Resume,
    /// Adopt the existing object an `ExternalId` names: read it, never create, update or
    /// delete it (`terraform plan`'s "will be imported").
    Import,
    /// Nothing to do.
    NoOp,
}

impl Action {
    /// The sign `terraform plan` would print.
    pub fn sign(&self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Forget => "~-",
            Action::Resume => ">",
            Action::Import => "<=",
            Action::NoOp => " ",
        }
    }
}

/// A property's planned value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Planned {
    /// The value is known now.
    Known(Value),
    /// The value depends on a resource that is not created yet.
    KnownAfterApply,
    /// The property is not set.
    Absent,
}

/// One property's change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyDiff {
    /// The property's name.
    pub name: String,
    /// Its recorded value (redacted), or `None` when it was not set.
    pub before: Option<Value>,
    /// Its planned value (redacted).
    pub after: Planned,
    /// True when this change replaces the resource.
    pub forces_replacement: bool,
}

/// The plan of one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourcePlan {
    /// Its logical id.
    pub logical_id: String,
    /// Its type.
    pub type_name: String,
    /// What happens to it.
    pub action: Action,
    /// Its current object, if any.
    pub physical_id: Option<PhysicalId>,
    /// Changed properties (for a create: every property).
    pub diffs: Vec<PropertyDiff>,
    /// Why, when it is not obvious (the properties forcing a replacement, a failed earlier
    /// create, an unfinished operation).
    pub reason: Option<String>,
}

/// What an apply would do.
///
/// A plan made by [`crate::engine::Engine::plan`] also keeps what it was computed from, so
/// that [`crate::engine::Engine::apply_plan`] applies exactly what was reviewed (that part
/// is neither serialized nor compared: two plans are equal when they plan the same changes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The stack's name.
    pub stack: String,
    /// One entry per resource in the template or the state, in dependency order (deletes
    /// last).
    pub resources: Vec<ResourcePlan>,
    #[serde(skip)]
    pub(crate) basis: PlanBasis,
}

/// What a plan was computed from: the checked template with its parameters, the engine
/// that checked it, and the state it was compared with.
#[derive(Clone, Default)]
pub(crate) struct PlanBasis(pub(crate) Option<Arc<PlanSource>>);

pub(crate) struct PlanSource {
    pub(crate) prepared: crate::engine::run::Prepared,
    /// The engine that planned it (its address): its registry checked the types.
    pub(crate) engine: usize,
    /// The compared state's [`state_fingerprint`]; `None` for a stack with no state.
    pub(crate) state: Option<u64>,
}

/// A digest of what a plan depends on in a state: its serial, when it was saved and, per resource,
/// its id, object, generation, phase, unfinished operation, adoption and snapshots (a
/// journal replayed after a crash changes these without a new save time).
pub(crate) fn state_fingerprint(state: &crate::state::StackState) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    state.serial.hash(&mut h);
    state.updated.hash(&mut h);
    state.resources.len().hash(&mut h);
    for (id, r) in &state.resources {
        id.hash(&mut h);
        r.physical_id.as_ref().map(PhysicalId::as_str).hash(&mut h);
        r.generation.hash(&mut h);
        (r.phase as u8).hash(&mut h);
        r.pending.is_some().hash(&mut h);
        r.deposed.len().hash(&mut h);
        r.external.hash(&mut h);
        r.snapshots.len().hash(&mut h);
    }
    h.finish()
}

impl fmt::Debug for PlanBasis {
    // Parameter values may be secret: the basis shows only whether it is there.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Some(_) => "PlanBasis(kept)",
            None => "PlanBasis(none)",
        })
    }
}

impl PartialEq for PlanBasis {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Plan {
    /// Number of resources with the given action.
    pub fn count(&self, action: Action) -> usize {
        self.resources.iter().filter(|r| r.action == action).count()
    }

    /// True when the apply would change nothing.
    pub fn is_empty(&self) -> bool {
        self.resources.iter().all(|r| r.action == Action::NoOp)
    }

    /// The plan of one resource.
    pub fn resource(&self, logical_id: &str) -> Option<&ResourcePlan> {
        self.resources.iter().find(|r| r.logical_id == logical_id)
    }
}

fn show(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "<unprintable>".into())
}

fn show_planned(planned: &Planned) -> String {
    match planned {
        Planned::Known(v) => show(v),
        Planned::KnownAfterApply => "(known after apply)".into(),
        Planned::Absent => "(unset)".into(),
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return writeln!(
                f,
                "Stack '{}': no changes. The cloud matches the template.",
                self.stack
            );
        }
        writeln!(f, "Stack '{}' plan:", self.stack)?;
        for r in self.resources.iter().filter(|r| r.action != Action::NoOp) {
            write!(
                f,
                "\n  {} {} ({})",
                r.action.sign(),
                r.logical_id,
                r.type_name
            )?;
            if let Some(id) = &r.physical_id {
                write!(f, " {id}")?;
            }
            if let Some(reason) = &r.reason {
                write!(f, "  # {reason}")?;
            }
            writeln!(f)?;
            for d in &r.diffs {
                let tail = if d.forces_replacement {
                    "  # forces replacement"
                } else {
                    ""
                };
                match (&d.before, r.action) {
                    (None, _) | (_, Action::Create) => {
                        writeln!(f, "      + {}: {}{tail}", d.name, show_planned(&d.after))?
                    }
                    (Some(before), _) if d.after == Planned::Absent => {
                        writeln!(f, "      - {}: {}{tail}", d.name, show(before))?
                    }
                    (Some(before), _) => writeln!(
                        f,
                        "      ~ {}: {} -> {}{tail}",
                        d.name,
                        show(before),
                        show_planned(&d.after)
                    )?,
                }
            }
        }
        let n = |a| self.count(a);
        write!(
            f,
            "\nPlan: {} to create, {} to update, {} to replace, {} to delete",
            n(Action::Create),
            n(Action::Update),
            n(Action::Replace),
            n(Action::Delete)
        )?;
        for (action, word) in [
            (Action::Import, "to import"),
            (Action::Forget, "to forget"),
            (Action::Resume, "to resume"),
        ] {
            if n(action) > 0 {
                write!(f, ", {} {word}", n(action))?;
            }
        }
        writeln!(f, ", {} unchanged.", n(Action::NoOp))
    }
}

/// A property value as the planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PlannedValue {
    Known(Value),
    Unknown,
}

/// Decides the action for a resource that is in the template, from its recorded state and
/// its new (redacted) properties. Pure; shared by `plan` and by `apply` when a resource's
/// turn comes (then every value is known).
/// `replacement` is the handler's [`crate::provider::ResourceHandler::replacement_reason`],
/// asked when every new value is known and no property forces a replacement by itself.
pub(crate) fn decide(
    schema: &Schema,
    replacement: &dyn Fn(&Properties, &Properties) -> Option<String>,
    type_name: &str,
    recorded: Option<&ResourceState>,
    new: Vec<(String, PlannedValue)>,
) -> (Action, Vec<PropertyDiff>, Option<String>) {
    // Takes the values: a create shows each of them once, with no copy.
    let all_as_new = |new: Vec<(String, PlannedValue)>| {
        new.into_iter()
            .map(|(name, v)| PropertyDiff {
                name,
                before: None,
                after: match v {
                    PlannedValue::Known(v) => Planned::Known(v),
                    PlannedValue::Unknown => Planned::KnownAfterApply,
                },
                forces_replacement: false,
            })
            .collect::<Vec<_>>()
    };
    let Some(rec) = recorded else {
        return (Action::Create, all_as_new(new), None);
    };
    let Some(physical_id) = &rec.physical_id else {
        let reason = match &rec.pending {
            Some(p) if p.client_token.is_some() => {
                "an earlier create did not finish: it is sent again with its token"
            }
            _ => "an earlier create failed",
        };
        return (
            if rec.pending.is_some() {
                Action::Resume
            } else {
                Action::Create
            },
            all_as_new(new),
            Some(reason.into()),
        );
    };
    if &*rec.type_name != type_name {
        let reason = format!("type changed from {}", rec.type_name);
        return (Action::Replace, all_as_new(new), Some(reason));
    }
    let diffs = property_diffs(schema, &rec.properties, &new);
    let forcing: Vec<&str> = diffs
        .iter()
        .filter(|d| d.forces_replacement)
        .map(|d| d.name.as_str())
        .collect();
    if !forcing.is_empty() {
        let reason = format!("{} forces replacement", forcing.join(", "));
        return (Action::Replace, diffs, Some(reason));
    }
    if !diffs.is_empty() {
        let known: Option<Properties> = new
            .iter()
            .map(|(name, v)| match v {
                PlannedValue::Known(v) => Some((name.clone(), v.clone())),
                PlannedValue::Unknown => None,
            })
            .collect();
        if let Some(reason) = known.and_then(|known| replacement(&rec.properties, &known)) {
            return (Action::Replace, diffs, Some(reason));
        }
    }
    if rec.phase == ResourcePhase::Failed {
        let why = rec
            .failure
            .as_deref()
            .unwrap_or("its last operation failed");
        return (
            Action::Replace,
            diffs,
            Some(format!("{physical_id} is tainted: {why}")),
        );
    }
    if rec.pending.is_some()
        || matches!(rec.phase, ResourcePhase::Creating | ResourcePhase::Updating)
    {
        if diffs.is_empty() {
            return (
                Action::Resume,
                diffs,
                Some("an earlier apply did not finish it".into()),
            );
        }
        return (
            Action::Update,
            diffs,
            Some("an earlier apply did not finish it".into()),
        );
    }
    if diffs.is_empty() {
        (Action::NoOp, diffs, None)
    } else {
        (Action::Update, diffs, None)
    }
}

fn property_diffs(
    schema: &Schema,
    before: &Properties,
    new: &[(String, PlannedValue)],
) -> Vec<PropertyDiff> {
    let mut diffs = Vec::new();
    for (name, value) in new {
        let old = before.get(name);
        let after = match value {
            PlannedValue::Known(v) if old == Some(v) => continue,
            PlannedValue::Known(v) => Planned::Known(v.clone()),
            PlannedValue::Unknown => Planned::KnownAfterApply,
        };
        diffs.push(PropertyDiff {
            name: name.clone(),
            before: old.cloned(),
            after,
            forces_replacement: schema.forces_replacement(name),
        });
    }
    for (name, old) in before {
        if !new.iter().any(|(n, _)| n == name) {
            diffs.push(PropertyDiff {
                name: name.clone(),
                before: Some(old.clone()),
                after: Planned::Absent,
                forces_replacement: schema.forces_replacement(name),
            });
        }
    }
    diffs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::UpdateBehavior;
    use serde_json::json;

    fn recorded(props: Value) -> ResourceState {
        ResourceState {
            type_name: "T::X".into(),
            physical_id: Some(PhysicalId::new("x-1")),
            phase: ResourcePhase::Ready,
            properties: std::sync::Arc::new(props.as_object().cloned().unwrap()),
            attributes: Default::default(),
            depends_on: Default::default(),
            generation: 1,
            deletion_policy: Default::default(),
            pending: None,
            deposed: Default::default(),
            failure: None,
            external: false,
            snapshots: Default::default(),
        }
    }

    #[test]
    fn a_plan_with_its_basis_can_cross_threads() {
        fn send_and_sync<T: Send + Sync>() {}
        send_and_sync::<Plan>();
    }

    fn schema() -> Schema {
        Schema::new("T::X")
            .with_property("Name", false, UpdateBehavior::Mutable)
            .with_property("Zone", true, UpdateBehavior::ForcesReplacement)
    }

    fn known(name: &str, v: Value) -> (String, PlannedValue) {
        (name.into(), PlannedValue::Known(v))
    }

    #[test]
    fn no_change_is_a_no_op() {
        let rec = recorded(json!({"Name": "a", "Zone": "z"}));
        let (action, diffs, _) = decide(
            &schema(),
            &|_, _| None,
            "T::X",
            Some(&rec),
            vec![known("Name", json!("a")), known("Zone", json!("z"))],
        );
        assert_eq!(action, Action::NoOp);
        assert!(diffs.is_empty());
    }

    #[test]
    fn mutable_change_updates_and_forcing_change_replaces() {
        let rec = recorded(json!({"Name": "a", "Zone": "z"}));
        let (action, diffs, _) = decide(
            &schema(),
            &|_, _| None,
            "T::X",
            Some(&rec),
            vec![known("Name", json!("b")), known("Zone", json!("z"))],
        );
        assert_eq!(action, Action::Update);
        assert_eq!(diffs.len(), 1);
        let (action, _, reason) = decide(
            &schema(),
            &|_, _| None,
            "T::X",
            Some(&rec),
            vec![known("Name", json!("a")), known("Zone", json!("y"))],
        );
        assert_eq!(action, Action::Replace);
        assert_eq!(reason.as_deref(), Some("Zone forces replacement"));
    }

    #[test]
    fn unknown_values_count_as_changes_and_removed_properties_show() {
        let rec = recorded(json!({"Name": "a", "Zone": "z"}));
        let (action, diffs, _) = decide(
            &schema(),
            &|_, _| None,
            "T::X",
            Some(&rec),
            vec![("Zone".into(), PlannedValue::Unknown)],
        );
        assert_eq!(action, Action::Replace);
        assert_eq!(
            diffs.iter().find(|d| d.name == "Name").unwrap().after,
            Planned::Absent
        );
    }

    #[test]
    fn failed_objects_are_replaced_and_type_changes_replace() {
        let mut rec = recorded(json!({"Zone": "z"}));
        rec.phase = ResourcePhase::Failed;
        assert_eq!(
            decide(
                &schema(),
                &|_, _| None,
                "T::X",
                Some(&rec),
                vec![known("Zone", json!("z"))]
            )
            .0,
            Action::Replace
        );
        let rec = recorded(json!({"Zone": "z"}));
        assert_eq!(
            decide(
                &schema(),
                &|_, _| None,
                "T::Y",
                Some(&rec),
                vec![known("Zone", json!("z"))]
            )
            .0,
            Action::Replace
        );
        assert_eq!(
            decide(
                &schema(),
                &|_, _| None,
                "T::X",
                None,
                vec![known("Zone", json!("z"))]
            )
            .0,
            Action::Create
        );
    }
}
