//! Istio's own template functions (`pkg/kube/inject/template.go` `InjectionFuncmap`), which
//! are registered after sprig and so override same-named sprig functions (`indent`, `env`,
//! `contains`, `omit`), plus the `index` builtin made aware of typed string maps.

use super::funcs_sprig::{FnResult, arg_int, arg_str, check_len, dict, s, want_args};
use super::gofmt::sprint;
use super::template::{is_string_map, with_state};
use gotmpl::{Template, TemplateError, Value};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Go's `index`, except that a missing key of a `map[string]string` yields "" (the typed
/// zero value) rather than `<no value>`.
fn index(args: &[Value]) -> FnResult {
    if args.is_empty() {
        return Err(TemplateError::Exec(
            "wrong number of args for index: want at least 1 got 0".into(),
        ));
    }
    let mut item = args[0].clone();
    for key in &args[1..] {
        item = match (&item, key) {
            (Value::Map(m), Value::String(k)) => match m.get(k.as_ref()) {
                Some(v) => v.clone(),
                None if is_string_map(&item) => s(""),
                None => Value::Nil,
            },
            (Value::Map(_), other) => {
                return Err(TemplateError::Exec(format!(
                    "error calling index: value has type {}; should be string",
                    other.type_name()
                )));
            }
            (Value::List(l), _) => {
                let i = match key {
                    Value::Int(n) => *n,
                    Value::Uint(n) => i64::try_from(*n).unwrap_or(i64::MAX),
                    other => {
                        return Err(TemplateError::Exec(format!(
                            "error calling index: cannot index slice/array with type {}",
                            other.type_name()
                        )));
                    }
                };
                match usize::try_from(i).ok().and_then(|i| l.get(i)) {
                    Some(v) => v.clone(),
                    None => {
                        return Err(TemplateError::Exec(format!(
                            "error calling index: index out of range: {i}"
                        )));
                    }
                }
            }
            (Value::Nil, _) => {
                return Err(TemplateError::Exec(
                    "error calling index: index of untyped nil".into(),
                ));
            }
            (other, _) => {
                return Err(TemplateError::Exec(format!(
                    "error calling index: can't index item of type {}",
                    other.type_name()
                )));
            }
        };
    }
    Ok(item)
}

fn annotations_of(meta: &Value) -> Option<&BTreeMap<Arc<str>, Value>> {
    match meta.field("Annotations") {
        Some(Value::Map(m)) => Some(m),
        _ => None,
    }
}

fn go_json(v: &Json) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// `json.Marshal` of a Go value converted from a template value: maps sorted, numbers as Go
/// prints float64 in JSON.
fn marshal(v: &Value) -> String {
    go_json(&super::data::to_json(v))
}

fn ports_of(containers: &Value, skip_proxy: bool) -> String {
    let mut parts = Vec::new();
    if let Value::List(cs) = containers {
        for c in cs.iter() {
            if skip_proxy
                && matches!(c.field("Name"), Some(Value::String(n)) if n.as_ref() == "istio-proxy")
            {
                continue;
            }
            if let Some(Value::List(ports)) = c.field("Ports") {
                for p in ports.iter() {
                    let proto = match p.field("Protocol") {
                        Some(Value::String(x)) => x.to_string(),
                        _ => String::new(),
                    };
                    if proto == "UDP" || proto == "SCTP" {
                        continue;
                    }
                    parts.push(p.field("ContainerPort").map(sprint).unwrap_or_default());
                }
            }
        }
    }
    parts.join(",")
}

fn omit_nil(v: &Value) -> Value {
    match v {
        Value::Map(m) => {
            let mut out = BTreeMap::new();
            for (k, child) in m.iter() {
                if matches!(child, Value::Nil) {
                    continue;
                }
                let c = omit_nil(child);
                if matches!(c, Value::Nil) {
                    continue;
                }
                out.insert(k.clone(), c);
            }
            if out.is_empty() {
                Value::Nil
            } else {
                Value::Map(Arc::new(out))
            }
        }
        Value::List(items) => {
            let out: Vec<Value> = items
                .iter()
                .filter(|i| !matches!(i, Value::Nil))
                .map(omit_nil)
                .filter(|i| !matches!(i, Value::Nil))
                .collect();
            if out.is_empty() {
                Value::Nil
            } else {
                Value::List(out.into())
            }
        }
        other => other.clone(),
    }
}

