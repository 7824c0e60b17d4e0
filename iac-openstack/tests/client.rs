//! The client against the simulator and, when their openrc is sourced, the real Keystone,
//! Neutron and Glance: the same scenario on both.

mod common;

use std::time::Duration;

use futures::TryStreamExt;
use iac_core::Secret;
use iac_core::provider::ErrorKind;
use iac_openstack::client::{Client, ClientOptions, Service};
use iac_openstack::config::{AppCredential, AuthMethod, CloudConfig, Named, Scope};
use iac_openstack::services::{Wait, fields};
use serde_json::json;

use common::{targets, unique};

fn options(min_validity: Duration) -> ClientOptions {
    ClientOptions {
        min_validity,
        ..ClientOptions::default()
    }
}

#[tokio::test]
async fn password_auth_catalog_and_wrong_password() {
    for t in targets().await {
        let admin = t.client(&t.admin);
        let token = admin
            .token()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        assert_eq!(
            token.project.as_ref().map(|p| p.1.as_str()),
            Some("admin"),
            "{}",
            t.name
        );
        assert!(
            token.roles.iter().any(|r| r == "admin"),
            "{}: {:?}",
            t.name,
            token.roles
        );
        for service in [Service::Identity, Service::Network, Service::Image] {
            let url = admin.endpoint(service).await.unwrap();
            assert!(url.starts_with("http://127.0.0.1:"), "{}: {url}", t.name);
        }
        assert!(
            admin
                .endpoint(Service::Network)
                .await
                .unwrap()
                .ends_with("/v2.0")
        );
        // Another region has no endpoints: the error lists what the catalog has.
        let mut elsewhere = t.admin.clone();
        elsewhere.region = Some("RegionNine".into());
        let e = t
            .client(&elsewhere)
            .endpoint(Service::Network)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "{}", t.name);
        assert!(
            e.message
                .contains("no public endpoint of type network in region RegionNine"),
            "{e}"
        );
        assert!(e.message.contains("network [public@RegionOne"), "{e}");

        // The demo user from clouds.yaml (real) or OS_* (sim): a member of demo.
        let demo = t.client(&t.demo);
        let token = demo.token().await.unwrap();
        assert_eq!(token.project.as_ref().map(|p| p.1.as_str()), Some("demo"));
        assert!(
            token.roles.iter().any(|r| r == "member"),
            "{:?}",
            token.roles
        );

        let mut wrong = t.demo.clone();
        let AuthMethod::Password { password, .. } = &mut wrong.auth else {
            panic!()
        };
        *password = Secret::new("not-the-password-42");
        let e = t.client(&wrong).token().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth, "{}: {e}", t.name);
        assert_eq!(e.http_status, 401);
        let shown = format!("{e} {e:?} {wrong:?}");
        assert!(!shown.contains("not-the-password-42"), "{shown}");
        assert!(!format!("{admin:?}").contains("admin-secret"));
    }
}

#[tokio::test]
async fn application_credential_and_token_methods() {
    for t in targets().await {
        let demo = t.client(&t.demo);
        let token = demo.token().await.unwrap();
        let user_id = token.user.0.clone();
        let name = unique("ci-cred");
        let cred = demo
            .identity()
            .create_application_credential(&user_id, &name)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        assert!(!format!("{cred:?}").contains(cred.secret.expose()));
        for credential in [
            AppCredential::Id(cred.id.clone()),
            AppCredential::Name {
                name: name.clone(),
                user: Named::Id(user_id.clone()),
            },
        ] {
            let config = CloudConfig {
                auth: AuthMethod::ApplicationCredential {
                    credential,
                    secret: cred.secret.clone(),
                },
                ..t.demo.clone()
            };
            let client = t.client(&config);
            let token = client
                .token()
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", t.name));
            assert!(token.restricted, "{}", t.name);
            assert_eq!(token.project.as_ref().map(|p| p.1.as_str()), Some("demo"));
            let _: Vec<_> = client
                .network()
                .list_networks(&[])
                .try_collect()
                .await
                .unwrap();
        }
        demo.identity()
            .delete_application_credential(&user_id, &cred.id)
            .await
            .unwrap();

        // Token method: the demo token rescoped to demo.
        let config = CloudConfig {
            auth: AuthMethod::Token {
                token: token.value.clone(),
                scope: Scope::Project(Named::in_domain("demo", Named::name("Default"))),
            },
            ..t.demo.clone()
        };
        let client = t.client(&config);
        let rescoped = client
            .token()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        assert_eq!(rescoped.user.0, user_id);
    }
}

