//! The injector's inputs: the `istio-sidecar-injector` ConfigMap (`config` and `values`
//! keys) and the `istio` ConfigMap's `mesh` key with Istio's built-in defaults merged.
//!
//! Mesh and proxy config are kept as protojson-shaped JSON (camelCase keys, durations as
//! strings, enums as names), which is what `protoToJSON` prints and what templates read.

use super::RenderError;
use super::goyaml::parse_yaml;
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;

/// The injector ConfigMap's `config` key (Go `inject.Config`).
#[derive(Debug, Clone, Default)]
pub struct InjectorConfig {
    /// `enabled` or `disabled` (anything else disables injection).
    pub policy: String,
    /// Templates used when the pod has no `inject.istio.io/templates` annotation.
    pub default_templates: Vec<String>,
    /// Template name → Go text/template source.
    pub templates: BTreeMap<String, String>,
    /// Template alias → template names (expanded one level).
    pub aliases: BTreeMap<String, Vec<String>>,
    /// Label selectors (raw JSON) that force injection off.
    pub never_inject_selector: Vec<Json>,
    /// Label selectors (raw JSON) that force injection on.
    pub always_inject_selector: Vec<Json>,
    /// Annotations added to every injected pod (deprecated in Istio).
    pub injected_annotations: BTreeMap<String, String>,
}

