//! `iac_k8s::apply` against a tower-test mock of the API server: the exact requests sent,
//! their order, pruning, waiting and the handler's calls and error kinds.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use iac_core::provider::{
    ClientToken, CreateRequest, Deleted, ErrorKind, PhysicalId, Properties, Readiness,
    ResourceHandler,
};
use iac_k8s::apply::{Applier, Error, ManifestHandler, ObjectRef};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};

/// One request the mock received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: String,
    content_type: String,
    body: Value,
}

/// What the mock answers: a status and a JSON body, or nothing (the request stays open).
enum Answer {
    Json(u16, Value),
    Hold,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// A client whose requests go to `answer`; every request is logged in order.
fn mock(answer: impl Fn(&Seen) -> Answer + Send + 'static) -> (Client, Log) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let log: Log = Arc::default();
    let seen_log = Arc::clone(&log);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Some((request, reply)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let bytes = body.collect_bytes().await.unwrap_or_default();
            let seen = Seen {
                method: parts.method.to_string(),
                path: parts.uri.path().to_owned(),
                query: parts.uri.query().unwrap_or("").to_owned(),
                content_type: parts
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned(),
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            };
            let answer = answer(&seen);
            seen_log.lock().unwrap().push(seen);
            match answer {
                Answer::Json(code, value) => reply.send_response(
                    Response::builder()
                        .status(code)
                        .header("content-type", "application/json")
                        .body(Body::from(serde_json::to_vec(&value).unwrap()))
                        .unwrap(),
                ),
                Answer::Hold => held.push(reply),
            }
        }
    });
    (Client::new(service, "default"), log)
}

/// The applied object as a server would answer: the body with a uid and generation.
fn echo(seen: &Seen) -> Answer {
    let mut body = seen.body.clone();
    body["metadata"]["uid"] = json!("uid-1");
    body["metadata"]["generation"] = json!(1);
    Answer::Json(200, body)
}

fn status(code: u16, reason: &str, message: &str) -> Answer {
    Answer::Json(
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "reason": reason, "message": message, "code": code}),
    )
}

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "prod"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
    })
}

/// A live Deployment `prod/web` at generation 2 with the given status.
fn live_deployment(observed: i64, available: i64, reason: &str) -> Value {
    let mut d = deployment("web");
    d["metadata"]["generation"] = json!(2);
    d["metadata"]["uid"] = json!("uid-web");
    d["status"] = json!({
        "observedGeneration": observed, "replicas": 2, "availableReplicas": available,
        "conditions": [{"type": "Progressing", "status": "True", "reason": reason}]
    });
    d
}

fn list_of(items: Vec<Value>) -> Answer {
    Answer::Json(
        200,
        json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "7"},
               "items": items}),
    )
}

#[tokio::test]
async fn apply_sends_one_server_side_apply_patch_with_the_labels() {
    let (client, log) = mock(echo);
    let applier = Applier::new(client, "iac").with_release("shop").unwrap();
    let report = applier.apply(&[deployment("web")]).await.unwrap();

    let log = log.lock().unwrap();
    assert_eq!(log.len(), 1, "{log:#?}");
    let patch = &log[0];
    assert_eq!(patch.method, "PATCH");
    assert_eq!(patch.path, "/apis/apps/v1/namespaces/prod/deployments/web");
    let params: Vec<&str> = patch.query.split('&').collect();
    assert!(params.contains(&"fieldManager=iac"), "{}", patch.query);
    assert!(params.contains(&"force=true"), "{}", patch.query);
    assert_eq!(patch.content_type, "application/apply-patch+yaml");
    let labels = &patch.body["metadata"]["labels"];
    assert_eq!(labels["app.kubernetes.io/managed-by"], "iac");
    assert_eq!(labels["iac.dev/release"], "shop");
    assert_eq!(patch.body["spec"]["replicas"], 2);

    assert_eq!(
        report.objects(),
        vec![ObjectRef::new("apps/v1", "Deployment", Some("prod"), "web")]
    );
    assert_eq!(
        report.applied[0].live.metadata.uid.as_deref(),
        Some("uid-1")
    );
}

