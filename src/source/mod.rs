//! Where cluster state comes from: files (`offline`) or the API server (`live`). Sources only
//! read; they never write to a cluster.

pub mod live;
mod mapped;
pub mod offline;
pub mod positions;
pub mod slim;
pub mod snapshot;
mod typed;
mod yamllist;

use std::fmt;

/// A located input error: `file:line: what is wrong`. Exit code 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// `path:line` or `path` when no line is known.
    pub location: String,
    pub message: String,
}

impl InputError {
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        InputError {
            location: location.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl std::error::Error for InputError {}
