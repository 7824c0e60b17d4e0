//! Keystone access: the ABAC file line by line (it is not a Kubernetes object, so the
//! schema validator cannot check it), namespace sanitising and collisions, the
//! k8s-keystone-auth policy and sync configuration; and the YAML renderer round trip.

#[path = "manifests_fixtures.rs"]
mod fixtures;

use iac_k8s::manifests::keystone::*;
use iac_k8s::manifests::{ManifestError, render_yaml};
use k8s_openapi::api::core::v1::ConfigMap;
use proptest::prelude::*;
use serde_json::Value;

#[test]
fn abac_file_is_one_policy_object_per_line_as_the_reference_says() {
    let file = fixtures::keystone().abac_policy().unwrap();
    assert!(file.ends_with('\n'));
    let lines: Vec<&str> = file.lines().collect();
    // alice rw in demo (member wins over reader), bob ro in data-science-team, group
    // data-admins rw there; bob's heat_stack_owner in demo grants nothing; then one
    // discovery line per subject.
    assert_eq!(lines.len(), 6, "{file}");
    let allowed_spec = [
        "user",
        "group",
        "namespace",
        "resource",
        "apiGroup",
        "readonly",
        "nonResourcePath",
    ];
    let mut grants = Vec::new();
    for line in &lines {
        assert!(!line.is_empty() && !line.starts_with('#'));
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), 3, "{line}");
        assert_eq!(v["apiVersion"], "abac.authorization.kubernetes.io/v1beta1");
        assert_eq!(v["kind"], "Policy");
        let spec = v["spec"].as_object().unwrap();
        for key in spec.keys() {
            assert!(
                allowed_spec.contains(&key.as_str()),
                "unknown spec field {key}"
            );
        }
        assert!(
            spec.contains_key("user") ^ spec.contains_key("group"),
            "{line}"
        );
        assert!(spec["readonly"].is_boolean());
        if spec.contains_key("nonResourcePath") {
            assert_eq!(spec["nonResourcePath"], "*");
            assert_eq!(spec["readonly"], true);
            assert!(!spec.contains_key("namespace"));
        } else {
            assert_eq!(spec["resource"], "*");
            assert_eq!(spec["apiGroup"], "*");
            let who = spec
                .get("user")
                .or(spec.get("group"))
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned();
            grants.push((
                who,
                spec["namespace"].as_str().unwrap().to_owned(),
                spec["readonly"].as_bool().unwrap(),
            ));
        }
    }
    grants.sort();
    assert_eq!(
        grants,
        vec![
            ("alice".to_owned(), "demo".to_owned(), false),
            ("bob".to_owned(), "data-science-team".to_owned(), true),
            (
                "data-admins".to_owned(),
                "data-science-team".to_owned(),
                false
            ),
        ]
    );
    let without = fixtures::keystone()
        .with_discovery(false)
        .abac_policy()
        .unwrap();
    assert_eq!(without.lines().count(), 3);
    assert!(!without.contains("nonResourcePath"));
}

#[test]
fn abac_escapes_names_as_json() {
    let access = KeystoneAccess::new(
        vec![Project {
            id: "p1".into(),
            name: "p".into(),
        }],
        vec![User {
            id: "u1".into(),
            name: "we\"ird\nname".into(),
        }],
        vec![RoleAssignment {
            subject: Subject::User("u1".into()),
            project_id: "p1".into(),
            role: "member".into(),
        }],
    );
    let file = access.abac_policy().unwrap();
    let first: Value = serde_json::from_str(file.lines().next().unwrap()).unwrap();
    assert_eq!(first["spec"]["user"], "we\"ird\nname");
}

fn project(id: &str, name: &str) -> Project {
    Project {
        id: id.into(),
        name: name.into(),
    }
}

#[test]
fn namespace_names_are_sanitised_and_collisions_reported() {
    assert_eq!(
        sanitize_namespace("Data Science_Team!"),
        "data-science-team"
    );
    assert_eq!(sanitize_namespace("--Ünïcode--Proj--"), "n-code-proj");
    assert_eq!(sanitize_namespace("日本"), "");
    assert_eq!(sanitize_namespace(&"a".repeat(70)), "a".repeat(63));
    assert_eq!(
        sanitize_namespace(&format!("{}-b", "a".repeat(62))),
        "a".repeat(62)
    );

    let collide = KeystoneAccess::new(
        vec![project("1", "Team A"), project("2", "team-a")],
        vec![],
        vec![],
    );
    let err = collide.namespaces().unwrap_err();
    assert_eq!(err.option(), "projects");
    match &err {
        ManifestError::NameCollision {
            name,
            first,
            second,
            ..
        } => {
            assert_eq!(name, "team-a");
            assert!(first.contains("Team A") && first.contains('1'), "{first}");
            assert!(
                second.contains("team-a") && second.contains('2'),
                "{second}"
            );
        }
        other => panic!("not a collision: {other}"),
    }
    for bad in [
        vec![project("1", "日本")],
        vec![project("1", "Kube System")],
        vec![project("", "x")],
        vec![project("1", "a"), project("1", "b")],
    ] {
        let err = KeystoneAccess::new(bad, vec![], vec![])
            .namespaces()
            .unwrap_err();
        assert_eq!(err.option(), "projects", "{err}");
    }
    let ns = fixtures::keystone().namespaces().unwrap();
    assert_eq!(ns[1].metadata.name.as_deref(), Some("data-science-team"));
    assert_eq!(
        ns[1].metadata.annotations.as_ref().unwrap()[PROJECT_ID_ANNOTATION],
        "f0e1d2c3b4a5968778695a4b3c2d1e0f"
    );
}