#[tokio::test]
async fn a_mixed_apply_runs_in_a_safe_order() {
    let (client, log) = mock(echo);
    let applier = Applier::new(client, "");
    let objects = vec![
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "web", "namespace": "prod"}, "spec": {}}),
        deployment("web"),
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web", "namespace": "prod"}, "spec": {}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
    ];
    let report = applier.apply(&objects).await.unwrap();

    let paths: Vec<String> = log.lock().unwrap().iter().map(|s| s.path.clone()).collect();
    assert_eq!(
        paths,
        vec![
            "/api/v1/namespaces/prod",
            // No namespace in the manifest: the client's default namespace.
            "/api/v1/namespaces/default/configmaps/cfg",
            "/api/v1/namespaces/prod/services/web",
            "/apis/apps/v1/namespaces/prod/deployments/web",
            "/apis/networking.k8s.io/v1/namespaces/prod/ingresses/web",
        ]
    );
    assert_eq!(report.applied.len(), 5);
    // The default field manager is "iac", and nothing was sent before every object was
    // checked: a bad object fails the whole apply up front.
    assert!(log.lock().unwrap()[0].query.contains("fieldManager=iac"));
    let before = log.lock().unwrap().len();
    let err = applier
        .apply(&[
            deployment("ok"),
            json!({"apiVersion": "v1", "kind": "ConfigMap"}),
        ])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.to_string().contains("object #2"), "{err}");
    assert_eq!(log.lock().unwrap().len(), before);
}

#[tokio::test]
async fn prune_lists_by_label_and_deletes_only_the_stale_object() {
    let (client, log) = mock(|seen| match (seen.method.as_str(), seen.path.as_str()) {
        ("GET", "/apis/apps/v1/deployments") => {
            let mut old = deployment("old");
            old["metadata"]["uid"] = json!("uid-old");
            list_of(vec![deployment("web"), old])
        }
        // A kind this cluster does not serve is skipped.
        ("GET", "/apis/networking.k8s.io/v1/ingresses") => status(404, "NotFound", "no"),
        ("GET", _) => list_of(vec![]),
        ("DELETE", _) => Answer::Json(
            200,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}),
        ),
        _ => status(405, "MethodNotAllowed", "unexpected"),
    });
    let applier = Applier::new(client, "iac");
    let keep = vec![ObjectRef::new("apps/v1", "Deployment", Some("prod"), "web")];
    let report = applier.prune("shop", &keep).await.unwrap();

    assert_eq!(
        report.deleted,
        vec![ObjectRef::new("apps/v1", "Deployment", Some("prod"), "old")]
    );
    let log = log.lock().unwrap();
    let lists: Vec<&Seen> = log.iter().filter(|s| s.method == "GET").collect();
    assert_eq!(lists.len(), iac_k8s::apply::KNOWN_KINDS.len());
    for list in &lists {
        assert!(
            list.query.contains(
                "labelSelector=app.kubernetes.io%2Fmanaged-by%3Diac%2Ciac.dev%2Frelease%3Dshop"
            ),
            "{list:?}"
        );
    }
    // Reverse apply order: Ingress first, Namespaces last.
    assert_eq!(lists[0].path, "/apis/networking.k8s.io/v1/ingresses");
    assert_eq!(lists.last().unwrap().path, "/api/v1/namespaces");
    let deletes: Vec<&Seen> = log.iter().filter(|s| s.method == "DELETE").collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(
        deletes[0].path,
        "/apis/apps/v1/namespaces/prod/deployments/old"
    );
}

#[tokio::test]
async fn wait_returns_once_the_deployment_reports_completed() {
    let (client, log) = mock(|seen| {
        if seen.query.contains("watch=true") {
            Answer::Hold
        } else {
            list_of(vec![live_deployment(2, 2, "NewReplicaSetAvailable")])
        }
    });
    let applier = Applier::new(client, "iac");
    let web = ObjectRef::new("apps/v1", "Deployment", Some("prod"), "web");
    // A ConfigMap has nothing to wait for: no request for it.
    let cfg = ObjectRef::new("v1", "ConfigMap", Some("prod"), "cfg");
    applier
        .wait(&[cfg, web], Duration::from_secs(60))
        .await
        .unwrap();
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0].path, "/apis/apps/v1/namespaces/prod/deployments");
    assert!(
        log[0].query.contains("fieldSelector=metadata.name%3Dweb"),
        "{}",
        log[0].query
    );
}

