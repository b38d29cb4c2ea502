//! Where every field of a manifest is written: a position tree per YAML (or JSON) document,
//! built from the YAML parser's events and their source marks, so that a finding about
//! `spec.template.metadata.annotations.sidecar.istio.io/inject` can point at the line and column
//! of that key in the file the user edits.
//!
//! serde-saphyr gives spans only through typed wrappers and forgets how a scalar was written;
//! the event stream of its parser (granit-parser, re-exported by serde-saphyr) keeps both the
//! marks and the scalar style (plain or quoted), which `annotation-not-string` needs: Go's YAML
//! 1.1 reader turns a plain `yes` into a bool, a quoted `"yes"` stays a string.

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, Span};

/// A 1-based line and column in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

impl Position {
    fn from_span(span: &Span) -> Position {
        Position {
            line: u32::try_from(span.start.line()).unwrap_or(u32::MAX).max(1),
            column: u32::try_from(span.start.col().saturating_add(1)).unwrap_or(u32::MAX),
        }
    }
}

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    /// `|` or `>` block scalars: always strings.
    Block,
}

/// One node of a document, with where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Position,
    pub kind: NodeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// Entries in source order: key text, where the key is written, the value.
    Map(Vec<Entry>),
    Seq(Vec<Node>),
    Scalar {
        text: String,
        style: Style,
    },
    /// `*anchor`: the value is elsewhere.
    Alias,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Position,
    pub value: Node,
}

/// One document of a stream: its root node and, for Helm output, the template it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct DocPositions {
    pub root: Node,
    /// `# Source: chart/templates/x.yaml` above the document, as `helm template` prints it.
    pub helm_source: Option<String>,
}

impl Node {
    /// The child at one JSON-pointer token: a mapping key, or a sequence index.
    pub fn child(&self, token: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries.iter().find(|e| e.key == token).map(|e| &e.value),
            NodeKind::Seq(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }
    }

    /// The node at a JSON pointer (`/spec/template/metadata/annotations/sidecar.istio.io~1inject`).
    pub fn pointer(&self, pointer: &str) -> Option<&Node> {
        if pointer.is_empty() {
            return Some(self);
        }
        let rest = pointer.strip_prefix('/')?;
        let mut node = self;
        for raw in rest.split('/') {
            let token = raw.replace("~1", "/").replace("~0", "~");
            node = node.child(&token)?;
        }
        Some(node)
    }

