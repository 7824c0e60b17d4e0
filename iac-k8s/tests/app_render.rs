//! `iac_k8s::app` without a cluster: the shop's rendered manifests and diffs (snapshots),
//! configuration injection, environment replication, history encoding and the errors of
//! bad templates and configurations.

#[path = "../../examples/examples/shop/mod.rs"]
mod shop;

use chrono::DateTime;
use iac_k8s::app::{
    AppError, AppTemplate, CONFIG_HASH_ANNOTATION, Config, Environment, Release, Revision,
    RevisionStatus, ServiceTemplate, Target, decode, diff_releases, encode, replicate,
};
use serde_json::{Value, json};

fn at(minute: i64) -> chrono::DateTime<chrono::Utc> {
    DateTime::from_timestamp(1_767_225_600 + minute * 60, 0).unwrap()
}

fn prod() -> (Environment, Config) {
    let mut env_layer = Config::new("prod-environment");
    env_layer
        .commit(
            json!({"slb": {"address_type": "internet"}}),
            "public SLB in prod",
            at(0),
        )
        .unwrap();
    let environment =
        Environment::new("prod", "shop-prod").with_config(env_layer.latest().unwrap());
    let mut config = Config::new("shop-prod");
    config
        .commit(
            json!({"web": {"replicas": 3}, "api": {"replicas": 3}, "db": {"storage": "100Gi"},
                   "slb": {"spec": "slb.s2.medium"}}),
            "prod sizes",
            at(1),
        )
        .unwrap();
    (environment, config)
}

fn find<'a>(release: &'a Release, kind: &str, name: &str) -> &'a Value {
    release
        .rendered
        .objects()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

#[test]
fn the_shop_renders_for_prod() {
    let (environment, config) = prod();
    let release = Release::render(&shop::template("1.0.0"), &environment, config.latest()).unwrap();
    assert_eq!(
        release.rendered.services.keys().collect::<Vec<_>>(),
        ["db", "api", "web"]
    );
    assert_eq!(
        (release.config_version, release.environment_version),
        (Some(1), Some(1))
    );
    insta::assert_snapshot!("shop_prod", release.rendered.to_yaml());

    // Layers: the application's 3 replicas over the default 1, the environment's public
    // SLB over the default intranet one, the default image kept.
    let web = find(&release, "Deployment", "web");
    assert_eq!(web["spec"]["replicas"], 3);
    let lb = find(&release, "Service", "web");
    let annotations = &lb["metadata"]["annotations"];
    assert_eq!(
        annotations["service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type"],
        "internet"
    );
    // Every object is in the environment's namespace and labelled with app and service.
    for object in release.rendered.objects() {
        if object["kind"] != "PersistentVolume" {
            assert_eq!(object["metadata"]["namespace"], "shop-prod", "{object}");
        }
        assert_eq!(
            object["metadata"]["labels"]["app.kubernetes.io/part-of"],
            "shop"
        );
    }
}

