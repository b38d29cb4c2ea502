//! The RFC 6902 patch Linkerd's proxy injector returns, in the injector's order of operations:
//! metadata, annotations, labels, the volume and init-container lists, linkerd-init (or the
//! network validator), the debug container, the identity volumes, then the proxy.

use serde_json::{Map, Value as Json, json};
use sha2::{Digest, Sha256};

use super::containers::{self, ContainerError};
use super::overrides::{self, ENABLE_DEBUG};
use super::values::{Capabilities, MountPath, Values};
use super::workload::Workload;

/// Where the service-account token is mounted in a container; the proxy repeats this mount.
const SERVICE_ACCOUNT_MOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// A patch and the warnings Linkerd would log while building it (ignored annotation values).
#[derive(Debug, Clone)]
pub struct PodPatch {
    pub ops: Vec<Json>,
    pub warnings: Vec<String>,
    /// The values after the overrides, as the patch used them.
    pub values: Values,
}

fn add(path: String, value: Json) -> Json {
    json!({"op": "add", "path": path, "value": value})
}

/// `~` → `~0`, `/` → `~1`.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Go's JSON encoder writes map keys sorted; the chart turns each container into a map.
fn sorted(v: Json) -> Json {
    match v {
        Json::Object(m) => {
            let mut entries: Vec<(String, Json)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Json::Array(a) => Json::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// The values for this workload: the install values, the override annotations, the additional
/// env layers, and what the injector copies from the pod itself.
pub fn overridden_values(base: &Values, w: &Workload) -> (Values, Vec<String>) {
    let mut values = base.clone();
    let pod_ann = w.pod_annotations();
    let mut warnings = overrides::apply(&mut values, &w.override_annotations(), &w.named_ports());
    warnings.extend(overrides::merge_additional_env(
        &mut values,
        &w.namespace_annotations,
        &pod_ann,
    ));
    values.proxy.pod_inbound_ports = w.inbound_ports();
    (values, warnings)
}

/// Copies the first container's capabilities and service-account mount into the values, and
/// the close-wait timeout into linkerd-init's.
fn copy_from_pod(values: &mut Values, w: &Workload, warnings: &mut Vec<String>) {
    if let Some(first) = w.first_container() {
        if let Some(caps) = first
            .pointer("/securityContext/capabilities")
            .filter(|c| c.is_object())
        {
            let list = |k: &str| -> Vec<String> {
                caps.get(k)
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            };
            let proxy_caps = Capabilities {
                add: list("add"),
                drop: list("drop"),
            };
            // linkerd-init keeps NET_ADMIN and NET_RAW: it needs them for iptables.
            values.proxy_init.capabilities = Some(Capabilities {
                add: proxy_caps.add.clone(),
                drop: proxy_caps
                    .drop
                    .iter()
                    .filter(|d| *d != "NET_RAW" && *d != "NET_ADMIN")
                    .cloned()
                    .collect(),
            });
            values.proxy.capabilities = Some(proxy_caps);
        }
        let sa = first
            .get("volumeMounts")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .find(|m| m.get("mountPath").and_then(Json::as_str) == Some(SERVICE_ACCOUNT_MOUNT));
        if let Some(m) = sa {
            values.proxy.sa_mount_path = Some(MountPath {
                name: m
                    .get("name")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_owned(),
                mount_path: SERVICE_ACCOUNT_MOUNT.to_owned(),
                read_only: m.get("readOnly").and_then(Json::as_bool).unwrap_or(false),
            });
        }
    }
    values.proxy_init.sa_mount_path = values.proxy.sa_mount_path.clone();
    if let Some(v) = effective_annotations(w)
        .get(overrides::CLOSE_WAIT_TIMEOUT)
        .filter(|v| !v.is_empty())
    {
        match overrides::go_duration_seconds(v) {
            Some(secs) => values.proxy_init.close_wait_timeout_secs = secs as i64,
            None => warnings.push(format!(
                "{}: invalid duration {v:?} (ignored)",
                overrides::CLOSE_WAIT_TIMEOUT
            )),
        }
    }
}

/// The pod's annotations once the injector has added its own: Linkerd writes the added ones
/// into the pod metadata before it reads the debug and close-wait annotations.
fn effective_annotations(w: &Workload) -> overrides::Annotations {
    let mut a = w.pod_annotations();
    a.extend(w.annotations.iter().map(|(k, v)| (k.clone(), v.clone())));
    a
}

/// Whether the pod asks for the debug container (`config.linkerd.io/enable-debug-sidecar`).
fn wants_debug(w: &Workload, warnings: &mut Vec<String>) -> bool {
    match effective_annotations(w)
        .get(ENABLE_DEBUG)
        .map(String::as_str)
    {
        None | Some("") => false,
        Some(v) => overrides::go_bool(v).unwrap_or_else(|| {
            warnings.push(format!("{ENABLE_DEBUG}: invalid boolean {v:?} (ignored)"));
            false
        }),
    }
}

/// Whether the pod metadata is empty apart from an empty `annotations` (the injector then adds
/// `metadata` itself, as for a CronJob template without one).
fn metadata_is_empty(meta: &Json) -> bool {
    match meta {
        Json::Null => true,
        Json::Object(m) => m.iter().all(|(k, v)| {
            v.is_null() || (k == "annotations" && v.as_object().is_some_and(Map::is_empty))
        }),
        _ => false,
    }
}

/// The patch for `w`. With `inject_proxy` false only the annotations are added (what
/// `linkerd inject --manual=false` style annotation-only injection does).
pub fn pod_patch(
    base: &Values,
    w: &Workload,
    control_ns: &str,
    inject_proxy: bool,
) -> Result<PodPatch, ContainerError> {
    let (mut values, mut warnings) = overridden_values(base, w);
    let prefix = w.path_prefix();
    let pod_ann = w.pod_annotations();
    let mut annotations = w.annotations.clone();
    let mut labels = std::collections::BTreeMap::new();
    let mut ops = Vec::new();
    if w.pod_spec.is_null() {
        return Ok(PodPatch {
            ops,
            warnings,
            values,
        });
    }
    let mut debug = false;
    if inject_proxy {
        annotations.insert(
            "linkerd.io/proxy-version".into(),
            values.proxy_version().to_owned(),
        );
        if super::version::rules_for(&values.linkerd_version).trust_root_annotation {
            let digest = Sha256::digest(values.identity_trust_anchors_pem.as_bytes());
            annotations.insert("linkerd.io/trust-root-sha256".into(), hex::encode(digest));
        }
        labels = w.labels.clone();
        copy_from_pod(&mut values, w, &mut warnings);
        debug = wants_debug(w, &mut warnings);
    }

    if metadata_is_empty(&w.pod_meta) {
        ops.push(add(format!("{prefix}/metadata"), json!({})));
    }
    if pod_ann.is_empty() {
        ops.push(add(format!("{prefix}/metadata/annotations"), json!({})));
    }
    for (k, v) in &annotations {
        ops.push(add(
            format!("{prefix}/metadata/annotations/{}", escape(k)),
            json!(v),
        ));
    }
    if !labels.is_empty() && w.pod_labels().is_empty() {
        ops.push(add(format!("{prefix}/metadata/labels"), json!({})));
    }
    for (k, v) in &labels {
        ops.push(add(
            format!("{prefix}/metadata/labels/{}", escape(k)),
            json!(v),
        ));
    }
    if !inject_proxy {
        return Ok(PodPatch {
            ops,
            warnings,
            values,
        });
    }

    let spec = format!("{prefix}/spec");
    if !w.has_volumes() {
        ops.push(add(format!("{spec}/volumes"), json!([])));
    }
    if !w.has_init_containers() {
        ops.push(add(format!("{spec}/initContainers"), json!([])));
    }
    // A native sidecar proxy goes right after linkerd-init at the head of the init containers,
    // so that it proxies the pod's own init containers.
    let native = values.proxy.native_sidecar;
    let mut init_index = 0usize;
    let init_path = |i: &mut usize| -> String {
        if native {
            let p = format!("{spec}/initContainers/{i}");
            *i += 1;
            p
        } else {
            format!("{spec}/initContainers/-")
        }
    };
    if values.cni_enabled {
        ops.push(add(
            init_path(&mut init_index),
            sorted(containers::network_validator(&values)),
        ));
    } else {
        ops.push(add(
            format!("{spec}/volumes/-"),
            json!({"emptyDir": {}, "name": values.proxy_init.xt_mount_name}),
        ));
        ops.push(add(
            init_path(&mut init_index),
            sorted(containers::proxy_init(&values)?),
        ));
    }
    if debug {
        ops.push(add(
            format!("{spec}/containers/-"),
            sorted(containers::debug(&values)),
        ));
    }
    ops.push(add(
        format!("{spec}/volumes/-"),
        json!({"emptyDir": {"medium": "Memory"}, "name": "linkerd-identity-end-entity"}),
    ));
    if values.service_account_token_projection {
        ops.push(add(
            format!("{spec}/volumes/-"),
            json!({
                "name": "linkerd-identity-token",
                "projected": {"sources": [{"serviceAccountToken": {
                    "audience": "identity.l5d.io",
                    "expirationSeconds": 86400,
                    "path": "linkerd-identity-token",
                }}]},
            }),
        ));
    }
    let proxy_path = if native {
        format!("{spec}/initContainers/{init_index}")
    } else if values.proxy.await_ {
        format!("{spec}/containers/0")
    } else {
        format!("{spec}/containers/-")
    };
    ops.push(add(
        proxy_path,
        sorted(containers::proxy(&values, control_ns)?),
    ));
    Ok(PodPatch {
        ops,
        warnings,
        values,
    })
}

/// The annotation-only patch the webhook returns for an object it does not inject (a Service,
/// or a pod that is not injected): the default `config.linkerd.io/opaque-ports`, inherited from
/// the namespace or filtered to the ports the object exposes. Empty when nothing is added.
pub fn opaque_ports_patch(
    values: &Values,
    obj: &Json,
    namespace_annotations: &overrides::Annotations,
) -> Vec<Json> {
    let kind = obj.get("kind").and_then(Json::as_str).unwrap_or("");
    let meta = obj.get("metadata").cloned().unwrap_or(Json::Null);
    let own = super::workload::string_map(&meta, "annotations");
    if own.contains_key(overrides::OPAQUE_PORTS) {
        return Vec::new();
    }
    let ports = if let Some(v) = namespace_annotations.get(overrides::OPAQUE_PORTS) {
        v.clone()
    } else {
        let defaults: Vec<&str> = values.proxy.opaque_ports.split(',').collect();
        let mut found = Vec::new();
        if kind.eq_ignore_ascii_case("service") {
            for p in obj
                .pointer("/spec/ports")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
            {
                let port = p
                    .get("port")
                    .and_then(Json::as_i64)
                    .unwrap_or(0)
                    .to_string();
                // A port with a targetPort is opaque when the target is; a named targetPort
                // cannot be resolved here and is left out.
                let opaque = match p.get("targetPort") {
                    None | Some(Json::Null) => defaults.contains(&port.as_str()),
                    Some(Json::Number(n)) if n.as_i64() == Some(0) => {
                        defaults.contains(&port.as_str())
                    }
                    Some(Json::Number(n)) => defaults.contains(&n.to_string().as_str()),
                    Some(_) => false,
                };
                if opaque {
                    found.push(port);
                }
            }
        } else if kind.eq_ignore_ascii_case("pod") {
            let w = Workload::from_object(obj, "", None, super::workload::Origin::Webhook);
            if let Some(w) = w {
                found = w.exposed_opaque_ports(&values.proxy.opaque_ports);
            }
        }
        if found.is_empty() {
            return Vec::new();
        }
        found.join(",")
    };
    let mut ops = Vec::new();
    if own.is_empty() {
        ops.push(add("/metadata/annotations".into(), json!({})));
    }
    ops.push(add(
        format!("/metadata/annotations/{}", escape(overrides::OPAQUE_PORTS)),
        json!(ports),
    ));
    ops
}
