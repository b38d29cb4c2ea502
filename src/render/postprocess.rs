//! Istio's post-template steps, in `postProcessPod` order: cluster/network env, Prometheus
//! merge annotations, probe rewriting (`ISTIO_KUBE_APP_PROBERS`), the status annotation and
//! injected annotations, container ordering. Plus the re-injection helpers that run before
//! the templates (`stripPod`, `reinsertOverrides`) and after (`reapplyOverwrittenContainers`).

use super::RenderError;
use super::prometheus::{clear_prometheus, prometheus_merge, prometheus_port};
use super::smp::strategic_merge;
use super::typed::{go_order, go_order_container, normalize};
use super::validate::parse_go_bool;
use crate::mesh::istio::version::RenderRules;
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;

pub(crate) const PROXY: &str = "istio-proxy";
const INIT: &str = "istio-init";
const VALIDATION: &str = "istio-validation";
const CORE_DUMP: &str = "enable-core-dump";
const STATUS: &str = "sidecar.istio.io/status";
const OVERRIDES: &str = "proxy.istio.io/overrides";

/// Parsed `sidecar.istio.io/status`.
#[derive(Default, Debug)]
pub(crate) struct Status {
    pub containers: Vec<String>,
    pub init_containers: Vec<String>,
}

fn names(v: Option<&Json>) -> Vec<String> {
    v.and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn annotations(pod: &Json) -> Map<String, Json> {
    pod.get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(Json::as_object)
        .cloned()
        .unwrap_or_default()
}

pub(crate) fn labels(pod: &Json) -> Map<String, Json> {
    pod.get("metadata")
        .and_then(|m| m.get("labels"))
        .and_then(Json::as_object)
        .cloned()
        .unwrap_or_default()
}

fn annotation<'a>(pod: &'a Json, key: &str) -> Option<&'a str> {
    pod.get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(key))
        .and_then(Json::as_str)
}

pub(crate) fn parse_status(pod: &Json) -> Option<Status> {
    let text = annotation(pod, STATUS)?;
    let v: Json = serde_json::from_str(text).ok()?;
    if !v.is_object() {
        return None;
    }
    Some(Status {
        containers: names(v.get("containers")),
        init_containers: names(v.get("initContainers")),
    })
}

fn list_mut<'a>(pod: &'a mut Json, field: &str) -> Option<&'a mut Vec<Json>> {
    pod.get_mut("spec")?.get_mut(field)?.as_array_mut()
}

fn list<'a>(pod: &'a Json, field: &str) -> &'a [Json] {
    pod.get("spec")
        .and_then(|s| s.get(field))
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn name_of(c: &Json) -> &str {
    c.get("name").and_then(Json::as_str).unwrap_or("")
}

/// The object at `path` (created, or replaced when not an object).
pub(crate) fn ensure_map<'a>(pod: &'a mut Json, path: &[&str]) -> &'a mut Map<String, Json> {
    if !pod.is_object() {
        *pod = Json::Object(Map::new());
    }
    let Json::Object(obj) = pod else {
        // Just made an object above.
        return ensure_map_fallback();
    };
    match path.split_first() {
        None => obj,
        Some((first, rest)) => {
            let entry = obj
                .entry((*first).to_string())
                .or_insert_with(|| Json::Object(Map::new()));
            ensure_map(entry, rest)
        }
    }
}

/// Never reached; keeps `ensure_map` free of panics.
fn ensure_map_fallback() -> &'static mut Map<String, Json> {
    Box::leak(Box::new(Map::new()))
}

/// `stripPod`: on a previously injected pod, drop the injected containers, the Prometheus
/// annotations Istio set, and the status annotation.
pub(crate) fn strip_pod(pod: &Json, status_port: i64, rules: RenderRules) -> Json {
    let Some(status) = parse_status(pod) else {
        return pod.clone();
    };
    let mut out = pod.clone();
    if let Some(cs) = list_mut(&mut out, "containers") {
        cs.retain(|c| !status.containers.iter().any(|n| n == name_of(c)));
    }
    if let Some(cs) = list_mut(&mut out, "initContainers") {
        cs.retain(|c| !status.init_containers.iter().any(|n| n == name_of(c)));
    }
    let target = status_port.to_string();
    if prometheus_port(&out).as_deref() == Some(target.as_str()) {
        clear_prometheus(&mut out, rules);
    }
    if let Some(a) = out
        .pointer_mut("/metadata/annotations")
        .and_then(Json::as_object_mut)
    {
        a.remove(STATUS);
    }
    out
}

