//! What a round trip through Go's typed Kubernetes structs does to a JSON object.
//!
//! Istio decodes every intermediate pod into `corev1.Pod` and encodes it again, so omitempty
//! fields vanish, resource quantities become canonical (`2000m` → `2`, `1024Mi` → `1Gi`),
//! unset `resourceFieldRef.divisor` becomes `"0"`, and Go struct field order decides the key
//! order of JSON strings such as `proxy.istio.io/overrides`. This module reproduces the parts
//! of that behaviour the injection output depends on, without a typed model.

use serde_json::{Map, Value as Json};

/// Free-form `map[string]string`/`map[string]Quantity` fields: their keys are data, and their
/// empty-string values are kept. (A `match`, not a slice search: this runs for every node of
/// every normalised pod.)
fn is_free_form_map(key: &str) -> bool {
    matches!(
        key,
        "labels"
            | "annotations"
            | "nodeSelector"
            | "matchLabels"
            | "limits"
            | "requests"
            | "overhead"
            | "data"
            | "binaryData"
            | "volumeAttributes"
            | "parameters"
    )
}

/// Non-pointer int32 fields with `omitempty`: a zero disappears.
fn is_omitempty_int(key: &str) -> bool {
    matches!(
        key,
        "initialDelaySeconds"
            | "timeoutSeconds"
            | "periodSeconds"
            | "successThreshold"
            | "failureThreshold"
            | "hostPort"
            | "minReadySeconds"
    )
}

/// Non-pointer bool fields with `omitempty`: `false` disappears.
fn is_omitempty_bool(key: &str) -> bool {
    matches!(
        key,
        "readOnly"
            | "stdin"
            | "stdinOnce"
            | "tty"
            | "hostNetwork"
            | "hostPID"
            | "hostIPC"
            | "paused"
    )
}

/// Normalises a value as Go's typed encode would (see the module doc). `key` is the field
/// name under which `v` sits ("" at the root).
pub(crate) fn normalize(v: &mut Json) {
    normalize_in(v, "");
}

fn normalize_in(v: &mut Json, key: &str) {
    match v {
        Json::Object(m) => {
            if is_free_form_map(key) {
                m.retain(|_, val| !val.is_null());
                if key == "limits" || key == "requests" || key == "overhead" {
                    for val in m.values_mut() {
                        canonicalize_quantity_value(val);
                    }
                }
                return;
            }
            m.retain(|k, _| !k.starts_with('$'));
            // Normalise every child, then drop the empty ones one by one with the map's own
            // `remove` (a swap-remove under `preserve_order`), in key order: the resulting key
            // order is observable in JSON output, so it must not change.
            let mut dropped: Vec<String> = Vec::new();
            for (k, child) in m.iter_mut() {
                normalize_in(child, k);
                let drop = match child {
                    Json::Null => true,
                    Json::String(s) => s.is_empty(),
                    // `PodSpec.containers` has no omitempty: an emptied list (the only
                    // container moved to initContainers as a native sidecar) stays `[]`.
                    Json::Array(a) => a.is_empty() && k != "containers",
                    Json::Object(o) => o.is_empty() && is_free_form_map(k),
                    Json::Number(n) => is_omitempty_int(k) && n.as_f64() == Some(0.0),
                    Json::Bool(b) => !*b && is_omitempty_bool(k),
                };
                if drop {
                    dropped.push(k.clone());
                }
            }
            for k in &dropped {
                m.remove(k);
            }
            if key == "resourceFieldRef" {
                match m.get_mut("divisor") {
                    Some(d) => canonicalize_quantity_value(d),
                    None => {
                        m.insert("divisor".into(), Json::String("0".into()));
                    }
                }
            }
            if key == "emptyDir"
                && let Some(s) = m.get_mut("sizeLimit")
            {
                canonicalize_quantity_value(s);
            }
            if key == "containers" || key == "initContainers" || key == "ephemeralContainers" {
                // handled by the array branch
            }
        }
        Json::Array(items) => {
            let is_containers =
                key == "containers" || key == "initContainers" || key == "ephemeralContainers";
            for item in items.iter_mut() {
                normalize_in(item, key);
                if is_containers
                    && let Json::Object(c) = item
                    && !c.contains_key("resources")
                {
                    c.insert("resources".into(), Json::Object(Map::new()));
                }
            }
        }
        _ => {}
    }
}

fn canonicalize_quantity_value(v: &mut Json) {
    let text = match v {
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        _ => return,
    };
    if let Some(c) = canonical_quantity(&text) {
        *v = Json::String(c);
    }
}

