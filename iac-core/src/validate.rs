//! TEMPORARY local stand-in (not committed) until the graph branch lands.
#![allow(missing_docs)]
use crate::model::Template;
#[derive(Debug, thiserror::Error)]
#[error("invalid")]
pub struct ValidationErrors;
pub fn validate(
    t: &Template,
    known: &dyn Fn(&str) -> bool,
    _pseudo: &[&str],
) -> Result<(), ValidationErrors> {
    if t.resources.values().all(|r| known(&r.type_name)) {
        Ok(())
    } else {
        Err(ValidationErrors)
    }
}
