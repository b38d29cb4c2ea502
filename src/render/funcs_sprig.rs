//! The sprig (Masterminds/sprig v3) functions Istio's templates and typical custom templates
//! call, written for gotmpl because no usable Rust sprig exists.
//!
//! Semantics follow sprig's Go source: `default`/`empty` by Go kind, `quote` with `%q` of
//! `strval`, byte-based `trunc`, sprig's own `indent` inside `nindent` (Istio overrides the
//! public `indent`, not this one), lists as `[]any`, dicts as `map[string]any`.

use super::gofmt::{go_quote, sprint, strval};
use gotmpl::{Template, TemplateError, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

pub(crate) type FnResult = Result<Value, TemplateError>;

pub(crate) fn err(name: &str, msg: impl std::fmt::Display) -> TemplateError {
    TemplateError::Exec(format!("error calling {name}: {msg}"))
}

/// The largest string one function call may build, and the largest render output (see
/// `template::MAX_RENDER_OUTPUT`). A real injection renders tens of kilobytes; a count taken
/// from a template or a ConfigMap (`repeat 99999999999 "x"`) must be an error, not an
/// allocation that takes the process down.
pub(crate) const MAX_STRING: usize = 16 << 20;

/// Fails `name` when the string it is about to build would exceed [`MAX_STRING`] bytes.
/// `len` is computed with saturating arithmetic by the caller.
pub(crate) fn check_len(name: &str, len: usize) -> Result<(), TemplateError> {
    if len > MAX_STRING {
        return Err(err(
            name,
            format!("result of {len} bytes exceeds the limit of {MAX_STRING} bytes"),
        ));
    }
    Ok(())
}

pub(crate) fn want_args(name: &str, args: &[Value], n: usize) -> Result<(), TemplateError> {
    if args.len() != n {
        return Err(TemplateError::Exec(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        )));
    }
    Ok(())
}

/// A `string` parameter: Go refuses nil and non-strings.
pub(crate) fn arg_str<'a>(
    name: &str,
    args: &'a [Value],
    i: usize,
) -> Result<&'a str, TemplateError> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s),
        Some(Value::Nil) | None => Err(err(name, "cannot assign nil to string")),
        Some(other) => Err(err(
            name,
            format!(
                "wrong type for value; expected string; got {}",
                other.type_name()
            ),
        )),
    }
}

/// An `int` parameter: ints, and floats with an integral value (template constants).
pub(crate) fn arg_int(name: &str, args: &[Value], i: usize) -> Result<i64, TemplateError> {
    match args.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        Some(Value::Uint(n)) => i64::try_from(*n).map_err(|_| err(name, "integer overflow")),
        Some(other) => Err(err(
            name,
            format!(
                "wrong type for value; expected int; got {}",
                other.type_name()
            ),
        )),
        None => Err(err(name, "missing argument")),
    }
}

pub(crate) fn s(v: impl Into<Arc<str>>) -> Value {
    Value::String(v.into())
}

pub(crate) fn list(items: Vec<Value>) -> Value {
    Value::List(items.into())
}

pub(crate) fn dict(m: BTreeMap<Arc<str>, Value>) -> Value {
    Value::Map(Arc::new(m))
}

/// sprig `empty`: Go's zero check by kind.
pub(crate) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Nil => true,
        Value::Bool(b) => !b,
        Value::Int(n) => *n == 0,
        Value::Uint(n) => *n == 0,
        Value::Float(f) => *f == 0.0,
        Value::String(s) => s.is_empty(),
        Value::List(l) => l.is_empty(),
        Value::Map(m) => m.is_empty(),
        Value::Function(_) => false,
    }
}

fn list_items(name: &str, v: Option<&Value>) -> Result<Vec<Value>, TemplateError> {
    match v {
        Some(Value::List(l)) => Ok(l.to_vec()),
        Some(Value::Nil) | None => Ok(Vec::new()),
        Some(other) => Err(err(
            name,
            format!("cannot find {name} on type {}", other.type_name()),
        )),
    }
}

fn sprig_indent(name: &str, spaces: i64, v: &str) -> Result<String, TemplateError> {
    let n = usize::try_from(spaces).unwrap_or(0);
    let lines = v.bytes().filter(|&b| b == b'\n').count().saturating_add(1);
    check_len(name, n.saturating_mul(lines).saturating_add(v.len()))?;
    let pad = " ".repeat(n);
    Ok(format!("{pad}{}", v.replace('\n', &format!("\n{pad}"))))
}