fn string_map_arg(v: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Value::Map(m) = v {
        for (k, val) in m.iter() {
            out.insert(k.to_string(), super::gofmt::strval(val));
        }
    }
    out
}

/// `appendMultusNetwork existing net`.
pub(crate) fn append_multus_network(existing: &str, net: &str) -> String {
    if existing.is_empty() {
        return net.to_string();
    }
    if existing.contains(']') {
        let Ok(Json::Array(items)) = serde_json::from_str::<Json>(existing) else {
            return existing.to_string();
        };
        let (ns, name) = match net.split_once('/') {
            Some((ns, name)) => (ns, name),
            None => ("", net),
        };
        for item in &items {
            let iname = item.get("name").and_then(Json::as_str).unwrap_or("");
            let ins = item.get("namespace").and_then(Json::as_str).unwrap_or("");
            if iname == name && ins == ns {
                return existing.to_string();
            }
        }
        let entry = if ns.is_empty() {
            format!(", {{\"name\": \"{name}\"}}")
        } else {
            format!(", {{\"name\": \"{name}\", \"namespace\": \"{ns}\"}}")
        };
        let Some(pos) = existing.rfind(']') else {
            return existing.to_string();
        };
        return format!("{}{}{}", &existing[..pos], entry, &existing[pos..]);
    }
    if existing.split(',').any(|e| e.trim() == net) {
        return existing.to_string();
    }
    format!("{existing}, {net}")
}

/// `excludeInboundPort port list`.
pub(crate) fn exclude_inbound_port(port: &Value, list: &str) -> String {
    let port_str = sprint(port).trim().to_string();
    if port_str.is_empty() || port_str == "0" {
        return list.to_string();
    }
    let mut out = Vec::new();
    for p in list.split(',') {
        if p == port_str {
            return list.to_string();
        }
        let t = p.trim();
        if !t.is_empty() {
            out.push(t.to_string());
        }
    }
    out.push(port_str);
    out.join(",")
}