#[tokio::test(start_paused = true)]
async fn wait_times_out_naming_the_object_that_never_completed() {
    let (client, _log) = mock(|seen| {
        if seen.query.contains("watch=true") {
            Answer::Hold
        } else {
            // Still rolling out: one of two replicas available.
            list_of(vec![live_deployment(2, 1, "ReplicaSetUpdated")])
        }
    });
    let applier = Applier::new(client, "iac");
    let web = ObjectRef::new("apps/v1", "Deployment", Some("prod"), "web");
    let started = tokio::time::Instant::now();
    let err = applier
        .wait(&[web], Duration::from_secs(30))
        .await
        .unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_secs(30));
    let Error::Timeout { not_ready, timeout } = &err else {
        panic!("not a timeout: {err}");
    };
    assert_eq!(*timeout, Duration::from_secs(30));
    assert_eq!(not_ready.len(), 1);
    assert_eq!(not_ready[0].object, "apps/v1 Deployment prod/web");
    assert_eq!(
        err.to_string(),
        "not ready within 30s: apps/v1 Deployment prod/web \
         (1 of 2 replicas available, ReplicaSetUpdated)"
    );
    assert_eq!(err.kind(), ErrorKind::Transient);
}

#[tokio::test]
async fn wait_fails_at_once_past_the_progress_deadline() {
    let (client, _log) = mock(|_| list_of(vec![live_deployment(2, 0, "ProgressDeadlineExceeded")]));
    let applier = Applier::new(client, "iac");
    let web = ObjectRef::new("apps/v1", "Deployment", Some("prod"), "web");
    let err = applier
        .wait(&[web], Duration::from_secs(600))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Failed { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("apps/v1 Deployment prod/web failed"),
        "{err}"
    );
}

fn props(manifest: Value) -> Properties {
    let mut p = Properties::new();
    p.insert("Manifest".into(), manifest);
    p.insert("Release".into(), json!("shop"));
    p
}

#[tokio::test]
async fn handler_create_read_delete() {
    let (client, log) = mock(|seen| match seen.method.as_str() {
        "PATCH" => echo(seen),
        "GET" => Answer::Json(200, live_deployment(2, 2, "NewReplicaSetAvailable")),
        "DELETE" => Answer::Json(
            200,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}),
        ),
        _ => status(405, "MethodNotAllowed", "unexpected"),
    });
    let handler = ManifestHandler::new(client);
    // The manifest as a YAML string.
    let yaml = serde_yaml::to_string(&deployment("web")).unwrap();
    let properties = props(json!(yaml));
    let token = ClientToken::derive("stack", "Web", 1);
    let created = handler
        .create(CreateRequest {
            stack: "stack",
            logical_id: "Web",
            properties: &std::sync::Arc::new(properties.clone()),
            client_token: &token,
        })
        .await
        .unwrap();
    assert_eq!(created.physical_id.as_str(), "apps/v1/Deployment/prod/web");
    // Just applied: no status yet, so the engine polls.
    assert!(
        matches!(created.readiness, Readiness::Pending { .. }),
        "{:?}",
        created.readiness
    );

    let ready = handler
        .read(&created.physical_id, &properties)
        .await
        .unwrap();
    let Readiness::Ready(attrs) = ready else {
        panic!("not ready: {ready:?}");
    };
    assert_eq!(attrs["Name"], "web");
    assert_eq!(attrs["Namespace"], "prod");
    assert_eq!(attrs["Uid"], "uid-web");
    assert!(!attrs.contains_key("LoadBalancerIngress"));

    let deleted = handler
        .delete(&created.physical_id, &properties)
        .await
        .unwrap();
    assert_eq!(deleted, Deleted::Done);

    let log = log.lock().unwrap();
    let calls: Vec<(String, String)> = log
        .iter()
        .map(|s| (s.method.clone(), s.path.clone()))
        .collect();
    let path = "/apis/apps/v1/namespaces/prod/deployments/web".to_owned();
    assert_eq!(
        calls,
        vec![
            ("PATCH".to_owned(), path.clone()),
            ("GET".to_owned(), path.clone()),
            ("DELETE".to_owned(), path),
        ]
    );
    assert_eq!(log[0].body["metadata"]["labels"]["iac.dev/release"], "shop");
}