/// Canonical form of a Kubernetes resource quantity (`resource.Quantity.String()`), or None
/// when the text does not parse.
pub(crate) fn canonical_quantity(text: &str) -> Option<String> {
    let s = text.trim();
    if s.is_empty() {
        return None;
    }
    let (sign, body) = match s.strip_prefix('-') {
        Some(b) => (-1i128, b),
        None => (1i128, s.strip_prefix('+').unwrap_or(s)),
    };
    let num_end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (num, suffix) = body.split_at(num_end);
    if num.is_empty() || num == "." {
        return None;
    }
    // Value = mantissa * 10^exp10 * 2^exp2, mantissa an integer.
    let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
    let digits = format!("{int_part}{frac_part}");
    let mut mantissa: i128 = digits.parse().ok()?;
    let mut exp10: i32 = -(frac_part.len() as i32);
    let (exp2, binary, exponent_form) = match suffix {
        "" => (0, false, false),
        "n" => {
            exp10 -= 9;
            (0, false, false)
        }
        "u" => {
            exp10 -= 6;
            (0, false, false)
        }
        "m" => {
            exp10 -= 3;
            (0, false, false)
        }
        "k" => {
            exp10 += 3;
            (0, false, false)
        }
        "M" => {
            exp10 += 6;
            (0, false, false)
        }
        "G" => {
            exp10 += 9;
            (0, false, false)
        }
        "T" => {
            exp10 += 12;
            (0, false, false)
        }
        "P" => {
            exp10 += 15;
            (0, false, false)
        }
        "E" => {
            exp10 += 18;
            (0, false, false)
        }
        "Ki" => (10, true, false),
        "Mi" => (20, true, false),
        "Gi" => (30, true, false),
        "Ti" => (40, true, false),
        "Pi" => (50, true, false),
        "Ei" => (60, true, false),
        other => {
            let e = other
                .strip_prefix('e')
                .or_else(|| other.strip_prefix('E'))?;
            let n: i32 = e.parse().ok()?;
            exp10 += n;
            (0, false, true)
        }
    };
    mantissa *= sign;
    if mantissa == 0 {
        return Some("0".into());
    }
    // Scale to an exact integer count of nano-units when possible.
    let mut value_nano: i128 = mantissa;
    let mut e = exp10 + 9;
    if exp2 > 0 {
        value_nano = value_nano.checked_mul(1i128 << exp2)?;
    }
    while e > 0 {
        value_nano = value_nano.checked_mul(10)?;
        e -= 1;
    }
    while e < 0 {
        // Quantities round up to the nearest nano unit.
        let q = value_nano / 10;
        let r = value_nano % 10;
        value_nano = if r > 0 { q + 1 } else { q };
        e += 1;
    }
    // Binary quantities that are not whole fall back to decimal SI.
    if binary && value_nano % 1_000_000_000 == 0 {
        let whole = value_nano / 1_000_000_000;
        let suffixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
        let mut idx = 0;
        let mut w = whole;
        while idx + 1 < suffixes.len() && w != 0 && w % 1024 == 0 {
            w /= 1024;
            idx += 1;
        }
        if whole.abs() >= 1024 || idx == 0 {
            return Some(format!("{w}{}", suffixes[idx]));
        }
    }
    decimal_si(value_nano, exponent_form)
}

fn decimal_si(value_nano: i128, exponent_form: bool) -> Option<String> {
    let mut v = value_nano;
    let mut exp = -9i32;
    while v != 0 && v % 1000 == 0 && exp < 18 {
        v /= 1000;
        exp += 3;
    }
    if exponent_form {
        return Some(if exp == 0 {
            format!("{v}")
        } else {
            format!("{v}e{exp}")
        });
    }
    let suffix = match exp {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        0 => "",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => return None,
    };
    Some(format!("{v}{suffix}"))
}

/// Go struct field order for the JSON of the types whose encoding we emit as strings.
fn field_order(kind: &str) -> &'static [&'static str] {
    match kind {
        "container" => &[
            "name",
            "image",
            "command",
            "args",
            "workingDir",
            "ports",
            "envFrom",
            "env",
            "resources",
            "resizePolicy",
            "restartPolicy",
            "volumeMounts",
            "volumeDevices",
            "livenessProbe",
            "readinessProbe",
            "startupProbe",
            "lifecycle",
            "terminationMessagePath",
            "terminationMessagePolicy",
            "imagePullPolicy",
            "securityContext",
            "stdin",
            "stdinOnce",
            "tty",
        ],
        "probe" => &[
            "exec",
            "httpGet",
            "tcpSocket",
            "grpc",
            "initialDelaySeconds",
            "timeoutSeconds",
            "periodSeconds",
            "successThreshold",
            "failureThreshold",
            "terminationGracePeriodSeconds",
        ],
        "httpGet" => &["path", "port", "host", "scheme", "httpHeaders"],
        "tcpSocket" => &["port", "host"],
        "grpc" => &["port", "service"],
        "securityContext" => &[
            "capabilities",
            "privileged",
            "seLinuxOptions",
            "windowsOptions",
            "runAsUser",
            "runAsGroup",
            "runAsNonRoot",
            "readOnlyRootFilesystem",
            "allowPrivilegeEscalation",
            "procMount",
            "seccompProfile",
            "appArmorProfile",
        ],
        "capabilities" => &["add", "drop"],
        "resources" => &["limits", "requests", "claims"],
        "port" => &["name", "hostPort", "containerPort", "protocol", "hostIP"],
        "env" => &["name", "value", "valueFrom"],
        "valueFrom" => &[
            "fieldRef",
            "resourceFieldRef",
            "configMapKeyRef",
            "secretKeyRef",
        ],
        "fieldRef" => &["apiVersion", "fieldPath"],
        "resourceFieldRef" => &["containerName", "resource", "divisor"],
        "volumeMount" => &[
            "name",
            "readOnly",
            "recursiveReadOnly",
            "mountPath",
            "subPath",
            "mountPropagation",
            "subPathExpr",
        ],
        "lifecycle" => &["postStart", "preStop", "stopSignal"],
        "handler" => &["exec", "httpGet", "tcpSocket", "sleep"],
        "exec" => &["command"],
        _ => &[],
    }
}

