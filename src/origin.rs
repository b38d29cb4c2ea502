//! Where an object came from: a file and line, or the live cluster. Every finding and trace step
//! cites it, so that users can jump straight to the configuration that decided something.

use std::fmt;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// A file (or `-` for stdin) and the 1-based line where the object starts.
    File { path: Arc<str>, line: u32 },
    /// Read from the cluster through the API server.
    Live,
    /// Built by meshdoctor itself (e.g. a pod made from a workload's template).
    Derived,
}

impl Origin {
    pub fn file(path: &Arc<str>, line: u32) -> Self {
        Origin::File {
            path: Arc::clone(path),
            line,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{path}:{line}"),
            Origin::Live => f.write_str("live"),
            Origin::Derived => f.write_str("derived"),
        }
    }
}
