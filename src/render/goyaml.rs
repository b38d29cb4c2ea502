//! YAML in and out the way Istio's Go code does it: parsing rendered templates and manifests
//! into JSON values, and writing JSON values as `sigs.k8s.io/yaml` (go-yaml v2) would.
//!
//! No Rust YAML serializer reproduces go-yaml v2's choices (its key sort, when a string is
//! plain, single- or double-quoted, literal blocks, folding of long scalars at 80 columns),
//! and `toYaml` output and kube-inject output must match Go's, so the emitter is ours.

use serde_json::Value as Json;
use std::cmp::Ordering;

/// Parses one YAML document into a JSON value with YAML 1.1 scalars (as sigs.k8s.io/yaml).
pub(crate) fn parse_yaml(text: &str) -> Result<Json, String> {
    if text.trim().is_empty() {
        return Ok(Json::Null);
    }
    serde_saphyr::from_str::<Json>(text).map_err(|e| e.to_string())
}

/// [`parse_yaml`] for rendered injection templates: the fast reader for the YAML subset the
/// templates produce, serde-saphyr for anything outside it. Debug builds (and so the test
/// suites) parse every accepted text with serde-saphyr too and insist on the same value.
pub(crate) fn parse_rendered_yaml(text: &str) -> Result<Json, String> {
    match super::fastyaml::parse(text) {
        Some(v) => {
            #[cfg(debug_assertions)]
            {
                let reference = serde_saphyr::from_str::<Json>(text).map_err(|e| e.to_string());
                debug_assert_eq!(
                    Ok(&v),
                    reference.as_ref(),
                    "fast YAML reader disagrees with serde-saphyr on {text:?}"
                );
            }
            Ok(v)
        }
        None => parse_yaml(text),
    }
}

/// go-yaml v2 `Marshal` of a JSON value: block style, sorted keys, trailing newline.
pub(crate) fn to_yaml(v: &Json) -> String {
    let mut out = String::new();
    match v {
        Json::Object(m) if !m.is_empty() => emit_map(&mut out, v, 0),
        Json::Array(a) if !a.is_empty() => emit_list(&mut out, v, 0),
        other => {
            let mut e = Emitter { out: &mut out };
            e.scalar_value(other, 0, 0);
            out.push('\n');
        }
    }
    out
}