    /// Where the field at a JSON pointer is written: the key of a mapping entry (the line a
    /// user reads as "the field"), the start of a sequence item, or `None` when absent.
    pub fn key_position(&self, pointer: &str) -> Option<Position> {
        let (parent, last) = match pointer.rsplit_once('/') {
            Some((p, l)) => (p, l.replace("~1", "/").replace("~0", "~")),
            None => return (pointer.is_empty()).then_some(self.pos),
        };
        let parent = self.pointer(parent)?;
        match &parent.kind {
            NodeKind::Map(entries) => entries.iter().find(|e| e.key == last).map(|e| e.key_pos),
            NodeKind::Seq(items) => last
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get(i))
                .map(|n| n.pos),
            _ => None,
        }
    }

    /// Locates a dotted field path as findings write it (`metadata.labels`,
    /// `spec.template.metadata.annotations.sidecar.istio.io/inject`, `webhooks[0].clientConfig`).
    /// Keys may contain dots, so at each mapping the longest key that matches wins. Returns the
    /// position of the deepest part that exists (the nearest existing parent) and whether the
    /// whole path was found; `None` when not even the first part exists.
    pub fn locate(&self, field: &str) -> Option<(Position, bool)> {
        let mut node = self;
        let mut rest = field;
        let mut found: Option<Position> = None;
        loop {
            if rest.is_empty() {
                return found.map(|p| (p, true));
            }
            if let Some(after) = rest.strip_prefix('[') {
                let Some((index, tail)) = after.split_once(']') else {
                    return found.map(|p| (p, false));
                };
                let item = match (&node.kind, index.parse::<usize>()) {
                    (NodeKind::Seq(items), Ok(i)) => items.get(i),
                    _ => None,
                };
                let Some(item) = item else {
                    return found.map(|p| (p, false));
                };
                found = Some(item.pos);
                node = item;
                rest = tail.strip_prefix('.').unwrap_or(tail);
                continue;
            }
            let NodeKind::Map(entries) = &node.kind else {
                return found.map(|p| (p, false));
            };
            let best = entries
                .iter()
                .filter(|e| {
                    rest.strip_prefix(e.key.as_str()).is_some_and(|tail| {
                        tail.is_empty() || tail.starts_with('.') || tail.starts_with('[')
                    })
                })
                .max_by_key(|e| e.key.len());
            let Some(entry) = best else {
                return found.map(|p| (p, false));
            };
            found = Some(entry.key_pos);
            node = &entry.value;
            let tail = &rest[entry.key.len()..];
            rest = tail.strip_prefix('.').unwrap_or(tail);
        }
    }

    /// Every scalar in the subtree with its JSON pointer, in source order.
    pub fn walk_scalars<'a>(&'a self, pointer: &mut String, out: &mut Vec<(String, &'a Node)>) {
        match &self.kind {
            NodeKind::Map(entries) => {
                for e in entries {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&e.key.replace('~', "~0").replace('/', "~1"));
                    e.value.walk_scalars(pointer, out);
                    pointer.truncate(len);
                }
            }
            NodeKind::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&i.to_string());
                    item.walk_scalars(pointer, out);
                    pointer.truncate(len);
                }
            }
            NodeKind::Scalar { .. } => out.push((pointer.clone(), self)),
            NodeKind::Alias => {}
        }
    }
}

/// Builds the position tree of every document of a YAML (or JSON) stream. Documents that hold
/// nothing (only comments) are skipped, as the loader skips them. Errors are the parser's
/// message; the loader reports malformed YAML itself, so callers may ignore them.
pub fn index(text: &str) -> Result<Vec<DocPositions>, String> {
    let mut docs = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| e.to_string())?;
        let pos = Position::from_span(&span);
        let done = match event {
            Event::DocumentStart(..) => {
                stack.clear();
                root = None;
                None
            }
            Event::DocumentEnd => {
                // A document with nothing in it parses as a plain null scalar; the loader skips
                // null documents, and so do we, so that documents pair up by index.
                let empty = |n: &Node| matches!(&n.kind, NodeKind::Scalar { text, style: Style::Plain } if yaml11_non_string(text) == Some("null"));
                if let Some(root) = root.take().filter(|r| !empty(r)) {
                    let helm_source = helm_source_above(&lines, root.pos.line);
                    docs.push(DocPositions { root, helm_source });
                }
                None
            }
            Event::MappingStart(..) => {
                stack.push(Frame::Map {
                    pos,
                    entries: Vec::new(),
                    key: None,
                });
                None
            }
            Event::SequenceStart(..) => {
                stack.push(Frame::Seq {
                    pos,
                    items: Vec::new(),
                });
                None
            }
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map { pos, entries, .. }) => Some(Node {
                    pos,
                    kind: NodeKind::Map(entries),
                }),
                _ => return Err("unbalanced mapping".to_owned()),
            },
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { pos, items }) => Some(Node {
                    pos,
                    kind: NodeKind::Seq(items),
                }),
                _ => return Err("unbalanced sequence".to_owned()),
            },
            Event::Scalar(value, style, ..) => Some(Node {
                pos,
                kind: NodeKind::Scalar {
                    text: value.into_owned(),
                    style: match style {
                        ScalarStyle::Plain => Style::Plain,
                        ScalarStyle::SingleQuoted => Style::SingleQuoted,
                        ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
                        _ => Style::Block,
                    },
                },
            }),
            Event::Alias(..) => Some(Node {
                pos,
                kind: NodeKind::Alias,
            }),
            _ => None,
        };
        if let Some(node) = done {
            match stack.last_mut() {
                None => root = Some(node),
                Some(Frame::Seq { items, .. }) => items.push(node),
                Some(Frame::Map { entries, key, .. }) => match key.take() {
                    None => {
                        let text = match &node.kind {
                            NodeKind::Scalar { text, .. } => text.clone(),
                            // A complex key: no field path can name it.
                            _ => String::new(),
                        };
                        *key = Some((text, node.pos));
                    }
                    Some((k, key_pos)) => entries.push(Entry {
                        key: k,
                        key_pos,
                        value: node,
                    }),
                },
            }
        }
    }
    Ok(docs)
}