/// Registers Istio's functions (after sprig, so they win).
pub(crate) fn register(t: Template) -> Template {
    t.func("index", index)
        .func("formatDuration", |a| {
            want_args("formatDuration", a, 1)?;
            Ok(s(match &a[0] {
                Value::String(d) => normalize_duration(d),
                Value::Nil => "0s".to_string(),
                other => sprint(other),
            }))
        })
        .func("isset", |a| {
            want_args("isset", a, 2)?;
            let key = arg_str("isset", a, 1)?;
            Ok(Value::Bool(
                matches!(&a[0], Value::Map(m) if m.contains_key(key)),
            ))
        })
        .func("excludeInboundPort", |a| {
            want_args("excludeInboundPort", a, 2)?;
            let list = arg_str("excludeInboundPort", a, 1)?;
            Ok(s(exclude_inbound_port(&a[0], list)))
        })
        .func("includeInboundPorts", |a| {
            want_args("includeInboundPorts", a, 1)?;
            Ok(s(ports_of(&a[0], false)))
        })
        .func("applicationPorts", |a| {
            want_args("applicationPorts", a, 1)?;
            Ok(s(ports_of(&a[0], true)))
        })
        .func("kubevirtInterfaces", |a| {
            want_args("kubevirtInterfaces", a, 1)?;
            Ok(s(arg_str("kubevirtInterfaces", a, 0)?))
        })
        .func("excludeInterfaces", |a| {
            want_args("excludeInterfaces", a, 1)?;
            Ok(s(arg_str("excludeInterfaces", a, 0)?))
        })
        .func("annotation", |a| {
            want_args("annotation", a, 3)?;
            let name = arg_str("annotation", a, 1)?;
            if let Some(v) = annotations_of(&a[0]).and_then(|m| m.get(name)) {
                return Ok(s(super::gofmt::strval(v)));
            }
            Ok(s(sprint(&a[2])))
        })
        .func("valueOrDefault", |a| {
            want_args("valueOrDefault", a, 2)?;
            match &a[0] {
                Value::Nil => Ok(a[1].clone()),
                Value::String(x) if x.is_empty() => Ok(a[1].clone()),
                other => Ok(other.clone()),
            }
        })
        .func("toJSON", |a| {
            want_args("toJSON", a, 1)?;
            Ok(s(match &a[0] {
                Value::Map(_) => {
                    go_json(&serde_json::to_value(string_map_arg(&a[0])).unwrap_or(Json::Null))
                }
                _ => "{}".to_string(),
            }))
        })
        .func("fromJSON", |a| {
            want_args("fromJSON", a, 1)?;
            let text = arg_str("fromJSON", a, 0)?;
            Ok(match serde_json::from_str::<Json>(text) {
                Ok(j) => super::data::plain_value(&j, true),
                Err(_) => s("{}"),
            })
        })
        .func("structToJSON", |a| {
            want_args("structToJSON", a, 1)?;
            Ok(s(match &a[0] {
                Value::Nil => "{}".to_string(),
                other => go_json(&super::data::struct_to_json(other)),
            }))
        })
        .func("protoToJSON", |a| {
            want_args("protoToJSON", a, 1)?;
            let Value::Map(m) = &a[0] else {
                return Ok(s("{}"));
            };
            let addr = super::data::map_addr(m);
            Ok(with_state(|st| match st {
                Some(st) if st.proxy_config_addr == addr => {
                    match st
                        .shared
                        .as_ref()
                        .and_then(|sh| sh.proxy_json(&st.proxy_config))
                    {
                        Some(text) => Value::String(text),
                        None => s(super::config::proto_to_json(&st.proxy_config)),
                    }
                }
                _ => s(marshal(&a[0])),
            }))
        })
        .func("toYaml", |a| {
            want_args("toYaml", a, 1)?;
            let yaml = || super::goyaml::to_yaml(&super::data::to_json(&a[0]));
            let cached = with_state(|st| {
                st.and_then(|st| st.shared.as_ref())
                    .and_then(|sh| sh.values_yaml(&a[0], yaml))
            });
            Ok(match cached {
                Some(text) => Value::String(text),
                None => s(yaml()),
            })
        })
        .func("indent", |a| {
            want_args("indent", a, 2)?;
            let n = usize::try_from(arg_int("indent", a, 0)?).unwrap_or(0);
            let text = arg_str("indent", a, 1)?;
            let lines = text.bytes().filter(|&b| b == b'\n').count();
            check_len("indent", n.saturating_mul(lines).saturating_add(text.len()))?;
            let pad = " ".repeat(n);
            let lines: Vec<String> = text
                .split('\n')
                .enumerate()
                .map(|(i, l)| {
                    if i > 0 {
                        format!("{pad}{l}")
                    } else {
                        l.to_string()
                    }
                })
                .collect();
            Ok(s(lines.join("\n")))
        })
        .func("directory", |a| {
            want_args("directory", a, 1)?;
            let p = arg_str("directory", a, 0)?;
            Ok(s(match p.rfind('/') {
                Some(i) => &p[..=i],
                None => "",
            }))
        })
        .func("contains", |a| {
            want_args("contains", a, 2)?;
            let needle = arg_str("contains", a, 0)?;
            let hay = arg_str("contains", a, 1)?;
            Ok(Value::Bool(hay.contains(needle)))
        })
        .func("toLower", |a| {
            want_args("toLower", a, 1)?;
            Ok(s(arg_str("toLower", a, 0)?.to_lowercase()))
        })
        .func("appendMultusNetwork", |a| {
            want_args("appendMultusNetwork", a, 2)?;
            let existing = arg_str("appendMultusNetwork", a, 0)?;
            let net = arg_str("appendMultusNetwork", a, 1)?;
            Ok(s(append_multus_network(existing, net)))
        })
        .func("env", |a| {
            want_args("env", a, 2)?;
            let key = arg_str("env", a, 0)?;
            let def = arg_str("env", a, 1)?;
            let val = with_state(|st| match st.and_then(|st| st.env.as_ref()) {
                Some(map) => map.get(key).cloned().unwrap_or_default(),
                None => std::env::var(key).unwrap_or_default(),
            });
            Ok(s(if val.is_empty() { def.to_string() } else { val }))
        })
        .func("omit", |a| {
            let Some(Value::Map(m)) = a.first() else {
                return Ok(dict(BTreeMap::new()));
            };
            let drop: Vec<String> = a.get(1..).unwrap_or(&[]).iter().map(sprint).collect();
            let mut out = (**m).clone();
            out.retain(|k, _| !drop.iter().any(|d| d.as_str() == k.as_ref()));
            Ok(dict(out))
        })
        .func("strdict", |a| {
            let mut out = BTreeMap::new();
            for pair in a.chunks(2) {
                let k: Arc<str> = super::gofmt::strval(&pair[0]).into();
                let v = pair.get(1).map(super::gofmt::strval).unwrap_or_default();
                out.insert(k, s(v));
            }
            Ok(dict(out))
        })
        .func("mergeMaps", |a| {
            if a.is_empty() {
                return Ok(Value::Nil);
            }
            let mut out = BTreeMap::new();
            for m in a {
                for (k, v) in string_map_arg(m) {
                    out.insert(Arc::from(k.as_str()), s(v));
                }
            }
            Ok(dict(out))
        })
        .func("toJsonMap", |a| {
            let mut out = BTreeMap::new();
            for m in a {
                for (k, v) in string_map_arg(m) {
                    out.insert(k, v);
                }
            }
            Ok(s(go_json(&serde_json::to_value(out).unwrap_or(Json::Null))))
        })
        .func("omitNil", |a| {
            want_args("omitNil", a, 1)?;
            Ok(omit_nil(&a[0]))
        })
        .func("otelResourceAttributes", otel_resource_attributes)
}

