//! `OS::Keystone::Project`.

use async_trait::async_trait;
use iac_core::provider::{
    CreateRequest, Created, Deleted, HandlerError, PhysicalId, Properties, Readiness,
    ResourceHandler, Schema,
    UpdateBehavior::{ForcesReplacement as F, Mutable as M},
    Updated,
};
use serde_json::{Value, json};

use super::{api, boolean, found, string_list, text};
use crate::client::Client;
use crate::services::Fields;
use crate::services::identity::Project;

/// `OS::Keystone::Project`.
pub struct ProjectHandler {
    client: Client,
    schema: Schema,
}

impl ProjectHandler {
    /// The handler, calling through `client`.
    pub fn new(client: Client) -> Self {
        let schema = Schema::new("OS::Keystone::Project")
            .with_property("name", false, M)
            .with_property("domain", false, F)
            .with_property("description", false, M)
            .with_property("enabled", false, M)
            .with_property("parent", false, F)
            .with_property("tags", false, M)
            .with_attributes(&[
                "name",
                "domain_id",
                "enabled",
                "is_domain",
                "parent_id",
                "show",
            ])
            .strict();
        ProjectHandler { client, schema }
    }

    fn fields(props: &Properties) -> Result<Fields, HandlerError> {
        let mut f = Fields::new();
        if let Some(d) = text(props, "description") {
            f.insert("description".into(), json!(d));
        }
        if let Some(e) = boolean(props, "enabled")? {
            f.insert("enabled".into(), json!(e));
        }
        if props.contains_key("tags") {
            f.insert("tags".into(), json!(string_list(props, "tags")?));
        }
        Ok(f)
    }
}

fn project_readiness(p: Project) -> Readiness {
    let show = serde_json::to_value(&p).unwrap_or(Value::Null);
    Readiness::Ready(super::attrs([
        ("name", json!(p.name)),
        ("domain_id", json!(p.domain_id)),
        ("enabled", json!(p.enabled)),
        (
            "is_domain",
            p.extra.get("is_domain").cloned().unwrap_or(json!(false)),
        ),
        ("parent_id", json!(p.parent_id)),
        ("show", show),
    ]))
}

#[async_trait]
impl ResourceHandler for ProjectHandler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn endpoint(&self) -> &str {
        "identity"
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let props = request.properties.as_ref();
        let mut fields = Self::fields(props)?;
        fields.insert(
            "name".into(),
            json!(
                text(props, "name")
                    .unwrap_or_else(|| format!("{}-{}", request.stack, request.logical_id))
            ),
        );
        fields.insert(
            "domain_id".into(),
            json!(text(props, "domain").unwrap_or_else(|| "default".into())),
        );
        if let Some(parent) = text(props, "parent").filter(|p| !p.is_empty()) {
            fields.insert("parent_id".into(), json!(parent));
        }
        let project = self
            .client
            .identity()
            .create_project(fields)
            .await
            .map_err(api)?;
        Ok(Created {
            physical_id: PhysicalId::new(&project.id),
            readiness: project_readiness(project),
        })
    }

    async fn read(
        &self,
        physical_id: &PhysicalId,
        _: &Properties,
    ) -> Result<Readiness, HandlerError> {
        found(
            self.client
                .identity()
                .get_project(physical_id.as_str())
                .await,
            project_readiness,
        )
    }

    async fn update(
        &self,
        physical_id: &PhysicalId,
        _: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError> {
        let mut fields = Self::fields(new)?;
        if let Some(name) = text(new, "name") {
            fields.insert("name".into(), json!(name));
        }
        let project = self
            .client
            .identity()
            .update_project(physical_id.as_str(), fields)
            .await
            .map_err(api)?;
        Ok(Updated {
            readiness: project_readiness(project),
        })
    }

    async fn delete(
        &self,
        physical_id: &PhysicalId,
        _: &Properties,
    ) -> Result<Deleted, HandlerError> {
        self.client
            .identity()
            .delete_project(physical_id.as_str())
            .await
            .map_err(api)?;
        Ok(Deleted::Done)
    }
}