fn string_list(v: Option<&Json>) -> Vec<String> {
    match v {
        Some(Json::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

impl InjectorConfig {
    /// Parses the `config` key text (YAML, non-strict like `sigs.k8s.io/yaml`).
    pub fn parse(yaml: &str) -> Result<Self, RenderError> {
        let v = parse_yaml(yaml).map_err(|e| RenderError::Config {
            what: "injector config".into(),
            message: e,
        })?;
        if !(v.is_object() || v.is_null()) {
            return Err(RenderError::Config {
                what: "injector config".into(),
                message: "expected a mapping".into(),
            });
        }
        let mut cfg = InjectorConfig {
            policy: v
                .get("policy")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string(),
            default_templates: string_list(v.get("defaultTemplates")),
            ..Default::default()
        };
        if cfg.default_templates.is_empty() {
            cfg.default_templates = vec!["sidecar".into()];
        }
        if let Some(Json::Object(t)) = v.get("templates") {
            for (k, src) in t {
                if let Some(s) = src.as_str() {
                    cfg.templates.insert(k.clone(), s.to_string());
                }
            }
        }
        if let Some(Json::Object(a)) = v.get("aliases") {
            for (k, names) in a {
                cfg.aliases.insert(k.clone(), string_list(Some(names)));
            }
        }
        if let Some(Json::Array(s)) = v.get("neverInjectSelector") {
            cfg.never_inject_selector = s.clone();
        }
        if let Some(Json::Array(s)) = v.get("alwaysInjectSelector") {
            cfg.always_inject_selector = s.clone();
        }
        if let Some(Json::Object(a)) = v.get("injectedAnnotations") {
            for (k, val) in a {
                if let Some(s) = val.as_str() {
                    cfg.injected_annotations.insert(k.clone(), s.to_string());
                }
            }
        }
        Ok(cfg)
    }

    /// `istioctl kube-inject --injectConfigFile`: a full config with a non-empty `templates:`
    /// map, else the whole text is the `sidecar` template. Only the templates are kept.
    pub fn parse_kube_inject(text: &str) -> Self {
        let templates = match InjectorConfig::parse(text) {
            Ok(c) if !c.templates.is_empty() => c.templates,
            _ => BTreeMap::from([("sidecar".to_string(), text.to_string())]),
        };
        InjectorConfig {
            policy: "enabled".into(),
            default_templates: vec!["sidecar".into()],
            templates,
            ..Default::default()
        }
    }
}

/// The injector ConfigMap's `values` key: Helm values as JSON (read as YAML, a superset).
#[derive(Debug, Clone)]
pub struct InjectorValues {
    /// The values as parsed.
    pub raw: Json,
}

impl Default for InjectorValues {
    fn default() -> Self {
        Self {
            raw: Json::Object(Map::new()),
        }
    }
}

impl InjectorValues {
    /// Parses the `values` key (JSON or YAML).
    pub fn parse(text: &str) -> Result<Self, RenderError> {
        let raw = match serde_json::from_str::<Json>(text) {
            Ok(v) => v,
            Err(_) => parse_yaml(text).map_err(|e| RenderError::Config {
                what: "injector values".into(),
                message: e,
            })?,
        };
        let raw = if raw.is_null() {
            Json::Object(Map::new())
        } else {
            raw
        };
        if !raw.is_object() {
            return Err(RenderError::Config {
                what: "injector values".into(),
                message: "expected a mapping".into(),
            });
        }
        Ok(Self { raw })
    }

    /// The value at a `/`-separated JSON pointer.
    pub(crate) fn get(&self, pointer: &str) -> Option<&Json> {
        lookup(&self.raw, pointer)
    }
}

/// `Value::pointer` for the fixed paths the injector reads: serde_json's version allocates
/// to unescape every token, and a render reads about a hundred paths.
pub(crate) fn lookup<'a>(v: &'a Json, pointer: &str) -> Option<&'a Json> {
    if pointer.contains('~') {
        return v.pointer(pointer);
    }
    if pointer.is_empty() {
        return Some(v);
    }
    let mut cur = v;
    for token in pointer.strip_prefix('/')?.split('/') {
        cur = match cur {
            Json::Object(m) => m.get(token)?,
            Json::Array(_) => return v.pointer(pointer),
            _ => return None,
        };
    }
    Some(cur)
}

/// Istio's `mesh.DefaultProxyConfig()` in protojson form.
pub(crate) fn default_proxy_config() -> Json {
    json!({
        "configPath": "./etc/istio/proxy",
        "binaryPath": "/usr/local/bin/envoy",
        "serviceCluster": "istio-proxy",
        "drainDuration": "45s",
        "discoveryAddress": "istiod.istio-system.svc:15012",
        "proxyAdminPort": 15000,
        "controlPlaneAuthPolicy": "MUTUAL_TLS",
        "statNameLength": 189,
        "tracing": {"zipkin": {"address": "zipkin.istio-system:9411"}},
        "statusPort": 15020,
        "terminationDrainDuration": "5s"
    })
}

/// Istio's `mesh.DefaultMeshConfig()` (the fields injection reads, plus common ones).
fn default_mesh_config() -> Json {
    json!({
        "enableTracing": true,
        "accessLogEncoding": "TEXT",
        "ingressService": "istio-ingressgateway",
        "ingressControllerMode": "STRICT",
        "ingressClass": "istio",
        "trustDomain": "cluster.local",
        "enableAutoMtls": true,
        "outboundTrafficPolicy": {"mode": "ALLOW_ANY"},
        "inboundTrafficPolicy": {"mode": "PASSTHROUGH"},
        "defaultConfig": default_proxy_config(),
        "rootNamespace": "istio-system",
        "proxyListenPort": 15001,
        "proxyInboundListenPort": 15006,
        "connectTimeout": "10s",
        "dnsRefreshRate": "60s",
        "enablePrometheusMerge": true,
        "defaultServiceExportTo": ["*"],
        "defaultVirtualServiceExportTo": ["*"],
        "defaultDestinationRuleExportTo": ["*"],
        "defaultProviders": {},
        "extensionProviders": [
            {"name": "prometheus", "prometheus": {}},
            {"name": "stackdriver", "stackdriver": {}},
            {"name": "envoy", "envoyFileAccessLog": {"path": "/dev/stdout"}}
        ]
    })
}

/// Mesh configuration (the `mesh` key) with Istio's defaults applied.
#[derive(Debug, Clone)]
pub struct MeshConfig {
    /// protojson-shaped mesh config.
    pub json: Json,
}

impl Default for MeshConfig {
    fn default() -> Self {
        Self {
            json: default_mesh_config(),
        }
    }
}

impl MeshConfig {
    /// Parses the `mesh` YAML and applies it over Istio's defaults as `mesh.ApplyMeshConfig`
    /// does: top-level fields replace defaults; `defaultConfig` is merged field by field over
    /// the default ProxyConfig (`proxyMetadata` merged per key).
    pub fn parse(yaml: &str) -> Result<Self, RenderError> {
        let v = parse_yaml(yaml).map_err(|e| RenderError::Config {
            what: "mesh config".into(),
            message: e,
        })?;
        let mut mesh = default_mesh_config();
        match v {
            Json::Null => {}
            Json::Object(m) => {
                for (k, val) in m {
                    if k == "defaultConfig" {
                        let base = mesh.get("defaultConfig").cloned().unwrap_or(Json::Null);
                        let merged = merge_proxy_config(&base, &val);
                        mesh["defaultConfig"] = merged;
                    } else if let Some(obj) = mesh.as_object_mut() {
                        obj.insert(k, val);
                    }
                }
            }
            _ => {
                return Err(RenderError::Config {
                    what: "mesh config".into(),
                    message: "expected a mapping".into(),
                });
            }
        }
        Ok(Self { json: mesh })
    }

    /// Sets the value at a dotted protojson path, creating objects as needed (the test
    /// harness's `mesh_overrides`).
    pub fn set_path(&mut self, dotted: &str, value: Json) {
        let mut cur = &mut self.json;
        let parts: Vec<&str> = dotted.split('.').collect();
        for (i, p) in parts.iter().enumerate() {
            if !cur.is_object() {
                *cur = Json::Object(Map::new());
            }
            let Some(obj) = cur.as_object_mut() else {
                return;
            };
            if i + 1 == parts.len() {
                obj.insert((*p).to_string(), value);
                return;
            }
            cur = obj
                .entry((*p).to_string())
                .or_insert_with(|| Json::Object(Map::new()));
        }
    }

    /// `defaultConfig`, the mesh-wide ProxyConfig.
    pub fn default_config(&self) -> Json {
        self.json
            .get("defaultConfig")
            .cloned()
            .unwrap_or_else(default_proxy_config)
    }

    /// `defaultConfig.statusPort` (15020 by default).
    pub fn status_port(&self) -> i64 {
        self.json
            .get("defaultConfig")
            .and_then(|c| c.get("statusPort"))
            .and_then(Json::as_i64)
            .unwrap_or(15020)
    }
}

/// Per-field merge of a ProxyConfig overlay (mesh `defaultConfig` or the
/// `proxy.istio.io/config` annotation): set fields replace, `proxyMetadata` merges per key.
pub(crate) fn merge_proxy_config(base: &Json, overlay: &Json) -> Json {
    let mut out = base.clone();
    if !out.is_object() {
        out = Json::Object(Map::new());
    }
    let Json::Object(ov) = overlay else {
        return out;
    };
    let Some(obj) = out.as_object_mut() else {
        return Json::Object(Map::new());
    };
    for (k, v) in ov {
        if k == "proxyMetadata"
            && let (Some(Json::Object(old)), Json::Object(new)) = (obj.get(k), v)
        {
            let mut merged = old.clone();
            for (mk, mv) in new {
                merged.insert(mk.clone(), mv.clone());
            }
            obj.insert(k.clone(), Json::Object(merged));
            continue;
        }
        if v.is_null() {
            obj.remove(k);
        } else {
            obj.insert(k.clone(), v.clone());
        }
    }
    out
}

/// Parses the `proxy.istio.io/config` annotation (YAML or JSON) into an overlay.
pub(crate) fn parse_proxy_config_annotation(text: &str) -> Result<Json, String> {
    let v = parse_yaml(text)?;
    match v {
        Json::Object(_) => Ok(v),
        Json::Null => Ok(Json::Object(Map::new())),
        _ => Err("expected a mapping".into()),
    }
}

/// ProxyConfig fields in proto declaration order (protojson's output order).
const PROXY_CONFIG_ORDER: &[&str] = &[
    "configPath",
    "binaryPath",
    "serviceCluster",
    "tracingServiceName",
    "drainDuration",
    "parentShutdownDuration",
    "discoveryAddress",
    "discoveryRefreshDelay",
    "zipkinAddress",
    "statsdUdpAddress",
    "envoyMetricsServiceAddress",
    "proxyAdminPort",
    "availabilityZone",
    "controlPlaneAuthPolicy",
    "customConfigFile",
    "statNameLength",
    "concurrency",
    "proxyBootstrapTemplatePath",
    "interceptionMode",
    "tracing",
    "sds",
    "envoyAccessLogService",
    "envoyMetricsService",
    "proxyMetadata",
    "runtimeValues",
    "statusPort",
    "extraStatTags",
    "gatewayTopology",
    "terminationDrainDuration",
    "meshId",
    "readinessProbe",
    "proxyStatsMatcher",
    "holdApplicationUntilProxyStarts",
    "caCertificatesPem",
    "image",
    "privateKeyProvider",
    "proxyHeaders",
];

/// Fields `cleanProxyConfig` clears when they equal `DefaultProxyConfig()`.
const CLEANED: &[&str] = &[
    "configPath",
    "binaryPath",
    "controlPlaneAuthPolicy",
    "serviceCluster",
    "drainDuration",
    "terminationDrainDuration",
    "discoveryAddress",
    "envoyMetricsService",
    "envoyAccessLogService",
    "tracing",
    "proxyAdminPort",
    "statNameLength",
    "statusPort",
];

/// `protoToJSON .ProxyConfig`: default-equal fields removed, protojson field order, compact.
pub(crate) fn proto_to_json(pc: &Json) -> String {
    let defaults = default_proxy_config();
    let Json::Object(m) = pc else {
        return "{}".into();
    };
    let mut out = Map::new();
    let mut emit = |k: &str, v: &Json| {
        if CLEANED.contains(&k) && defaults.get(k) == Some(v) {
            return;
        }
        if proto_is_default(k, v) {
            return;
        }
        // protojson writes map fields with sorted keys.
        let v = match v {
            Json::Object(m) if k == "proxyMetadata" || k == "runtimeValues" => {
                let sorted: BTreeMap<&String, &Json> = m.iter().collect();
                serde_json::to_value(sorted).unwrap_or(Json::Null)
            }
            other => other.clone(),
        };
        out.insert(k.to_string(), v);
    };
    for k in PROXY_CONFIG_ORDER {
        if let Some(v) = m.get(*k) {
            emit(k, v);
        }
    }
    for (k, v) in m {
        if !PROXY_CONFIG_ORDER.contains(&k.as_str()) {
            emit(k, v);
        }
    }
    serde_json::to_string(&Json::Object(out)).unwrap_or_else(|_| "{}".into())
}

/// proto3 scalars at their zero value are not emitted by protojson; wrapper types
/// (`concurrency`, `holdApplicationUntilProxyStarts`) and messages are, when set.
fn proto_is_default(k: &str, v: &Json) -> bool {
    let wrapper = matches!(k, "concurrency" | "holdApplicationUntilProxyStarts");
    match v {
        Json::Null => true,
        Json::String(s) => s.is_empty() || (k == "interceptionMode" && s == "REDIRECT"),
        Json::Number(n) => !wrapper && n.as_f64() == Some(0.0),
        Json::Bool(b) => !wrapper && !b,
        Json::Array(a) => a.is_empty(),
        Json::Object(o) => o.is_empty() && (k == "proxyMetadata" || k == "runtimeValues"),
    }
}

/// `ProxyImage()`/`ProxyInitImage`: `<hub>/<image>:<tag with image type>` (the templates
/// themselves use the image as-is when it contains a `/`).
pub(crate) fn proxy_image(
    values: &InjectorValues,
    image_key: &str,
    proxy_config: &Json,
    annotations: &Map<String, Json>,
    with_type: bool,
) -> String {
    let hub = values
        .get("/global/hub")
        .and_then(Json::as_str)
        .unwrap_or("");
    let image = values
        .get(&format!("/global/{image_key}/image"))
        .and_then(Json::as_str)
        .unwrap_or("proxyv2");
    let tag = match values.get("/global/tag") {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Number(n)) => n
            .as_f64()
            .map(super::gofmt::go_float)
            .unwrap_or_else(|| n.to_string()),
        Some(Json::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let mut image_type = if with_type {
        proxy_config
            .pointer("/image/imageType")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string()
    } else {
        String::new()
    };
    if with_type && image_type.is_empty() {
        image_type = values
            .get("/global/variant")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string();
    }
    if with_type && let Some(Json::String(t)) = annotations.get("sidecar.istio.io/proxyImageType") {
        image_type = t.clone();
    }
    let tag = update_image_type(&tag, &image_type);
    format!("{hub}/{image}:{tag}")
}

fn update_image_type(tag: &str, image_type: &str) -> String {
    if image_type.is_empty() {
        return tag.to_string();
    }
    let stripped = tag
        .strip_suffix("-distroless")
        .or_else(|| tag.strip_suffix("-debug"))
        .unwrap_or(tag);
    if image_type == "default" {
        return stripped.to_string();
    }
    format!("{stripped}-{image_type}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_config_json_cleans_defaults() {
        assert_eq!(proto_to_json(&default_proxy_config()), "{}");
        let mut pc = default_proxy_config();
        pc["drainDuration"] = json!("23s");
        assert_eq!(proto_to_json(&pc), r#"{"drainDuration":"23s"}"#);
        let pc = merge_proxy_config(
            &default_proxy_config(),
            &json!({"proxyMetadata": {"B": "1", "A": "2"}, "concurrency": 0, "discoveryAddress": "foo:123"}),
        );
        assert_eq!(
            proto_to_json(&pc),
            r#"{"discoveryAddress":"foo:123","concurrency":0,"proxyMetadata":{"A":"2","B":"1"}}"#
        );
    }

    #[test]
    fn mesh_defaults_and_merge() {
        let m = MeshConfig::parse("defaultConfig:\n  drainDuration: 2s\ntrustDomain: x\n");
        let Ok(m) = m else { panic!("parse") };
        assert_eq!(m.json["trustDomain"], "x");
        assert_eq!(m.json["defaultConfig"]["drainDuration"], "2s");
        assert_eq!(m.json["defaultConfig"]["statusPort"], 15020);
        assert_eq!(m.json["proxyListenPort"], 15001);
    }

    #[test]
    fn image_urls() {
        let v = InjectorValues {
            raw: json!({"global": {"hub": "h", "tag": "1.2-distroless", "proxy": {"image": "proxyv2"}}}),
        };
        let none = Map::new();
        assert_eq!(
            proxy_image(&v, "proxy", &Json::Null, &none, true),
            "h/proxyv2:1.2-distroless"
        );
        let mut a = Map::new();
        a.insert("sidecar.istio.io/proxyImageType".into(), json!("debug"));
        assert_eq!(
            proxy_image(&v, "proxy", &Json::Null, &a, true),
            "h/proxyv2:1.2-debug"
        );
        let v = InjectorValues {
            raw: json!({"global": {"hub": "h", "tag": 11, "proxy": {"image": "a/b:c"}}}),
        };
        assert_eq!(
            proxy_image(&v, "proxy", &Json::Null, &none, true),
            "h/a/b:c:11"
        );
    }

    #[test]
    fn config_parse_defaults_templates() {
        let c = InjectorConfig::parse("templates:\n  sidecar: x\n");
        let Ok(c) = c else { panic!("parse") };
        assert_eq!(c.default_templates, vec!["sidecar".to_string()]);
        let k = InjectorConfig::parse_kube_inject("spec: {}\n");
        assert_eq!(
            k.templates.get("sidecar").map(String::as_str),
            Some("spec: {}\n")
        );
    }
}