/// `otelResourceAttributes mesh annotations labels namespace containers` (Istio ≥ 1.30): the
/// `OTEL_RESOURCE_ATTRIBUTES` value, following OpenTelemetry's Kubernetes service attributes,
/// when some OpenTelemetry extension provider asks for `OTEL_SEMANTIC_CONVENTIONS`; else "".
fn otel_resource_attributes(a: &[Value]) -> FnResult {
    want_args("otelResourceAttributes", a, 5)?;
    let providers = match a[0].field("ExtensionProviders") {
        Some(Value::List(l)) => l.as_ref(),
        _ => &[],
    };
    let enabled = providers.iter().any(|p| {
        p.field("Opentelemetry")
            .and_then(|o| o.field("ServiceAttributeEnrichment"))
            .is_some_and(|e| super::gofmt::strval(e) == "OTEL_SEMANTIC_CONVENTIONS")
    });
    if !enabled {
        return Ok(s(""));
    }
    let annotations = string_map_arg(&a[1]);
    let labels = string_map_arg(&a[2]);
    let namespace = super::gofmt::strval(&a[3]);
    let containers = match &a[4] {
        Value::List(l) => l.as_ref(),
        _ => &[],
    };
    let set = |m: &BTreeMap<String, String>, k: &str| m.get(k).filter(|v| !v.is_empty()).cloned();
    let anno = |k: &str| set(&annotations, &format!("resource.opentelemetry.io/{k}"));
    let container_field =
        |c: &Value, f: &str| c.field(f).map(super::gofmt::strval).unwrap_or_default();

    let mut attrs = Vec::new();
    if let Some(v) = anno("service.namespace") {
        attrs.push(format!("service.namespace={v}"));
    } else if !namespace.is_empty() {
        attrs.push(format!("service.namespace={namespace}"));
    }
    let version = anno("service.version")
        .or_else(|| set(&labels, "app.kubernetes.io/version"))
        .or_else(|| match containers {
            // Only a single container's image says which version the workload is.
            [one] => match image_tag_digest(&container_field(one, "Image")) {
                ("", "") => None,
                (tag, "") => Some(tag.to_string()),
                ("", digest) => Some(digest.to_string()),
                (tag, digest) => Some(format!("{tag}@{digest}")),
            },
            _ => None,
        });
    if let Some(v) = version {
        attrs.push(format!("service.version={v}"));
    }
    if let Some(v) = anno("service.instance.id") {
        attrs.push(format!("service.instance.id={v}"));
    } else if let Some(first) = containers.first() {
        // The pod name is not known at injection time; the kubelet substitutes $(POD_NAME).
        let name = container_field(first, "Name");
        attrs.push(format!(
            "service.instance.id={namespace}.$(POD_NAME).{name}"
        ));
    }
    Ok(s(attrs.join(",")))
}

/// The tag and digest of an image reference `[registry[:port]/]name[:tag][@digest]`.
fn image_tag_digest(image: &str) -> (&str, &str) {
    let (rest, digest) = image.split_once('@').unwrap_or((image, ""));
    let after_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let tag = rest[after_slash..].rsplit_once(':').map_or("", |(_, t)| t);
    (tag, digest)
}

