//! `iac_k8s::app::Deployer` against a fake API server (tower-test): the requests made, in
//! order. Services start only once the services they depend on are ready; an upgrade
//! touches only the services that changed; a rollback applies the old manifests as a new
//! revision; dropped services are deleted; history is kept in Secrets and capped.

#[path = "../../examples/examples/shop/mod.rs"]
mod shop;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::DateTime;
use http::{Request, Response};
use iac_core::engine::{EngineOptions, PollPolicy};
use iac_core::state::{FileStateStore, StateStore};
use iac_k8s::app::{
    AppError, Config, Deployer, Environment, HistoryStore, MemoryHistory, Release, RevisionStatus,
    StateHistory,
};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};

/// One request the fake server received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    /// For a GET of a workload: whether it was answered as ready.
    ready: Option<bool>,
}

#[derive(Default)]
struct Cluster {
    objects: BTreeMap<String, Value>,
    log: Vec<Seen>,
    /// Paths of Deployments that report ProgressDeadlineExceeded.
    failing: HashSet<String>,
    /// Workloads that are read back as not ready this many more times.
    unready_reads: BTreeMap<String, u32>,
}

type Shared = Arc<Mutex<Cluster>>;

fn is_workload(path: &str) -> bool {
    path.contains("/deployments/") || path.contains("/statefulsets/")
}

/// The object with the status a healthy cluster would report: workloads get ready once
/// they are read back (never in the apply's answer), LoadBalancers have an address, claims
/// are bound.
fn with_status(path: &str, object: &Value, ready: bool, failing: bool) -> Value {
    let mut o = object.clone();
    let replicas = o["spec"]["replicas"].as_i64().unwrap_or(1);
    if path.contains("/deployments/") {
        let reason = if failing {
            "ProgressDeadlineExceeded"
        } else if ready {
            "NewReplicaSetAvailable"
        } else {
            "ReplicaSetUpdated"
        };
        o["status"] = json!({"observedGeneration": 1,
            "availableReplicas": if ready { replicas } else { 0 },
            "conditions": [{"type": "Progressing", "status": "True", "reason": reason,
                            "message": "m"}]});
    } else if path.contains("/statefulsets/") {
        let n = if ready { replicas } else { 0 };
        o["status"] = json!({"observedGeneration": 1, "readyReplicas": n,
                             "updatedReplicas": replicas});
    } else if path.contains("/services/") && o["spec"]["type"] == "LoadBalancer" {
        o["status"] = json!({"loadBalancer": {"ingress": [{"ip": "47.1.2.3"}]}});
    } else if path.contains("/persistentvolumeclaims/") {
        o["status"] = json!({"phase": "Bound"});
    }
    o
}

fn json_response(code: u16, value: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(value).unwrap()))
        .unwrap()
}

fn not_found() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "reason": "NotFound", "message": "not found", "code": 404})
}

fn labels_match(object: &Value, selector: &str) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|pair| {
        let (k, v) = pair.split_once('=').unwrap();
        object["metadata"]["labels"][k] == v
    })
}