fn to_f64(v: &Value) -> f64 {
    match v {
        Value::Int(n) => *n as f64,
        Value::Uint(n) => *n as f64,
        Value::Float(f) => *f,
        Value::String(s) => s.trim().parse().unwrap_or(0.0),
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => 0.0,
    }
}

fn to_i64(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        Value::Uint(n) => i64::try_from(*n).unwrap_or(i64::MAX),
        Value::Float(f) => *f as i64,
        Value::String(s) => s.trim().parse().unwrap_or(0),
        Value::Bool(b) => i64::from(*b),
        _ => 0,
    }
}

fn json_of(v: &Value) -> serde_json::Value {
    super::data::to_json(v)
}

/// Registers the sprig subset.
pub(crate) fn register(t: Template) -> Template {
    t.func("default", |a| {
        let d = a.first().cloned().unwrap_or(Value::Nil);
        match a.get(1) {
            Some(given) if !is_empty(given) => Ok(given.clone()),
            _ => Ok(d),
        }
    })
    .func("empty", |a| Ok(Value::Bool(a.first().is_none_or(is_empty))))
    .func("coalesce", |a| {
        Ok(a.iter()
            .find(|v| !is_empty(v))
            .cloned()
            .unwrap_or(Value::Nil))
    })
    .func("ternary", |a| {
        want_args("ternary", a, 3)?;
        let cond = matches!(a.get(2), Some(Value::Bool(true)));
        Ok(if cond { a[0].clone() } else { a[1].clone() })
    })
    .func("quote", |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !matches!(v, Value::Nil))
            .map(|v| go_quote(&strval(v)))
            .collect();
        Ok(s(parts.join(" ")))
    })
    .func("squote", |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !matches!(v, Value::Nil))
            .map(|v| format!("'{}'", strval(v)))
            .collect();
        Ok(s(parts.join(" ")))
    })
    .func("trunc", |a| {
        want_args("trunc", a, 2)?;
        let c = arg_int("trunc", a, 0)?;
        let text = arg_str("trunc", a, 1)?;
        let len = text.len() as i64;
        let out = if c < 0 && len + c > 0 {
            byte_slice(text, (len + c) as usize, text.len())
        } else if c >= 0 && len > c {
            byte_slice(text, 0, c as usize)
        } else {
            text.to_string()
        };
        Ok(s(out))
    })
    .func("trimAll", |a| {
        want_args("trimAll", a, 2)?;
        let cut = arg_str("trimAll", a, 0)?;
        let text = arg_str("trimAll", a, 1)?;
        Ok(s(text.trim_matches(|c| cut.contains(c))))
    })
    .func("trimSuffix", |a| {
        want_args("trimSuffix", a, 2)?;
        let suf = arg_str("trimSuffix", a, 0)?;
        let text = arg_str("trimSuffix", a, 1)?;
        Ok(s(text.strip_suffix(suf).unwrap_or(text)))
    })
    .func("trimPrefix", |a| {
        want_args("trimPrefix", a, 2)?;
        let pre = arg_str("trimPrefix", a, 0)?;
        let text = arg_str("trimPrefix", a, 1)?;
        Ok(s(text.strip_prefix(pre).unwrap_or(text)))
    })
    .func("trim", |a| {
        want_args("trim", a, 1)?;
        Ok(s(arg_str("trim", a, 0)?.trim()))
    })
    .func("upper", |a| {
        want_args("upper", a, 1)?;
        Ok(s(arg_str("upper", a, 0)?.to_uppercase()))
    })
    .func("lower", |a| {
        want_args("lower", a, 1)?;
        Ok(s(arg_str("lower", a, 0)?.to_lowercase()))
    })
    .func("replace", |a| {
        want_args("replace", a, 3)?;
        let old = arg_str("replace", a, 0)?;
        let new = arg_str("replace", a, 1)?;
        let text = arg_str("replace", a, 2)?;
        // An empty `old` matches before every character and at the end, as in Go.
        let hits = if old.is_empty() {
            text.chars().count().saturating_add(1)
        } else {
            text.matches(old).count()
        };
        check_len(
            "replace",
            hits.saturating_mul(new.len()).saturating_add(text.len()),
        )?;
        Ok(s(text.replace(old, new)))
    })
    .func("repeat", |a| {
        want_args("repeat", a, 2)?;
        let n = usize::try_from(arg_int("repeat", a, 0)?).unwrap_or(0);
        let text = arg_str("repeat", a, 1)?;
        check_len("repeat", n.saturating_mul(text.len()))?;
        Ok(s(text.repeat(n)))
    })
    .func("hasPrefix", |a| {
        want_args("hasPrefix", a, 2)?;
        let pre = arg_str("hasPrefix", a, 0)?;
        Ok(Value::Bool(arg_str("hasPrefix", a, 1)?.starts_with(pre)))
    })
    .func("hasSuffix", |a| {
        want_args("hasSuffix", a, 2)?;
        let suf = arg_str("hasSuffix", a, 0)?;
        Ok(Value::Bool(arg_str("hasSuffix", a, 1)?.ends_with(suf)))
    })
    .func("nospace", |a| {
        want_args("nospace", a, 1)?;
        Ok(s(arg_str("nospace", a, 0)?
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()))
    })
    .func("toString", |a| {
        want_args("toString", a, 1)?;
        Ok(s(strval(&a[0])))
    })
    .func("splitList", |a| {
        want_args("splitList", a, 2)?;
        let sep = arg_str("splitList", a, 0)?;
        let text = arg_str("splitList", a, 1)?;
        Ok(list(text.split(sep).map(s).collect()))
    })
    .func("join", |a| {
        want_args("join", a, 2)?;
        let sep = arg_str("join", a, 0)?;
        let items: Vec<String> = match &a[1] {
            Value::List(l) => l
                .iter()
                .filter(|v| !matches!(v, Value::Nil))
                .map(strval)
                .collect(),
            Value::Nil => Vec::new(),
            other => vec![strval(other)],
        };
        Ok(s(items.join(sep)))
    })
    .func("list", |a| Ok(list(a.to_vec())))
    .func("append", |a| {
        want_args("append", a, 2)?;
        let mut items = list_items("append", a.first())?;
        items.push(a[1].clone());
        Ok(list(items))
    })
    .func("push", |a| {
        want_args("push", a, 2)?;
        let mut items = list_items("push", a.first())?;
        items.push(a[1].clone());
        Ok(list(items))
    })
    .func("prepend", |a| {
        want_args("prepend", a, 2)?;
        let mut items = list_items("prepend", a.first())?;
        items.insert(0, a[1].clone());
        Ok(list(items))
    })
    .func("concat", |a| {
        let mut out = Vec::new();
        for v in a {
            out.extend(list_items("concat", Some(v))?);
        }
        Ok(list(out))
    })
    .func("first", |a| {
        want_args("first", a, 1)?;
        Ok(list_items("first", a.first())?
            .first()
            .cloned()
            .unwrap_or(Value::Nil))
    })
    .func("last", |a| {
        want_args("last", a, 1)?;
        Ok(list_items("last", a.first())?
            .last()
            .cloned()
            .unwrap_or(Value::Nil))
    })
    .func("rest", |a| {
        want_args("rest", a, 1)?;
        let items = list_items("rest", a.first())?;
        Ok(list(items.into_iter().skip(1).collect()))
    })
    .func("initial", |a| {
        want_args("initial", a, 1)?;
        let mut items = list_items("initial", a.first())?;
        items.pop();
        Ok(list(items))
    })
    .func("uniq", |a| {
        want_args("uniq", a, 1)?;
        let mut out: Vec<Value> = Vec::new();
        for v in list_items("uniq", a.first())? {
            if !out.contains(&v) {
                out.push(v);
            }
        }
        Ok(list(out))
    })
    .func("compact", |a| {
        want_args("compact", a, 1)?;
        Ok(list(
            list_items("compact", a.first())?
                .into_iter()
                .filter(|v| !is_empty(v))
                .collect(),
        ))
    })
    .func("has", |a| {
        want_args("has", a, 2)?;
        Ok(Value::Bool(list_items("has", a.get(1))?.contains(&a[0])))
    })
    .func("without", |a| {
        let items = list_items("without", a.first())?;
        let drop = a.get(1..).unwrap_or(&[]);
        Ok(list(
            items.into_iter().filter(|v| !drop.contains(v)).collect(),
        ))
    })
    .func("nindent", |a| {
        want_args("nindent", a, 2)?;
        let n = arg_int("nindent", a, 0)?;
        let text = arg_str("nindent", a, 1)?;
        Ok(s(format!("\n{}", sprig_indent("nindent", n, text)?)))
    })
    .func("dict", |a| {
        let mut m = BTreeMap::new();
        for pair in a.chunks(2) {
            let key: Arc<str> = strval(&pair[0]).into();
            m.insert(key, pair.get(1).cloned().unwrap_or(s("")));
        }
        Ok(dict(m))
    })
    .func("get", |a| {
        want_args("get", a, 2)?;
        let key = arg_str("get", a, 1)?;
        Ok(match &a[0] {
            Value::Map(m) => m.get(key).cloned().unwrap_or(s("")),
            _ => s(""),
        })
    })
    .func("hasKey", |a| {
        want_args("hasKey", a, 2)?;
        let key = arg_str("hasKey", a, 1)?;
        Ok(Value::Bool(
            matches!(&a[0], Value::Map(m) if m.contains_key(key)),
        ))
    })
    .func("keys", |a| {
        let mut out = Vec::new();
        for d in a {
            if let Value::Map(m) = d {
                out.extend(m.keys().map(|k| Value::String(k.clone())));
            }
        }
        Ok(list(out))
    })
    .func("values", |a| {
        want_args("values", a, 1)?;
        Ok(match &a[0] {
            Value::Map(m) => list(m.values().cloned().collect()),
            _ => list(Vec::new()),
        })
    })
    .func("pick", |a| {
        let Some(Value::Map(m)) = a.first() else {
            return Ok(dict(BTreeMap::new()));
        };
        let mut out = BTreeMap::new();
        for k in a.get(1..).unwrap_or(&[]) {
            let key = strval(k);
            if let Some(v) = m.get(key.as_str()) {
                out.insert(Arc::from(key.as_str()), v.clone());
            }
        }
        Ok(dict(out))
    })
    .func("merge", |a| {
        let mut out = BTreeMap::new();
        for d in a.iter().rev() {
            merge_into(&mut out, d, false);
        }
        Ok(dict(out))
    })
    .func("mergeOverwrite", |a| {
        let mut out = BTreeMap::new();
        for d in a {
            merge_into(&mut out, d, true);
        }
        Ok(dict(out))
    })
    .func("toJson", |a| {
        want_args("toJson", a, 1)?;
        Ok(s(serde_json::to_string(&json_of(&a[0])).unwrap_or_default()))
    })
    .func("toPrettyJson", |a| {
        want_args("toPrettyJson", a, 1)?;
        Ok(s(
            serde_json::to_string_pretty(&json_of(&a[0])).unwrap_or_default()
        ))
    })
    .func("fromJson", |a| {
        want_args("fromJson", a, 1)?;
        let text = arg_str("fromJson", a, 0)?;
        Ok(serde_json::from_str::<serde_json::Value>(text)
            .map(|j| super::data::plain_value(&j, true))
            .unwrap_or_else(|_| dict(BTreeMap::new())))
    })
    .func("b64enc", |a| {
        use base64::Engine;
        want_args("b64enc", a, 1)?;
        Ok(s(
            base64::engine::general_purpose::STANDARD.encode(strval(&a[0]))
        ))
    })
    .func("b64dec", |a| {
        use base64::Engine;
        want_args("b64dec", a, 1)?;
        let text = strval(&a[0]);
        Ok(s(
            match base64::engine::general_purpose::STANDARD.decode(text.as_bytes()) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => e.to_string(),
            },
        ))
    })
    .func("int", |a| {
        want_args("int", a, 1)?;
        Ok(Value::Int(to_i64(&a[0])))
    })
    .func("int64", |a| {
        want_args("int64", a, 1)?;
        Ok(Value::Int(to_i64(&a[0])))
    })
    .func("float64", |a| {
        want_args("float64", a, 1)?;
        Ok(Value::Float(to_f64(&a[0])))
    })
    .func("atoi", |a| {
        want_args("atoi", a, 1)?;
        Ok(Value::Int(
            arg_str("atoi", a, 0)?.trim().parse().unwrap_or(0),
        ))
    })
    .func("add", |a| Ok(Value::Int(a.iter().map(to_i64).sum())))
    .func("add1", |a| {
        want_args("add1", a, 1)?;
        Ok(Value::Int(to_i64(&a[0]) + 1))
    })
    .func("sub", |a| {
        want_args("sub", a, 2)?;
        Ok(Value::Int(to_i64(&a[0]) - to_i64(&a[1])))
    })
    .func("mul", |a| Ok(Value::Int(a.iter().map(to_i64).product())))
    .func("div", |a| {
        want_args("div", a, 2)?;
        let d = to_i64(&a[1]);
        if d == 0 {
            return Err(err("div", "integer divide by zero"));
        }
        Ok(Value::Int(to_i64(&a[0]) / d))
    })
    .func("mod", |a| {
        want_args("mod", a, 2)?;
        let d = to_i64(&a[1]);
        if d == 0 {
            return Err(err("mod", "integer divide by zero"));
        }
        Ok(Value::Int(to_i64(&a[0]) % d))
    })
    .func("max", |a| {
        Ok(Value::Int(a.iter().map(to_i64).max().unwrap_or(0)))
    })
    .func("min", |a| {
        Ok(Value::Int(a.iter().map(to_i64).min().unwrap_or(0)))
    })
    .func("kindOf", |a| {
        want_args("kindOf", a, 1)?;
        Ok(s(go_kind(&a[0])))
    })
    .func("kindIs", |a| {
        want_args("kindIs", a, 2)?;
        Ok(Value::Bool(arg_str("kindIs", a, 0)? == go_kind(&a[1])))
    })
    .func("typeOf", |a| {
        want_args("typeOf", a, 1)?;
        Ok(s(go_type(&a[0])))
    })
    .func("deepCopy", |a| {
        want_args("deepCopy", a, 1)?;
        Ok(a[0].clone())
    })
    .func("required", |a| {
        want_args("required", a, 2)?;
        let msg = arg_str("required", a, 0)?;
        if matches!(&a[1], Value::Nil) || matches!(&a[1], Value::String(x) if x.is_empty()) {
            return Err(err("required", msg));
        }
        Ok(a[1].clone())
    })
    .func("fail", |a| {
        want_args("fail", a, 1)?;
        Err(err("fail", arg_str("fail", a, 0)?))
    })
    .func("sha256sum", |a| {
        use sha2::Digest;
        want_args("sha256sum", a, 1)?;
        let text = arg_str("sha256sum", a, 0)?;
        Ok(s(hex::encode(sha2::Sha256::digest(text.as_bytes()))))
    })
    .func("title", |a| {
        want_args("title", a, 1)?;
        let text = arg_str("title", a, 0)?;
        let mut out = String::with_capacity(text.len());
        let mut start = true;
        for c in text.chars() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            start = c.is_whitespace();
        }
        Ok(s(out))
    })
    .func("toStrings", |a| {
        want_args("toStrings", a, 1)?;
        Ok(list(
            list_items("toStrings", a.first())?
                .iter()
                .map(|v| s(strval(v)))
                .collect(),
        ))
    })
    .func("sprint", |a| {
        Ok(s(a.iter().map(sprint).collect::<String>()))
    })
}