fn overrides_of(pod: &Json) -> Result<(Vec<Json>, Vec<Json>), RenderError> {
    let Some(text) = annotation(pod, OVERRIDES) else {
        return Ok((Vec::new(), Vec::new()));
    };
    let v: Json = serde_json::from_str(text).map_err(|e| RenderError::Annotation {
        annotation: OVERRIDES.into(),
        message: e.to_string(),
    })?;
    Ok((
        v.get("containers")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default(),
        v.get("initContainers")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default(),
    ))
}

/// `reinsertOverrides`: containers recorded in `proxy.istio.io/overrides` come back if absent.
pub(crate) fn reinsert_overrides(pod: &Json) -> Result<Json, RenderError> {
    let (cs, ics) = overrides_of(pod)?;
    let mut out = pod.clone();
    for (field, items) in [("containers", cs), ("initContainers", ics)] {
        for c in items {
            let present = list(&out, field).iter().any(|x| name_of(x) == name_of(&c));
            if present {
                continue;
            }
            let spec = ensure_map(&mut out, &["spec"]);
            let entry = spec
                .entry(field.to_string())
                .or_insert_with(|| Json::Array(Vec::new()));
            if let Json::Array(a) = entry {
                a.push(c);
            }
        }
    }
    Ok(out)
}

fn find_in_pod(pod: &Json, name: &str) -> Option<Json> {
    list(pod, "containers")
        .iter()
        .chain(list(pod, "initContainers"))
        .find(|c| name_of(c) == name)
        .cloned()
}

fn apply_container(target: &Json, container: &Json, field: &str) -> Result<Json, RenderError> {
    let mut c = container.clone();
    normalize_container(&mut c);
    let mut overlay = json!({"spec": {field: [c]}});
    if field == "initContainers" {
        // `applyInitContainer` sends an empty (not null) `containers`, which leaves the
        // containers alone but creates `containers: []` on a pod that has none left.
        overlay["spec"]["containers"] = json!([]);
    }
    let mut merged = strategic_merge(target, &overlay).map_err(RenderError::Merge)?;
    normalize(&mut merged);
    Ok(merged)
}

fn normalize_container(c: &mut Json) {
    let mut wrapper = json!({"containers": [c.clone()]});
    normalize(&mut wrapper);
    if let Some(x) = wrapper.get("containers").and_then(|a| a.get(0)) {
        *c = x.clone();
    }
}

/// `reapplyOverwrittenContainers`: user-declared versions of injected containers (e.g. an
/// `istio-proxy` in the pod) are merged back over the template's, and recorded in
/// `proxy.istio.io/overrides` for re-injection.
pub(crate) fn reapply_overwritten(
    final_pod: Json,
    original: &Json,
    template_pod: &Json,
    tproxy: bool,
) -> Result<Json, RenderError> {
    let (existing_cs, existing_ics) = overrides_of(original)?;
    let status = parse_status(original).unwrap_or_default();
    let mut out = final_pod;
    let mut over_cs = Vec::new();
    let mut over_ics = Vec::new();
    // Each list is checked against its own list of the previous status. A template init
    // container is looked up in the whole original pod (so an old-style `istio-proxy` in
    // `containers` is kept as a customization of the native sidecar), a template container
    // only among the original containers.
    for (field, existing, injected, over) in [
        ("containers", &existing_cs, &status.containers, &mut over_cs),
        (
            "initContainers",
            &existing_ics,
            &status.init_containers,
            &mut over_ics,
        ),
    ] {
        for c in list(template_pod, field) {
            let name = name_of(c);
            if injected.iter().any(|n| n == name) {
                continue;
            }
            let found = existing
                .iter()
                .find(|x| name_of(x) == name)
                .cloned()
                .or_else(|| match field {
                    "containers" => list(original, field)
                        .iter()
                        .find(|x| name_of(x) == name)
                        .cloned(),
                    _ => find_in_pod(original, name),
                });
            let Some(mut overlay) = found else { continue };
            if overlay.get("image").and_then(Json::as_str) == Some("auto")
                && let Some(o) = overlay.as_object_mut()
            {
                o.remove("image");
            }
            normalize_container(&mut overlay);
            over.push(go_order_container(&overlay));
            out = apply_container(&out, &overlay, field)?;
        }
    }
    let already = annotation(original, STATUS).is_some();
    if !already && (!over_cs.is_empty() || !over_ics.is_empty()) {
        let mut o = Map::new();
        if !over_cs.is_empty() {
            o.insert("containers".into(), Json::Array(over_cs));
        }
        if !over_ics.is_empty() {
            o.insert("initContainers".into(), Json::Array(over_ics));
        }
        let text = serde_json::to_string(&Json::Object(o)).unwrap_or_default();
        ensure_map(&mut out, &["metadata", "annotations"])
            .insert(OVERRIDES.into(), Json::String(text));
    }
    adjust_init_user(&mut out, original, tproxy);
    Ok(out)
}

