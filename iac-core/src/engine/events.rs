//! Events: every transition of every resource and of the stack, as the ROS console shows
//! them.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// A status, with the names ROS uses (`CREATE_IN_PROGRESS`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum Status {
    /// A create was sent, or the object is becoming ready.
    CreateInProgress,
    /// The object exists and is ready.
    CreateComplete,
    /// The create failed.
    CreateFailed,
    /// The resource was not created because a dependency failed.
    CreateSkipped,
    /// An update was sent, or the object is settling after it.
    UpdateInProgress,
    /// The update is done.
    UpdateComplete,
    /// The update failed.
    UpdateFailed,
    /// A delete was sent.
    DeleteInProgress,
    /// The object is gone.
    DeleteComplete,
    /// The delete failed.
    DeleteFailed,
    /// The object was left in place (`DeletionPolicy: Retain`) and forgotten.
    DeleteSkipped,
    /// Stack level: a rollback started.
    RollbackInProgress,
    /// Stack level: the rollback finished; everything this apply created is gone.
    RollbackComplete,
    /// Stack level: the rollback left objects behind (named in the reason).
    RollbackFailed,
}

impl Status {
    /// The ROS name of the status.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::CreateInProgress => "CREATE_IN_PROGRESS",
            Status::CreateComplete => "CREATE_COMPLETE",
            Status::CreateFailed => "CREATE_FAILED",
            Status::CreateSkipped => "CREATE_SKIPPED",
            Status::UpdateInProgress => "UPDATE_IN_PROGRESS",
            Status::UpdateComplete => "UPDATE_COMPLETE",
            Status::UpdateFailed => "UPDATE_FAILED",
            Status::DeleteInProgress => "DELETE_IN_PROGRESS",
            Status::DeleteComplete => "DELETE_COMPLETE",
            Status::DeleteFailed => "DELETE_FAILED",
            Status::DeleteSkipped => "DELETE_SKIPPED",
            Status::RollbackInProgress => "ROLLBACK_IN_PROGRESS",
            Status::RollbackComplete => "ROLLBACK_COMPLETE",
            Status::RollbackFailed => "ROLLBACK_FAILED",
        }
    }

    /// True for the statuses that end a resource's operation in failure.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Status::CreateFailed
                | Status::UpdateFailed
                | Status::DeleteFailed
                | Status::RollbackFailed
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The type name events of the stack itself carry.
pub const STACK_TYPE: &str = "IAC::Stack";

/// One transition of a resource or of the stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened (wall clock).
    pub time: DateTime<Utc>,
    /// The stack's name.
    pub stack: Arc<str>,
    /// The resource's logical id, or the stack's name for stack events.
    pub logical_id: Arc<str>,
    /// The resource's type, or [`STACK_TYPE`] for stack events.
    pub type_name: Arc<str>,
    /// The cloud object's id, once known.
    pub physical_id: Option<String>,
    /// The new status.
    pub status: Status,
    /// Why (the failure, the retry, the dependency that failed); secrets are redacted.
    pub reason: Option<String>,
}

impl Event {
    /// True for events about the stack rather than one resource.
    pub fn is_stack_event(&self) -> bool {
        &*self.type_name == STACK_TYPE
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = format!(
            "{}  {:<24} {:<32} {:<20} {:<14} {}",
            self.time.format("%H:%M:%S"),
            self.logical_id,
            self.type_name,
            self.status.as_str(),
            self.physical_id.as_deref().unwrap_or(""),
            self.reason.as_deref().unwrap_or("")
        );
        f.write_str(line.trim_end())
    }
}

/// Where events go: an unbounded channel, so that a slow reader never stalls the engine.
pub type EventSender = mpsc::UnboundedSender<Event>;

/// Makes a channel for events.
pub fn channel() -> (EventSender, mpsc::UnboundedReceiver<Event>) {
    mpsc::unbounded_channel()
}