/// `durationpb.AsDuration().String()` for a protojson duration such as `"23s"` or `"1.5s"`.
fn normalize_duration(d: &str) -> String {
    let secs: f64 = d.trim_end_matches('s').parse().unwrap_or(0.0);
    if secs == 0.0 {
        return "0s".into();
    }
    let total_ms = (secs * 1000.0).round() as i64;
    let h = total_ms / 3_600_000;
    let m = (total_ms % 3_600_000) / 60_000;
    let rem_ms = total_ms % 60_000;
    let sec_text = if rem_ms % 1000 == 0 {
        format!("{}s", rem_ms / 1000)
    } else {
        let t = format!("{:.3}", rem_ms as f64 / 1000.0);
        format!("{}s", t.trim_end_matches('0'))
    };
    if h > 0 {
        format!("{h}h{m}m{sec_text}")
    } else if m > 0 {
        format!("{m}m{sec_text}")
    } else {
        sec_text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multus() {
        assert_eq!(
            append_multus_network("", "default/istio-cni"),
            "default/istio-cni"
        );
        assert_eq!(
            append_multus_network("alt_cni", "default/istio-cni"),
            "alt_cni, default/istio-cni"
        );
        assert_eq!(
            append_multus_network(r#"[{"name": "alt_cni"}]"#, "default/istio-cni"),
            r#"[{"name": "alt_cni"}, {"name": "istio-cni", "namespace": "default"}]"#
        );
    }

    #[test]
    fn exclude_port() {
        assert_eq!(exclude_inbound_port(&Value::Float(15020.0), ""), "15020");
        assert_eq!(
            exclude_inbound_port(&Value::Float(15020.0), "4,5,6"),
            "4,5,6,15020"
        );
        assert_eq!(exclude_inbound_port(&s("0"), "4"), "4");
        assert_eq!(exclude_inbound_port(&s("4"), "4,5"), "4,5");
    }

    #[test]
    fn image_tags_and_digests() {
        assert_eq!(image_tag_digest("nginx:1.21"), ("1.21", ""));
        assert_eq!(image_tag_digest("nginx@sha256:abc"), ("", "sha256:abc"));
        assert_eq!(
            image_tag_digest("nginx:1.21@sha256:abc"),
            ("1.21", "sha256:abc")
        );
        assert_eq!(image_tag_digest("registry:5000/nginx:1.21"), ("1.21", ""));
        assert_eq!(image_tag_digest("registry:5000/nginx"), ("", ""));
        assert_eq!(image_tag_digest("nginx"), ("", ""));
    }

    #[test]
    fn otel_attributes_need_semantic_conventions() {
        let m = |pairs: Vec<(&str, Value)>| {
            dict(pairs.into_iter().map(|(k, v)| (Arc::from(k), v)).collect())
        };
        let mesh = |enrichment: &str| {
            m(vec![(
                "ExtensionProviders",
                Value::List(
                    vec![m(vec![(
                        "Opentelemetry",
                        m(vec![("ServiceAttributeEnrichment", s(enrichment))]),
                    )])]
                    .into(),
                ),
            )])
        };
        let container = m(vec![("Name", s("app")), ("Image", s("repo/app:2.0"))]);
        let args = |mesh: Value, annos: Value| {
            vec![
                mesh,
                annos,
                m(vec![]),
                s("shop"),
                Value::List(vec![container.clone()].into()),
            ]
        };
        let out = otel_resource_attributes(&args(mesh("OTEL_SEMANTIC_CONVENTIONS"), m(vec![])));
        assert_eq!(
            sprint(&out.unwrap()),
            "service.namespace=shop,service.version=2.0,service.instance.id=shop.$(POD_NAME).app"
        );
        let annos = m(vec![("resource.opentelemetry.io/service.version", s("v9"))]);
        let out = otel_resource_attributes(&args(mesh("OTEL_SEMANTIC_CONVENTIONS"), annos));
        assert!(sprint(&out.unwrap()).contains("service.version=v9,"));
        let out = otel_resource_attributes(&args(mesh("NONE"), m(vec![])));
        assert_eq!(sprint(&out.unwrap()), "");
    }

    #[test]
    fn durations() {
        assert_eq!(normalize_duration("23s"), "23s");
        assert_eq!(normalize_duration("90s"), "1m30s");
        assert_eq!(normalize_duration("1.5s"), "1.5s");
    }

    #[test]
    fn omit_nil_drops_empty() {
        let v = dict(BTreeMap::from([(Arc::from("a"), Value::Nil)]));
        assert!(matches!(omit_nil(&v), Value::Nil));
    }

    #[test]
    fn err_helper_names_function() {
        assert!(
            super::super::funcs_sprig::err("x", "y")
                .to_string()
                .contains("x")
        );
    }
}
