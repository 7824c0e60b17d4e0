//! A delete the cloud finishes later (`Deleted::InProgress`): the engine polls until the
//! object is gone and then counts the delete as done, for destroy and for replacement.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use iac_core::engine::{Engine, RunOptions, StackInput};
use iac_core::model::Template;
use iac_core::provider::{
    CreateRequest, Created, Deleted, HandlerError, PhysicalId, Properties, Readiness, Registry,
    ResourceHandler, Schema, UpdateBehavior, Updated,
};
use iac_core::state::MemoryStateStore;

/// Objects that take two reads to go away after their delete is accepted.
#[derive(Default)]
struct SlowDeletes {
    /// id -> reads left before it is gone (None: not being deleted).
    objects: Mutex<HashMap<String, Option<u32>>>,
    next: Mutex<u32>,
}

struct Handler {
    cloud: Arc<SlowDeletes>,
    schema: Schema,
}

#[async_trait]
impl ResourceHandler for Handler {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    async fn create(&self, _: CreateRequest<'_>) -> Result<Created, HandlerError> {
        let mut next = self.cloud.next.lock().unwrap();
        *next += 1;
        let id = format!("obj-{next}");
        self.cloud.objects.lock().unwrap().insert(id.clone(), None);
        Ok(Created {
            physical_id: PhysicalId::new(id),
            readiness: Readiness::Ready(Default::default()),
        })
    }

    async fn read(&self, id: &PhysicalId, _: &Properties) -> Result<Readiness, HandlerError> {
        let mut objects = self.cloud.objects.lock().unwrap();
        match objects.get_mut(id.as_str()) {
            None => Ok(Readiness::Gone),
            Some(Some(0)) => {
                objects.remove(id.as_str());
                Ok(Readiness::Gone)
            }
            Some(Some(left)) => {
                *left -= 1;
                Ok(Readiness::Pending {
                    status: "deleting".into(),
                })
            }
            Some(None) => Ok(Readiness::Ready(Default::default())),
        }
    }

    async fn update(
        &self,
        id: &PhysicalId,
        _: &Properties,
        new: &Properties,
    ) -> Result<Updated, HandlerError> {
        Ok(Updated {
            readiness: self.read(id, new).await?,
        })
    }

    async fn delete(&self, id: &PhysicalId, _: &Properties) -> Result<Deleted, HandlerError> {
        if let Some(state) = self.cloud.objects.lock().unwrap().get_mut(id.as_str()) {
            *state = Some(2);
        }
        Ok(Deleted::InProgress)
    }
}

fn template(size: u32) -> Template {
    serde_json::from_value(serde_json::json!({
        "Resources": {"A": {"Type": "Slow::Thing", "Properties": {"Size": size}}}
    }))
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn replacement_and_destroy_wait_for_asynchronous_deletes() {
    let cloud = Arc::new(SlowDeletes::default());
    let mut registry = Registry::new();
    registry.register(Arc::new(Handler {
        cloud: Arc::clone(&cloud),
        schema: Schema::new("Slow::Thing").with_property(
            "Size",
            true,
            UpdateBehavior::ForcesReplacement,
        ),
    }));
    let engine = Engine::builder()
        .provider(registry)
        .state(MemoryStateStore::new())
        .build();
    let report = engine
        .apply(&StackInput::new("s", template(1)), RunOptions::default())
        .await
        .unwrap();
    assert!(report.is_success());
    let report = engine
        .apply(&StackInput::new("s", template(2)), RunOptions::default())
        .await
        .unwrap();
    assert!(report.is_success(), "{:?}", report.failures);
    assert_eq!(
        cloud.objects.lock().unwrap().keys().collect::<Vec<_>>(),
        ["obj-2"],
        "the replaced object is gone"
    );
    let report = engine.destroy("s", RunOptions::default()).await.unwrap();
    assert!(
        report.is_success() && report.left_behind.is_empty(),
        "{:?} {:?}",
        report.failures,
        report.left_behind
    );
    assert!(cloud.objects.lock().unwrap().is_empty());
}