fn child_kind(parent: &str, key: &str) -> &'static str {
    match (parent, key) {
        ("container", "livenessProbe" | "readinessProbe" | "startupProbe") => "probe",
        ("container", "securityContext") => "securityContext",
        ("container", "resources") => "resources",
        ("container", "ports") => "port",
        ("container", "env") => "env",
        ("container", "volumeMounts") => "volumeMount",
        ("container", "lifecycle") => "lifecycle",
        ("probe" | "handler", "httpGet") => "httpGet",
        ("probe" | "handler", "tcpSocket") => "tcpSocket",
        ("probe", "grpc") => "grpc",
        ("probe" | "handler", "exec") => "exec",
        ("securityContext", "capabilities") => "capabilities",
        ("env", "valueFrom") => "valueFrom",
        ("valueFrom", "fieldRef") => "fieldRef",
        ("valueFrom", "resourceFieldRef") => "resourceFieldRef",
        ("lifecycle", "postStart" | "preStop") => "handler",
        _ => "",
    }
}

/// Reorders the keys of a container (and its nested structs) into Go struct field order.
pub(crate) fn go_order_container(v: &Json) -> Json {
    reorder(v, "container")
}

/// Reorders the keys of a probe-like value (`{httpGet, tcpSocket, grpc, timeoutSeconds}`).
pub(crate) fn go_order(v: &Json, kind: &str) -> Json {
    reorder(v, kind)
}

fn reorder(v: &Json, kind: &str) -> Json {
    match v {
        Json::Array(items) => Json::Array(items.iter().map(|i| reorder(i, kind)).collect()),
        Json::Object(m) => {
            let order = field_order(kind);
            if order.is_empty() {
                return v.clone();
            }
            let mut out = Map::new();
            for k in order {
                if let Some(child) = m.get(*k) {
                    out.insert((*k).to_string(), reorder(child, child_kind(kind, k)));
                }
            }
            for (k, child) in m {
                if !out.contains_key(k) {
                    out.insert(k.clone(), child.clone());
                }
            }
            Json::Object(out)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_canonicalise_like_go() {
        assert_eq!(canonical_quantity("2000m").as_deref(), Some("2"));
        assert_eq!(canonical_quantity("1024Mi").as_deref(), Some("1Gi"));
        assert_eq!(canonical_quantity("100m").as_deref(), Some("100m"));
        assert_eq!(canonical_quantity("128Mi").as_deref(), Some("128Mi"));
        assert_eq!(canonical_quantity("0").as_deref(), Some("0"));
        assert_eq!(canonical_quantity("1").as_deref(), Some("1"));
        assert_eq!(canonical_quantity("4000m").as_deref(), Some("4"));
        assert_eq!(canonical_quantity("1000").as_deref(), Some("1k"));
        assert_eq!(canonical_quantity("1.5").as_deref(), Some("1500m"));
        assert_eq!(canonical_quantity("1536Mi").as_deref(), Some("1536Mi"));
        assert_eq!(canonical_quantity("500Mi").as_deref(), Some("500Mi"));
        assert_eq!(canonical_quantity("abc"), None);
    }

    #[test]
    fn normalise_drops_omitempty_and_adds_defaults() {
        let mut pod = json!({"metadata": {"labels": {"a": ""}, "name": ""},
            "spec": {"containers": [{"name": "c", "readinessProbe": {"initialDelaySeconds": 0,
              "timeoutSeconds": 3}, "env": [{"name": "X", "valueFrom": {"resourceFieldRef":
              {"resource": "limits.cpu"}}}], "args": []}], "volumes": [{"name": "v", "emptyDir": null}]}});
        normalize(&mut pod);
        assert_eq!(
            pod,
            json!({"metadata": {"labels": {"a": ""}},
            "spec": {"containers": [{"name": "c", "readinessProbe": {"timeoutSeconds": 3},
              "env": [{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu",
              "divisor": "0"}}}], "resources": {}}], "volumes": [{"name": "v"}]}})
        );
    }

    #[test]
    fn container_order() {
        let c = json!({"resources": {}, "name": "istio-proxy", "image": "x"});
        assert_eq!(
            serde_json::to_string(&go_order_container(&c)).unwrap_or_default(),
            r#"{"name":"istio-proxy","image":"x","resources":{}}"#
        );
    }
}
