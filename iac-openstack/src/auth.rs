//! Keystone v3 authentication: the request body of each method, the token it returns and
//! the service catalog with its endpoint selection.
//!
//! `POST {auth_url}/auth/tokens` answers 201 with the token in the `X-Subject-Token`
//! header and `token.{expires_at, user, project, roles, catalog}` in the body. The catalog
//! lists services by type, each with endpoints per interface (`public`, `internal`,
//! `admin`) and region; [`Catalog::endpoint`] picks one by type (several names may be given:
//! Cinder is `block-storage` or `volumev3`), interface and region.

use std::fmt;

use chrono::{DateTime, Utc};
use iac_core::Secret;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::{AppCredential, AuthMethod, Interface, Scope};

/// The JSON body of `POST /v3/auth/tokens` for a method.
pub fn request_body(method: &AuthMethod) -> Value {
    let scope_json = |scope: &Scope| match scope {
        Scope::Unscoped => None,
        Scope::Project(p) => Some(json!({ "project": p.to_json() })),
        Scope::Domain(d) => Some(json!({ "domain": d.to_json() })),
        Scope::System => Some(json!({ "system": { "all": true } })),
    };
    let (identity, scope) = match method {
        AuthMethod::Password {
            user,
            password,
            scope,
        } => {
            let mut user = user.to_json();
            user["password"] = json!(password.expose());
            (
                json!({ "methods": ["password"], "password": { "user": user } }),
                scope_json(scope),
            )
        }
        AuthMethod::ApplicationCredential { credential, secret } => {
            let mut cred = match credential {
                AppCredential::Id(id) => json!({ "id": id }),
                AppCredential::Name { name, user } => {
                    json!({ "name": name, "user": user.to_json() })
                }
            };
            cred["secret"] = json!(secret.expose());
            (
                json!({ "methods": ["application_credential"], "application_credential": cred }),
                None,
            )
        }
        AuthMethod::Token { token, scope } => (
            json!({ "methods": ["token"], "token": { "id": token.expose() } }),
            scope_json(scope),
        ),
    };
    let mut auth = json!({ "identity": identity });
    if let Some(scope) = scope {
        auth["scope"] = scope;
    }
    json!({ "auth": auth })
}

/// The token URL of an auth URL: `/auth/tokens` under `/v3` (added when missing).
pub fn token_url(auth_url: &str) -> String {
    let base = auth_url.trim_end_matches('/');
    if base.ends_with("/v3") {
        format!("{base}/auth/tokens")
    } else {
        format!("{base}/v3/auth/tokens")
    }
}

/// An issued token, its scope and its catalog.
#[derive(Clone)]
pub struct Token {
    /// The token (`X-Subject-Token`).
    pub value: Secret,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// The user it was issued to: (id, name).
    pub user: (String, String),
    /// The project it is scoped to, if any: (id, name).
    pub project: Option<(String, String)>,
    /// The role names it carries (implied roles expanded).
    pub roles: Vec<String>,
    /// The service catalog.
    pub catalog: Catalog,
    /// True for an application credential token with `restricted: true`.
    pub restricted: bool,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("value", &self.value)
            .field("expires_at", &self.expires_at)
            .field("user", &self.user)
            .field("project", &self.project)
            .field("roles", &self.roles)
            .field("services", &self.catalog.services.len())
            .finish()
    }
}

#[derive(Deserialize)]
struct TokenBody {
    token: TokenInner,
}

#[derive(Deserialize)]
struct IdName {
    id: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct TokenInner {
    expires_at: String,
    user: IdName,
    #[serde(default)]
    project: Option<IdName>,
    #[serde(default)]
    roles: Vec<IdName>,
    #[serde(default)]
    catalog: Vec<CatalogService>,
    #[serde(default)]
    application_credential: Option<Value>,
}

impl Token {
    /// Reads a token from the subject token header and the response body.
    pub fn parse(subject_token: &str, body: &str) -> Result<Token, String> {
        let body: TokenBody = serde_json::from_str(body)
            .map_err(|e| format!("the token body is not what Keystone sends: {e}"))?;
        let t = body.token;
        let expires_at = DateTime::parse_from_rfc3339(&t.expires_at)
            .map_err(|e| format!("token.expires_at '{}': {e}", t.expires_at))?
            .with_timezone(&Utc);
        let restricted = t
            .application_credential
            .as_ref()
            .and_then(|a| a.get("restricted"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok(Token {
            value: Secret::new(subject_token),
            expires_at,
            user: (t.user.id, t.user.name),
            project: t.project.map(|p| (p.id, p.name)),
            roles: t.roles.into_iter().map(|r| r.name).collect(),
            catalog: Catalog {
                services: t.catalog,
            },
            restricted,
        })
    }
}

/// The service catalog of a token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Catalog {
    /// The services.
    pub services: Vec<CatalogService>,
}

/// One service of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CatalogService {
    /// Its type (`network`, `volumev3`).
    #[serde(rename = "type")]
    pub service_type: String,
    /// Its name (`neutron`).
    #[serde(default)]
    pub name: String,
    /// Its endpoints.
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
}

/// One endpoint of a service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Endpoint {
    /// `public`, `internal` or `admin`.
    pub interface: String,
    /// The region id (`RegionOne`).
    #[serde(default)]
    pub region_id: Option<String>,
    /// The legacy region field.
    #[serde(default)]
    pub region: Option<String>,
    /// The URL.
    pub url: String,
}