#[tokio::test]
async fn token_cache_expiry_and_reauth_on_401() {
    for t in targets().await {
        // Tokens live 2 h here; a client that wants 3 h of validity re-authenticates
        // before every call, one that wants 10 min reuses its token.
        let eager =
            Client::with_options(t.demo.clone(), options(Duration::from_secs(3 * 3600))).unwrap();
        for _ in 0..3 {
            eager.endpoint(Service::Network).await.unwrap();
        }
        assert_eq!(eager.auth_count(), 3, "{}", t.name);
        assert_eq!(eager.call_count(), 0, "{}: only Keystone was asked", t.name);
        let client =
            Client::with_options(t.demo.clone(), options(Duration::from_secs(600))).unwrap();
        for _ in 0..3 {
            let _: Vec<_> = client
                .network()
                .list_networks(&[])
                .try_collect()
                .await
                .unwrap();
        }
        assert_eq!(client.auth_count(), 1, "{}", t.name);
        assert_eq!(client.call_count(), 3, "{}: one call per list", t.name);

        // Revoke the cached token: the next call gets 401, re-authenticates once and passes.
        // (A call to Keystone itself: the other services' auth middleware caches validated
        // tokens for minutes, so they accept a revoked token for a while.)
        let admin =
            Client::with_options(t.admin.clone(), options(Duration::from_secs(600))).unwrap();
        let token = admin.token().await.unwrap();
        t.client(&t.admin)
            .identity()
            .revoke_token(&token.value)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        let _: Vec<_> = admin
            .identity()
            .list_roles(&[])
            .try_collect()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        assert_eq!(admin.auth_count(), 2, "{}", t.name);
        assert_eq!(
            admin.call_count(),
            2,
            "{}: the 401 and the call again",
            t.name
        );
        let again = admin.token().await.unwrap();
        assert_ne!(again.value.expose(), token.value.expose());
    }
}

#[tokio::test]
async fn service_errors_are_decoded_and_classified() {
    for t in targets().await {
        let admin = t.client(&t.admin);
        let e = admin
            .network()
            .get_network("00000000-0000-0000-0000-000000000000")
            .await
            .unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.kind()),
            ("NetworkNotFound", ErrorKind::NotFound),
            "{}: {e}",
            t.name
        );
        let e = admin
            .image()
            .get_image("00000000-0000-0000-0000-000000000000")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{}: {e}", t.name);
        let e = admin
            .identity()
            .get_project("no-such-project")
            .await
            .unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.kind()),
            ("Not Found", ErrorKind::NotFound),
            "{}: {e}",
            t.name
        );
        let e = admin
            .network()
            .create_subnet(fields([
                ("network_id", json!("nope")),
                ("cidr", json!("10.0.0.0/24")),
                ("ip_version", json!(4)),
            ]))
            .await
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::NotFound | ErrorKind::Invalid),
            "{}: {e}",
            t.name
        );

        // 409: a duplicate project name, a subnet that a router interface still uses.
        let name = unique("dup");
        let p = admin
            .identity()
            .create_project(fields([
                ("name", json!(name)),
                ("domain_id", json!("default")),
            ]))
            .await
            .unwrap();
        let e = admin
            .identity()
            .create_project(fields([
                ("name", json!(name)),
                ("domain_id", json!("default")),
            ]))
            .await
            .unwrap_err();
        assert_eq!(
            (e.http_status, e.kind()),
            (409, ErrorKind::Conflict),
            "{}: {e}",
            t.name
        );
        admin.identity().delete_project(&p.id).await.unwrap();
        let net = admin
            .network()
            .create_network(fields([("name", json!(unique("busy")))]))
            .await
            .unwrap();
        let subnet = admin
            .network()
            .create_subnet(fields([
                ("network_id", json!(net.id)),
                ("cidr", json!("10.9.0.0/24")),
                ("ip_version", json!(4)),
            ]))
            .await
            .unwrap();
        let router = admin
            .network()
            .create_router(fields([("name", json!(unique("r")))]))
            .await
            .unwrap();
        admin
            .network()
            .add_router_interface(&router.id, fields([("subnet_id", json!(subnet.id))]))
            .await
            .unwrap();
        let e = admin.network().delete_subnet(&subnet.id).await.unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.kind()),
            ("SubnetInUse", ErrorKind::Conflict),
            "{}: {e}",
            t.name
        );
        let e = admin.network().delete_router(&router.id).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conflict, "{}: {e}", t.name);
        admin
            .network()
            .remove_router_interface(&router.id, fields([("subnet_id", json!(subnet.id))]))
            .await
            .unwrap();
        admin.network().delete_router(&router.id).await.unwrap();
        admin.network().delete_network(&net.id).await.unwrap();
        // Deleting what is gone is success; reading it is NotFound.
        admin.network().delete_network(&net.id).await.unwrap();
        assert!(
            admin
                .network()
                .get_subnet(&subnet.id)
                .await
                .unwrap_err()
                .is_not_found()
        );
    }
}

#[tokio::test]
async fn lists_follow_pages_lazily() {
    for t in targets().await {
        let admin = t.client(&t.admin);
        let prefix = unique("page");
        let mut ids = Vec::new();
        for i in 0..3 {
            let n = admin
                .network()
                .create_network(fields([("name", json!(format!("{prefix}-{i}")))]))
                .await
                .unwrap();
            ids.push(n.id);
        }
        let all: Vec<_> = admin
            .network()
            .list_networks(&[("limit", "1")])
            .try_collect()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        for id in &ids {
            assert!(
                all.iter().any(|n| &n.id == id),
                "{}: {id} not listed",
                t.name
            );
        }
        // The stream is lazy: taking one item reads one page.
        let first: Vec<_> = admin
            .network()
            .list_networks(&[("limit", "1")])
            .take(1)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(first.len(), 1);
        for id in &ids {
            admin.network().delete_network(id).await.unwrap();
        }
    }
}