/// `adjustInitContainerUser`: a user-set `runAsUser` on `istio-proxy` must be the uid the
/// iptables rules exempt.
fn adjust_init_user(pod: &mut Json, original: &Json, tproxy: bool) {
    let Some(user) = find_in_pod(original, PROXY) else {
        return;
    };
    let sc = user.get("securityContext");
    let uid = sc.and_then(|s| s.get("runAsUser")).and_then(Json::as_i64);
    let gid = sc.and_then(|s| s.get("runAsGroup")).and_then(Json::as_i64);
    if uid.is_none() && gid.is_none() {
        return;
    }
    if tproxy {
        // TPROXY needs the sidecar to run as root.
        for field in ["containers", "initContainers"] {
            if let Some(cs) = list_mut(pod, field) {
                for c in cs.iter_mut().filter(|c| name_of(c) == PROXY) {
                    if let Some(sc) = c.get_mut("securityContext").and_then(Json::as_object_mut) {
                        sc.insert("runAsUser".into(), json!(0));
                    }
                }
            }
        }
    }
    let Some(inits) = list_mut(pod, "initContainers") else {
        return;
    };
    for c in inits.iter_mut() {
        let name = name_of(c).to_string();
        if name == VALIDATION
            && !tproxy
            && let Some(sc) = c.get_mut("securityContext").and_then(Json::as_object_mut)
        {
            if let Some(u) = uid {
                sc.insert("runAsUser".into(), json!(u));
            }
            if let Some(g) = gid {
                sc.insert("runAsGroup".into(), json!(g));
            }
        }
        if (name == INIT || name == VALIDATION)
            && let Some(u) = uid.filter(|u| *u != 0)
            && let Some(args) = c.get_mut("args").and_then(Json::as_array_mut)
            && let Some(pos) = args.iter().position(|a| a.as_str() == Some("-u"))
            && let Some(slot) = args.get_mut(pos + 1)
        {
            *slot = Json::String(u.to_string());
        }
    }
}

/// Sanitised annotation key as Prometheus label name.
pub(crate) fn find_sidecar_mut(pod: &mut Json) -> Option<&mut Json> {
    let in_containers = list(pod, "containers").iter().any(|c| name_of(c) == PROXY);
    let field = if in_containers {
        "containers"
    } else {
        "initContainers"
    };
    list_mut(pod, field)?
        .iter_mut()
        .find(|c| name_of(c) == PROXY)
}

pub(crate) fn push_env(c: &mut Json, name: &str, value: String) {
    let Some(obj) = c.as_object_mut() else { return };
    let env = obj.entry("env").or_insert_with(|| Json::Array(Vec::new()));
    if let Json::Array(a) = env {
        a.push(json!({"name": name, "value": value}));
    }
}

/// Inputs of the post-processing steps.
pub(crate) struct PostParams<'a> {
    pub proxy_envs: &'a BTreeMap<String, String>,
    pub mesh: &'a Json,
    pub status_port: i64,
    pub rewrite_probes: bool,
    pub revision: &'a str,
    pub injected_annotations: &'a BTreeMap<String, String>,
    pub hold_application: bool,
    pub rules: RenderRules,
}

/// `postProcessPod`.
pub(crate) fn post_process(
    pod: &mut Json,
    template_pod: &Json,
    p: &PostParams<'_>,
) -> Result<(), RenderError> {
    ensure_map(pod, &["metadata", "annotations"]);
    ensure_map(pod, &["metadata", "labels"]);
    overwrite_cluster_info(pod, p.proxy_envs);
    prometheus_merge(pod, p.mesh, p.status_port, p.rules)?;
    rewrite_probes(pod, p);
    apply_metadata(pod, template_pod, p);
    reorder(pod, p.hold_application);
    Ok(())
}