enum Frame {
    Map {
        pos: Position,
        entries: Vec<Entry>,
        key: Option<(String, Position)>,
    },
    Seq {
        pos: Position,
        items: Vec<Node>,
    },
}

/// The `# Source:` comment Helm writes above each rendered document, looking upwards from the
/// document's first line over comments, blank lines and the `---` separator.
fn helm_source_above(lines: &[&str], line: u32) -> Option<String> {
    let mut i = usize::try_from(line).ok()?.checked_sub(1)?;
    while i > 0 {
        i -= 1;
        let l = lines.get(i)?.trim();
        if let Some(src) = l.strip_prefix("# Source:") {
            return Some(src.trim().to_owned());
        }
        if !(l.is_empty() || l.starts_with('#') || l == "---" || l.starts_with("--- ")) {
            return None;
        }
    }
    None
}

/// What a YAML 1.1 reader (Go's yaml.v2, behind `kubectl apply` and the API server's YAML
/// decoding) makes of a plain scalar that is not a string: `Some("bool")`, `Some("int")`,
/// `Some("float")` or `Some("null")`. `None` means it stays a string.
pub fn yaml11_non_string(plain: &str) -> Option<&'static str> {
    match plain {
        "y" | "Y" | "yes" | "Yes" | "YES" | "n" | "N" | "no" | "No" | "NO" | "true" | "True"
        | "TRUE" | "false" | "False" | "FALSE" | "on" | "On" | "ON" | "off" | "Off" | "OFF" => {
            return Some("bool");
        }
        "" | "~" | "null" | "Null" | "NULL" => return Some("null"),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => return Some("float"),
        _ => {}
    }
    let s = plain.replace('_', "");
    let digits = s.strip_prefix(['+', '-']).unwrap_or(&s);
    if digits.is_empty() {
        return None;
    }
    let is_int = if let Some(hex) = digits.strip_prefix("0x") {
        !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit())
    } else if let Some(oct) = digits.strip_prefix("0o") {
        !oct.is_empty() && oct.chars().all(|c| ('0'..='7').contains(&c))
    } else if let Some(bin) = digits.strip_prefix("0b") {
        !bin.is_empty() && bin.chars().all(|c| c == '0' || c == '1')
    } else {
        digits.chars().all(|c| c.is_ascii_digit())
    };
    if is_int {
        return Some("int");
    }
    // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
    let (mantissa, exponent) = match digits.find(['e', 'E']) {
        Some(i) => (&digits[..i], Some(&digits[i + 1..])),
        None => (digits, None),
    };
    let all_digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            all_digits(int) && all_digits(frac) && !(int.is_empty() && frac.is_empty())
        }
        None => !mantissa.is_empty() && all_digits(mantissa),
    };
    let exponent_ok = match exponent {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
        }
    };
    (mantissa_ok && exponent_ok).then_some("float")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELM: &str = "---\n# Source: shop/templates/ns.yaml\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    team: a\n---\n# Source: shop/templates/web.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n    sidecar.istio.io/inject: yes\nspec:\n  template:\n    spec:\n      hostNetwork: true\n      containers:\n      - name: app\n        image: \"nginx\"\n";

    #[test]
    fn documents_keys_and_styles_are_located() {
        let docs = index(HELM).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(
            docs[0].helm_source.as_deref(),
            Some("shop/templates/ns.yaml")
        );
        assert_eq!(docs[0].root.pos, Position { line: 3, column: 1 });
        let labels = docs[0].root.key_position("/metadata/labels").unwrap();
        assert_eq!(labels, Position { line: 7, column: 3 });
        let web = &docs[1].root;
        assert_eq!(
            web.key_position("/metadata/annotations/sidecar.istio.io~1inject"),
            Some(Position {
                line: 16,
                column: 5
            })
        );
        let v = web
            .pointer("/metadata/annotations/sidecar.istio.io~1inject")
            .unwrap();
        assert_eq!(
            v.kind,
            NodeKind::Scalar {
                text: "yes".into(),
                style: Style::Plain
            }
        );
        assert_eq!(
            v.pos,
            Position {
                line: 16,
                column: 30
            }
        );
        let image = web
            .pointer("/spec/template/spec/containers/0/image")
            .unwrap();
        assert!(matches!(
            image.kind,
            NodeKind::Scalar {
                style: Style::DoubleQuoted,
                ..
            }
        ));
        assert_eq!(
            web.key_position("/spec/template/spec/containers/0"),
            Some(Position {
                line: 22,
                column: 9
            })
        );
    }

    #[test]
    fn dotted_fields_resolve_keys_with_dots_and_fall_back_to_parents() {
        let docs = index(HELM).unwrap();
        let web = &docs[1].root;
        assert_eq!(
            web.locate("metadata.annotations.sidecar.istio.io/inject"),
            Some((
                Position {
                    line: 16,
                    column: 5
                },
                true
            ))
        );
        assert_eq!(
            web.locate("spec.template.spec.hostNetwork"),
            Some((
                Position {
                    line: 20,
                    column: 7
                },
                true
            ))
        );
        assert_eq!(
            web.locate("spec.template.spec.containers[0].image"),
            Some((
                Position {
                    line: 23,
                    column: 9
                },
                true
            ))
        );
        // spec.template.metadata does not exist: the nearest parent is `template`.
        assert_eq!(
            web.locate("spec.template.metadata.annotations.sidecar.istio.io/inject"),
            Some((
                Position {
                    line: 18,
                    column: 3
                },
                false
            ))
        );
        assert_eq!(web.locate("status.phase"), None);
    }

    #[test]
    fn json_is_indexed_too() {
        let text = "{\n  \"kind\": \"List\",\n  \"items\": [\n    {\"metadata\": {\"labels\": {\"a\": true}}}\n  ]\n}\n";
        let docs = index(text).unwrap();
        assert_eq!(docs.len(), 1);
        let v = docs[0].root.pointer("/items/0/metadata/labels/a").unwrap();
        assert_eq!(
            v.kind,
            NodeKind::Scalar {
                text: "true".into(),
                style: Style::Plain
            }
        );
        assert_eq!(v.pos.line, 4);
    }

    #[test]
    fn empty_documents_are_skipped() {
        let docs = index("---\n# only a comment\n---\na: 1\n").unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].root.pos.line, 4);
    }

    #[test]
    fn yaml_1_1_resolution() {
        for s in ["yes", "No", "on", "OFF", "y", "true", "FALSE"] {
            assert_eq!(yaml11_non_string(s), Some("bool"), "{s}");
        }
        for s in ["1", "0755", "-3", "0x1F", "1_000", "0b101"] {
            assert_eq!(yaml11_non_string(s), Some("int"), "{s}");
        }
        for s in ["1.0", ".5", "1e3", "-2.5E-3", ".inf", ".NaN"] {
            assert_eq!(yaml11_non_string(s), Some("float"), "{s}");
        }
        assert_eq!(yaml11_non_string("~"), Some("null"));
        for s in [
            "enabled",
            "disabled",
            "yes please",
            "1.2.3",
            "v1",
            "0x",
            "e3",
            ".",
        ] {
            assert_eq!(yaml11_non_string(s), None, "{s}");
        }
    }
}
