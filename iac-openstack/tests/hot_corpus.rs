//! The HOT import against the verdicts of a real Heat engine on 149 real templates
//! (`../shared/templates/hot/`, `oracle.json`: Heat 27.0.1's `validate` API).
//!
//! Heat's verdict of each template is read from the oracle:
//!
//! - **accepted**: Heat said 200 in either run, or said 400 only because of the test
//!   set-up: a service missing from the catalog in the plain run and a known artifact of the
//!   `OS::Heat::None` stubs in the other (`known_artifacts_of_none_env`);
//! - **rejected**: Heat named a resource type that does not exist, or a property error;
//! - **inconclusive**: Heat could not fetch a nested template file (the files were not
//!   sent), so it never judged the template.
//!
//! Ours: the template loads and [`HotTemplate::validate`] passes (**clean**), or fails only
//! on resource types this crate does not handle (**unsupported types**), or fails otherwise.
//! Agreement: an accepted template is clean or fails only on unsupported types; a rejected
//! one fails (and if Heat named an unknown type, ours names it too); an inconclusive one
//! fails only on unsupported types (the nested template files are such types). Every
//! disagreement must be explained in [`EXPLAINED`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use iac_core::validate::ProblemKind;
use iac_openstack::hot::{self, HotTemplate, SUPPORTED_RESOURCE_TYPES};
use serde_json::Value;

/// Disagreements with Heat, each with the reason. The test fails on any disagreement not
/// listed here, and on any entry here that no longer disagrees.
const EXPLAINED: &[(&str, &str)] = &[];

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/templates/hot")
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Heat {
    Accepted,
    Rejected { unknown_type: Option<String> },
    Inconclusive,
}

fn heat_verdict(entry: &Value, artifacts: &str) -> Heat {
    let run = |name: &str| {
        (
            entry[name]["status"].as_u64().unwrap(),
            entry[name]["error"].as_str().unwrap().to_owned(),
        )
    };
    let file = entry["file"].as_str().unwrap();
    let (plain, plain_error) = run("plain");
    let (stubbed, stubbed_error) = run("none_env");
    if let Some(rest) = plain_error.strip_prefix("The Resource Type (") {
        let unknown = rest.split_once(')').unwrap().0.to_owned();
        return Heat::Rejected {
            unknown_type: Some(unknown),
        };
    }
    if plain == 200 || stubbed == 200 {
        return Heat::Accepted;
    }
    if plain_error.starts_with("Could not fetch remote template") {
        return Heat::Inconclusive;
    }
    let stub_artifact = file
        .rsplit('/')
        .next()
        .is_some_and(|name| artifacts.contains(name));
    if plain_error.starts_with("HEAT-E99001") && stub_artifact {
        return Heat::Accepted;
    }
    if plain_error.contains("properties type must be") {
        return Heat::Rejected { unknown_type: None };
    }
    panic!("{file}: unclassified Heat verdict: {plain_error} | {stubbed_error}");
}

#[derive(Debug)]
enum Ours {
    Clean,
    UnsupportedTypes(BTreeSet<String>),
    Rejected(
        // What ours reported, shown when the verdict disagrees.
        #[allow(dead_code)] String,
    ),
}

/// The corpus does not ship the files that `get_file` reads (scripts, certificates); the
/// test gives each one a stand-in content, as `openstack stack create` would send the
/// real file.
fn stand_in(name: &str) -> Option<String> {
    Some(format!("# stand-in for {name}\n"))
}

fn our_verdict(text: &str) -> (Ours, Option<HotTemplate>) {
    let t = match hot::load_with_files(text, &stand_in) {
        Ok(t) => t,
        Err(e) => return (Ours::Rejected(format!("does not load: {e}")), None),
    };
    let known = |ty: &str| SUPPORTED_RESOURCE_TYPES.contains(&ty);
    let verdict = match t.validate(&known) {
        Ok(()) => Ours::Clean,
        Err(errors) => {
            let (types, other): (Vec<_>, Vec<_>) = errors
                .errors()
                .iter()
                .partition(|e| e.kind == ProblemKind::UnknownResourceType);
            if other.is_empty() {
                let names = types
                    .iter()
                    .map(|e| {
                        t.template().resources[resource_of(&e.path)]
                            .type_name
                            .clone()
                    })
                    .collect();
                Ours::UnsupportedTypes(names)
            } else {
                Ours::Rejected(
                    other
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("\n"),
                )
            }
        }
    };
    (verdict, Some(t))
}

/// `resources.<id>.type` → `<id>` (ids with dots are quoted).
fn resource_of(path: &str) -> &str {
    let inner = path
        .strip_prefix("resources")
        .unwrap()
        .strip_suffix(".type")
        .unwrap();
    inner.strip_prefix('.').unwrap_or(inner)
}