fn overwrite_cluster_info(pod: &mut Json, envs: &BTreeMap<String, String>) {
    if envs.is_empty() {
        return;
    }
    let Some(c) = find_sidecar_mut(pod) else {
        return;
    };
    if let Some(env) = c.get_mut("env").and_then(Json::as_array_mut) {
        env.retain(|e| !envs.contains_key(e.get("name").and_then(Json::as_str).unwrap_or("")));
    }
    for (k, v) in envs {
        push_env(c, k, v.clone());
    }
}

fn port_map(c: &Json) -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    if let Some(ports) = c.get("ports").and_then(Json::as_array) {
        for p in ports {
            if let (Some(n), Some(cp)) = (
                p.get("name").and_then(Json::as_str),
                p.get("containerPort").and_then(Json::as_i64),
            ) && !n.is_empty()
            {
                m.insert(n.to_string(), cp);
            }
        }
    }
    m
}

/// `kubeProbeToInternalProber` + `updateNamedPort`.
fn internal_prober(
    probe: Option<&Json>,
    ports: &BTreeMap<String, i64>,
    target: i64,
) -> Option<Json> {
    let probe = probe?;
    let mut out = Map::new();
    if let Some(g) = probe.get("grpc") {
        out.insert("grpc".into(), g.clone());
    } else {
        let field = if probe.get("httpGet").is_some() {
            "httpGet"
        } else if probe.get("tcpSocket").is_some() {
            "tcpSocket"
        } else {
            return None;
        };
        let mut action = probe.get(field).cloned().unwrap_or(Json::Null);
        match action.get("port") {
            Some(Json::String(name)) => {
                let n = ports.get(name)?;
                action["port"] = json!(n);
            }
            Some(Json::Number(n)) if n.as_i64() == Some(target) => return None,
            _ => {}
        }
        out.insert(field.into(), go_order(&action, field));
    }
    if let Some(t) = probe
        .get("timeoutSeconds")
        .filter(|t| t.as_i64() != Some(0))
    {
        out.insert("timeoutSeconds".into(), t.clone());
    }
    Some(Json::Object(out))
}

