//! Turns a finding's evidence (`field` + the `file:line` of the object it was read from) into
//! the line and column of that field in the manifests, falling back to the nearest parent that
//! exists and then to the object's first line, as istioctl analyze does with its field maps.
//! A finding none of whose evidence or object is in the manifests is about the context only.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use super::PreflightInputs;
use crate::check::Finding;
use crate::origin::Origin;
use crate::source::offline::ManifestObject;

/// A place in a manifest file: 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SourceLocation {
    /// The file as given on the command line (`-` for stdin).
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// The field this points at (`spec.template.spec.hostNetwork`), when one was located.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For Helm output: the template the document was rendered from (`# Source:`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helm_source: Option<String>,
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

fn file_of(m: &ManifestObject) -> (String, u32) {
    match &m.origin {
        Origin::File { path, line } => (path.to_string(), *line),
        other => (other.to_string(), 1),
    }
}

/// Where an object starts (its first key).
pub fn object_start(m: &ManifestObject) -> SourceLocation {
    let (file, line) = file_of(m);
    let (line, column) = m
        .positions
        .as_ref()
        .map(|p| (p.pos.line, p.pos.column))
        .unwrap_or((line, 1));
    SourceLocation {
        file,
        line,
        column,
        field: None,
        helm_source: m.helm_source.clone(),
    }
}

/// Where `field` is written in `m`: the field's key, its nearest existing parent, or the
/// object's start.
pub fn field_in(m: &ManifestObject, field: &str) -> SourceLocation {
    let field = clean_field(field);
    let mut loc = object_start(m);
    if let Some((pos, _exact)) = m.positions.as_ref().and_then(|p| p.locate(field)) {
        loc.line = pos.line;
        loc.column = pos.column;
    }
    loc.field = Some(field.to_owned());
    loc
}

/// Evidence fields are sometimes prefixed with the object they are about (`deployment web:
/// spec.template...`) or followed by a remark in parentheses; keep the path.
fn clean_field(field: &str) -> &str {
    let field = field.rsplit_once(": ").map_or(field, |(_, f)| f);
    field.split(" (").next().unwrap_or(field).trim()
}

/// The manifest objects by the `file:line` evidence cites them with (the last one wins, as in
/// the state).
pub struct OriginIndex<'a> {
    by_origin: HashMap<String, &'a ManifestObject>,
}

impl<'a> OriginIndex<'a> {
    pub fn new(inputs: &'a PreflightInputs) -> Self {
        OriginIndex {
            by_origin: inputs
                .manifests
                .iter()
                .map(|m| (m.origin.to_string(), m))
                .collect(),
        }
    }
}

/// Locates a finding: rewrites each evidence location that is in the manifests to
/// `file:line:column`, and returns where the finding is written (the first evidence in the
/// manifests, else the finding's object), or `None` when it is about the context only.
pub fn locate(
    inputs: &PreflightInputs,
    index: &OriginIndex<'_>,
    mut finding: Finding,
) -> (Finding, Option<SourceLocation>) {
    let mut primary: Option<SourceLocation> = None;
    for e in &mut finding.evidence {
        let Some(m) = index.by_origin.get(&e.location).copied() else {
            continue;
        };
        let loc = field_in(m, &e.field);
        e.location = loc.to_string();
        if primary.is_none() {
            primary = Some(loc);
        }
    }
    if primary.is_none()
        && let Some(m) = inputs.manifest_for(&finding.object)
    {
        primary = Some(match finding.evidence.first() {
            Some(e) => field_in(m, &e.field),
            None => object_start(m),
        });
    }
    (finding, primary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_lose_their_object_prefix_and_remarks() {
        assert_eq!(
            clean_field("deployment web: spec.template.metadata.labels"),
            "spec.template.metadata.labels"
        );
        assert_eq!(
            clean_field("webhooks[0].namespaceSelector (tag default)"),
            "webhooks[0].namespaceSelector"
        );
        assert_eq!(clean_field("metadata.labels"), "metadata.labels");
    }
}