#[test]
fn agreement_with_heat_on_the_corpus() {
    let dir = corpus_dir();
    let oracle: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("oracle.json"))
            .unwrap_or_else(|e| panic!("the HOT corpus must be at {}: {e}", dir.display())),
    )
    .unwrap();
    let artifacts = oracle["known_artifacts_of_none_env"].to_string();
    let results = oracle["results"].as_array().unwrap();
    assert_eq!(results.len(), 149);

    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut clean = 0;
    let mut only_unsupported = 0;
    let mut type_use: BTreeMap<String, usize> = BTreeMap::new();
    let mut disagreements = Vec::new();
    let mut explained_seen = BTreeSet::new();
    for entry in results {
        let file = entry["file"].as_str().unwrap();
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let heat = heat_verdict(entry, &artifacts);
        let (ours, _) = our_verdict(&text);
        match &ours {
            Ours::Clean => clean += 1,
            Ours::UnsupportedTypes(types) => {
                only_unsupported += 1;
                for t in types {
                    *type_use.entry(t.clone()).or_default() += 1;
                }
            }
            Ours::Rejected(_) => {}
        }
        let agree = match (&heat, &ours) {
            (Heat::Accepted | Heat::Inconclusive, Ours::Clean | Ours::UnsupportedTypes(_)) => true,
            (
                Heat::Rejected { unknown_type: None },
                Ours::UnsupportedTypes(_) | Ours::Rejected(_),
            ) => true,
            (
                Heat::Rejected {
                    unknown_type: Some(t),
                },
                Ours::UnsupportedTypes(types),
            ) => types.contains(t),
            (Heat::Rejected { .. }, Ours::Rejected(_)) => true,
            _ => false,
        };
        let label = match heat {
            Heat::Accepted => "accepted",
            Heat::Rejected { .. } => "rejected",
            Heat::Inconclusive => "inconclusive",
        };
        let count = counts.entry(label).or_default();
        count.0 += 1;
        if agree {
            count.1 += 1;
        }
        let explained = EXPLAINED.iter().any(|(f, _)| *f == file);
        if explained {
            explained_seen.insert(file);
            assert!(!agree, "{file} is in EXPLAINED but agrees with Heat now");
        } else if !agree {
            disagreements.push(format!("{file}\n  Heat: {heat:?}\n  ours: {ours:?}"));
        }
    }

    println!("HOT corpus: {} templates", results.len());
    for (label, (n, agree)) in &counts {
        println!("  Heat {label}: {n}, we agree on {agree}");
    }
    println!(
        "  ours: {clean} load and validate clean, {only_unsupported} fail only on resource types \
         this crate does not handle"
    );
    let mut ranked: Vec<(&String, &usize)> = type_use.iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    println!("  unsupported types by the number of templates using them:");
    for (t, n) in ranked {
        println!("    {n:3} {t}");
    }
    assert_eq!(
        explained_seen.len(),
        EXPLAINED.len(),
        "an EXPLAINED entry names no corpus file"
    );
    assert!(
        disagreements.is_empty(),
        "{} unexplained disagreements with Heat:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

/// Every corpus template, once imported, is plain data in the IR's ROS-based shape (ROS
/// plus the HOT functions and, where a parameter has several, a list of AllowedPatterns):
/// written as JSON or YAML and read back by iac-core's loader, it is the same IR; except the
/// templates that use what ROS cannot express (Snapshot, external_id), whose export is
/// refused.
#[test]
fn every_imported_template_round_trips_through_the_ros_format() {
    use iac_core::loader::{load_json, load_yaml, to_json_string_pretty, to_yaml_string};
    let dir = corpus_dir();
    let oracle: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("oracle.json")).unwrap()).unwrap();
    let (mut checked, mut refused) = (0, 0);
    for entry in oracle["results"].as_array().unwrap() {
        let file = entry["file"].as_str().unwrap();
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let t = hot::load_with_files(&text, &stand_in).unwrap_or_else(|e| panic!("{file}: {e}"));
        let ir = t.template();
        // ROS has no Snapshot deletion policy and no external_id: the export refuses such
        // a template, naming the resource, instead of writing something ROS reads otherwise.
        if let Some((id, _)) = ir.resources.iter().find(|(_, r)| {
            r.external_id.is_some()
                || r.deletion_policy == iac_core::model::DeletionPolicy::Snapshot
        }) {
            let err = to_json_string_pretty(ir).unwrap_err().to_string();
            assert!(err.contains(&format!("resource '{id}'")), "{file}: {err}");
            assert!(to_yaml_string(ir).is_err(), "{file}");
            refused += 1;
            continue;
        }
        let json = to_json_string_pretty(ir).unwrap();
        assert_eq!(&load_json(&json).unwrap(), ir, "{file}: through ROS JSON");
        let yaml = to_yaml_string(ir).unwrap();
        assert_eq!(&load_yaml(&yaml).unwrap(), ir, "{file}: through ROS YAML");
        checked += 1;
    }
    // The Snapshot volume and the two external_id templates.
    assert_eq!((checked, refused), (146, 3));
}