fn rewrite_probes(pod: &mut Json, p: &PostParams<'_>) {
    if find_sidecar_mut(pod).is_none() {
        return;
    }
    let annos = annotations(pod);
    let rewrite = match annos
        .get("sidecar.istio.io/rewriteAppHTTPProbers")
        .and_then(Json::as_str)
        .and_then(parse_go_bool)
    {
        Some(b) => b,
        None => p.rewrite_probes,
    };
    if !rewrite {
        return;
    }
    // DumpAppProbers: every non-proxy container, init containers included.
    let mut probers: BTreeMap<String, Json> = BTreeMap::new();
    for c in list(pod, "initContainers")
        .iter()
        .chain(list(pod, "containers"))
    {
        let name = name_of(c);
        if name == PROXY {
            continue;
        }
        let ports = port_map(c);
        for (field, suffix) in [
            ("readinessProbe", "readyz"),
            ("livenessProbe", "livez"),
            ("startupProbe", "startupz"),
        ] {
            if let Some(pr) = internal_prober(c.get(field), &ports, p.status_port) {
                probers.insert(format!("/app-health/{name}/{suffix}"), pr);
            }
        }
        if p.rules.rewrite_lifecycle_hooks {
            for (hook, suffix) in LIFECYCLE_HOOKS {
                let handler = c.get("lifecycle").and_then(|l| l.get(hook));
                if let Some(pr) = internal_prober(
                    handler.filter(|h| h.get("grpc").is_none()),
                    &ports,
                    p.status_port,
                ) {
                    probers.insert(format!("/app-lifecycle/{name}/{suffix}"), pr);
                }
            }
        }
    }
    if !probers.is_empty() {
        let text = serde_json::to_string(&probers).unwrap_or_default();
        let previously = annos.contains_key(STATUS);
        if let Some(sidecar) = find_sidecar_mut(pod) {
            let existing = sidecar
                .get("env")
                .and_then(Json::as_array)
                .and_then(|env| {
                    env.iter().find(|e| {
                        e.get("name").and_then(Json::as_str) == Some("ISTIO_KUBE_APP_PROBERS")
                    })
                })
                .and_then(|e| e.get("value").and_then(Json::as_str))
                .map(str::to_string);
            match (previously, existing) {
                (true, Some(old)) => {
                    // mergeOrAppendProbers: entries already present win.
                    let mut merged: BTreeMap<String, Json> = probers;
                    if let Ok(Json::Object(old)) = serde_json::from_str::<Json>(&old) {
                        for (k, v) in old {
                            merged.insert(k, v);
                        }
                    }
                    let text = serde_json::to_string(&merged).unwrap_or_default();
                    if let Some(env) = sidecar.get_mut("env").and_then(Json::as_array_mut) {
                        for e in env.iter_mut() {
                            if e.get("name").and_then(Json::as_str)
                                == Some("ISTIO_KUBE_APP_PROBERS")
                            {
                                e["value"] = Json::String(text.clone());
                            }
                        }
                    }
                }
                _ => push_env(sidecar, "ISTIO_KUBE_APP_PROBERS", text),
            }
        }
    }
    // patchRewriteProbe
    let status_port = match annos
        .get("status.sidecar.istio.io/port")
        .and_then(Json::as_str)
    {
        Some(v) => match v.parse::<i64>() {
            Ok(n) => n,
            Err(_) => return,
        },
        None => p.status_port,
    };
    for field in ["containers", "initContainers"] {
        let Some(cs) = list_mut(pod, field) else {
            continue;
        };
        for c in cs.iter_mut() {
            let name = name_of(c).to_string();
            if name == PROXY {
                continue;
            }
            for (pf, suffix) in [
                ("readinessProbe", "readyz"),
                ("livenessProbe", "livez"),
                ("startupProbe", "startupz"),
            ] {
                let url = format!("/app-health/{name}/{suffix}");
                if let Some(probe) = c.get_mut(pf) {
                    rewrite_one(probe, &url, status_port);
                }
            }
            if !p.rules.rewrite_lifecycle_hooks {
                continue;
            }
            for (hook, suffix) in LIFECYCLE_HOOKS {
                let url = format!("/app-lifecycle/{name}/{suffix}");
                if let Some(handler) = c.get_mut("lifecycle").and_then(|l| l.get_mut(hook)) {
                    rewrite_hook(handler, &url, status_port);
                }
            }
        }
    }
}

/// The lifecycle hooks the agent takes over (Istio ≥ 1.25), with their URL suffixes.
const LIFECYCLE_HOOKS: [(&str, &str); 2] = [("preStop", "prestopz"), ("postStart", "poststartz")];

/// `convertAppLifecycleHandler`: like a probe, but only HTTP and TCP handlers (exec and
/// sleep hooks stay with the kubelet).
fn rewrite_hook(handler: &mut Json, url: &str, status_port: i64) {
    if handler.get("httpGet").is_some() || handler.get("tcpSocket").is_some() {
        rewrite_one(handler, url, status_port);
    }
}

fn rewrite_one(probe: &mut Json, url: &str, status_port: i64) {
    let Some(obj) = probe.as_object_mut() else {
        return;
    };
    if let Some(g) = obj.get_mut("httpGet").and_then(Json::as_object_mut) {
        g.insert("port".into(), json!(status_port));
        g.insert("path".into(), json!(url));
        if g.get("scheme").and_then(Json::as_str) == Some("HTTPS") {
            g.insert("scheme".into(), json!("HTTP"));
        }
        return;
    }
    if obj.contains_key("tcpSocket") || obj.contains_key("grpc") {
        obj.remove("tcpSocket");
        obj.remove("grpc");
        obj.insert("httpGet".into(), json!({"path": url, "port": status_port}));
    }
}

fn apply_metadata(pod: &mut Json, template_pod: &Json, p: &PostParams<'_>) {
    if let Some(nw) = p.proxy_envs.get("ISTIO_META_NETWORK") {
        ensure_map(pod, &["metadata", "labels"])
            .insert("topology.istio.io/network".into(), Json::String(nw.clone()));
    }
    let status = injection_status(template_pod, p.revision);
    let a = ensure_map(pod, &["metadata", "annotations"]);
    a.insert(STATUS.into(), Json::String(status));
    for (k, v) in p.injected_annotations {
        a.insert(k.clone(), Json::String(v.clone()));
    }
}