#[tokio::test]
async fn handler_reads_gone_and_deletes_gone_objects_as_done() {
    let (client, _log) = mock(|_| status(404, "NotFound", "deployments.apps \"web\" not found"));
    let handler = ManifestHandler::new(client);
    let id = PhysicalId::new("apps/v1/Deployment/prod/web");
    let properties = props(deployment("web"));
    assert_eq!(
        handler.read(&id, &properties).await.unwrap(),
        Readiness::Gone
    );
    assert_eq!(
        handler.delete(&id, &properties).await.unwrap(),
        Deleted::Done
    );
}

#[tokio::test]
async fn handler_reports_the_load_balancer_address() {
    let (client, _log) = mock(|_| {
        Answer::Json(
            200,
            json!({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "web", "namespace": "prod", "uid": "u"},
                   "spec": {"type": "LoadBalancer"},
                   "status": {"loadBalancer": {"ingress": [{"ip": "47.1.2.3"}]}}}),
        )
    });
    let handler = ManifestHandler::new(client);
    let id = PhysicalId::new("v1/Service/prod/web");
    let ready = handler.read(&id, &Properties::new()).await.unwrap();
    let Readiness::Ready(attrs) = ready else {
        panic!("not ready: {ready:?}");
    };
    assert_eq!(attrs["LoadBalancerIngress"], "47.1.2.3");
}

async fn create_error(answer: fn(&Seen) -> Answer) -> iac_core::provider::HandlerError {
    let (client, _log) = mock(answer);
    let handler = ManifestHandler::new(client);
    let properties = props(deployment("web"));
    let token = ClientToken::derive("stack", "Web", 1);
    handler
        .create(CreateRequest {
            stack: "stack",
            logical_id: "Web",
            properties: &std::sync::Arc::new(properties.clone()),
            client_token: &token,
        })
        .await
        .unwrap_err()
}

#[tokio::test]
async fn handler_maps_server_errors_to_kinds() {
    let conflict = create_error(|_| status(409, "Conflict", "Apply failed with 1 conflict")).await;
    assert_eq!(conflict.kind, ErrorKind::Conflict);
    assert!(
        conflict.message.contains("apps/v1 Deployment prod/web"),
        "{}",
        conflict.message
    );

    let invalid = create_error(|_| {
        status(
            422,
            "Invalid",
            "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1",
        )
    })
    .await;
    assert_eq!(invalid.kind, ErrorKind::Invalid);
    assert_eq!(
        invalid.message,
        "apply apps/v1 Deployment prod/web: HTTP 422 Invalid: \
         Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1"
    );

    let throttled = create_error(|_| status(429, "TooManyRequests", "slow down")).await;
    assert!(matches!(throttled.kind, ErrorKind::Throttled { .. }));
    let unavailable = create_error(|_| status(503, "ServiceUnavailable", "etcd")).await;
    assert_eq!(unavailable.kind, ErrorKind::Transient);
    let forbidden = create_error(|_| status(403, "Forbidden", "no")).await;
    assert_eq!(forbidden.kind, ErrorKind::Auth);
}

