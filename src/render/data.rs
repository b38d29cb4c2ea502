//! The template data (`SidecarTemplateData`) as gotmpl values.
//!
//! Istio executes its templates over Go structs, so templates read Go field names
//! (`.ObjectMeta.Annotations`, `.Spec.ServiceAccountName`, `.TypeMeta.APIVersion`), see typed
//! zero values for unset fields (`""`, empty maps), call a few protobuf getters
//! (`.GetValue`, `.GetTracing`) and see every number of `.Values` as a float64. gotmpl only
//! has maps, so this module builds maps with those keys and values.

use gotmpl::Value;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// JSON field names whose Go struct field name is not the JSON name with a capital first letter.
fn go_field_name(json_key: &str) -> String {
    let special = match json_key {
        "apiVersion" => Some("APIVersion"),
        "uid" => Some("UID"),
        "podIP" => Some("PodIP"),
        "podIPs" => Some("PodIPs"),
        "hostIP" => Some("HostIP"),
        "hostIPs" => Some("HostIPs"),
        "hostIPC" => Some("HostIPC"),
        "hostPID" => Some("HostPID"),
        "fsGroup" => Some("FSGroup"),
        "fsGroupChangePolicy" => Some("FSGroupChangePolicy"),
        "tty" => Some("TTY"),
        "httpGet" => Some("HTTPGet"),
        "httpHeaders" => Some("HTTPHeaders"),
        "tcpSocket" => Some("TCPSocket"),
        "grpc" => Some("GRPC"),
        "seLinuxOptions" => Some("SELinuxOptions"),
        "dnsPolicy" => Some("DNSPolicy"),
        "dnsConfig" => Some("DNSConfig"),
        "ip" => Some("IP"),
        "csi" => Some("CSI"),
        "nfs" => Some("NFS"),
        "iscsi" => Some("ISCSI"),
        "rbd" => Some("RBD"),
        "fc" => Some("FC"),
        "cephfs" => Some("CephFS"),
        "gcePersistentDisk" => Some("GCEPersistentDisk"),
        "awsElasticBlockStore" => Some("AWSElasticBlockStore"),
        "scaleIO" => Some("ScaleIO"),
        "hostname" => Some("Hostname"),
        _ => None,
    };
    if let Some(s) = special {
        return s.to_string();
    }
    let mut chars = json_key.chars();
    match chars.next() {
        Some(first) if first.is_ascii() => {
            let mut out = String::with_capacity(json_key.len());
            out.push(first.to_ascii_uppercase());
            out.push_str(chars.as_str());
            out
        }
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

/// Map-typed Kubernetes fields whose keys are data, not field names. (The
/// `map[string]string` ones among them, whose missing keys read as "" with `index`, are
/// `labels`, `annotations`, `nodeSelector` and `proxyMetadata`.)
fn is_free_form(key: &str) -> bool {
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
            | "proxyMetadata"
            | "runtimeValues"
    )
}

/// Collects the addresses of `map[string]string` values so `index` can return "" for a
/// missing key, as Go does for typed maps.
#[derive(Default)]
pub(crate) struct StringMaps(pub(crate) Vec<usize>);

pub(crate) fn map_addr(m: &Arc<BTreeMap<Arc<str>, Value>>) -> usize {
    Arc::as_ptr(m) as *const () as usize
}

fn string_map(m: Option<&serde_json::Map<String, Json>>, reg: &mut StringMaps) -> Value {
    let mut out = BTreeMap::new();
    if let Some(m) = m {
        for (k, v) in m {
            let s = match v {
                Json::String(s) => s.clone(),
                Json::Null => continue,
                other => other.to_string(),
            };
            out.insert(Arc::from(k.as_str()), Value::String(s.into()));
        }
    }
    let arc = Arc::new(out);
    reg.0.push(map_addr(&arc));
    Value::Map(arc)
}

/// A Kubernetes object (JSON) as a Go-struct-shaped value: Go field names, integers as int.
pub(crate) fn k8s_value(v: &Json, reg: &mut StringMaps) -> Value {
    match v {
        Json::Object(m) => {
            let mut out = BTreeMap::new();
            for (k, child) in m {
                let name = go_field_name(k);
                let val = if matches!(
                    k.as_str(),
                    "labels" | "annotations" | "nodeSelector" | "proxyMetadata"
                ) {
                    string_map(child.as_object(), reg)
                } else if is_free_form(k) {
                    plain_value(child, false)
                } else {
                    k8s_value(child, reg)
                };
                out.insert(Arc::from(name.as_str()), val);
            }
            Value::Map(Arc::new(out))
        }
        Json::Array(items) => Value::List(items.iter().map(|i| k8s_value(i, reg)).collect()),
        other => plain_value(other, false),
    }
}

/// A JSON value as-is (keys unchanged). With `floats`, every number is a float64, as
/// `sigs.k8s.io/yaml` decodes Istio's values into `map[string]any`.
pub(crate) fn plain_value(v: &Json, floats: bool) -> Value {
    match v {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if floats {
                Value::Float(n.as_f64().unwrap_or(0.0))
            } else if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::Uint(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(0.0))
            }
        }
        Json::String(s) => Value::String(s.as_str().into()),
        Json::Array(items) => Value::List(items.iter().map(|i| plain_value(i, floats)).collect()),
        Json::Object(m) => {
            let mut out = BTreeMap::new();
            for (k, child) in m {
                out.insert(Arc::from(k.as_str()), plain_value(child, floats));
            }
            Value::Map(Arc::new(out))
        }
    }
}

