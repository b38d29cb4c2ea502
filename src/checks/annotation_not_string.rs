//! `annotation-not-string` (preflight): a label or annotation value written as a plain YAML
//! scalar that YAML 1.1 (Go's yaml.v2, behind `kubectl apply` and the API server) reads as a
//! bool, number or null. The API server then rejects the object, although meshdoctor's own YAML
//! 1.2 parser reads the value as a string — so the check reads the scalar's style and text from
//! the position tree, not from the parsed object.

use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};
use crate::source::offline::{ManifestObject, STRING_MAP_KEYS};
use crate::source::positions::{Node, NodeKind, Style, yaml11_non_string};

pub struct AnnotationNotString;

impl Check for AnnotationNotString {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/annotation-not-string.md")
    }

    fn preflight_only(&self) -> bool {
        true
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let Some(pf) = ctx.preflight else {
            return Err(Skip("runs only in `meshdoctor preflight`".to_owned()));
        };
        for m in &pf.manifests {
            let Some(root) = &m.positions else {
                continue;
            };
            let mut found = Vec::new();
            walk(root, &mut String::new(), None, &mut found);
            for (field, key, text, resolved) in found {
                out.push(finding(m, &field, &key, &text, resolved));
            }
        }
        Ok(())
    }
}

/// Collects `(dotted field, key, text, YAML 1.1 type)` for every plain scalar in a string map.
/// `map` is the name of the string-map field `node` is the value of, if it is one.
fn walk(
    node: &Node,
    path: &mut String,
    map: Option<&str>,
    out: &mut Vec<(String, String, String, &'static str)>,
) {
    match &node.kind {
        NodeKind::Map(entries) => {
            for e in entries {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&e.key);
                match (&e.value.kind, map) {
                    (
                        NodeKind::Scalar {
                            text,
                            style: Style::Plain,
                        },
                        Some(_),
                    ) => {
                        if let Some(t) = yaml11_non_string(text) {
                            out.push((path.clone(), e.key.clone(), text.clone(), t));
                        }
                    }
                    (_, Some(_)) => {}
                    (_, None) => {
                        let is_map = STRING_MAP_KEYS.contains(&e.key.as_str())
                            && matches!(e.value.kind, NodeKind::Map(_));
                        walk(&e.value, path, is_map.then_some(e.key.as_str()), out);
                    }
                }
                path.truncate(len);
            }
        }
        NodeKind::Seq(items) if map.is_none() => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(item, path, None, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

fn finding(m: &ManifestObject, field: &str, key: &str, text: &str, resolved: &str) -> Finding {
    let what = if field.contains(".annotations.") || field.starts_with("annotations.") {
        "annotation"
    } else {
        "label"
    };
    let who = match &m.namespace {
        Some(ns) => format!("{} {ns}/{}", m.kind.to_ascii_lowercase(), m.name),
        None => format!("{} {}", m.kind.to_ascii_lowercase(), m.name),
    };
    let go_type = match resolved {
        "bool" => "bool",
        _ => "number",
    };
    let map_field = field
        .rsplit_once(&format!(".{key}"))
        .map_or(field, |(p, _)| p);
    // Go names the innermost struct and the JSON path from the root: the measured message for
    // an object's own annotations is `... Go struct field ObjectMeta.metadata.annotations ...`.
    let go_struct = match map_field.rsplit('.').next() {
        Some("matchLabels") => "LabelSelector",
        Some("nodeSelector") => "PodSpec",
        _ => "ObjectMeta",
    };
    let (severity, consequence) = if resolved == "null" {
        (
            Severity::Warning,
            "the API server stores it as an empty string".to_owned(),
        )
    } else {
        (
            Severity::Error,
            format!(
                "kubectl and the API server reject the object (json: cannot unmarshal {go_type} into Go struct field {go_struct}.{map_field} of type string)"
            ),
        )
    };
    let quoted = format!("{key}: \"{text}\"");
    Finding {
        check: "annotation-not-string".to_owned(),
        severity,
        object: ObjectRef::new(&m.kind, m.namespace.as_deref(), &m.name),
        message: format!(
            "{what} {key} of {who} is the unquoted YAML value {text}, which YAML 1.1 reads as a {resolved}: {consequence}"
        ),
        evidence: vec![Evidence::new(
            field,
            format!("{text} (plain scalar: a YAML 1.1 {resolved})"),
            format!("\"{text}\" (a quoted string)"),
            &m.origin,
        )],
        fix: format!("quote the value in the manifest: {quoted}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::positions::index;

    #[test]
    fn only_plain_non_string_scalars_in_string_maps_are_found() {
        let text = "metadata:\n  labels:\n    a: yes\n    b: \"yes\"\n    c: enabled\n  annotations:\n    d: 0755\n    e: '1'\n    f: |\n      true\n    g:\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: on}\n  template:\n    spec:\n      nodeSelector:\n        x: 1.5\n      containers:\n      - name: a\n        env:\n        - {name: labels, value: x}\n";
        let docs = index(text).unwrap();
        let mut out = Vec::new();
        walk(&docs[0].root, &mut String::new(), None, &mut out);
        let got: Vec<(&str, &str)> = out
            .iter()
            .map(|(f, _, t, _)| (f.as_str(), t.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("metadata.labels.a", "yes"),
                ("metadata.annotations.d", "0755"),
                ("metadata.annotations.g", "~"),
                ("spec.selector.matchLabels.app", "on"),
                ("spec.template.spec.nodeSelector.x", "1.5"),
            ]
        );
    }
}