#[test]
fn configuration_reaches_pods_three_ways_and_its_hash_rolls_them() {
    let (environment, mut config) = prod();
    let template = shop::template("1.0.0");
    let v1 = Release::render(&template, &environment, config.latest()).unwrap();
    let api = find(&v1, "Deployment", "api");
    // 1. Template variables.
    assert_eq!(api["spec"]["replicas"], 3);
    let pod = &api["spec"]["template"]["spec"];
    // 2. A generated ConfigMap as environment.
    assert_eq!(
        pod["containers"][0]["envFrom"],
        json!([{"configMapRef": {"name": "api-env"}}])
    );
    assert_eq!(
        find(&v1, "ConfigMap", "api-env")["data"],
        json!({"DB_POOL_SIZE": "5", "LOG_LEVEL": "info"})
    );
    // 3. A ConfigMap mounted as files.
    assert_eq!(
        pod["volumes"],
        json!([{"name": "config-files", "configMap": {"name": "api-files"}}])
    );
    assert_eq!(
        pod["containers"][0]["volumeMounts"],
        json!([{"name": "config-files", "mountPath": "/etc/api", "readOnly": true}])
    );
    // The readiness gate waits for the db Service.
    assert_eq!(pod["initContainers"][0]["name"], "wait-for-db");
    assert!(
        pod["initContainers"][0]["command"][2]
            .as_str()
            .unwrap()
            .contains("nc -z -w 2 db.shop-prod.svc 3306")
    );

    let hash = |r: &Release| {
        find(r, "Deployment", "api")["spec"]["template"]["metadata"]["annotations"]
            [CONFIG_HASH_ANNOTATION]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // A change of an environment value changes only the ConfigMap's data... and the hash
    // on the pod template, so the pods roll.
    config
        .set("api.env.LOG_LEVEL", "debug", "debug logs", at(2))
        .unwrap();
    let v2 = Release::render(&template, &environment, config.latest()).unwrap();
    assert_ne!(hash(&v1), hash(&v2));
    config.set("web.replicas", 4, "more web", at(3)).unwrap();
    let v3 = Release::render(&template, &environment, config.latest()).unwrap();
    assert_eq!(
        hash(&v2),
        hash(&v3),
        "a value the api's ConfigMaps do not hold"
    );
    assert_eq!(hash(&v1).len(), 64);
}

#[test]
fn a_config_change_diffs_as_one_service() {
    let (environment, mut config) = prod();
    let template = shop::template("1.0.0");
    let v1 = Release::render(&template, &environment, config.latest()).unwrap();
    config
        .set("api.env.LOG_LEVEL", "debug", "debug logs", at(2))
        .unwrap();
    let v2 = Release::render(&template, &environment, config.latest()).unwrap();
    let diff = diff_releases(&v1.rendered, &v2.rendered, "config v1", "config v2");
    assert_eq!(diff.to_update(), ["api"]);
    assert_eq!(diff.unchanged(), ["db", "web"]);
    assert!(diff.to_remove().is_empty());
    let api = diff.service("api").unwrap();
    let objects: Vec<&str> = api.objects.iter().map(|o| o.object.as_str()).collect();
    assert_eq!(objects, ["v1 ConfigMap api-env", "apps/v1 Deployment api"]);
    insta::assert_snapshot!("shop_config_diff", diff.to_string());

    let same = diff_releases(&v2.rendered, &v2.rendered, "a", "b");
    assert!(same.is_empty());
    assert!(same.to_update().is_empty());
}

#[test]
fn environments_replicate_into_their_own_namespaces() {
    let template = shop::template("1.0.0");
    let (prod_env, prod_config) = prod();
    let mut dev_config = Config::new("shop-dev");
    dev_config
        .commit(
            json!({"api": {"env": {"LOG_LEVEL": "debug"}}}),
            "dev",
            at(0),
        )
        .unwrap();
    let mut staging_config = Config::new("shop-staging");
    staging_config
        .commit(json!({"web": {"replicas": 2}}), "staging", at(0))
        .unwrap();
    let releases = replicate(
        &template,
        &[
            (Environment::new("dev", "shop-dev"), dev_config.latest()),
            (
                Environment::new("staging", "shop-staging"),
                staging_config.latest(),
            ),
            (prod_env.clone(), prod_config.latest()),
        ],
    )
    .unwrap();
    let namespaces: Vec<&str> = releases.iter().map(Release::namespace).collect();
    assert_eq!(namespaces, ["shop-dev", "shop-staging", "shop-prod"]);
    for release in &releases {
        for object in release.rendered.objects() {
            let ns = object["metadata"]["namespace"].as_str();
            assert!(ns.is_none() || ns == Some(release.namespace()), "{object}");
        }
    }
    let diff = diff_releases(&releases[0].rendered, &releases[2].rendered, "dev", "prod");
    insta::assert_snapshot!("shop_dev_vs_prod", diff.to_string());

    let err = replicate(
        &template,
        &[
            (Environment::new("dev", "shop"), None),
            (Environment::new("prod", "shop"), None),
        ],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "app template shop: environments `dev` and `prod` must differ in name and namespace (`shop`)"
    );
}

#[test]
fn a_revision_round_trips_through_its_encoding_and_secret() {
    let (environment, config) = prod();
    let release = Release::render(&shop::template("1.0.0"), &environment, config.latest()).unwrap();
    let revision = Revision {
        app: "shop".into(),
        namespace: "shop-prod".into(),
        environment: "prod".into(),
        number: 3,
        status: RevisionStatus::Deployed,
        description: "Upgrade".into(),
        created: at(5),
        updated: at(6),
        template_version: "1.0.0".into(),
        config_version: Some(1),
        environment_version: Some(1),
        values: release.values.clone(),
        release: release.rendered.clone(),
    };
    let text = encode(&revision).unwrap();
    assert_eq!(decode(&text).unwrap(), revision);
    let json_len = serde_json::to_vec(&revision).unwrap().len();
    assert!(
        text.len() < json_len,
        "compressed: {} of {json_len} bytes",
        text.len()
    );

    let secret = revision.to_secret().unwrap();
    assert_eq!(secret["metadata"]["name"], "iac.app.v1.shop.v3");
    assert_eq!(secret["type"], "iac.dev/app-release.v1");
    assert_eq!(
        secret["metadata"]["labels"],
        json!({"owner": "iac", "name": "shop", "version": "3", "status": "deployed"})
    );
    assert_eq!(Revision::from_secret(&secret).unwrap(), revision);

    // Like Helm, a payload without the gzip magic is read as plain JSON.
    use base64::Engine as _;
    let plain =
        base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&revision).unwrap());
    assert_eq!(decode(&plain).unwrap(), revision);
    let err = decode("not base64!").unwrap_err();
    assert!(err.to_string().contains("not base64"), "{err}");
}