fn query_param(query: &str, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn answer(
    cluster: &mut Cluster,
    method: &str,
    path: &str,
    query: &str,
    body: Value,
) -> Response<Body> {
    let mut seen = Seen {
        method: method.to_owned(),
        path: path.to_owned(),
        ready: None,
    };
    // Like a real API server: nothing is written into a namespace that does not exist.
    let namespace = path
        .split_once("/namespaces/")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(ns, _)| ns);
    let missing_namespace = namespace.is_some_and(|ns| {
        !cluster
            .objects
            .contains_key(&format!("/api/v1/namespaces/{ns}"))
    });
    let response = match method {
        "PATCH" if missing_namespace => json_response(404, &not_found()),
        "PATCH" => {
            let mut object = body;
            object["metadata"]["uid"] = json!(format!("uid-{}", cluster.objects.len()));
            object["metadata"]["generation"] = json!(1);
            cluster.objects.insert(path.to_owned(), object.clone());
            let failing = cluster.failing.contains(path);
            json_response(200, &with_status(path, &object, false, failing))
        }
        "GET" => match cluster.objects.get(path) {
            Some(object) => {
                let failing = cluster.failing.contains(path);
                let unready = match cluster.unready_reads.get_mut(path) {
                    Some(n) if *n > 0 => {
                        *n -= 1;
                        true
                    }
                    _ => false,
                };
                let ready = !failing && !unready;
                if is_workload(path) {
                    seen.ready = Some(ready);
                }
                json_response(200, &with_status(path, object, ready, failing))
            }
            None => {
                // A list: the objects directly under this path, filtered by labels.
                let prefix = format!("{path}/");
                let selector = query_param(query, "labelSelector").unwrap_or_default();
                let items: Vec<Value> = cluster
                    .objects
                    .iter()
                    .filter(|(p, _)| p.starts_with(&prefix) && !p[prefix.len()..].contains('/'))
                    .map(|(_, o)| o.clone())
                    .filter(|o| labels_match(o, &selector))
                    .collect();
                if path.ends_with("/secrets") {
                    json_response(
                        200,
                        &json!({"apiVersion": "v1", "kind": "SecretList",
                        "metadata": {"resourceVersion": "1"}, "items": items}),
                    )
                } else {
                    json_response(404, &not_found())
                }
            }
        },
        "DELETE" => match cluster.objects.remove(path) {
            Some(_) => json_response(
                200,
                &json!({"kind": "Status", "apiVersion": "v1",
                "metadata": {}, "status": "Success", "code": 200}),
            ),
            None => json_response(404, &not_found()),
        },
        _ => json_response(405, &not_found()),
    };
    cluster.log.push(seen);
    response
}

fn fake_cluster() -> (Client, Shared) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let cluster: Shared = Arc::default();
    let shared = Arc::clone(&cluster);
    tokio::spawn(async move {
        while let Some((request, reply)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let bytes = body.collect_bytes().await.unwrap_or_default();
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let response = answer(
                &mut shared.lock().unwrap(),
                parts.method.as_str(),
                parts.uri.path(),
                parts.uri.query().unwrap_or(""),
                body,
            );
            reply.send_response(response);
        }
    });
    (Client::new(service, "default"), cluster)
}

fn at(minute: i64) -> chrono::DateTime<chrono::Utc> {
    DateTime::from_timestamp(1_767_225_600 + minute * 60, 0).unwrap()
}

fn deployer(client: Client) -> Deployer {
    let options = EngineOptions {
        poll: PollPolicy {
            min_interval: std::time::Duration::from_millis(100),
            max_interval: std::time::Duration::from_secs(1),
        },
        seed: Some(7),
        ..EngineOptions::default()
    };
    Deployer::new(client)
        .with_engine_options(options)
        .with_clock(|| at(0))
}

/// The services whose objects a slice of the log touched with `method`, in first-seen order.
fn services_touched(log: &[Seen], method: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    for seen in log.iter().filter(|s| s.method == method) {
        let service = ["db", "api", "web"].into_iter().find(|s| {
            let name = seen.path.rsplit('/').next().unwrap_or("");
            name == *s
                || name.starts_with(&format!("{s}-"))
                || name.ends_with(&format!("-{s}-data"))
        });
        if let Some(s) = service
            && !out.contains(&s)
        {
            out.push(s);
        }
    }
    out
}

fn object_paths(log: &[Seen], method: &str) -> Vec<String> {
    log.iter()
        .filter(|s| s.method == method && !s.path.contains("/secrets"))
        .map(|s| s.path.clone())
        .collect()
}

fn prod() -> (Environment, Config) {
    let mut config = Config::new("shop-prod");
    config
        .commit(
            json!({"web": {"replicas": 3}, "api": {"replicas": 2}}),
            "prod",
            at(0),
        )
        .unwrap();
    (Environment::new("prod", "shop-prod"), config)
}

