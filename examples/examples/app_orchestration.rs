//! `cargo run --example app_orchestration`
//!
//! A three-tier application on Kubernetes with `iac_k8s::app`: `web` (Deployment behind an
//! Alibaba Cloud SLB LoadBalancer Service) → `api` (Deployment + Service, configuration as
//! environment and as mounted files, a readiness gate on the database) → `db` (a MySQL
//! StatefulSet on an Alibaba Cloud NAS volume). One template, two environments (dev and
//! prod, each in its own namespace), versioned configuration, a configuration change shown
//! as a diff, an upgrade that touches one service, a rollback.
//!
//! Without `KUBECONFIG` nothing is applied: every step's manifests and diffs are rendered
//! and printed, and the steps that would change a cluster say what they would apply. With
//! `KUBECONFIG` set, the same steps deploy to that cluster (services in dependency order
//! through the iac-core engine, history as Secrets in each namespace) and print what was
//! applied. The `db-root` Secret (key `password`) the database reads must exist in each
//! namespace: passwords are never configuration values. `web` counts as ready once its
//! LoadBalancer Service has an address, which needs Alibaba Cloud's cloud controller
//! manager (an ACK cluster, or a kubeadm cluster with the cloud provider installed).

#[path = "shop/mod.rs"]
mod shop;

use std::process::ExitCode;

use chrono::Utc;
use iac_k8s::app::{
    AppError, Config, Deployer, Environment, Release, ReleaseDiff, diff_releases, replicate,
};
use iac_k8s::apply::Applier;
use serde_json::json;

fn banner(title: &str) {
    println!("\n==== {title} ====");
}

fn print_diff(diff: &ReleaseDiff) {
    print!("{diff}");
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), AppError> {
    let template = shop::template("1.0.0");
    let dev = Environment::new("dev", "shop-dev");
    let prod = Environment::new("prod", "shop-prod");

    // Versioned configuration, one per environment: every change is a new version.
    let mut dev_config = Config::new("shop-dev");
    dev_config.commit(
        json!({"api": {"env": {"LOG_LEVEL": "debug"}}}),
        "dev: verbose api logs",
        Utc::now(),
    )?;
    let mut prod_config = Config::new("shop-prod");
    prod_config.commit(
        json!({"web": {"replicas": 3}, "api": {"replicas": 3}, "db": {"storage": "100Gi"},
               "slb": {"address_type": "internet", "spec": "slb.s2.medium"}}),
        "prod: sizes and a public SLB",
        Utc::now(),
    )?;

    let deployer = match std::env::var_os("KUBECONFIG") {
        Some(path) => {
            println!(
                "KUBECONFIG={}: deploying to that cluster",
                path.to_string_lossy()
            );
            let applier = Applier::from_kubeconfig().await?;
            let (events, mut received) = iac_core::engine::events::channel();
            tokio::spawn(async move {
                while let Some(event) = received.recv().await {
                    if !event.is_stack_event() {
                        println!(
                            "  [{}] {} {}{}",
                            event.stack,
                            event.logical_id,
                            event.status.as_str(),
                            event.reason.map(|r| format!(": {r}")).unwrap_or_default()
                        );
                    }
                }
            });
            Some(Deployer::new(applier.client().clone()).with_events(events))
        }
        None => {
            println!("no KUBECONFIG: rendering only (set KUBECONFIG to deploy)");
            None
        }
    };

    banner("1. render the template for dev and prod (each in its own namespace)");
    let releases = replicate(
        &template,
        &[
            (dev.clone(), dev_config.latest()),
            (prod.clone(), prod_config.latest()),
        ],
    )?;
    for release in &releases {
        println!(
            "-- {} (template {}, config v{}): services in start order: {}",
            release.namespace(),
            release.template_version,
            release.config_version.unwrap_or(0),
            release
                .rendered
                .services
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(" -> ")
        );
        print!("{}", release.rendered.to_yaml());
    }

    banner("2. what differs between dev and prod");
    print_diff(&diff_releases(
        &releases[0].rendered,
        &releases[1].rendered,
        "dev",
        "prod",
    ));

    banner("3. deploy dev and prod");
    match &deployer {
        Some(deployer) => {
            for report in deployer.deploy_all(&releases).await? {
                println!(
                    "{}: revision {} applied {} (in this order)",
                    report.namespace,
                    report.revision,
                    report.updated.join(", ")
                );
            }
        }
        None => {
            for release in &releases {
                println!(
                    "{}: would install {} (each once the ones before are ready)",
                    release.namespace(),
                    release
                        .rendered
                        .services
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
    }

    banner("4. a configuration change in prod: api logs at debug level");
    let v1 = prod_config.latest().map(|v| v.number()).unwrap_or(0);
    let v2 = prod_config
        .set(
            "api.env.LOG_LEVEL",
            "debug",
            "prod: debug an incident",
            Utc::now(),
        )?
        .number();
    for version in prod_config.versions() {
        println!(
            "config shop-prod v{}: {} ({})",
            version.number(),
            version.message(),
            version.created().format("%Y-%m-%d %H:%M:%S")
        );
    }
    let upgraded = Release::render(&template, &prod, prod_config.version(v2))?;
    let before = &releases[1];
    let diff = diff_releases(
        &before.rendered,
        &upgraded.rendered,
        &format!("config v{v1}"),
        &format!("config v{v2}"),
    );
    print_diff(&diff);

    banner("5. upgrade prod: only the changed service is touched");
    match &deployer {
        Some(deployer) => {
            let report = deployer.deploy(&upgraded).await?;
            println!(
                "revision {}: applied {}; left alone: {}",
                report.revision,
                report.updated.join(", "),
                report.unchanged.join(", ")
            );
        }
        None => {
            println!(
                "would apply {} and leave {} alone; its manifests:",
                diff.to_update().join(", "),
                diff.unchanged().join(", ")
            );
            for name in diff.to_update() {
                print!("{}", upgraded.rendered.services[name].to_yaml());
            }
        }
    }

    banner("6. roll prod back to the first release");
    match &deployer {
        Some(deployer) => {
            let history = deployer.history("shop", "shop-prod").await?;
            let first = history
                .iter()
                .rev()
                .find(|r| r.config_version == Some(v1))
                .map(|r| r.number)
                .unwrap_or(1);
            let report = deployer.rollback("shop", "shop-prod", first).await?;
            println!(
                "revision {} (rollback to {first}): applied {}",
                report.revision,
                report.updated.join(", ")
            );
            for r in deployer.history("shop", "shop-prod").await? {
                println!(
                    "  revision {} {} {} template {} config v{}",
                    r.number,
                    r.status,
                    r.description,
                    r.template_version,
                    r.config_version.unwrap_or(0)
                );
            }
        }
        None => {
            let back = diff_releases(
                &upgraded.rendered,
                &before.rendered,
                &format!("config v{v2}"),
                &format!("rollback to config v{v1}"),
            );
            print_diff(&back);
            println!(
                "a rollback writes a new revision with these manifests of the first one and \
                 applies {} only",
                back.to_update().join(", ")
            );
        }
    }
    Ok(())
}
