//! Keystone (`identity`, API v3): projects, users, roles, role assignments, application
//! credentials and token revocation. Keystone lists are not paginated; the streams still
//! follow `links.next` should a deployment page them.

use futures::stream::BoxStream;
use iac_core::Secret;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Fields;
use crate::client::{Body, Client, Service};
use crate::error::ApiError;

/// A project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its domain.
    #[serde(default)]
    pub domain_id: String,
    /// Its description.
    #[serde(default)]
    pub description: String,
    /// Whether it is enabled.
    #[serde(default)]
    pub enabled: bool,
    /// Its parent project (or its domain).
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Fields,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its domain.
    #[serde(default)]
    pub domain_id: String,
    /// Whether it is enabled.
    #[serde(default)]
    pub enabled: bool,
    /// Its default project.
    #[serde(default)]
    pub default_project_id: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Fields,
}

/// A role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// An id with an optional name (role assignments with `include_names`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ref {
    /// The id.
    pub id: String,
    /// The name, when asked for.
    #[serde(default)]
    pub name: Option<String>,
}

/// The scope of a role assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentScope {
    /// The project, for a project assignment.
    #[serde(default)]
    pub project: Option<Ref>,
    /// The domain, for a domain assignment.
    #[serde(default)]
    pub domain: Option<Ref>,
}

/// A role assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleAssignment {
    /// The role.
    pub role: Ref,
    /// The user, for a user assignment.
    #[serde(default)]
    pub user: Option<Ref>,
    /// The group, for a group assignment.
    #[serde(default)]
    pub group: Option<Ref>,
    /// Where it holds.
    pub scope: AssignmentScope,
}

/// A new application credential: its secret is shown once.
#[derive(Debug, Clone, PartialEq)]
pub struct NewApplicationCredential {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its project.
    pub project_id: String,
    /// The secret.
    pub secret: Secret,
}

#[derive(Deserialize)]
struct AppCredBody {
    id: String,
    name: String,
    project_id: String,
    secret: String,
}

/// The identity service of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct IdentityApi<'a> {
    client: &'a Client,
}

impl Client {
    /// The identity service (Keystone).
    pub fn identity(&self) -> IdentityApi<'_> {
        IdentityApi { client: self }
    }
}