#[tokio::test(start_paused = true)]
async fn services_start_in_dependency_order_once_their_dependencies_are_ready() {
    let (client, cluster) = fake_cluster();
    let (events, mut received) = iac_core::engine::events::channel();
    let deployer = deployer(client)
        .with_history(Arc::new(MemoryHistory::new()))
        .with_events(events);
    let (env, config) = prod();
    let release = Release::render(&shop::template("1.0.0"), &env, config.latest()).unwrap();
    let report = deployer.deploy(&release).await.unwrap();
    assert_eq!(report.revision, 1);
    assert_eq!(report.updated, ["db", "api", "web"]);

    // The engine's events: each service is created only after its dependency completed.
    let mut transitions = Vec::new();
    while let Ok(event) = received.try_recv() {
        if !event.is_stack_event() {
            transitions.push(format!("{} {}", event.logical_id, event.status.as_str()));
        }
    }
    let at = |t: &str| {
        transitions
            .iter()
            .position(|x| x == t)
            .unwrap_or_else(|| panic!("no event {t}: {transitions:#?}"))
    };
    assert!(
        at("db CREATE_COMPLETE") < at("api CREATE_IN_PROGRESS"),
        "{transitions:#?}"
    );
    assert!(
        at("api CREATE_COMPLETE") < at("web CREATE_IN_PROGRESS"),
        "{transitions:#?}"
    );
    at("web CREATE_COMPLETE");

    let log = cluster.lock().unwrap().log.clone();
    let patches = object_paths(&log, "PATCH");
    assert_eq!(
        patches,
        [
            "/api/v1/namespaces/shop-prod",
            "/api/v1/persistentvolumes/shop-prod-db-data",
            "/api/v1/namespaces/shop-prod/persistentvolumeclaims/shop-prod-db-data",
            "/api/v1/namespaces/shop-prod/services/db",
            "/apis/apps/v1/namespaces/shop-prod/statefulsets/db",
            "/api/v1/namespaces/shop-prod/configmaps/api-env",
            "/api/v1/namespaces/shop-prod/configmaps/api-files",
            "/api/v1/namespaces/shop-prod/services/api",
            "/apis/apps/v1/namespaces/shop-prod/deployments/api",
            "/api/v1/namespaces/shop-prod/services/web",
            "/apis/apps/v1/namespaces/shop-prod/deployments/web",
        ]
    );
    // The first api object is sent only after the db StatefulSet was read back ready, and
    // the first web object only after the api Deployment was.
    let index = |f: &dyn Fn(&Seen) -> bool| log.iter().position(f).unwrap();
    let db_ready = index(&|s| s.path.ends_with("/statefulsets/db") && s.ready == Some(true));
    let api_first = index(&|s| s.method == "PATCH" && s.path.ends_with("/configmaps/api-env"));
    let api_ready = index(&|s| s.path.ends_with("/deployments/api") && s.ready == Some(true));
    let web_first = index(&|s| s.method == "PATCH" && s.path.ends_with("/services/web"));
    assert!(db_ready < api_first, "{log:#?}");
    assert!(api_first < api_ready && api_ready < web_first, "{log:#?}");

    let history = deployer.history("shop", "shop-prod").await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].status, RevisionStatus::Deployed);
    assert_eq!(history[0].description, "Install");
}

