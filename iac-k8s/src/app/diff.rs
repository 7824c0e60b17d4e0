//! Differences between two rendered releases, service by service and object by object,
//! as readable unified diffs of the rendered YAML.

use std::fmt;

use serde_json::Value;
use similar::TextDiff;

use super::template::{RenderedRelease, describe, is_secret, object_key, redacted};
use crate::manifests::render_yaml;

/// How a service or an object differs between two releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// Only in the new release.
    Added,
    /// Only in the old release.
    Removed,
    /// In both, different.
    Modified,
    /// In both, the same.
    Unchanged,
}

impl Change {
    fn word(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Modified => "modified",
            Change::Unchanged => "unchanged",
        }
    }
}

/// One object's difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectDiff {
    /// The object (`apps/v1 Deployment web`).
    pub object: String,
    /// How it differs.
    pub change: Change,
    /// The unified diff of its YAML (empty when unchanged).
    pub unified: String,
}

/// One service's difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDiff {
    /// The service.
    pub service: String,
    /// How it differs (modified when any of its objects or dependencies differs).
    pub change: Change,
    /// Its objects that differ, in the new release's order, then the removed ones.
    pub objects: Vec<ObjectDiff>,
}

/// The difference between two releases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseDiff {
    /// What the old release is called in the diff headers (`revision 1`).
    pub from: String,
    /// What the new release is called (`revision 2`).
    pub to: String,
    /// Every service of either release: the new release's order, then removed ones.
    pub services: Vec<ServiceDiff>,
}

impl ReleaseDiff {
    /// The services an upgrade from `from` to `to` applies (added or modified), in the new
    /// release's dependency order.
    pub fn to_update(&self) -> Vec<&str> {
        self.with(|c| matches!(c, Change::Added | Change::Modified))
    }

    /// The services the upgrade deletes.
    pub fn to_remove(&self) -> Vec<&str> {
        self.with(|c| c == Change::Removed)
    }

    /// The services it leaves alone.
    pub fn unchanged(&self) -> Vec<&str> {
        self.with(|c| c == Change::Unchanged)
    }

    /// True when the releases render the same objects.
    pub fn is_empty(&self) -> bool {
        self.services.iter().all(|s| s.change == Change::Unchanged)
    }

    /// The difference of one service.
    pub fn service(&self, name: &str) -> Option<&ServiceDiff> {
        self.services.iter().find(|s| s.service == name)
    }

    fn with(&self, f: impl Fn(Change) -> bool) -> Vec<&str> {
        self.services
            .iter()
            .filter(|s| f(s.change))
            .map(|s| s.service.as_str())
            .collect()
    }
}

impl fmt::Display for ReleaseDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |items: Vec<&str>| {
            if items.is_empty() {
                "none".to_owned()
            } else {
                items.join(", ")
            }
        };
        writeln!(f, "diff {} -> {}", self.from, self.to)?;
        writeln!(f, "services to update: {}", list(self.to_update()))?;
        writeln!(f, "services to remove: {}", list(self.to_remove()))?;
        writeln!(f, "services unchanged: {}", list(self.unchanged()))?;
        for service in self
            .services
            .iter()
            .filter(|s| s.change != Change::Unchanged)
        {
            writeln!(
                f,
                "== service {} ({})",
                service.service,
                service.change.word()
            )?;
            for object in &service.objects {
                writeln!(f, "-- {} ({})", object.object, object.change.word())?;
                f.write_str(&object.unified)?;
            }
        }
        Ok(())
    }
}

fn unified(old: &str, new: &str, from: &str, to: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(from, to)
        .to_string()
}

fn yaml_of(object: Option<&Value>) -> String {
    object.map_or_else(String::new, |o| render_yaml(std::slice::from_ref(o)))
}

/// The YAML of both sides with the values of Secrets hidden: `***` where a value is the
/// same on both sides, `*** (changed)` on the new side where it differs.
fn shown(old: Option<&Value>, new: Option<&Value>) -> (String, String) {
    let old_shown = old.map(redacted);
    let mut new_shown = new.map(redacted);
    if let (Some(old), Some(new), Some(shown)) = (old, new, new_shown.as_mut())
        && is_secret(new)
    {
        for field in ["data", "stringData"] {
            if let Some(Value::Object(map)) = shown.get_mut(field) {
                for (key, value) in map.iter_mut() {
                    if old[field].get(key) != new[field].get(key) {
                        *value = Value::String("*** (changed)".into());
                    }
                }
            }
        }
    }
    (yaml_of(old_shown.as_ref()), yaml_of(new_shown.as_ref()))
}

/// The difference between `old` and `new`, naming them `from` and `to` in the headers.
/// Objects are matched by group, kind and name (not namespace: two environments diff).
/// The values of Secrets never appear: `***`, and `*** (changed)` where they differ.
pub fn diff_releases(
    old: &RenderedRelease,
    new: &RenderedRelease,
    from: &str,
    to: &str,
) -> ReleaseDiff {
    let mut services = Vec::new();
    let empty = Vec::new();
    let names = new.services.keys().chain(
        old.services
            .keys()
            .filter(|k| !new.services.contains_key(*k)),
    );
    for name in names {
        let before = old.services.get(name);
        let after = new.services.get(name);
        let old_objects = before.map_or(&empty, |s| &s.objects);
        let new_objects = after.map_or(&empty, |s| &s.objects);
        let mut objects = Vec::new();
        let find =
            |list: &Vec<Value>, key: &str| list.iter().find(|o| object_key(o) == key).cloned();
        for object in new_objects {
            let key = object_key(object);
            let previous = find(old_objects, &key);
            let change = match &previous {
                None => Change::Added,
                Some(p) if p == object => Change::Unchanged,
                Some(_) => Change::Modified,
            };
            if change != Change::Unchanged {
                let label = describe(object);
                let (before, after) = shown(previous.as_ref(), Some(object));
                objects.push(ObjectDiff {
                    unified: unified(
                        &before,
                        &after,
                        &format!("{from}: {label}"),
                        &format!("{to}: {label}"),
                    ),
                    object: label,
                    change,
                });
            }
        }
        for object in old_objects {
            let key = object_key(object);
            if find(new_objects, &key).is_none() {
                let label = describe(object);
                objects.push(ObjectDiff {
                    unified: unified(
                        &shown(Some(object), None).0,
                        "",
                        &format!("{from}: {label}"),
                        &format!("{to}: {label}"),
                    ),
                    object: label,
                    change: Change::Removed,
                });
            }
        }
        let change = match (before, after) {
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            (Some(b), Some(a)) if objects.is_empty() && b.depends_on == a.depends_on => {
                Change::Unchanged
            }
            _ => Change::Modified,
        };
        services.push(ServiceDiff {
            service: name.clone(),
            change,
            objects,
        });
    }
    ReleaseDiff {
        from: from.to_owned(),
        to: to.to_owned(),
        services,
    }
}
