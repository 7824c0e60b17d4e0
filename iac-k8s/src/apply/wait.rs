//! Readiness of live objects (pure) and waiting for it (one watch per object).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::DynamicObject;
use kube::runtime::wait::{Condition, await_condition, conditions};
use serde_json::Value;

use super::{Applier, Error, NotReady, ObjectRef};

/// How ready a live object is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadyState {
    /// Ready for use.
    Ready,
    /// Still settling; what was seen (`1 of 3 replicas available`).
    Pending(String),
    /// It will not get ready by itself (`ProgressDeadlineExceeded`, PVC `Lost`).
    Failed(String),
    /// It is being deleted.
    Terminating,
}

/// True when `wait` and the handler wait for objects of this group and kind.
pub(crate) fn has_readiness(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        ("apps", "Deployment")
            | ("apps", "StatefulSet")
            | ("", "Service")
            | ("", "PersistentVolumeClaim")
    )
}

/// How ready `live`, an object of `group`/`kind`, is. Deployments: rolled out at the
/// current generation (`observedGeneration` caught up, kube's `is_deployment_completed`,
/// all desired replicas available); failed past the progress deadline. StatefulSets: the
/// current generation observed and every desired replica updated and ready. Services of type
/// `LoadBalancer`: an ingress IP or hostname (kube's `is_service_loadbalancer_provisioned`,
/// and at least one entry). PVCs: `Bound`; failed when `Lost`. Every other kind: ready.
pub fn assess(group: &str, kind: &str, live: &DynamicObject) -> ReadyState {
    if live.metadata.deletion_timestamp.is_some() {
        return ReadyState::Terminating;
    }
    match (group, kind) {
        ("apps", "Deployment") => assess_deployment(live),
        ("apps", "StatefulSet") => assess_stateful_set(live),
        ("", "Service") => assess_service(live),
        ("", "PersistentVolumeClaim") => {
            match live.data.pointer("/status/phase").and_then(Value::as_str) {
                Some("Bound") => ReadyState::Ready,
                Some("Lost") => ReadyState::Failed("PersistentVolumeClaim is Lost".into()),
                Some(phase) => ReadyState::Pending(format!("phase {phase}")),
                None => ReadyState::Pending("no phase yet".into()),
            }
        }
        _ => ReadyState::Ready,
    }
}

/// The typed form of a dynamic object (list items carry no apiVersion/kind, which the
/// typed decoding requires).
fn typed<K: serde::de::DeserializeOwned>(
    live: &DynamicObject,
    api_version: &str,
    kind: &str,
) -> Option<K> {
    let mut value = serde_json::to_value(live).ok()?;
    let map = value.as_object_mut()?;
    map.insert("apiVersion".into(), Value::String(api_version.into()));
    map.insert("kind".into(), Value::String(kind.into()));
    serde_json::from_value(value).ok()
}

fn int(live: &DynamicObject, pointer: &str) -> Option<i64> {
    live.data.pointer(pointer).and_then(Value::as_i64)
}

