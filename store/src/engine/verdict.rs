//! A verdict on a review, an action approval or a scope-change request: approve or reject,
//! with an optional comment that is recorded with it in the ledger.

use crate::{Result, StoreError};

/// The longest comment a verdict carries.
const MAX_COMMENT_CHARS: usize = 2000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub approve: bool,
    /// Why, in the decider's words (recorded in the verdict's ledger record).
    pub comment: Option<String>,
}

impl From<bool> for Verdict {
    fn from(approve: bool) -> Verdict {
        Verdict {
            approve,
            comment: None,
        }
    }
}

impl Verdict {
    /// A verdict with a comment: trimmed, line ends as `\n` (forms send `\r\n`), none
    /// when empty, at most 2,000 characters.
    pub fn with_comment(approve: bool, comment: Option<&str>) -> Result<Verdict> {
        let comment = comment.map(|c| c.trim().replace("\r\n", "\n"));
        let comment = comment.as_deref().filter(|c| !c.is_empty());
        if comment.is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS) {
            return Err(StoreError::Invalid(format!(
                "comment: at most {MAX_COMMENT_CHARS} characters"
            )));
        }
        Ok(Verdict {
            approve,
            comment: comment.map(str::to_string),
        })
    }

    /// Adds the comment, if any, to a record's payload.
    pub(crate) fn annotate(&self, payload: &mut serde_json::Value) {
        if let (Some(c), Some(map)) = (&self.comment, payload.as_object_mut()) {
            map.insert("comment".into(), c.clone().into());
        }
    }
}
