//! The part of Linkerd's install configuration (the `linkerd-config` ConfigMap's `values`) that
//! changes the injector's decision: only `identity.serviceAccountTokenProjection`, which decides
//! whether `automountServiceAccountToken: false` blocks injection.

use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::Value;

use crate::state::ClusterState;

use super::CONFIG_MAP_NAME;

/// Install settings the decision depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectorSettings {
    /// `identity.serviceAccountTokenProjection` (chart default `true`). When `false`, a pod whose
    /// service-account token is not mounted is not injected.
    pub service_account_token_projection: bool,
    /// Where the settings were read (`ConfigMap linkerd/linkerd-config`); `None` = chart defaults.
    pub from: Option<String>,
}

impl Default for InjectorSettings {
    fn default() -> Self {
        InjectorSettings::CHART_DEFAULTS
    }
}

/// Why `linkerd-config` could not be read. The injector itself fails every request then, so this
/// is an error rather than a silent fallback to defaults.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkerdConfigError {
    #[error(
        "configmap {object:?}: data.values: missing (the proxy injector reads its values from it)"
    )]
    MissingValues { object: String },
    #[error("configmap {object:?}: data.values: invalid YAML: {message}")]
    InvalidYaml { object: String, message: String },
    #[error(
        "configmap {object:?}: data.values: identity.serviceAccountTokenProjection: expected true or false, found {found}"
    )]
    NotBool { object: String, found: String },
}

impl InjectorSettings {
    /// The chart's `values.yaml` defaults.
    pub const CHART_DEFAULTS: InjectorSettings = InjectorSettings {
        service_account_token_projection: true,
        from: None,
    };

    /// Reads the settings from a `linkerd-config` ConfigMap. A value the chart leaves out takes
    /// its chart default.
    pub fn from_config_map(cm: &ConfigMap) -> Result<InjectorSettings, LinkerdConfigError> {
        let object = format!(
            "{}/{}",
            cm.metadata.namespace.as_deref().unwrap_or(""),
            cm.metadata.name.as_deref().unwrap_or("")
        );
        let Some(text) = cm.data.as_ref().and_then(|d| d.get("values")) else {
            return Err(LinkerdConfigError::MissingValues { object });
        };
        let values: Value =
            serde_saphyr::from_str(text).map_err(|e| LinkerdConfigError::InvalidYaml {
                object: object.clone(),
                message: e.to_string().lines().next().unwrap_or("").to_owned(),
            })?;
        let projection = match values
            .get("identity")
            .and_then(|i| i.get("serviceAccountTokenProjection"))
        {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(LinkerdConfigError::NotBool {
                    object,
                    found: other.to_string(),
                });
            }
        };
        Ok(InjectorSettings {
            service_account_token_projection: projection,
            from: Some(format!("ConfigMap {object}")),
        })
    }

    /// Reads the settings from `linkerd-config` in the control-plane namespace (the namespace of
    /// the webhook's `clientConfig.service`). Chart defaults when the input lacks the ConfigMap.
    pub fn from_state(
        state: &ClusterState,
        control_plane_namespace: &str,
    ) -> Result<InjectorSettings, LinkerdConfigError> {
        match state
            .configmaps
            .get(Some(control_plane_namespace), CONFIG_MAP_NAME)
        {
            Some(cm) => InjectorSettings::from_config_map(&cm.obj),
            None => Ok(InjectorSettings::CHART_DEFAULTS),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn config_map(values: Option<&str>) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some("linkerd-config".to_owned()),
                namespace: Some("linkerd".to_owned()),
                ..ObjectMeta::default()
            },
            data: values.map(|v| BTreeMap::from([("values".to_owned(), v.to_owned())])),
            ..ConfigMap::default()
        }
    }

    #[test]
    fn reads_projection() {
        let off = InjectorSettings::from_config_map(&config_map(Some(
            "identity:\n  serviceAccountTokenProjection: false\nproxy:\n  logLevel: warn\n",
        )));
        assert_eq!(off.map(|s| s.service_account_token_projection), Ok(false));
        let on = InjectorSettings::from_config_map(&config_map(Some(
            "identity:\n  serviceAccountTokenProjection: true\n",
        )));
        assert_eq!(on.map(|s| s.service_account_token_projection), Ok(true));
    }

    #[test]
    fn absent_value_is_chart_default() {
        let s = InjectorSettings::from_config_map(&config_map(Some("proxy:\n  logLevel: warn\n")));
        assert_eq!(
            s.as_ref().map(|s| s.service_account_token_projection),
            Ok(true)
        );
        assert_eq!(
            s.ok().and_then(|s| s.from),
            Some("ConfigMap linkerd/linkerd-config".to_owned())
        );
    }

    #[test]
    fn errors_name_the_place() {
        let missing = InjectorSettings::from_config_map(&config_map(None));
        assert_eq!(
            missing.map_err(|e| e.to_string()),
            Err("configmap \"linkerd/linkerd-config\": data.values: missing (the proxy injector reads its values from it)".to_owned())
        );
        let wrong = InjectorSettings::from_config_map(&config_map(Some(
            "identity:\n  serviceAccountTokenProjection: \"no\"\n",
        )));
        assert!(
            matches!(wrong, Err(LinkerdConfigError::NotBool { .. })),
            "{wrong:?}"
        );
        let bad = InjectorSettings::from_config_map(&config_map(Some("identity: [\n")));
        assert!(
            matches!(bad, Err(LinkerdConfigError::InvalidYaml { .. })),
            "{bad:?}"
        );
    }

    #[test]
    fn from_state_without_config_map_is_chart_defaults() {
        let state = ClusterState::default();
        assert_eq!(
            InjectorSettings::from_state(&state, "linkerd"),
            Ok(InjectorSettings::CHART_DEFAULTS)
        );
    }
}