fn byte_slice(text: &str, start: usize, end: usize) -> String {
    let bytes = text.as_bytes();
    let start = start.min(bytes.len());
    let end = end.min(bytes.len()).max(start);
    String::from_utf8_lossy(&bytes[start..end]).into_owned()
}

fn merge_into(out: &mut BTreeMap<Arc<str>, Value>, src: &Value, overwrite: bool) {
    let Value::Map(m) = src else { return };
    for (k, v) in m.iter() {
        match (out.get(k).cloned(), v) {
            (Some(Value::Map(existing)), Value::Map(_)) => {
                let mut inner = (*existing).clone();
                merge_into(&mut inner, v, overwrite);
                out.insert(k.clone(), Value::Map(Arc::new(inner)));
            }
            (Some(_), _) if !overwrite => {
                out.insert(k.clone(), v.clone());
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
}

fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Nil => "invalid",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Uint(_) => "uint",
        Value::Float(_) => "float64",
        Value::String(_) => "string",
        Value::List(_) => "slice",
        Value::Map(_) => "map",
        Value::Function(_) => "func",
    }
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Nil => "<nil>",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Uint(_) => "uint",
        Value::Float(_) => "float64",
        Value::String(_) => "string",
        Value::List(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
        Value::Function(_) => "func",
    }
}
