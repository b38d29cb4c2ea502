//! The injector side of an Istio revision: its `istio-sidecar-injector[-<rev>]` ConfigMap
//! (`config`: policy, never/always-inject selectors, templates; `values`: Helm values) and
//! the control-plane version, as `injectRequired` needs them.

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::Value;

use super::version::VersionInfo;
use crate::origin::Origin;
use crate::selector::Selector;

/// The injector's default policy (`config.policy`, rendered from `global.proxy.autoInject`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    Enabled,
    Disabled,
    /// Any other value: istiod logs "Illegal value for autoInject" and injects nothing at all.
    Illegal(String),
}

impl Policy {
    pub fn parse(v: &str) -> Policy {
        match v {
            "enabled" => Policy::Enabled,
            "disabled" => Policy::Disabled,
            other => Policy::Illegal(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Policy::Enabled => "enabled",
            Policy::Disabled => "disabled",
            Policy::Illegal(v) => v,
        }
    }
}

/// One entry of `neverInjectSelector` / `alwaysInjectSelector`.
#[derive(Debug, Clone)]
pub struct InjectSelector {
    /// The selector as written, for traces.
    pub shown: String,
    /// `Err` when istiod would skip it with "Invalid selector".
    pub compiled: Result<Selector, String>,
}

/// Everything `injectRequired` reads for one revision.
#[derive(Debug, Clone)]
pub struct InjectorSettings {
    /// `default` or the revision name.
    pub revision: String,
    /// `namespace/name` of the ConfigMap, when one was found.
    pub configmap: Option<String>,
    pub origin: Origin,
    pub policy: Policy,
    /// Whether `policy` was present in the config (a missing policy is the empty string in Go).
    pub policy_set: bool,
    pub never_inject: Vec<InjectSelector>,
    pub always_inject: Vec<InjectSelector>,
    pub default_templates: Vec<String>,
    /// `sidecarInjectorWebhook.enableNamespacesByDefault` from `values`, when present.
    pub enable_namespaces_by_default: Option<bool>,
    /// `global.tag` from `values`, a version hint.
    pub values_tag: Option<String>,
    pub version: VersionInfo,
    /// Problems reading the ConfigMap (unparseable config or values), shown in traces and checks.
    pub problems: Vec<String>,
    /// The raw `config`, `values` texts, for the render engine.
    pub config_text: Option<String>,
    pub values_text: Option<String>,
}

impl InjectorSettings {
    /// Settings when no injector ConfigMap is available: the Helm defaults, and the trace says
    /// they were assumed.
    pub fn assumed(revision: &str, version: VersionInfo) -> Self {
        InjectorSettings {
            revision: revision.to_owned(),
            configmap: None,
            origin: Origin::Derived,
            policy: Policy::Enabled,
            policy_set: true,
            never_inject: Vec::new(),
            always_inject: Vec::new(),
            default_templates: vec!["sidecar".to_owned()],
            enable_namespaces_by_default: None,
            values_tag: None,
            version,
            problems: Vec::new(),
            config_text: None,
            values_text: None,
        }
    }

    /// Reads an injector ConfigMap.
    pub fn from_configmap(
        revision: &str,
        cm: &ConfigMap,
        origin: Origin,
        version: VersionInfo,
    ) -> Self {
        let ns = cm.metadata.namespace.as_deref().unwrap_or("");
        let name = cm.metadata.name.as_deref().unwrap_or("");
        let mut s = InjectorSettings::assumed(revision, version);
        s.configmap = Some(format!("{ns}/{name}"));
        s.origin = origin;
        let data = cm.data.as_ref();
        let config_text = data.and_then(|d| d.get("config")).cloned();
        let values_text = data.and_then(|d| d.get("values")).cloned();

        match config_text.as_deref() {
            None => s.problems.push("data.config: missing".to_owned()),
            Some(text) => match serde_saphyr::from_str::<Value>(text) {
                Err(e) => {
                    let line = e.location().map(|l| l.line()).unwrap_or(0);
                    let msg = e.without_snippet().to_string();
                    let first = msg.lines().next().unwrap_or("").to_owned();
                    s.problems
                        .push(format!("data.config: line {line}: {first}"));
                }
                Ok(cfg) => s.read_config(&cfg),
            },
        }
        if let Some(text) = values_text.as_deref() {
            match serde_json::from_str::<Value>(text) {
                Err(e) => s.problems.push(format!(
                    "data.values: invalid JSON at line {}: {e}",
                    e.line()
                )),
                Ok(values) => {
                    s.enable_namespaces_by_default = values
                        .pointer("/sidecarInjectorWebhook/enableNamespacesByDefault")
                        .and_then(Value::as_bool);
                    s.values_tag = values.pointer("/global/tag").and_then(|t| match t {
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    });
                }
            }
        }
        s.config_text = config_text;
        s.values_text = values_text;
        s
    }

