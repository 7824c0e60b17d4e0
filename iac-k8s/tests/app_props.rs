//! Properties of `iac_k8s::app`: layering keeps every value of the upper layer, a diff of
//! a release with itself is empty and one changed value updates exactly its service, and
//! revisions survive their encoding whatever their values.

#[path = "../../examples/examples/shop/mod.rs"]
mod shop;

use chrono::DateTime;
use iac_k8s::app::{
    Environment, Release, Revision, RevisionStatus, decode, diff_releases, encode, layered, lookup,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z0-9 .:/-]{0,12}".prop_map(Value::from),
        Just(Value::Null),
    ]
}

fn values() -> impl Strategy<Value = Value> {
    let tree = leaf().prop_recursive(3, 24, 4, |inner| {
        prop::collection::btree_map("[a-e]{1,2}", inner, 0..4)
            .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>()))
    });
    prop::collection::btree_map("[a-e]{1,2}", tree, 0..4)
        .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>()))
}

fn leaves(value: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
    match value {
        // An empty object adds no key: merged into the lower layer, it changes nothing.
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(v, &path, out);
            }
        }
        other if !prefix.is_empty() => out.push((prefix.to_owned(), other.clone())),
        _ => {}
    }
}

proptest! {
    #[test]
    fn the_upper_layer_wins_and_the_lower_fills_the_rest(defaults in values(), env in values(), app in values()) {
        let merged = layered(&defaults, Some(&env), Some(&app));
        let mut top = Vec::new();
        leaves(&app, "", &mut top);
        for (path, value) in &top {
            prop_assert_eq!(lookup(&merged, path), Some(value), "{}", path);
        }
        // A top-level key only the defaults have keeps the defaults' value.
        for (key, value) in defaults.as_object().unwrap() {
            if env.get(key).is_none() && app.get(key).is_none() {
                prop_assert_eq!(merged.get(key), Some(value));
            }
        }
    }

}

proptest! {
    // Each case renders the shop twice (a debug build): fewer cases.
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn one_changed_value_updates_exactly_its_service(a in 1i64..50, b in 1i64..50) {
        let template = shop::template("1.0.0");
        let env = Environment::new("dev", "shop-dev");
        let render = |replicas: i64| {
            let mut values = shop::defaults();
            values["api"]["replicas"] = json!(replicas);
            template.render(&env.target(), &values).unwrap()
        };
        let (ra, rb) = (render(a), render(b));
        prop_assert!(diff_releases(&ra, &ra, "a", "a").is_empty());
        let diff = diff_releases(&ra, &rb, "a", "b");
        let expected: Vec<&str> = if a == b { vec![] } else { vec!["api"] };
        prop_assert_eq!(diff.to_update(), expected);
    }

    #[test]
    fn revisions_round_trip_whatever_their_values(values in values(), number in 1u32..10_000) {
        let env = Environment::new("dev", "shop-dev");
        let release = Release::render(&shop::template("1.0.0"), &env, None).unwrap();
        let revision = Revision {
            app: "shop".into(),
            namespace: "shop-dev".into(),
            environment: "dev".into(),
            number,
            status: RevisionStatus::Superseded,
            description: "Upgrade".into(),
            created: DateTime::from_timestamp(1_767_225_600, 0).unwrap(),
            updated: DateTime::from_timestamp(1_767_225_660, 0).unwrap(),
            template_version: "1.0.0".into(),
            config_version: Some(number),
            environment_version: None,
            values,
            release: release.rendered,
        };
        let text = encode(&revision).unwrap();
        prop_assert_eq!(decode(&text).unwrap(), revision.clone());
        prop_assert_eq!(Revision::from_secret(&revision.to_secret().unwrap()).unwrap(), revision);
    }
}