use futures::StreamExt;

#[tokio::test]
async fn glance_image_upload_and_download() {
    for t in targets().await {
        let demo = t.client(&t.demo);
        let image = demo
            .image()
            .create_image(fields([
                ("name", json!(unique("img"))),
                ("disk_format", json!("raw")),
                ("container_format", json!("bare")),
            ]))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        assert_eq!(image.status, "queued");
        let data: Vec<u8> = (0..65536u32).map(|i| (i * 7 % 251) as u8).collect();
        demo.image()
            .upload_image(&image.id, data.clone())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        let active = demo
            .image()
            .wait_image_active(
                &image.id,
                Wait {
                    interval: Duration::from_millis(200),
                    timeout: Duration::from_secs(60),
                },
            )
            .await
            .unwrap();
        assert_eq!(active.size, Some(65536), "{}", t.name);
        assert_eq!(
            active.checksum.as_deref(),
            Some(md5_hex(&data).as_str()),
            "{}",
            t.name
        );
        assert_eq!(demo.image().download_image(&image.id).await.unwrap(), data);
        let listed: Vec<_> = demo
            .image()
            .list_images(&[("limit", "1")])
            .try_collect()
            .await
            .unwrap();
        assert!(listed.iter().any(|i| i.id == image.id), "{}", t.name);
        demo.image().delete_image(&image.id).await.unwrap();
        let e = demo.image().get_image(&image.id).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{}: {e}", t.name);

        // The interoperable import flow: stage, then glance-direct.
        let staged = demo
            .image()
            .create_image(fields([
                ("name", json!(unique("staged"))),
                ("disk_format", json!("raw")),
                ("container_format", json!("bare")),
            ]))
            .await
            .unwrap();
        demo.image()
            .import_image(&staged.id, data[..4096].to_vec())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        let active = demo
            .image()
            .wait_image_active(
                &staged.id,
                Wait {
                    interval: Duration::from_millis(200),
                    timeout: Duration::from_secs(60),
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        assert_eq!(active.size, Some(4096), "{}", t.name);
        demo.image().delete_image(&staged.id).await.unwrap();
    }
}

#[tokio::test]
async fn keystone_projects_users_and_role_assignments() {
    for t in targets().await {
        let admin = t.client(&t.admin);
        let id = admin.identity();
        let project = id
            .create_project(fields([
                ("name", json!(unique("team"))),
                ("domain_id", json!("default")),
                ("description", json!("k8s team")),
            ]))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        let password = Secret::new(unique("pw"));
        let user = id
            .create_user(
                fields([
                    ("name", json!(unique("alice"))),
                    ("domain_id", json!("default")),
                    ("default_project_id", json!(project.id)),
                ]),
                Some(&password),
            )
            .await
            .unwrap();
        let member: Vec<_> = id
            .list_roles(&[("name", "member")])
            .try_collect()
            .await
            .unwrap();
        assert_eq!(member.len(), 1, "{}", t.name);
        id.grant_project_role(&project.id, &user.id, &member[0].id)
            .await
            .unwrap();
        let assignments: Vec<_> = id
            .list_role_assignments(&[("user.id", &user.id), ("include_names", "true")])
            .try_collect()
            .await
            .unwrap();
        assert_eq!(assignments.len(), 1, "{}: {assignments:?}", t.name);
        let a = &assignments[0];
        assert_eq!(a.role.name.as_deref(), Some("member"));
        assert_eq!(
            a.scope.project.as_ref().map(|p| p.id.as_str()),
            Some(project.id.as_str())
        );
        assert_eq!(
            a.user.as_ref().and_then(|u| u.name.as_deref()),
            Some(user.name.as_str())
        );
        // The new user signs in by ids.
        let config = CloudConfig {
            auth: AuthMethod::Password {
                user: Named::Id(user.id.clone()),
                password: password.clone(),
                scope: Scope::Project(Named::Id(project.id.clone())),
            },
            ..t.admin.clone()
        };
        let token = t
            .client(&config)
            .token()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        assert!(token.roles.iter().any(|r| r == "member"));
        let projects: Vec<_> = id
            .list_projects(&[("name", &project.name)])
            .try_collect()
            .await
            .unwrap();
        assert_eq!(projects.len(), 1);
        let users: Vec<_> = id
            .list_users(&[("name", &user.name)])
            .try_collect()
            .await
            .unwrap();
        assert_eq!(
            users[0].default_project_id.as_deref(),
            Some(project.id.as_str())
        );
        id.revoke_project_role(&project.id, &user.id, &member[0].id)
            .await
            .unwrap();
        id.delete_user(&user.id).await.unwrap();
        id.delete_project(&project.id).await.unwrap();
        assert!(
            id.get_project(&project.id)
                .await
                .unwrap_err()
                .is_not_found()
        );
    }
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(data))
}