    fn read_config(&mut self, cfg: &Value) {
        match cfg.get("policy") {
            Some(Value::String(p)) => self.policy = Policy::parse(p),
            // YAML `policy: enabled` is always a string; anything else is what Go would reject
            // or read as empty.
            Some(Value::Null) | None => {
                self.policy = Policy::Illegal(String::new());
                self.policy_set = false;
            }
            Some(other) => self.policy = Policy::Illegal(other.to_string()),
        }
        self.never_inject = read_selectors(cfg.get("neverInjectSelector"));
        self.always_inject = read_selectors(cfg.get("alwaysInjectSelector"));
        if let Some(Value::Array(t)) = cfg.get("defaultTemplates") {
            let names: Vec<String> = t
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            if !names.is_empty() {
                self.default_templates = names;
            }
        }
    }
}

fn read_selectors(v: Option<&Value>) -> Vec<InjectSelector> {
    let Some(Value::Array(items)) = v else {
        return Vec::new();
    };
    items
        .iter()
        .map(|item| {
            let shown = serde_json::to_string(item).unwrap_or_default();
            let compiled = serde_json::from_value::<LabelSelector>(item.clone())
                .map_err(|e| e.to_string())
                .and_then(|ls| Selector::compile(&ls).map_err(|e| e.to_string()));
            InjectSelector { shown, compiled }
        })
        .collect()
}

/// The revision an injector ConfigMap serves, from its name: `istio-sidecar-injector` is the
/// default revision, `istio-sidecar-injector-<rev>` serves `<rev>`.
pub fn configmap_revision(name: &str) -> Option<&str> {
    match name.strip_prefix("istio-sidecar-injector") {
        Some("") => Some("default"),
        Some(rest) => rest.strip_prefix('-').filter(|r| !r.is_empty()),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn cm(config: &str, values: Option<&str>) -> ConfigMap {
        let mut data = BTreeMap::new();
        data.insert("config".to_owned(), config.to_owned());
        if let Some(v) = values {
            data.insert("values".to_owned(), v.to_owned());
        }
        let mut cm = ConfigMap {
            data: Some(data),
            ..Default::default()
        };
        cm.metadata.name = Some("istio-sidecar-injector".into());
        cm.metadata.namespace = Some("istio-system".into());
        cm
    }

    fn unknown() -> VersionInfo {
        VersionInfo {
            version: None,
            source: "unknown".into(),
        }
    }

    #[test]
    fn reads_policy_selectors_and_values() {
        let s = InjectorSettings::from_configmap(
            "default",
            &cm(
                "policy: disabled\nneverInjectSelector:\n- matchExpressions:\n  - {key: openshift.io/build.name, operator: Exists}\nalwaysInjectSelector: []\n",
                Some(
                    r#"{"global":{"tag":"1.24.6"},"sidecarInjectorWebhook":{"enableNamespacesByDefault":true}}"#,
                ),
            ),
            Origin::Live,
            unknown(),
        );
        assert_eq!(s.policy, Policy::Disabled);
        assert_eq!(s.never_inject.len(), 1);
        assert!(s.never_inject[0].compiled.is_ok());
        assert_eq!(s.values_tag.as_deref(), Some("1.24.6"));
        assert_eq!(s.enable_namespaces_by_default, Some(true));
        assert!(s.problems.is_empty());
    }

    #[test]
    fn missing_policy_is_illegal_empty() {
        let s = InjectorSettings::from_configmap(
            "default",
            &cm("templates: {}\n", None),
            Origin::Live,
            unknown(),
        );
        assert_eq!(s.policy, Policy::Illegal(String::new()));
        assert!(!s.policy_set);
    }

    #[test]
    fn revision_from_configmap_name() {
        assert_eq!(
            configmap_revision("istio-sidecar-injector"),
            Some("default")
        );
        assert_eq!(
            configmap_revision("istio-sidecar-injector-canary"),
            Some("canary")
        );
        assert_eq!(configmap_revision("istio-sidecar-injector-"), None);
        assert_eq!(configmap_revision("other"), None);
    }
}