/// A gotmpl value back to JSON (map keys unchanged).
pub(crate) fn to_json(v: &Value) -> Json {
    match v {
        Value::Nil => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Uint(u) => Json::from(*u),
        Value::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                Json::from(*f as i64)
            } else {
                serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number)
            }
        }
        Value::String(s) => Json::String(s.to_string()),
        Value::List(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(m) => Json::Object(m.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect()),
        Value::Function(_) => Json::Null,
    }
}

/// Inverse of [`go_field_name`] for the struct-to-JSON functions.
pub(crate) fn json_field_name(go_key: &str) -> String {
    let special = match go_key {
        "APIVersion" => Some("apiVersion"),
        "UID" => Some("uid"),
        "PodIP" => Some("podIP"),
        "PodIPs" => Some("podIPs"),
        "HostIP" => Some("hostIP"),
        "HostIPs" => Some("hostIPs"),
        "HostIPC" => Some("hostIPC"),
        "HostPID" => Some("hostPID"),
        "FSGroup" => Some("fsGroup"),
        "TTY" => Some("tty"),
        "HTTPGet" => Some("httpGet"),
        "HTTPHeaders" => Some("httpHeaders"),
        "TCPSocket" => Some("tcpSocket"),
        "GRPC" => Some("grpc"),
        "SELinuxOptions" => Some("seLinuxOptions"),
        "DNSPolicy" => Some("dnsPolicy"),
        "DNSConfig" => Some("dnsConfig"),
        "IP" => Some("ip"),
        "CSI" => Some("csi"),
        _ => None,
    };
    if let Some(s) = special {
        return s.to_string();
    }
    let mut chars = go_key.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

/// Go `json.Marshal` of a Go-struct-shaped value: JSON names again, omitempty zero fields
/// dropped (Kubernetes types mark nearly every optional field omitempty).
pub(crate) fn struct_to_json(v: &Value) -> Json {
    match v {
        Value::Map(m) => {
            let mut out = serde_json::Map::new();
            for (k, child) in m.iter() {
                let j = struct_to_json(child);
                let keep_zero = k.as_ref() == "ContainerPort";
                let is_zero = match &j {
                    Json::Null => true,
                    Json::String(s) => s.is_empty(),
                    Json::Number(n) => n.as_f64() == Some(0.0),
                    Json::Bool(b) => !b,
                    Json::Array(a) => a.is_empty(),
                    Json::Object(o) => o.is_empty(),
                };
                if is_zero && !keep_zero {
                    continue;
                }
                out.insert(json_field_name(k), j);
            }
            let order = ["name", "hostPort", "containerPort", "protocol", "hostIP"];
            if out.keys().all(|k| order.contains(&k.as_str())) && out.contains_key("containerPort")
            {
                let mut ordered = serde_json::Map::new();
                for k in order {
                    if let Some(val) = out.remove(k) {
                        ordered.insert(k.to_string(), val);
                    }
                }
                return Json::Object(ordered);
            }
            Json::Object(out)
        }
        Value::List(items) => Json::Array(items.iter().map(struct_to_json).collect()),
        other => to_json(other),
    }
}

/// Everything the template data needs besides the pod itself.
pub(crate) struct DataInputs<'a> {
    pub pod: &'a Json,
    pub type_kind: &'a str,
    pub type_api_version: &'a str,
    pub deploy_name: &'a str,
    pub deploy_namespace: &'a str,
    pub proxy_config: &'a Json,
    pub mesh: &'a Json,
    pub values: &'a Value,
    pub revision: &'a str,
    pub native_sidecars: bool,
    pub proxy_image: String,
    pub proxy_init_image: String,
    pub proxy_uid: i64,
    pub proxy_gid: i64,
    pub compliance_policy: &'a str,
    /// `.ProxyConfig` and `.MeshConfig` already built for exactly `proxy_config` and `mesh`
    /// (the injector builds them once for its mesh defaults).
    pub config_values: Option<&'a ConfigValues>,
}