fn target() -> Target {
    Target::new("dev", "shop-dev")
}

fn yaml_service(file: &str, text: &str) -> AppTemplate {
    AppTemplate::new("shop", "1").with_service(ServiceTemplate::yaml("api").with_file(file, text))
}

#[test]
fn bad_templates_and_configs_say_what_and_where() {
    let values = json!({"api": {"replicas": 2}});
    let render = |t: &AppTemplate| t.render(&target(), &values).unwrap_err().to_string();

    // A variable the configuration lacks: service, file (and line), variable.
    let missing = yaml_service(
        "deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  replicas: {{ values.api.replicas }}\n  paused: {{ values.api.paused }}\n",
    );
    assert_eq!(
        render(&missing),
        "service api, deployment.yaml line 6: undefined variable `values.api.paused`"
    );
    // A guarded optional value is fine.
    let guarded = yaml_service(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: api}\n{% if values.api.extra is defined %}data: {x: '1'}{% endif %}\n",
    );
    guarded.render(&target(), &values).unwrap();
    let unknown_root = yaml_service(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ vals.name }}}\n",
    );
    assert_eq!(
        render(&unknown_root),
        "service api, cm.yaml line 3: undefined variable `vals.name`"
    );

    let syntax = yaml_service(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ app }</br>\n",
    );
    let text = render(&syntax);
    assert!(
        text.starts_with("service api, cm.yaml line 3: syntax error"),
        "{text}"
    );

    let not_yaml = yaml_service("cm.yaml", "apiVersion: v1\nkind: [ConfigMap\n");
    let text = render(&not_yaml);
    assert!(text.starts_with("service api, cm.yaml"), "{text}");
    assert!(text.contains("the rendered text is not YAML"), "{text}");

    let no_name = yaml_service("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n");
    assert_eq!(
        render(&no_name),
        "service api: v1 ConfigMap ? has no metadata.name (generateName cannot be applied)"
    );
    let other_ns = yaml_service(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: kube-system}\n",
    );
    assert_eq!(
        render(&other_ns),
        "service api: v1 ConfigMap a is in namespace `kube-system`; the release deploys to `shop-dev` (leave the namespace out)"
    );

    // Typed templates: the same error for a missing value, and wrong types named.
    let typed = |key: &'static str| {
        AppTemplate::new("shop", "1").with_service(ServiceTemplate::typed("web", move |ctx| {
            Ok(vec![json!({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": ctx.str(key)?}})])
        }))
    };
    assert_eq!(
        render(&typed("web.name")),
        "service web, typed: undefined variable `values.web.name`"
    );
    assert_eq!(
        render(&typed("api.replicas")),
        "service web, typed: values.api.replicas must be a string, not a number"
    );

    // Structure.
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n";
    let cycle = AppTemplate::new("shop", "1")
        .with_service(
            ServiceTemplate::yaml("a")
                .with_file("a.yaml", cm)
                .depends_on("b"),
        )
        .with_service(
            ServiceTemplate::yaml("b")
                .with_file("b.yaml", cm.replace("x", "y"))
                .depends_on("a"),
        );
    assert_eq!(
        render(&cycle),
        "app template shop: the dependencies of services a, b form a cycle"
    );
    let unknown = AppTemplate::new("shop", "1").with_service(
        ServiceTemplate::yaml("a")
            .with_file("a.yaml", cm)
            .depends_on("cache"),
    );
    assert_eq!(
        render(&unknown),
        "app template shop: service `a` depends on `cache`, which is not a service of the template"
    );
    let twice = AppTemplate::new("shop", "1")
        .with_service(ServiceTemplate::yaml("a").with_file("a.yaml", cm))
        .with_service(ServiceTemplate::yaml("b").with_file("b.yaml", cm));
    assert_eq!(
        render(&twice),
        "service b: v1 ConfigMap x is also rendered by service `a`"
    );
    let mixed = AppTemplate::new("shop", "1")
        .with_service(ServiceTemplate::typed("a", |_| Ok(vec![])).with_file("a.yaml", cm));
    assert_eq!(
        render(&mixed),
        "app template shop: service `a` is typed and was given a YAML file"
    );
    let empty = AppTemplate::new("shop", "1").with_service(ServiceTemplate::yaml("a"));
    assert_eq!(
        render(&empty),
        "app template shop: service `a` has no template file"
    );
    let bad_name = AppTemplate::new("Shop", "1")
        .with_service(ServiceTemplate::yaml("a").with_file("a.yaml", cm));
    assert!(render(&bad_name).contains("`Shop` is not a DNS-1123 label"));

    // Configuration sections used for injection.
    let env_from = AppTemplate::new("shop", "1").with_service(
        ServiceTemplate::yaml("api")
            .with_file("a.yaml", cm)
            .with_env_from("api.env"),
    );
    assert_eq!(
        render(&env_from),
        "service api, config: undefined variable `values.api.env`"
    );
    let bad_env = env_from.clone();
    let err = bad_env
        .render(&target(), &json!({"api": {"env": {"log-level": "x"}}}))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "service api, config: values.api.env: `log-level` is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"
    );
    assert!(matches!(err, AppError::Render { .. }));
    assert_eq!(err.kind(), iac_core::provider::ErrorKind::Invalid);
}

#[tokio::test]
async fn secret_values_stay_out_of_debug_diffs_and_state_files() {
    use iac_k8s::app::{HistoryStore, StateHistory};
    let with_secret = |password: &'static str| {
        AppTemplate::new("shop", "1").with_service(ServiceTemplate::typed("db", move |_| {
            Ok(vec![json!({"apiVersion": "v1", "kind": "Secret",
                           "metadata": {"name": "db-root"},
                           "stringData": {"password": password, "user": "root"}})])
        }))
    };
    let v1 = with_secret("hunter2-old")
        .render(&target(), &json!({}))
        .unwrap();
    let v2 = with_secret("hunter2-new")
        .render(&target(), &json!({}))
        .unwrap();
    let debug = format!("{v1:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("***"), "{debug}");

    let diff = diff_releases(&v1, &v2, "a", "b");
    assert_eq!(diff.to_update(), ["db"]);
    let text = diff.to_string();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        text.contains("-  password: \"***\"\n+  password: \"*** (changed)\""),
        "{text}"
    );
    assert!(text.contains("   user: \"***\"\n"), "{text}");

    let store = std::sync::Arc::new(iac_core::state::MemoryStateStore::new());
    let history = StateHistory::new(store);
    let revision = Revision {
        app: "shop".into(),
        namespace: "shop-dev".into(),
        environment: "dev".into(),
        number: 1,
        status: RevisionStatus::Deployed,
        description: "Install".into(),
        created: at(0),
        updated: at(0),
        template_version: "1".into(),
        config_version: None,
        environment_version: None,
        values: json!({}),
        release: v1,
    };
    let err = history.put(&revision).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "history of shop in shop-dev: revision 1 renders Secret db-root with values, which a \
         state file would hold in clear; keep this application's history in the cluster \
         (SecretHistory)"
    );
    assert!(history.list("shop", "shop-dev").await.unwrap().is_empty());
}