/// `getInjectionStatus`: names from the template pod; empty lists are JSON null.
pub(crate) fn injection_status(template_pod: &Json, revision: &str) -> String {
    let names_of = |field: &str| -> Json {
        let v: Vec<Json> = list(template_pod, field)
            .iter()
            .map(|c| Json::String(name_of(c).to_string()))
            .collect();
        if v.is_empty() {
            Json::Null
        } else {
            Json::Array(v)
        }
    };
    let mut m = Map::new();
    m.insert("initContainers".into(), names_of("initContainers"));
    m.insert("containers".into(), names_of("containers"));
    m.insert("volumes".into(), names_of("volumes"));
    m.insert("imagePullSecrets".into(), names_of("imagePullSecrets"));
    m.insert("revision".into(), Json::String(revision.to_string()));
    serde_json::to_string(&Json::Object(m)).unwrap_or_default()
}

fn move_container(list: &mut Vec<Json>, name: &str, first: bool) {
    if let Some(pos) = list.iter().position(|c| name_of(c) == name) {
        let c = list.remove(pos);
        if first {
            list.insert(0, c);
        } else {
            list.push(c);
        }
    }
}

/// `reorderPod`.
fn reorder(pod: &mut Json, hold: bool) {
    if let Some(cs) = list_mut(pod, "containers") {
        move_container(cs, PROXY, hold);
    }
    let native = list(pod, "initContainers")
        .iter()
        .any(|c| name_of(c) == PROXY);
    let Some(ics) = list_mut(pod, "initContainers") else {
        return;
    };
    if native {
        move_container(ics, CORE_DUMP, true);
        move_container(ics, PROXY, true);
        move_container(ics, VALIDATION, true);
        move_container(ics, INIT, true);
    } else {
        move_container(ics, VALIDATION, true);
        move_container(ics, INIT, false);
        move_container(ics, CORE_DUMP, false);
    }
}

/// Moves the user's `istio-proxy` from containers to the end of initContainers (the native
/// sidecar hack in `RunTemplate`).
pub(crate) fn move_proxy_to_init(pod: &mut Json) {
    let Some(cs) = list_mut(pod, "containers") else {
        return;
    };
    let Some(pos) = cs.iter().position(|c| name_of(c) == PROXY) else {
        return;
    };
    let c = cs.remove(pos);
    let spec = ensure_map(pod, &["spec"]);
    let entry = spec
        .entry("initContainers".to_string())
        .or_insert_with(|| Json::Array(Vec::new()));
    if let Json::Array(a) = entry {
        a.push(c);
    }
}

pub(crate) fn has_container(pod: &Json, field: &str, name: &str) -> bool {
    list(pod, field).iter().any(|c| name_of(c) == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_annotation_shape() {
        let t = json!({"spec": {"initContainers": [{"name": "istio-init"}], "containers": [{"name": "istio-proxy"}]}});
        assert_eq!(
            injection_status(&t, "default"),
            r#"{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":null,"imagePullSecrets":null,"revision":"default"}"#
        );
    }

    #[test]
    fn reorder_classic_and_native() {
        let mut p = json!({"spec": {"containers": [{"name": "istio-proxy"}, {"name": "app"}],
            "initContainers": [{"name": "istio-init"}, {"name": "user"}]}});
        reorder(&mut p, false);
        assert_eq!(p["spec"]["containers"][0]["name"], "app");
        assert_eq!(p["spec"]["initContainers"][1]["name"], "istio-init");
        let mut p = json!({"spec": {"initContainers": [{"name": "user"}, {"name": "istio-proxy"}, {"name": "istio-init"}]}});
        reorder(&mut p, false);
        let order: Vec<&str> = list(&p, "initContainers").iter().map(name_of).collect();
        assert_eq!(order, vec!["istio-init", "istio-proxy", "user"]);
    }

    #[test]
    fn probe_rewrite() {
        let mut probe = json!({"tcpSocket": {"port": 80}, "periodSeconds": 3});
        rewrite_one(&mut probe, "/app-health/a/livez", 15020);
        assert_eq!(
            probe,
            json!({"periodSeconds": 3, "httpGet": {"path": "/app-health/a/livez", "port": 15020}})
        );
    }
}