/// `.ProxyConfig` and `.MeshConfig` as template values, with the addresses of their
/// string maps.
pub(crate) struct ConfigValues {
    proxy_config: Value,
    mesh: Value,
    string_maps: Vec<usize>,
}

/// Builds [`ConfigValues`] for a ProxyConfig and a MeshConfig (protojson).
pub(crate) fn config_values(proxy_config: &Json, mesh: &Json) -> ConfigValues {
    let mut reg = StringMaps::default();
    let proxy_config = proxy_config_value(proxy_config, &mut reg);
    let mesh = mesh_value(mesh, &mut reg);
    ConfigValues {
        proxy_config,
        mesh,
        string_maps: reg.0,
    }
}

fn with_defaults(v: Value, defaults: &[(&str, Value)]) -> Value {
    let Value::Map(m) = v else {
        return v;
    };
    let mut map = (*m).clone();
    for (k, d) in defaults {
        map.entry(Arc::from(*k)).or_insert_with(|| d.clone());
    }
    Value::Map(Arc::new(map))
}

fn empty_string_map(reg: &mut StringMaps) -> Value {
    string_map(None, reg)
}

fn str_v(s: &str) -> Value {
    Value::String(s.into())
}

fn map_v(entries: Vec<(&str, Value)>) -> Value {
    let mut m = BTreeMap::new();
    for (k, v) in entries {
        m.insert(Arc::from(k), v);
    }
    Value::Map(Arc::new(m))
}

/// Go's typed zero values for the container fields the templates read.
fn container_defaults(c: Value) -> Value {
    let c = with_defaults(
        c,
        &[
            ("Name", str_v("")),
            ("Image", str_v("")),
            ("ImagePullPolicy", str_v("")),
        ],
    );
    let Value::Map(m) = &c else { return c };
    let Some(Value::List(ports)) = m.get("Ports") else {
        return c;
    };
    let ports: Vec<Value> = ports
        .iter()
        .map(|p| {
            with_defaults(
                p.clone(),
                &[
                    ("Name", str_v("")),
                    ("Protocol", str_v("")),
                    ("HostIP", str_v("")),
                    ("HostPort", Value::Int(0)),
                    ("ContainerPort", Value::Int(0)),
                ],
            )
        })
        .collect();
    let mut map = (**m).clone();
    map.insert(Arc::from("Ports"), Value::List(ports.into()));
    Value::Map(Arc::new(map))
}

/// Builds `SidecarTemplateData`. Returns the value and the addresses of its string maps.
pub(crate) fn build(inputs: &DataInputs<'_>) -> (Value, StringMaps) {
    let mut reg = StringMaps::default();
    let null = Json::Null;
    let meta_json = inputs.pod.get("metadata").unwrap_or(&null);
    let spec_json = inputs.pod.get("spec").unwrap_or(&null);

    let mut meta = if meta_json.is_object() {
        k8s_value(meta_json, &mut reg)
    } else {
        map_v(vec![])
    };
    let labels = empty_string_map(&mut reg);
    let annotations = empty_string_map(&mut reg);
    meta = with_defaults(
        meta,
        &[
            ("Name", str_v("")),
            ("GenerateName", str_v("")),
            ("Namespace", str_v("")),
            ("Labels", labels),
            ("Annotations", annotations),
        ],
    );

    let mut spec = if spec_json.is_object() {
        k8s_value(spec_json, &mut reg)
    } else {
        map_v(vec![])
    };
    if let Value::Map(m) = &spec {
        let mut map = (**m).clone();
        for key in ["Containers", "InitContainers"] {
            if let Some(Value::List(cs)) = map.get(key) {
                let cs: Vec<Value> = cs.iter().cloned().map(container_defaults).collect();
                map.insert(Arc::from(key), Value::List(cs.into()));
            }
        }
        spec = Value::Map(Arc::new(map));
    }
    spec = with_defaults(
        spec,
        &[
            ("ServiceAccountName", str_v("")),
            ("NodeName", str_v("")),
            ("HostNetwork", Value::Bool(false)),
            ("Containers", Value::List(Vec::new().into())),
            ("InitContainers", Value::List(Vec::new().into())),
        ],
    );

    let built;
    let config = match inputs.config_values {
        Some(c) => c,
        None => {
            built = config_values(inputs.proxy_config, inputs.mesh);
            &built
        }
    };
    reg.0.extend_from_slice(&config.string_maps);
    let proxy_config = config.proxy_config.clone();
    let mesh = config.mesh.clone();
    let inbound_mode = match inputs
        .mesh
        .pointer("/inboundTrafficPolicy/mode")
        .and_then(Json::as_str)
    {
        Some("LOCALHOST") => "localhost",
        _ => "passthrough",
    };

    let data = map_v(vec![
        (
            "TypeMeta",
            map_v(vec![
                ("Kind", str_v(inputs.type_kind)),
                ("APIVersion", str_v(inputs.type_api_version)),
            ]),
        ),
        (
            "DeploymentMeta",
            map_v(vec![
                ("Name", str_v(inputs.deploy_name)),
                ("Namespace", str_v(inputs.deploy_namespace)),
            ]),
        ),
        ("ObjectMeta", meta),
        ("Spec", spec),
        ("ProxyConfig", proxy_config),
        ("MeshConfig", mesh),
        ("Values", inputs.values.clone()),
        ("Revision", str_v(inputs.revision)),
        ("NativeSidecars", Value::Bool(inputs.native_sidecars)),
        ("ProxyImage", str_v(&inputs.proxy_image)),
        ("ProxyInitImage", str_v(&inputs.proxy_init_image)),
        ("ProxyUID", Value::Int(inputs.proxy_uid)),
        ("ProxyGID", Value::Int(inputs.proxy_gid)),
        ("InboundTrafficPolicyMode", str_v(inbound_mode)),
        ("CompliancePolicy", str_v(inputs.compliance_policy)),
    ]);
    (data, reg)
}