fn assess_deployment(live: &DynamicObject) -> ReadyState {
    let conditions = live
        .data
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let progressing = conditions
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Progressing"));
    let reason = progressing
        .and_then(|c| c.get("reason"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if reason == "ProgressDeadlineExceeded" {
        let message = progressing
            .and_then(|c| c.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("");
        return ReadyState::Failed(format!("ProgressDeadlineExceeded: {message}"));
    }
    let desired = int(live, "/spec/replicas").unwrap_or(1);
    let available = int(live, "/status/availableReplicas").unwrap_or(0);
    let generation = live.metadata.generation.unwrap_or(0);
    let observed = int(live, "/status/observedGeneration").unwrap_or(0);
    if observed < generation {
        return ReadyState::Pending(format!(
            "generation {generation} not yet observed ({available} of {desired} replicas available)"
        ));
    }
    let completed = typed::<Deployment>(live, "apps/v1", "Deployment")
        .is_some_and(|d| conditions::is_deployment_completed().matches_object(Some(&d)));
    if completed && available >= desired {
        ReadyState::Ready
    } else {
        let reason = if reason.is_empty() {
            "no Progressing condition"
        } else {
            reason
        };
        ReadyState::Pending(format!(
            "{available} of {desired} replicas available, {reason}"
        ))
    }
}

fn assess_stateful_set(live: &DynamicObject) -> ReadyState {
    let desired = int(live, "/spec/replicas").unwrap_or(1);
    let ready = int(live, "/status/readyReplicas").unwrap_or(0);
    let updated = int(live, "/status/updatedReplicas").unwrap_or(0);
    let generation = live.metadata.generation.unwrap_or(0);
    let observed = int(live, "/status/observedGeneration").unwrap_or(0);
    if observed < generation {
        return ReadyState::Pending(format!(
            "generation {generation} not yet observed ({ready} of {desired} replicas ready)"
        ));
    }
    if ready >= desired && updated >= desired {
        ReadyState::Ready
    } else {
        ReadyState::Pending(format!(
            "{ready} of {desired} replicas ready, {updated} updated"
        ))
    }
}

/// The first load balancer ingress address of a Service (IP, else hostname).
pub(crate) fn load_balancer_ingress(live: &DynamicObject) -> Option<String> {
    let ingress = live
        .data
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)?;
    ingress.iter().find_map(|i| {
        i.get("ip")
            .or_else(|| i.get("hostname"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    })
}

fn assess_service(live: &DynamicObject) -> ReadyState {
    if live.data.pointer("/spec/type").and_then(Value::as_str) != Some("LoadBalancer") {
        return ReadyState::Ready;
    }
    let provisioned = typed::<Service>(live, "v1", "Service").is_some_and(|s| {
        conditions::is_service_loadbalancer_provisioned().matches_object(Some(&s))
    });
    if provisioned && load_balancer_ingress(live).is_some() {
        ReadyState::Ready
    } else {
        ReadyState::Pending("load balancer has no ingress address yet".into())
    }
}

enum Outcome {
    Ready,
    Failed(Error),
    NotReady(NotReady),
}

async fn wait_one(applier: &Applier, object: &ObjectRef, timeout: Duration) -> Outcome {
    let resolved = match applier.resolve(&object.api_version, &object.kind).await {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(e),
    };
    let api = applier.api_for(&resolved, object);
    let group = object.group().to_owned();
    let kind = object.kind.clone();
    let last = Arc::new(Mutex::new(String::from("not seen yet")));
    let seen = Arc::clone(&last);
    let done = move |obj: Option<&DynamicObject>| {
        let state = obj.map_or(ReadyState::Pending("not found".into()), |o| {
            assess(&group, &kind, o)
        });
        let text = match &state {
            ReadyState::Ready => "ready".to_owned(),
            ReadyState::Pending(s) | ReadyState::Failed(s) => s.clone(),
            ReadyState::Terminating => "being deleted".to_owned(),
        };
        if let Ok(mut last) = seen.lock() {
            *last = text;
        }
        matches!(state, ReadyState::Ready | ReadyState::Failed(_))
    };
    match tokio::time::timeout(timeout, await_condition(api, &object.name, done)).await {
        Ok(Ok(Some(live))) => match assess(object.group(), &object.kind, &live) {
            ReadyState::Failed(reason) => Outcome::Failed(Error::Failed {
                object: object.to_string(),
                reason,
            }),
            _ => Outcome::Ready,
        },
        Ok(Ok(None)) => Outcome::Ready,
        Ok(Err(e)) => Outcome::Failed(Error::Client {
            action: "watch",
            object: object.to_string(),
            source: Box::new(e),
        }),
        Err(_elapsed) => Outcome::NotReady(NotReady {
            object: object.to_string(),
            last_status: last.lock().map(|s| s.clone()).unwrap_or_default(),
        }),
    }
}

pub(crate) async fn wait_all(
    applier: &Applier,
    objects: &[ObjectRef],
    timeout: Duration,
) -> Result<(), Error> {
    let waits = objects
        .iter()
        .filter(|o| has_readiness(o.group(), &o.kind))
        .map(|o| wait_one(applier, o, timeout));
    let outcomes = futures::future::join_all(waits).await;
    let mut not_ready = Vec::new();
    for outcome in outcomes {
        match outcome {
            Outcome::Ready => {}
            Outcome::Failed(e) => return Err(e),
            Outcome::NotReady(n) => not_ready.push(n),
        }
    }
    if not_ready.is_empty() {
        Ok(())
    } else {
        Err(Error::Timeout { timeout, not_ready })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> DynamicObject {
        serde_json::from_value(value).unwrap()
    }

    fn deployment(generation: i64, observed: i64, available: i64, reason: &str) -> DynamicObject {
        object(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "prod", "generation": generation},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": observed, "availableReplicas": available,
                "conditions": [{"type": "Progressing", "status": "True", "reason": reason,
                                "message": "m"}]}
        }))
    }

    #[test]
    fn deployments() {
        assert_eq!(
            assess(
                "apps",
                "Deployment",
                &deployment(2, 2, 2, "NewReplicaSetAvailable")
            ),
            ReadyState::Ready
        );
        // The condition of the previous rollout does not count for a new generation.
        assert!(matches!(
            assess("apps", "Deployment", &deployment(3, 2, 2, "NewReplicaSetAvailable")),
            ReadyState::Pending(s) if s.contains("generation 3")
        ));
        assert_eq!(
            assess(
                "apps",
                "Deployment",
                &deployment(2, 2, 1, "ReplicaSetUpdated")
            ),
            ReadyState::Pending("1 of 2 replicas available, ReplicaSetUpdated".into())
        );
        assert!(matches!(
            assess(
                "apps",
                "Deployment",
                &deployment(2, 2, 0, "ProgressDeadlineExceeded")
            ),
            ReadyState::Failed(_)
        ));
    }

    #[test]
    fn stateful_sets() {
        let set = |generation: i64, observed: i64, ready: i64, updated: i64| {
            object(json!({
                "apiVersion": "apps/v1", "kind": "StatefulSet",
                "metadata": {"name": "db", "namespace": "prod", "generation": generation},
                "spec": {"replicas": 2},
                "status": {"observedGeneration": observed, "readyReplicas": ready,
                           "updatedReplicas": updated}
            }))
        };
        assert_eq!(
            assess("apps", "StatefulSet", &set(1, 1, 2, 2)),
            ReadyState::Ready
        );
        assert_eq!(
            assess("apps", "StatefulSet", &set(1, 1, 1, 2)),
            ReadyState::Pending("1 of 2 replicas ready, 2 updated".into())
        );
        // Ready replicas of the old revision do not count while some are not updated.
        assert!(matches!(
            assess("apps", "StatefulSet", &set(2, 2, 2, 1)),
            ReadyState::Pending(_)
        ));
        assert!(matches!(
            assess("apps", "StatefulSet", &set(3, 2, 2, 2)),
            ReadyState::Pending(s) if s.contains("generation 3")
        ));
    }

    #[test]
    fn services_and_claims() {
        let lb = |status: Value| {
            object(
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                          "spec": {"type": "LoadBalancer"}, "status": status}),
            )
        };
        assert!(matches!(
            assess("", "Service", &lb(json!({}))),
            ReadyState::Pending(_)
        ));
        assert!(matches!(
            assess("", "Service", &lb(json!({"loadBalancer": {"ingress": []}}))),
            ReadyState::Pending(_)
        ));
        let ready = lb(json!({"loadBalancer": {"ingress": [{"hostname": "lb.example"}]}}));
        assert_eq!(assess("", "Service", &ready), ReadyState::Ready);
        assert_eq!(load_balancer_ingress(&ready).as_deref(), Some("lb.example"));
        let cluster_ip = object(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "s"}, "spec": {"type": "ClusterIP"}}));
        assert_eq!(assess("", "Service", &cluster_ip), ReadyState::Ready);
        let pvc = |phase: &str| {
            object(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                          "metadata": {"name": "d"}, "status": {"phase": phase}}))
        };
        assert_eq!(
            assess("", "PersistentVolumeClaim", &pvc("Bound")),
            ReadyState::Ready
        );
        assert!(matches!(
            assess("", "PersistentVolumeClaim", &pvc("Pending")),
            ReadyState::Pending(_)
        ));
        assert!(matches!(
            assess("", "PersistentVolumeClaim", &pvc("Lost")),
            ReadyState::Failed(_)
        ));
    }
}