#[tokio::test(start_paused = true)]
async fn an_upgrade_touches_only_the_changed_service_and_a_rollback_restores_it() {
    let (client, cluster) = fake_cluster();
    let deployer = deployer(client); // history in Secrets, in the fake cluster
    let (env, mut config) = prod();
    let template = shop::template("1.0.0");
    let v1 = Release::render(&template, &env, config.latest()).unwrap();
    deployer.deploy(&v1).await.unwrap();

    config
        .set("api.env.LOG_LEVEL", "debug", "debug logs", at(1))
        .unwrap();
    let v2 = Release::render(&template, &env, config.latest()).unwrap();
    let planned = deployer.plan(&v2).await.unwrap();
    assert_eq!(planned.to_update(), ["api"]);
    // The db (unchanged) is not ready for its next two reads: api waits for it.
    let db = "/apis/apps/v1/namespaces/shop-prod/statefulsets/db";
    cluster.lock().unwrap().unready_reads.insert(db.into(), 2);
    let start = cluster.lock().unwrap().log.len();
    let report = deployer.deploy(&v2).await.unwrap();
    assert_eq!(report.revision, 2);
    assert_eq!(report.updated, ["api"]);
    assert_eq!(report.unchanged, ["db", "web"]);
    let log = cluster.lock().unwrap().log[start..].to_vec();
    assert_eq!(services_touched(&log, "PATCH"), ["api"], "{log:#?}");
    assert_eq!(
        services_touched(&log, "GET"),
        ["db", "api"],
        "db is read (waited for), never applied: {log:#?}"
    );
    let db_reads: Vec<Option<bool>> = log
        .iter()
        .filter(|s| s.path == db)
        .map(|s| s.ready)
        .collect();
    assert_eq!(db_reads, [Some(false), Some(false), Some(true)]);
    let db_ready = log
        .iter()
        .position(|s| s.path == db && s.ready == Some(true))
        .unwrap();
    let api_first = log
        .iter()
        .position(|s| s.method == "PATCH" && !s.path.contains("/secrets"))
        .unwrap();
    assert!(db_ready < api_first, "{log:#?}");
    assert!(object_paths(&log, "DELETE").is_empty());
    let live_env = |cluster: &Shared| {
        cluster.lock().unwrap().objects["/api/v1/namespaces/shop-prod/configmaps/api-env"]["data"]
            ["LOG_LEVEL"]
            .clone()
    };
    assert_eq!(live_env(&cluster), "debug");

    // History as Secrets: labelled, one per revision.
    let secrets: Vec<(String, Value)> = cluster
        .lock()
        .unwrap()
        .objects
        .iter()
        .filter(|(p, _)| p.contains("/secrets/"))
        .map(|(p, o)| (p.clone(), o["metadata"]["labels"].clone()))
        .collect();
    assert_eq!(secrets.len(), 2);
    assert_eq!(
        secrets[0].0,
        "/api/v1/namespaces/shop-prod/secrets/iac.app.v1.shop.v1"
    );
    assert_eq!(secrets[0].1["status"], "superseded");
    assert_eq!(secrets[1].1["status"], "deployed");
    assert_eq!(secrets[1].1["owner"], "iac");

    let diff = deployer.diff("shop", "shop-prod", 1, 2).await.unwrap();
    assert_eq!(diff.to_update(), ["api"]);
    assert!(
        diff.to_string()
            .contains("-  LOG_LEVEL: info\n+  LOG_LEVEL: debug")
    );

    // Rollback: a new revision with revision 1's manifests, applied to api only.
    let start = cluster.lock().unwrap().log.len();
    let report = deployer.rollback("shop", "shop-prod", 1).await.unwrap();
    assert_eq!(report.revision, 3);
    assert_eq!(report.updated, ["api"]);
    let log = cluster.lock().unwrap().log[start..].to_vec();
    assert_eq!(services_touched(&log, "PATCH"), ["api"]);
    assert_eq!(live_env(&cluster), "info");
    let history = deployer.history("shop", "shop-prod").await.unwrap();
    let statuses: Vec<(u32, RevisionStatus, &str)> = history
        .iter()
        .map(|r| (r.number, r.status, r.description.as_str()))
        .collect();
    assert_eq!(
        statuses,
        [
            (1, RevisionStatus::Superseded, "Install"),
            (2, RevisionStatus::Superseded, "Upgrade"),
            (3, RevisionStatus::Deployed, "Rollback to 1"),
        ]
    );
    assert_eq!(history[2].release, history[0].release, "the old manifests");
    assert_eq!(history[2].config_version, Some(1));
    assert!(
        deployer
            .diff("shop", "shop-prod", 1, 3)
            .await
            .unwrap()
            .is_empty()
    );

    let err = deployer.rollback("shop", "shop-prod", 9).await.unwrap_err();
    assert_eq!(err.to_string(), "shop in shop-prod has no revision 9");
}