impl Catalog {
    /// The URL of the first of `types` that has an endpoint with `interface` in `region`
    /// (any region when `None`). The error lists what the catalog has.
    pub fn endpoint(
        &self,
        types: &[&str],
        interface: Interface,
        region: Option<&str>,
    ) -> Result<&str, String> {
        for wanted in types {
            for service in self.services.iter().filter(|s| s.service_type == *wanted) {
                let found = service.endpoints.iter().find(|e| {
                    Interface::parse(&e.interface) == Some(interface)
                        && region.is_none_or(|r| {
                            e.region_id.as_deref() == Some(r) || e.region.as_deref() == Some(r)
                        })
                });
                if let Some(e) = found {
                    return Ok(&e.url);
                }
            }
        }
        let have: Vec<String> = self
            .services
            .iter()
            .map(|s| {
                let ends: Vec<String> = s
                    .endpoints
                    .iter()
                    .map(|e| {
                        format!(
                            "{}@{}",
                            e.interface,
                            e.region_id
                                .as_deref()
                                .or(e.region.as_deref())
                                .unwrap_or("-")
                        )
                    })
                    .collect();
                format!("{} [{}]", s.service_type, ends.join(" "))
            })
            .collect();
        Err(format!(
            "no {} endpoint of type {} in region {} (catalog: {})",
            interface.as_str(),
            types.join(" or "),
            region.unwrap_or("any"),
            if have.is_empty() {
                "empty: an unscoped token?".to_owned()
            } else {
                have.join(", ")
            }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Named;

    #[test]
    fn request_bodies_of_each_method() {
        let pw = AuthMethod::Password {
            user: Named::in_domain("admin", Named::name("Default")),
            password: Secret::new("pw"),
            scope: Scope::Project(Named::in_domain("admin", Named::Id("default".into()))),
        };
        assert_eq!(
            request_body(&pw),
            json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"name": "Default"}, "password": "pw"}}},
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
        );
        let ac = AuthMethod::ApplicationCredential {
            credential: AppCredential::Name {
                name: "ci".into(),
                user: Named::Id("u1".into()),
            },
            secret: Secret::new("s"),
        };
        assert_eq!(
            request_body(&ac),
            json!({"auth": {"identity": {"methods": ["application_credential"],
                "application_credential": {"name": "ci", "user": {"id": "u1"}, "secret": "s"}}}})
        );
        let tok = AuthMethod::Token {
            token: Secret::new("t"),
            scope: Scope::System,
        };
        assert_eq!(
            request_body(&tok),
            json!({"auth": {"identity": {"methods": ["token"], "token": {"id": "t"}},
                "scope": {"system": {"all": true}}}})
        );
        assert_eq!(
            token_url("http://k:5000/v3/"),
            "http://k:5000/v3/auth/tokens"
        );
        assert_eq!(token_url("http://k:5000"), "http://k:5000/v3/auth/tokens");
    }

    #[test]
    fn catalog_selection_by_type_interface_and_region() {
        let body = json!({"token": {
        "expires_at": "2026-11-22T12:57:46.000000Z",
        "user": {"id": "u", "name": "admin"},
        "project": {"id": "p", "name": "admin"},
        "roles": [{"id": "r", "name": "member"}],
        "catalog": [
            {"type": "volumev3", "name": "cinderv3", "endpoints": [
                {"interface": "public", "region_id": "RegionOne", "region": "RegionOne", "url": "http://c/v3/p"}]},
            {"type": "network", "name": "neutron", "endpoints": [
                {"interface": "public", "region_id": "RegionOne", "url": "http://n1"},
                {"interface": "internal", "region_id": "RegionOne", "url": "http://n1-int"},
                {"interface": "public", "region_id": "RegionTwo", "url": "http://n2"}]}
        ]}});
        let t = Token::parse("gAAAAA-subject-token-42", &body.to_string()).unwrap();
        assert_eq!(t.expires_at.to_rfc3339(), "2026-11-22T12:57:46+00:00");
        assert_eq!(t.roles, ["member"]);
        let shown = format!("{t:?}");
        assert!(
            !shown.contains("subject-token-42") && shown.contains("***"),
            "{shown}"
        );
        assert_eq!(t.value.expose(), "gAAAAA-subject-token-42");
        let c = &t.catalog;
        assert_eq!(
            c.endpoint(&["network"], Interface::Public, Some("RegionTwo")),
            Ok("http://n2")
        );
        assert_eq!(
            c.endpoint(&["network"], Interface::Internal, None),
            Ok("http://n1-int")
        );
        assert_eq!(
            c.endpoint(
                &["block-storage", "volumev3"],
                Interface::Public,
                Some("RegionOne")
            ),
            Ok("http://c/v3/p")
        );
        let e = c
            .endpoint(&["compute"], Interface::Public, Some("RegionOne"))
            .unwrap_err();
        assert!(e.starts_with("no public endpoint of type compute in region RegionOne (catalog: volumev3 [public@RegionOne], network [public@RegionOne internal@RegionOne public@RegionTwo])"), "{e}");
        assert!(Token::parse("t", r#"{"token": {}}"#).is_err());
    }
}
