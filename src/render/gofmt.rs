//! Go `fmt` formatting of template values (`%v`, `%q`, `%t`) for the function pack.
//!
//! Sprig and Istio functions stringify their arguments with `fmt.Sprint`/`%v` and quote with
//! `%q`; these helpers reproduce that output for gotmpl's [`Value`] so rendered text matches Go.

use gotmpl::Value;

/// `%v` of a float64: `strconv.FormatFloat(f, 'g', -1, 64)`, the shortest digits, in
/// exponent form when the decimal exponent is < -4 or >= 6 (Go uses 6 as the bound for the
/// shortest precision), so `1e+06` but `999999`.
pub(crate) fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let sci = format!("{:e}", f);
    let Some(epos) = sci.find('e') else {
        return sci;
    };
    let exp: i32 = sci[epos + 1..].parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        // Plain decimal; Rust's shortest Display matches Go's digits.
        return format!("{}", f);
    }
    // Exponent form: mantissa digits, `e`, sign, at least two exponent digits.
    let mantissa = &sci[..epos];
    let (sign, digits) = if exp < 0 {
        ('-', (-exp).to_string())
    } else {
        ('+', exp.to_string())
    };
    let pad = if digits.len() < 2 { "0" } else { "" };
    format!("{mantissa}e{sign}{pad}{digits}")
}

/// `fmt.Sprint(v)` / `%v` for one value.
pub(crate) fn sprint(v: &Value) -> String {
    let mut out = String::new();
    write_v(&mut out, v);
    out
}

fn write_v(out: &mut String, v: &Value) {
    match v {
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(n) => out.push_str(&n.to_string()),
        Value::Uint(n) => out.push_str(&n.to_string()),
        Value::Float(f) => out.push_str(&go_float(*f)),
        Value::String(s) => out.push_str(s),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v(out, item);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, val)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_v(out, val);
            }
            out.push(']');
        }
        Value::Function(_) => out.push_str("<func>"),
    }
}

/// `strconv.Quote(s)`: Go double-quoted string with Go escapes.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                let n = c as u32;
                if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Sprig's `strval`: strings as-is, everything else through `%v`.
pub(crate) fn strval(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        other => sprint(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go_v() {
        assert_eq!(go_float(15020.0), "15020");
        assert_eq!(go_float(999_999.0), "999999");
        assert_eq!(go_float(1_000_000.0), "1e+06");
        assert_eq!(go_float(1_234_567.0), "1.234567e+06");
        assert_eq!(go_float(0.5), "0.5");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(1.12), "1.12");
    }

    #[test]
    fn quote_escapes_like_strconv() {
        assert_eq!(go_quote("a\"b\n"), "\"a\\\"b\\n\"");
        assert_eq!(go_quote("é"), "\"é\"");
    }

    #[test]
    fn sprint_collections() {
        let v = Value::List(vec![Value::Int(1), Value::String("a".into())].into());
        assert_eq!(sprint(&v), "[1 a]");
        assert_eq!(sprint(&Value::Nil), "<nil>");
    }
}