#[tokio::test(start_paused = true)]
async fn a_dropped_service_is_deleted_and_history_is_capped() {
    let (client, cluster) = fake_cluster();
    let deployer = deployer(client).with_max_history(2);
    let (env, config) = prod();
    let v1 = Release::render(&shop::template("1.0.0"), &env, config.latest()).unwrap();
    deployer.deploy(&v1).await.unwrap();

    // Template 2.0.0 has no web service.
    let mut without_web = Release::render(&shop::template("2.0.0"), &env, config.latest()).unwrap();
    without_web.rendered.services.shift_remove("web");
    let start = cluster.lock().unwrap().log.len();
    let report = deployer.deploy(&without_web).await.unwrap();
    assert!(report.updated.is_empty());
    assert_eq!(report.removed, ["web"]);
    let log = cluster.lock().unwrap().log[start..].to_vec();
    assert!(object_paths(&log, "PATCH").is_empty(), "{log:#?}");
    assert_eq!(
        object_paths(&log, "DELETE"),
        [
            "/apis/apps/v1/namespaces/shop-prod/deployments/web",
            "/api/v1/namespaces/shop-prod/services/web",
        ]
    );

    deployer.deploy(&v1).await.unwrap();
    let numbers: Vec<u32> = deployer
        .history("shop", "shop-prod")
        .await
        .unwrap()
        .iter()
        .map(|r| r.number)
        .collect();
    assert_eq!(numbers, [2, 3], "capped at 2: revision 1 pruned");
    assert!(
        !cluster
            .lock()
            .unwrap()
            .objects
            .contains_key("/api/v1/namespaces/shop-prod/secrets/iac.app.v1.shop.v1")
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_service_stops_its_dependants_and_marks_the_revision_failed() {
    let (client, cluster) = fake_cluster();
    cluster
        .lock()
        .unwrap()
        .failing
        .insert("/apis/apps/v1/namespaces/shop-prod/deployments/api".into());
    let history = Arc::new(MemoryHistory::new());
    let deployer = deployer(client).with_history(history.clone());
    let (env, config) = prod();
    let release = Release::render(&shop::template("1.0.0"), &env, config.latest()).unwrap();
    let err = deployer.deploy(&release).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("revision 1 of shop in shop-prod failed: service api"),
        "{text}"
    );
    assert!(text.contains("ProgressDeadlineExceeded"), "{text}");
    assert!(text.contains("not started: web"), "{text}");
    assert!(matches!(err, AppError::Deploy { revision: 1, .. }));
    let log = cluster.lock().unwrap().log.clone();
    assert_eq!(
        services_touched(&log, "PATCH"),
        ["db", "api"],
        "web never started"
    );
    let revisions = deployer.history("shop", "shop-prod").await.unwrap();
    assert_eq!(revisions[0].status, RevisionStatus::Failed);
}

#[tokio::test(start_paused = true)]
async fn dev_and_prod_deploy_in_one_call_each_in_its_namespace() {
    let (client, cluster) = fake_cluster();
    let deployer = deployer(client).with_history(Arc::new(MemoryHistory::new()));
    let (prod_env, prod_config) = prod();
    let releases = iac_k8s::app::replicate(
        &shop::template("1.0.0"),
        &[
            (Environment::new("dev", "shop-dev"), None),
            (prod_env, prod_config.latest()),
        ],
    )
    .unwrap();
    let reports = deployer.deploy_all(&releases).await.unwrap();
    assert_eq!(reports.len(), 2);
    let cluster = cluster.lock().unwrap();
    for ns in ["shop-dev", "shop-prod"] {
        let path = format!("/apis/apps/v1/namespaces/{ns}/deployments/web");
        assert!(cluster.objects.contains_key(&path), "{path}");
    }
    assert_eq!(
        cluster.objects["/apis/apps/v1/namespaces/shop-dev/deployments/web"]["spec"]["replicas"],
        1
    );
    assert_eq!(
        cluster.objects["/apis/apps/v1/namespaces/shop-prod/deployments/web"]["spec"]["replicas"],
        3
    );
}

#[tokio::test(start_paused = true)]
async fn history_in_an_iac_core_state_file_survives_the_process() {
    let (client, cluster) = fake_cluster();
    let dir = tempfile::tempdir().unwrap();
    let history = || {
        Arc::new(StateHistory::new(Arc::new(FileStateStore::new(dir.path()))))
            as Arc<dyn HistoryStore>
    };
    let (env, mut config) = prod();
    let template = shop::template("1.0.0");
    let v1 = Release::render(&template, &env, config.latest()).unwrap();
    deployer(client.clone())
        .with_history(history())
        .deploy(&v1)
        .await
        .unwrap();

    // A new deployer (a new process) reads the history from the state file: nothing to do
    // for the same release, one service for a change.
    let again = deployer(client).with_history(history());
    assert!(again.plan(&v1).await.unwrap().is_empty());
    config.set("api.replicas", 4, "scale api", at(1)).unwrap();
    let v2 = Release::render(&template, &env, config.latest()).unwrap();
    let start = cluster.lock().unwrap().log.len();
    let report = again.deploy(&v2).await.unwrap();
    assert_eq!(
        (report.revision, report.updated.as_slice()),
        (2, ["api".to_owned()].as_slice())
    );
    let log = cluster.lock().unwrap().log[start..].to_vec();
    assert_eq!(services_touched(&log, "PATCH"), ["api"]);
    assert!(
        log.iter().all(|s| !s.path.contains("/secrets")),
        "no Secrets: {log:#?}"
    );

    let stored = FileStateStore::new(dir.path())
        .load(&StateHistory::stack_name("shop", "shop-prod"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.outputs.keys().collect::<Vec<_>>(), ["v1", "v2"]);
    let revisions = again.history("shop", "shop-prod").await.unwrap();
    assert_eq!(revisions[1].config_version, Some(2));
    assert_eq!(revisions[1].release, v2.rendered);
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_deploy_blocks_the_next_until_a_rollback() {
    let (client, cluster) = fake_cluster();
    let history = Arc::new(MemoryHistory::new());
    let deployer = deployer(client).with_history(history.clone());
    let (env, mut config) = prod();
    let template = shop::template("1.0.0");
    let v1 = Release::render(&template, &env, config.latest()).unwrap();
    deployer.deploy(&v1).await.unwrap();

    // A deploy that died after writing its pending revision.
    let mut pending = deployer.revision("shop", "shop-prod", 1).await.unwrap();
    pending.number = 2;
    pending.status = RevisionStatus::PendingUpgrade;
    history.put(&pending).await.unwrap();

    config.set("web.replicas", 5, "more web", at(1)).unwrap();
    let v2 = Release::render(&template, &env, config.latest()).unwrap();
    let start = cluster.lock().unwrap().log.len();
    let err = deployer.deploy(&v2).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "shop in shop-prod: revision 2 is pending-upgrade: another deploy is running or was \
         interrupted (roll back to a revision to go on)"
    );
    assert_eq!(err.kind(), iac_core::provider::ErrorKind::Conflict);
    assert_eq!(cluster.lock().unwrap().log.len(), start, "nothing sent");

    let report = deployer.rollback("shop", "shop-prod", 1).await.unwrap();
    assert_eq!(report.revision, 3);
    assert!(report.updated.is_empty(), "revision 1 is what runs");
    let stale = deployer.revision("shop", "shop-prod", 2).await.unwrap();
    assert_eq!(stale.status, RevisionStatus::Failed);
    assert_eq!(deployer.deploy(&v2).await.unwrap().updated, ["web"]);
}