impl IdentityApi<'_> {
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Body,
        key: &str,
    ) -> Result<T, ApiError> {
        self.client
            .call(Service::Identity, method, path, body, Some(key))
            .await
    }

    /// Reads a project.
    pub async fn get_project(&self, id: &str) -> Result<Project, ApiError> {
        self.call(
            Method::GET,
            &format!("/projects/{id}"),
            Body::Empty,
            "project",
        )
        .await
    }

    /// Lists projects matching `query` (`name`, `domain_id`, `parent_id`).
    pub fn list_projects(
        &self,
        query: &[(&str, &str)],
    ) -> BoxStream<'static, Result<Project, ApiError>> {
        self.client
            .list(Service::Identity, "/projects", "projects", query)
    }

    /// Creates a project (`name`, `domain_id`, `description`, `enabled`, `parent_id`, `tags`).
    pub async fn create_project(&self, fields: Fields) -> Result<Project, ApiError> {
        self.call(
            Method::POST,
            "/projects",
            Body::Json(json!({ "project": fields })),
            "project",
        )
        .await
    }

    /// Changes fields of a project.
    pub async fn update_project(&self, id: &str, fields: Fields) -> Result<Project, ApiError> {
        self.call(
            Method::PATCH,
            &format!("/projects/{id}"),
            Body::Json(json!({ "project": fields })),
            "project",
        )
        .await
    }

    /// Deletes a project; one already gone is deleted.
    pub async fn delete_project(&self, id: &str) -> Result<(), ApiError> {
        self.client
            .delete(Service::Identity, &format!("/projects/{id}"))
            .await
    }

    /// Reads a user.
    pub async fn get_user(&self, id: &str) -> Result<User, ApiError> {
        self.call(Method::GET, &format!("/users/{id}"), Body::Empty, "user")
            .await
    }

    /// Lists users matching `query` (`name`, `domain_id`).
    pub fn list_users(&self, query: &[(&str, &str)]) -> BoxStream<'static, Result<User, ApiError>> {
        self.client
            .list(Service::Identity, "/users", "users", query)
    }

    /// Creates a user (`name`, `domain_id`, `default_project_id`, ...) with a password.
    pub async fn create_user(
        &self,
        mut fields: Fields,
        password: Option<&Secret>,
    ) -> Result<User, ApiError> {
        if let Some(password) = password {
            fields.insert("password".to_owned(), json!(password.expose()));
        }
        self.call(
            Method::POST,
            "/users",
            Body::Json(json!({ "user": fields })),
            "user",
        )
        .await
    }

    /// Deletes a user; one already gone is deleted.
    pub async fn delete_user(&self, id: &str) -> Result<(), ApiError> {
        self.client
            .delete(Service::Identity, &format!("/users/{id}"))
            .await
    }

    /// Lists roles matching `query` (`name`).
    pub fn list_roles(&self, query: &[(&str, &str)]) -> BoxStream<'static, Result<Role, ApiError>> {
        self.client
            .list(Service::Identity, "/roles", "roles", query)
    }

    /// Grants `role_id` to `user_id` on `project_id`.
    pub async fn grant_project_role(
        &self,
        project_id: &str,
        user_id: &str,
        role_id: &str,
    ) -> Result<(), ApiError> {
        let path = format!("/projects/{project_id}/users/{user_id}/roles/{role_id}");
        self.client
            .send(Service::Identity, Method::PUT, &path, Body::Empty)
            .await
            .map(drop)
    }

    /// Revokes a grant; one already gone is revoked.
    pub async fn revoke_project_role(
        &self,
        project_id: &str,
        user_id: &str,
        role_id: &str,
    ) -> Result<(), ApiError> {
        self.client
            .delete(
                Service::Identity,
                &format!("/projects/{project_id}/users/{user_id}/roles/{role_id}"),
            )
            .await
    }

    /// Lists role assignments matching `query` (`user.id`, `scope.project.id`,
    /// `include_names=true`, `effective`).
    pub fn list_role_assignments(
        &self,
        query: &[(&str, &str)],
    ) -> BoxStream<'static, Result<RoleAssignment, ApiError>> {
        self.client.list(
            Service::Identity,
            "/role_assignments",
            "role_assignments",
            query,
        )
    }

    /// Creates an application credential of `user_id` (bound to the token's project).
    pub async fn create_application_credential(
        &self,
        user_id: &str,
        name: &str,
    ) -> Result<NewApplicationCredential, ApiError> {
        let body: AppCredBody = self
            .call(
                Method::POST,
                &format!("/users/{user_id}/application_credentials"),
                Body::Json(json!({ "application_credential": { "name": name } })),
                "application_credential",
            )
            .await?;
        Ok(NewApplicationCredential {
            id: body.id,
            name: body.name,
            project_id: body.project_id,
            secret: Secret::new(body.secret),
        })
    }

    /// Deletes an application credential; one already gone is deleted.
    pub async fn delete_application_credential(
        &self,
        user_id: &str,
        id: &str,
    ) -> Result<(), ApiError> {
        self.client
            .delete(
                Service::Identity,
                &format!("/users/{user_id}/application_credentials/{id}"),
            )
            .await
    }

    /// Revokes a token (`DELETE /auth/tokens` with `X-Subject-Token`); later calls with it get 401.
    pub async fn revoke_token(&self, token: &Secret) -> Result<(), ApiError> {
        let endpoint = self.client.endpoint(Service::Identity).await?;
        self.client
            .revoke(&format!("{endpoint}/auth/tokens"), token)
            .await
    }
}