fn proto_value(v: &Json, reg: &mut StringMaps) -> Value {
    match v {
        Json::Object(m) => {
            let mut out = BTreeMap::new();
            for (k, child) in m {
                let name = go_field_name(k);
                let val = if k == "proxyMetadata" || k == "runtimeValues" {
                    string_map(child.as_object(), reg)
                } else {
                    proto_value(child, reg)
                };
                out.insert(Arc::from(name.as_str()), val);
            }
            Value::Map(Arc::new(out))
        }
        Json::Array(items) => Value::List(items.iter().map(|i| proto_value(i, reg)).collect()),
        other => plain_value(other, false),
    }
}

/// `*meshconfig.ProxyConfig`: Go field names, enum names as strings, plus the nil-safe
/// getters the templates call (`.HoldApplicationUntilProxyStarts.GetValue`, `.GetTracing`).
fn proxy_config_value(pc: &Json, reg: &mut StringMaps) -> Value {
    let base = proto_value(pc, reg);
    let Value::Map(m) = base else {
        return base;
    };
    let mut map = (*m).clone();
    map.entry(Arc::from("InterceptionMode"))
        .or_insert_with(|| str_v("REDIRECT"));
    if !map.contains_key("ProxyMetadata") {
        map.insert(Arc::from("ProxyMetadata"), empty_string_map(reg));
    }
    let hold = pc
        .get("holdApplicationUntilProxyStarts")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    map.insert(
        Arc::from("HoldApplicationUntilProxyStarts"),
        map_v(vec![
            ("GetValue", Value::Bool(hold)),
            ("Value", Value::Bool(hold)),
        ]),
    );
    let tls = pc.pointer("/tracing/tlsSettings");
    let tls_v = match tls {
        Some(t) if t.is_object() => {
            let ca = t.get("caCertificates").and_then(Json::as_str).unwrap_or("");
            let base = proto_value(t, reg);
            let mut tm = match base {
                Value::Map(m) => (*m).clone(),
                _ => BTreeMap::new(),
            };
            tm.insert(Arc::from("GetCaCertificates"), str_v(ca));
            Value::Map(Arc::new(tm))
        }
        _ => Value::Nil,
    };
    map.insert(
        Arc::from("GetTracing"),
        map_v(vec![("GetTlsSettings", tls_v)]),
    );
    Value::Map(Arc::new(map))
}

fn mesh_value(mesh: &Json, reg: &mut StringMaps) -> Value {
    let base = proto_value(mesh, reg);
    with_defaults(
        base,
        &[
            ("ProxyListenPort", Value::Int(0)),
            ("ProxyInboundListenPort", Value::Int(0)),
            ("TrustDomain", str_v("")),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_names() {
        assert_eq!(go_field_name("serviceAccountName"), "ServiceAccountName");
        assert_eq!(go_field_name("apiVersion"), "APIVersion");
        assert_eq!(json_field_name("ContainerPort"), "containerPort");
    }

    #[test]
    fn struct_to_json_orders_container_ports() {
        let mut reg = StringMaps::default();
        let v = k8s_value(&json!({"containerPort": 80, "name": "http"}), &mut reg);
        let v = container_port_defaults(v);
        assert_eq!(
            serde_json::to_string(&struct_to_json(&v)).unwrap_or_default(),
            r#"{"name":"http","containerPort":80}"#
        );
    }

    fn container_port_defaults(v: Value) -> Value {
        with_defaults(v, &[("Protocol", str_v("")), ("HostPort", Value::Int(0))])
    }
}