/// go-yaml v2's `keyList.Less` for string keys: letters sort after non-letters, digit runs
/// compare numerically.
pub(crate) fn go_yaml_key_cmp(a: &str, b: &str) -> Ordering {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        let (ac, bc) = (ar[i], br[i]);
        if ac == bc {
            i += 1;
            continue;
        }
        let al = ac.is_alphabetic();
        let bl = bc.is_alphabetic();
        if al && bl {
            return ac.cmp(&bc);
        }
        if al || bl {
            return if bl {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ac == '0' || bc == '0' {
            let mut j = i;
            while j > 0 {
                j -= 1;
                if !ar[j].is_ascii_digit() {
                    break;
                }
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an
                .saturating_mul(10)
                .saturating_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn
                .saturating_mul(10)
                .saturating_add(i64::from(br[bi] as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ac.cmp(&bc);
    }
    ar.len().cmp(&br.len())
}

fn sorted_entries(m: &serde_json::Map<String, Json>) -> Vec<(&String, &Json)> {
    let mut entries: Vec<(&String, &Json)> = m.iter().collect();
    entries.sort_by(|a, b| go_yaml_key_cmp(a.0, b.0));
    entries
}

fn push_indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

/// Emits a non-empty map whose first key starts at the current position (the caller wrote
/// the indentation or `- `), the rest at `indent`.
fn emit_map_inline(out: &mut String, v: &Json, indent: usize, first_inline: bool) {
    let Json::Object(m) = v else { return };
    for (i, (k, val)) in sorted_entries(m).into_iter().enumerate() {
        if i > 0 || !first_inline {
            push_indent(out, indent);
        }
        let key_col = indent;
        {
            let mut e = Emitter { out };
            e.key(k);
        }
        out.push(':');
        emit_after_key(out, val, key_col);
    }
}

fn emit_map(out: &mut String, v: &Json, indent: usize) {
    emit_map_inline(out, v, indent, false);
}

fn emit_after_key(out: &mut String, val: &Json, key_col: usize) {
    match val {
        Json::Object(m) if !m.is_empty() => {
            out.push('\n');
            emit_map(out, val, key_col + 2);
        }
        Json::Array(a) if !a.is_empty() => {
            out.push('\n');
            emit_list(out, val, key_col);
        }
        _ => {
            out.push(' ');
            let col = line_column(out);
            let mut e = Emitter { out };
            e.scalar_value(val, col, key_col + 2);
            out.push('\n');
        }
    }
}

fn emit_list(out: &mut String, v: &Json, indent: usize) {
    let Json::Array(items) = v else { return };
    for item in items {
        push_indent(out, indent);
        out.push('-');
        match item {
            Json::Object(m) if !m.is_empty() => {
                out.push(' ');
                emit_map_inline(out, item, indent + 2, true);
            }
            Json::Array(a) if !a.is_empty() => {
                out.push(' ');
                emit_list_inline(out, item, indent + 2);
            }
            _ => {
                out.push(' ');
                let col = line_column(out);
                let mut e = Emitter { out };
                e.scalar_value(item, col, indent + 2);
                out.push('\n');
            }
        }
    }
}

/// A list nested directly in a list item: the first `-` continues the parent's line.
fn emit_list_inline(out: &mut String, v: &Json, indent: usize) {
    let Json::Array(items) = v else { return };
    let mut rendered = String::new();
    emit_list(&mut rendered, v, indent);
    // Drop the first item's indentation: it follows the parent's "- ".
    let trimmed = rendered.get(indent.min(rendered.len())..).unwrap_or("");
    let _ = items;
    out.push_str(trimmed);
}

fn line_column(out: &str) -> usize {
    match out.rfind('\n') {
        Some(p) => out[p + 1..].chars().count(),
        None => out.chars().count(),
    }
}

struct Emitter<'a> {
    out: &'a mut String,
}

/// What go-yaml's `analyze_scalar` concluded about a string (block context only: the
/// emitter never writes flow collections).
struct Analysis {
    block_plain: bool,
    single_quoted: bool,
    block: bool,
}

const BEST_WIDTH: usize = 80;

impl Emitter<'_> {
    fn key(&mut self, k: &str) {
        self.string(k, 0, 0, true);
    }

    fn scalar_value(&mut self, v: &Json, col: usize, cont_indent: usize) {
        match v {
            Json::Null => self.out.push_str("null"),
            Json::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => self.out.push_str(&yaml_number(n)),
            Json::String(s) => self.string(s, col, cont_indent, false),
            Json::Object(_) => self.out.push_str("{}"),
            Json::Array(_) => self.out.push_str("[]"),
        }
    }

    fn string(&mut self, s: &str, col: usize, cont_indent: usize, simple_key: bool) {
        if !resolves_to_string(s) {
            write_double_quoted(self.out, s);
            return;
        }
        if s.contains('\n') && !simple_key {
            let a = analyze(s);
            if a.block {
                write_literal(self.out, s, cont_indent);
                return;
            }
            write_double_quoted(self.out, s);
            return;
        }
        let a = analyze(s);
        if a.block_plain && !s.is_empty() {
            write_plain(self.out, s, col, cont_indent, !simple_key);
            return;
        }
        if a.single_quoted {
            write_single_quoted(self.out, s, col, cont_indent, !simple_key);
            return;
        }
        write_double_quoted(self.out, s);
    }
}

fn yaml_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    match n.as_f64() {
        Some(f) if f.is_infinite() => {
            if f > 0.0 {
                ".inf".into()
            } else {
                "-.inf".into()
            }
        }
        Some(f) if f.is_nan() => ".nan".into(),
        Some(f) => super::gofmt::go_float(f),
        None => n.to_string(),
    }
}

fn is_printable(c: char) -> bool {
    let n = c as u32;
    n == 0x0A
        || (0x20..=0x7E).contains(&n)
        || n == 0x85
        || (0xA0..=0xD7FF).contains(&n)
        || (0xE000..=0xFFFD).contains(&n) && n != 0xFEFF
        || (0x10000..=0x10FFFF).contains(&n)
}

fn is_blankz(c: Option<char>) -> bool {
    matches!(c, None | Some(' ') | Some('\t') | Some('\r') | Some('\n'))
}

fn analyze(s: &str) -> Analysis {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return Analysis {
            block_plain: true,
            single_quoted: true,
            block: false,
        };
    }
    let mut block_ind = false;
    let mut _flow_ind = false;
    if s.starts_with("---") || s.starts_with("...") {
        block_ind = true;
        _flow_ind = true;
    }
    let mut preceded_ws = true;
    let mut followed_ws = is_blankz(chars.get(1).copied());
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break, mut prev_space, mut prev_break) =
        (false, false, false, false);
    let mut line_breaks = false;
    let mut special = false;
    let last = chars.len() - 1;
    for (i, &c) in chars.iter().enumerate() {
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    _flow_ind = true;
                    block_ind = true;
                }
                '?' | ':' => {
                    _flow_ind = true;
                    if followed_ws {
                        block_ind = true;
                    }
                }
                '-' if followed_ws => {
                    _flow_ind = true;
                    block_ind = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => _flow_ind = true,
                ':' => {
                    _flow_ind = true;
                    if followed_ws {
                        block_ind = true;
                    }
                }
                '#' if preceded_ws => {
                    _flow_ind = true;
                    block_ind = true;
                }
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i == last {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if c == '\n' || c == '\r' || c == '\u{85}' || c == '\u{2028}' || c == '\u{2029}' {
            line_breaks = true;
            if i == 0 {
                leading_break = true;
            }
            if i == last {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_ws = is_blankz(Some(c));
        followed_ws = is_blankz(chars.get(i + 2).copied());
    }
    let mut a = Analysis {
        block_plain: true,
        single_quoted: true,
        block: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain = false;
    }
    if trailing_space {
        a.block = false;
    }
    if break_space {
        a.block_plain = false;
        a.single_quoted = false;
    }
    if space_break || special {
        a.block_plain = false;
        a.single_quoted = false;
        a.block = false;
    }
    if line_breaks {
        a.block_plain = false;
    }
    if block_ind {
        a.block_plain = false;
    }
    a
}

/// go-yaml v2 `resolve`: would this plain scalar read back as a string?
fn resolves_to_string(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    match s {
        "~" | "null" | "Null" | "NULL" | "y" | "Y" | "yes" | "Yes" | "YES" | "n" | "N" | "no"
        | "No" | "NO" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE" | "on" | "On"
        | "ON" | "off" | "Off" | "OFF" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF"
        | "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN" | "<<" => {
            return false;
        }
        _ => {}
    }
    let first = s.chars().next().unwrap_or(' ');
    if !(first.is_ascii_digit() || first == '+' || first == '-' || first == '.') {
        return true;
    }
    if looks_like_int(s) || looks_like_float(s) || is_base60_float(s) || looks_like_timestamp(s) {
        return false;
    }
    true
}

fn looks_like_int(s: &str) -> bool {
    let plain = s.replace('_', "");
    let body = plain
        .strip_prefix('+')
        .or_else(|| plain.strip_prefix('-'))
        .unwrap_or(&plain);
    if body.is_empty() {
        return false;
    }
    if let Some(h) = body.strip_prefix("0x") {
        return !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit());
    }
    if let Some(b) = body.strip_prefix("0b") {
        return !b.is_empty() && b.chars().all(|c| c == '0' || c == '1');
    }
    body.chars().all(|c| c.is_ascii_digit())
}

fn looks_like_float(s: &str) -> bool {
    // YAML 1.1 float: [-+]?([0-9][0-9_]*)?\.[0-9.]*([eE][-+][0-9]+)? ; Go's ParseFloat also
    // accepts forms like 1e3, which go-yaml tries after the regexp.
    let plain = s.replace('_', "");
    if plain.parse::<f64>().is_ok() {
        let lower = plain.to_ascii_lowercase();
        return !(lower.contains("inf") || lower.contains("nan"));
    }
    false
}

fn is_base60_float(s: &str) -> bool {
    // [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?
    let body = s
        .strip_prefix('+')
        .or_else(|| s.strip_prefix('-'))
        .unwrap_or(s);
    let (main, _frac) = match body.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (body, None),
    };
    let mut parts = main.split(':');
    let Some(head) = parts.next() else {
        return false;
    };
    if head.is_empty()
        || !head.starts_with(|c: char| c.is_ascii_digit())
        || !head.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return false;
    }
    let mut any = false;
    for p in parts {
        any = true;
        if p.is_empty() || p.len() > 2 || !p.chars().all(|c| c.is_ascii_digit()) {
            return false;
        }
        if p.len() == 2 && p.as_bytes().first().is_some_and(|b| *b > b'5') {
            return false;
        }
    }
    any
}

fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

fn write_plain(out: &mut String, s: &str, start_col: usize, indent: usize, allow_breaks: bool) {
    let chars: Vec<char> = s.chars().collect();
    let mut col = start_col;
    let mut spaces = false;
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let next_space = chars.get(i + 1) == Some(&' ');
            if allow_breaks && !spaces && col > BEST_WIDTH && !next_space {
                out.push('\n');
                push_indent(out, indent);
                col = indent;
            } else {
                out.push(c);
                col += 1;
            }
            spaces = true;
        } else {
            out.push(c);
            col += 1;
            spaces = false;
        }
    }
}

fn write_single_quoted(
    out: &mut String,
    s: &str,
    start_col: usize,
    indent: usize,
    allow_breaks: bool,
) {
    let chars: Vec<char> = s.chars().collect();
    out.push('\'');
    let mut col = start_col + 1;
    let mut spaces = false;
    let last = chars.len().saturating_sub(1);
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let next_space = chars.get(i + 1) == Some(&' ');
            if allow_breaks && !spaces && col > BEST_WIDTH && i != 0 && i != last && !next_space {
                out.push('\n');
                push_indent(out, indent);
                col = indent;
            } else {
                out.push(c);
                col += 1;
            }
            spaces = true;
        } else {
            if c == '\'' {
                out.push('\'');
                col += 1;
            }
            out.push(c);
            col += 1;
            spaces = false;
        }
    }
    out.push('\'');
}

