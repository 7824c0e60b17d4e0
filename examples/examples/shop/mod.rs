//! The three-tier shop of the `app_orchestration` example (also the fixture of the
//! `iac-k8s` app tests): `web` (a Deployment behind an SLB LoadBalancer Service, typed Rust)
//! → `api` (a Deployment and a Service written as YAML, its configuration as environment
//! and as mounted files) → `db` (a MySQL StatefulSet on an Alibaba Cloud NAS volume,
//! typed Rust).

use iac_k8s::app::{AppTemplate, RenderError, ServiceContext, ServiceTemplate};
use iac_k8s::manifests::slb::{AddressType, LoadBalancerService, PortProtocol, SlbOptions};
use iac_k8s::manifests::volumes::{NasVolume, VolumeClaim};
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, EnvVarSource, PodSpec, PodTemplateSpec, SecretKeySelector,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde_json::{Value, json};

/// The api service: plain Kubernetes YAML with `minijinja` variables.
const API_YAML: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: {{ values.api.replicas }}
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: "{{ values.api.image }}"
          ports:
            - containerPort: {{ values.api.port }}
          env:
            - name: DB_HOST
              value: "db.{{ namespace }}.svc"
          readinessProbe:
            httpGet: {path: /healthz, port: {{ values.api.port }} }
---
apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  selector: {app: api}
  ports:
    - name: http
      port: {{ values.api.port }}
      targetPort: {{ values.api.port }}
"#;

/// The default values: the lowest layer, under each environment's.
pub fn defaults() -> Value {
    json!({
        "web": {"replicas": 1, "image": "registry.example/shop/web:1.0.0", "port": 8080},
        "api": {
            "replicas": 1, "image": "registry.example/shop/api:1.0.0", "port": 9000,
            "env": {"LOG_LEVEL": "info", "DB_POOL_SIZE": 5},
            "files": {"features.json": {"checkout": true, "reviews": false}},
        },
        "db": {
            "image": "mysql:8.4", "storage": "20Gi", "database": "shop",
            "nas": {"server": "0a1b2c3d4e-abc12.cn-hangzhou.nas.aliyuncs.com", "path": "/shop"},
        },
        "slb": {"address_type": "intranet", "spec": "slb.s1.small"},
    })
}

/// The shop template at `version`.
pub fn template(version: &str) -> AppTemplate {
    AppTemplate::new("shop", version)
        .with_defaults(defaults())
        .with_service(ServiceTemplate::typed("db", db))
        .with_service(
            ServiceTemplate::yaml("api")
                .with_file("api.yaml", API_YAML)
                .with_env_from("api.env")
                .with_config_files("api.files", "/etc/api")
                .with_readiness_gates()
                .depends_on("db"),
        )
        .with_service(ServiceTemplate::typed("web", web).depends_on("api"))
}

fn labels(app: &str) -> Option<std::collections::BTreeMap<String, String>> {
    Some([("app".to_owned(), app.to_owned())].into())
}

fn web(ctx: &ServiceContext<'_>) -> Result<Vec<Value>, RenderError> {
    let port = ctx.i64("web.port")?;
    let target_port = u16::try_from(port)
        .map_err(|_| RenderError::Other(format!("values.web.port {port} is not a port")))?;
    let address_type = match ctx.str("slb.address_type")? {
        "internet" => AddressType::Internet,
        "intranet" => AddressType::Intranet,
        other => {
            return Err(RenderError::Other(format!(
                "values.slb.address_type must be internet or intranet, not {other}"
            )));
        }
    };
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": ctx.i64("web.replicas")?,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "web", "image": ctx.str("web.image")?,
                    "ports": [{"containerPort": port}],
                    "env": [{"name": "API_URL",
                             "value": format!("http://api.{}.svc:{}", ctx.namespace,
                                              ctx.i64("api.port")?)}],
                }]},
            },
        },
    });
    let service = LoadBalancerService::new("web")
        .with_namespace(ctx.namespace)
        .with_selector("app", "web")
        .with_port(80, target_port, PortProtocol::Tcp)
        .with_options(SlbOptions {
            address_type: Some(address_type),
            spec: Some(ctx.str("slb.spec")?.to_owned()),
            ..SlbOptions::default()
        })
        .build()?;
    Ok(vec![deployment, ctx.object(&service)?])
}

fn db(ctx: &ServiceContext<'_>) -> Result<Vec<Value>, RenderError> {
    // The PersistentVolume is cluster-scoped: its name (the claim's) carries the namespace
    // so that every environment has its own.
    let claim = VolumeClaim::new(
        format!("{}-db-data", ctx.namespace),
        ctx.namespace,
        ctx.str("db.storage")?,
        NasVolume::new(ctx.str("db.nas.server")?, ctx.str("db.nas.path")?),
    )
    .build()?;
    let mut pod = PodSpec {
        containers: vec![Container {
            name: "mysql".into(),
            image: Some(ctx.str("db.image")?.to_owned()),
            ports: Some(vec![ContainerPort {
                container_port: 3306,
                ..ContainerPort::default()
            }]),
            env: Some(vec![
                EnvVar {
                    name: "MYSQL_DATABASE".into(),
                    value: Some(ctx.str("db.database")?.to_owned()),
                    ..EnvVar::default()
                },
                // The password is a Secret made outside the app, never a config value.
                EnvVar {
                    name: "MYSQL_ROOT_PASSWORD".into(),
                    value_from: Some(EnvVarSource {
                        secret_key_ref: Some(SecretKeySelector {
                            name: "db-root".into(),
                            key: "password".into(),
                            optional: None,
                        }),
                        ..EnvVarSource::default()
                    }),
                    ..EnvVar::default()
                },
            ]),
            ..Container::default()
        }],
        ..PodSpec::default()
    };
    claim.mount_into(&mut pod, "mysql", "/var/lib/mysql", false)?;
    let set = StatefulSet {
        metadata: ObjectMeta {
            name: Some("db".into()),
            ..ObjectMeta::default()
        },
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            service_name: Some("db".into()),
            selector: LabelSelector {
                match_labels: labels("db"),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: labels("db"),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    };
    let headless = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "db"},
        "spec": {"clusterIP": "None", "selector": {"app": "db"},
                 "ports": [{"name": "mysql", "port": 3306}]},
    });
    let mut objects = claim
        .objects()
        .iter()
        .map(|o| ctx.object(o))
        .collect::<Result<Vec<_>, _>>()?;
    objects.push(headless);
    objects.push(ctx.object(&set)?);
    Ok(objects)
}