#[tokio::test]
async fn handler_refuses_an_identity_change_and_bad_manifests() {
    let (client, log) = mock(echo);
    let handler = ManifestHandler::new(client);
    let id = PhysicalId::new("apps/v1/Deployment/prod/web");
    let err = handler
        .update(&id, &props(deployment("web")), &props(deployment("api")))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid);
    assert!(
        err.message.contains("apps/v1 Deployment prod/api"),
        "{}",
        err.message
    );
    // A change that keeps the identity is applied again.
    let mut scaled = deployment("web");
    scaled["spec"]["replicas"] = json!(5);
    handler
        .update(&id, &props(deployment("web")), &props(scaled))
        .await
        .unwrap();
    {
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].body["spec"]["replicas"], 5);
    }

    let two = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n";
    // Reading goes by the physical id; only create and update need a single object.
    assert!(handler.read(&id, &props(json!(two))).await.is_ok());
    let token = ClientToken::derive("s", "N", 1);
    let properties = props(json!(two));
    let err = handler
        .create(CreateRequest {
            stack: "s",
            logical_id: "N",
            properties: &std::sync::Arc::new(properties.clone()),
            client_token: &token,
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid);
    assert!(
        err.message.contains("exactly one object"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn inline_kubeconfig_credentials_never_show() {
    let secret = "s3cr3t-bearer-token-value";
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n\
         clusters: [{{name: k, cluster: {{server: \"https://127.0.0.1:1\"}}}}]\n\
         users: [{{name: u, user: {{token: {secret}}}}}]\n\
         contexts: [{{name: c, context: {{cluster: k, user: u, namespace: prod}}}}]\n"
    );
    let handler = ManifestHandler::without_default_client();
    let mut properties = props(deployment("web"));
    properties.insert("Kubeconfig".into(), json!(kubeconfig));
    let id = PhysicalId::new("apps/v1/Deployment/prod/web");
    // The server refuses the connection: a transient error, without the token.
    let err = handler.read(&id, &properties).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transient, "{}", err.message);
    assert!(
        err.message.contains("apps/v1 Deployment prod/web"),
        "{}",
        err.message
    );
    assert!(!err.message.contains(secret));
    assert!(!format!("{err:?}").contains(secret));
    assert!(!format!("{handler:?}").contains(secret), "{handler:?}");

    // A broken kubeconfig that holds the token: the parse error is not passed on.
    let broken = format!("users: [{{name: u, user: {{token: {secret}}}}}]\nclusters: 7\n");
    properties.insert("Kubeconfig".into(), json!(broken));
    let err = handler.read(&id, &properties).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Auth);
    assert!(!err.message.contains(secret), "{}", err.message);

    // Without a default client the Kubeconfig is required.
    properties.remove("Kubeconfig");
    let err = handler.read(&id, &properties).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid);
}

#[tokio::test]
async fn a_kubeconfig_that_skips_tls_verification_is_refused() {
    let insecure = "apiVersion: v1\nkind: Config\ncurrent-context: c\n\
         clusters: [{name: k, cluster: {server: \"https://127.0.0.1:1\", insecure-skip-tls-verify: true}}]\n\
         users: [{name: u, user: {token: t}}]\n\
         contexts: [{name: c, context: {cluster: k, user: u}}]\n";
    let handler = ManifestHandler::without_default_client();
    let mut properties = props(deployment("web"));
    properties.insert("Kubeconfig".into(), json!(insecure));
    let id = PhysicalId::new("apps/v1/Deployment/prod/web");
    let err = handler.read(&id, &properties).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Auth, "{}", err.message);
    assert!(
        err.message.contains("insecure-skip-tls-verify") && err.message.contains("always verified"),
        "{}",
        err.message
    );
    // The same cluster without the setting gets as far as the connection.
    properties.insert(
        "Kubeconfig".into(),
        json!(insecure.replace(", insecure-skip-tls-verify: true", "")),
    );
    let err = handler.read(&id, &properties).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transient, "{}", err.message);
}

#[tokio::test]
async fn a_new_name_or_kind_in_the_manifest_is_a_replacement_and_a_new_image_is_not() {
    let (client, log) = mock(|_| status(405, "MethodNotAllowed", "no call expected"));
    let handler = ManifestHandler::new(client);
    let web = props(deployment("web"));
    let mut new_image = deployment("web");
    new_image["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    assert_eq!(handler.replacement_reason(&web, &props(new_image)), None);
    let renamed = handler.replacement_reason(&web, &props(deployment("api")));
    assert!(
        renamed
            .as_deref()
            .is_some_and(|r| r.contains("api") && r.contains("web")),
        "{renamed:?}"
    );
    let mut other_kind = deployment("web");
    other_kind["kind"] = json!("StatefulSet");
    assert!(
        handler
            .replacement_reason(&web, &props(other_kind))
            .is_some()
    );
    // A YAML string and the same object as JSON are the same identity.
    let yaml = props(json!(serde_yaml::to_string(&deployment("web")).unwrap()));
    assert_eq!(handler.replacement_reason(&web, &yaml), None);
    assert!(
        log.lock().unwrap().is_empty(),
        "deciding needs no call to the cluster"
    );
}