#[test]
fn assignments_to_unknown_users_or_projects_are_rejected() {
    let with = |a: RoleAssignment| {
        KeystoneAccess::new(
            vec![project("p1", "p")],
            vec![User {
                id: "u1".into(),
                name: "alice".into(),
            }],
            vec![a],
        )
    };
    let unknown_user = with(RoleAssignment {
        subject: Subject::User("u9".into()),
        project_id: "p1".into(),
        role: "member".into(),
    });
    let unknown_project = with(RoleAssignment {
        subject: Subject::User("u1".into()),
        project_id: "p9".into(),
        role: "member".into(),
    });
    let empty_group = with(RoleAssignment {
        subject: Subject::Group(String::new()),
        project_id: "p1".into(),
        role: "member".into(),
    });
    for access in [unknown_user, unknown_project, empty_group] {
        assert_eq!(access.abac_policy().unwrap_err().option(), "assignments");
        assert_eq!(
            access.keystone_policy().unwrap_err().option(),
            "assignments"
        );
    }
}

#[test]
fn keystone_policy_matches_role_and_project() {
    let policy = fixtures::keystone().keystone_policy().unwrap();
    let rules = policy.as_array().unwrap();
    for rule in rules {
        let matches = rule["match"].as_array().unwrap();
        if let Some(resource) = rule.get("resource") {
            assert_eq!(matches.len(), 2);
            assert_eq!(matches[0]["type"], "role");
            assert_eq!(matches[1]["type"], "project");
            assert_eq!(resource["resources"], serde_json::json!(["*"]));
            assert_eq!(resource["version"], "*");
            let verbs = &resource["verbs"];
            match matches[0]["values"][0].as_str().unwrap() {
                "reader" => assert_eq!(verbs, &serde_json::json!(["get", "list", "watch"])),
                _ => assert_eq!(verbs, &serde_json::json!(["*"])),
            }
        } else {
            assert_eq!(rule["nonresource"]["path"], "*");
        }
    }
    // heat_stack_owner maps to nothing; two projects x their roles + discovery.
    assert_eq!(rules.len(), 5);
    let cm = fixtures::keystone()
        .keystone_policy_config_map("k8s-auth-policy")
        .unwrap();
    assert_eq!(cm.metadata.namespace.as_deref(), Some("kube-system"));
    let text = &cm.data.as_ref().unwrap()[POLICY_KEY];
    assert_eq!(&serde_json::from_str::<Value>(text).unwrap(), &policy);
    assert_eq!(
        fixtures::keystone()
            .keystone_policy_config_map("Bad")
            .unwrap_err()
            .option(),
        "name"
    );
}

#[test]
fn sync_config_round_trips_and_rejects_bad_options() {
    let cm: ConfigMap = fixtures::sync_config().config_map("keystone-sync").unwrap();
    let text = &cm.data.as_ref().unwrap()[SYNC_CONFIG_KEY];
    let v: Value = serde_yaml::from_str(text).unwrap();
    assert_eq!(v["namespace-format"], "os-%n-%i");
    assert_eq!(
        v["data-types-to-sync"],
        serde_json::json!(["projects", "role_assignments"])
    );
    assert_eq!(v["role-mappings"][0]["keystone-role"], "admin");
    assert_eq!(v["role-mappings"][0]["groups"][0], "system:masters");
    let default = SyncConfig::default().to_yaml().unwrap();
    assert_eq!(
        default,
        "namespace-format: \"%i\"\ndata-types-to-sync:\n- projects\n- role_assignments\n"
    );

    let bad = |f: fn(&mut SyncConfig)| {
        let mut c = SyncConfig::default();
        f(&mut c);
        c.to_yaml().unwrap_err().option().to_owned()
    };
    assert_eq!(
        bad(|c| c.namespace_format = "%n".into()),
        "namespace_format"
    );
    assert_eq!(
        bad(|c| c.namespace_format = "Team_%i".into()),
        "namespace_format"
    );
    assert_eq!(bad(|c| c.data_types_to_sync.clear()), "data_types_to_sync");
    assert_eq!(
        bad(|c| c.data_types_to_sync.push(SyncDataType::Projects)),
        "data_types_to_sync"
    );
    assert_eq!(
        bad(|c| c.role_mappings.push(RoleMapping {
            keystone_role: "admin".into(),
            username: None,
            groups: vec![]
        })),
        "role_mappings"
    );
    assert_eq!(
        bad(|c| c.role_mappings.push(RoleMapping {
            keystone_role: String::new(),
            username: Some("u".into()),
            groups: vec![]
        })),
        "role_mappings"
    );
    assert_eq!(
        SyncConfig::default().config_map("").unwrap_err().option(),
        "name"
    );
}

proptest! {
    #[test]
    fn sanitised_names_are_dns_labels_or_empty(name in "\\PC{0,80}") {
        let ns = sanitize_namespace(&name);
        prop_assert!(ns.len() <= 63);
        if !ns.is_empty() {
            prop_assert!(ns.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            prop_assert!(!ns.starts_with('-') && !ns.ends_with('-'));
        }
        prop_assert_eq!(sanitize_namespace(&ns), ns.clone());
    }

    #[test]
    fn yaml_gives_back_every_string(key in "[a-zA-Z0-9._/-]{1,20}|\\PC{1,10}", value in "\\PC{0,40}|[ \\n\\ta-z:#'\"-]{0,40}|(on|off|yes|no|y|n|true|null|~|1e3|0x1F|12:30|-1|.5)") {
        let cm = ConfigMap {
            data: Some([(key.clone(), value.clone())].into_iter().collect()),
            ..ConfigMap::default()
        };
        let yaml = render_yaml(&[cm]);
        let back: Value = serde_yaml::from_str(&yaml).map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
        prop_assert_eq!(back["data"][&key].as_str(), Some(value.as_str()), "{}", yaml);
    }
}