fn write_double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{a0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if !is_printable(c) => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02X}"));
                } else if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04X}"));
                } else {
                    out.push_str(&format!("\\U{n:08X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_literal(out: &mut String, s: &str, indent: usize) {
    out.push('|');
    if s.starts_with(' ') || s.starts_with('\n') {
        out.push('2');
    }
    let trailing = s.len() - s.trim_end_matches('\n').len();
    if trailing == 0 {
        out.push('-');
    } else if trailing > 1 {
        out.push('+');
    }
    out.push('\n');
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        if !line.is_empty() {
            push_indent(out, indent);
            out.push_str(line);
        }
        out.push('\n');
    }
    // The caller appends the final newline after a scalar; a literal already ended its line.
    if out.ends_with('\n') {
        out.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quoting_matches_go_yaml_v2() {
        let v = json!({"a": "*", "b": "", "c": "15001", "d": "hello", "e": "true",
                       "f": "{\"x\":1}", "g": "a: b", "h": "-x", "i": "- x", "j": "1:20"});
        assert_eq!(
            to_yaml(&v),
            "a: '*'\nb: \"\"\nc: \"15001\"\nd: hello\ne: \"true\"\nf: '{\"x\":1}'\ng: 'a: b'\nh: -x\ni: '- x'\nj: \"1:20\"\n"
        );
    }

    #[test]
    fn nested_layout() {
        let v = json!({"spec": {"containers": [{"name": "a", "args": ["x", "y"]}], "empty": {}},
                       "list": [], "n": 3});
        assert_eq!(
            to_yaml(&v),
            "list: []\n\"n\": 3\nspec:\n  containers:\n  - args:\n    - x\n    - \"y\"\n    name: a\n  empty: {}\n"
        );
    }

    #[test]
    fn literal_blocks() {
        let v = json!({"a": "x\ny", "b": "{}\n"});
        assert_eq!(to_yaml(&v), "a: |-\n  x\n  y\nb: |\n  {}\n");
    }

    #[test]
    fn key_order_is_numeric_aware() {
        let mut keys = vec!["a10", "a9", "B", "a", "_x", "1"];
        keys.sort_by(|a, b| go_yaml_key_cmp(a, b));
        assert_eq!(keys, vec!["_x", "1", "B", "a", "a9", "a10"]);
    }

    #[test]
    fn long_single_quoted_scalars_fold() {
        let s = "[{\"name\": \"alt_cni\"}, {\"name\": \"more_cni\", \"namespace\": \"kube-system\"}, {\"name\": \"istio-cni\", \"namespace\": \"default\"}]";
        let v = json!({"metadata": {"annotations": {"k8s.v1.cni.cncf.io/networks": s}}});
        let out = to_yaml(&v);
        assert!(
            out.contains("\"namespace\":\n      \"kube-system\""),
            "{out}"
        );
    }
}
