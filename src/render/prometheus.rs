//! Istio's Prometheus metrics merge (`applyPrometheusMerge`): the pod's `prometheus.io/*`
//! annotations move into the sidecar's `ISTIO_PROMETHEUS_ANNOTATIONS` and are replaced by the
//! agent's merged endpoint. From Istio 1.31 on, the merge also reads
//! `prometheus.istio.io/scrape-targets`, refuses target ports the agent cannot scrape, and
//! sets `prometheus.istio.io/secure-port` from the sidecar's environment.

use super::RenderError;
use super::postprocess::{annotations, ensure_map, find_sidecar_mut, push_env};
use super::validate::parse_go_bool;
use crate::mesh::istio::version::RenderRules;
use serde_json::{Value as Json, json};

const SCRAPE: &str = "prometheus_io_scrape";
const PORT: &str = "prometheus_io_port";
const PATH: &str = "prometheus_io_path";
const SCRAPE_TARGETS: &str = "prometheus_istio_io_scrape_targets";
const SECURE_PORT: &str = "prometheus_istio_io_secure_port";

/// Ports the sidecar and agent own, with why; scraping them would hit Istio itself.
const RESERVED_PORTS: [(&str, &str); 9] = [
    ("15000", "Envoy admin"),
    ("15001", "outbound traffic capture"),
    ("15004", "pilot debug"),
    ("15006", "inbound traffic capture"),
    ("15008", "HBONE tunnel"),
    ("15020", "pilot-agent status / merged Prometheus"),
    ("15021", "Envoy health"),
    ("15053", "DNS proxy"),
    ("15090", "Envoy Prometheus (already merged)"),
];

/// `strutil.SanitizeLabelName`: annotation keys are compared with every non-alphanumeric
/// character replaced by `_`, so `prometheus.io/port` and `prometheus_io_port` are one key.
fn sanitize(k: &str) -> String {
    k.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub(crate) fn prometheus_port(pod: &Json) -> Option<String> {
    annotations(pod)
        .iter()
        .find(|(k, _)| sanitize(k) == PORT)
        .and_then(|(_, v)| v.as_str().map(str::to_string))
}

/// `clearPrometheusAnnotations`.
pub(crate) fn clear_prometheus(pod: &mut Json, rules: RenderRules) {
    if let Some(a) = pod
        .pointer_mut("/metadata/annotations")
        .and_then(Json::as_object_mut)
    {
        a.retain(|k, _| {
            let k = sanitize(k);
            !(k == SCRAPE
                || k == PORT
                || k == PATH
                || (rules.prometheus_scrape_targets && k == SCRAPE_TARGETS))
        });
    }
}

/// One `port:path` entry of `prometheus.istio.io/scrape-targets`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ScrapeTarget {
    port: String,
    path: String,
}

/// `ParseScrapeTargets`: comma-separated `port:path`, blanks trimmed, the path defaulting to
/// `/metrics`; an entry without a port makes the whole annotation invalid.
fn parse_scrape_targets(raw: &str) -> Option<Vec<ScrapeTarget>> {
    let mut out = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (port, path) = entry.split_once(':').unwrap_or((entry, ""));
        let port = port.trim();
        if port.is_empty() {
            return None;
        }
        let path = match path.trim() {
            "" => "/metrics",
            p => p,
        };
        out.push(ScrapeTarget {
            port: port.to_string(),
            path: path.to_string(),
        });
    }
    Some(out)
}

/// A port the agent may scrape: a number in 1..=65535 that is neither its own port nor one
/// Istio reserves. `what` names the configuration in Istio's error wording.
fn check_scrape_port(port: &str, agent_port: &str, what: &str) -> Result<(), RenderError> {
    let invalid =
        |detail: String| Err(RenderError::InvalidAnnotations(format!("{what}: {detail}")));
    // strconv.Atoi: an optional sign, then decimal digits.
    let n = match port.parse::<i64>() {
        Ok(n) if (1..=65535).contains(&n) => n,
        _ => return invalid(format!("invalid {}port {port:?}", target_word(what))),
    };
    let canon = n.to_string();
    if canon == agent_port {
        return invalid(format!(
            "{}port {port} conflicts with agent port",
            target_word(what)
        ));
    }
    if let Some((_, reason)) = RESERVED_PORTS.iter().find(|(p, _)| *p == canon) {
        return invalid(format!(
            "{}port {port} is reserved for Istio ({reason}) and cannot be scraped",
            target_word(what)
        ));
    }
    Ok(())
}

fn target_word(what: &str) -> &'static str {
    if what.ends_with("targets") {
        "target "
    } else {
        ""
    }
}

/// `applyPrometheusMerge` (and, from 1.31, `applySecurePrometheusAnnotation` after it).
pub(crate) fn prometheus_merge(
    pod: &mut Json,
    mesh: &Json,
    status_port: i64,
    rules: RenderRules,
) -> Result<(), RenderError> {
    merge(pod, mesh, status_port, rules)?;
    if rules.prometheus_scrape_targets {
        secure_port_annotation(pod);
    }
    Ok(())
}

fn merge(
    pod: &mut Json,
    mesh: &Json,
    status_port: i64,
    rules: RenderRules,
) -> Result<(), RenderError> {
    let annos = annotations(pod);
    let scrape_wanted = annos
        .iter()
        .filter(|(k, _)| sanitize(k) == SCRAPE)
        .find_map(|(_, v)| v.as_str().and_then(parse_go_bool))
        .unwrap_or(true);
    if !scrape_wanted {
        return Ok(());
    }
    let enabled = match annos
        .get("prometheus.istio.io/merge-metrics")
        .and_then(Json::as_str)
        .and_then(parse_go_bool)
    {
        Some(b) => b,
        None => mesh
            .get("enablePrometheusMerge")
            .and_then(Json::as_bool)
            .unwrap_or(true),
    };
    if !enabled {
        return Ok(());
    }
    let agent_port = status_port.to_string();
    if prometheus_port(pod).as_deref() == Some(agent_port.as_str()) {
        // Already pointing at the agent: a re-injection, or the user's choice.
        return Ok(());
    }
    let (mut scrape, mut path, mut port) = (String::new(), String::new(), String::new());
    let mut targets: Vec<ScrapeTarget> = Vec::new();
    for (k, v) in &annos {
        let v = v.as_str().unwrap_or("").to_string();
        match sanitize(k).as_str() {
            SCRAPE => scrape = v,
            PATH => path = v,
            PORT => port = v,
            // Istio logs an unparseable annotation and goes on without targets.
            SCRAPE_TARGETS if rules.prometheus_scrape_targets => {
                targets = parse_scrape_targets(&v).unwrap_or_default();
            }
            _ => {}
        }
    }
    if rules.prometheus_scrape_targets {
        if let Some(first) = targets.first() {
            // Agents that predate targets still scrape the first one.
            port = first.port.clone();
            path = first.path.clone();
            for t in &targets {
                check_scrape_port(&t.port, &agent_port, "invalid prometheus scrape targets")?;
            }
        } else if !port.is_empty() {
            check_scrape_port(
                &port,
                &agent_port,
                "invalid prometheus scrape configuration",
            )?;
        }
    }
    let empty = scrape.is_empty() && path.is_empty() && port.is_empty() && targets.is_empty();
    if !empty && let Some(sidecar) = find_sidecar_mut(pod) {
        let mut cfg = json!({"scrape": scrape, "path": path, "port": port});
        if !targets.is_empty() {
            cfg["targets"] = targets
                .iter()
                .map(|t| json!({"port": t.port, "path": t.path}))
                .collect();
        }
        // Go's json.Marshal keeps the struct's field order.
        let text = serde_json::to_string(&go_order(&cfg)).unwrap_or_default();
        push_env(sidecar, "ISTIO_PROMETHEUS_ANNOTATIONS", text);
    }
    clear_prometheus(pod, rules);
    let a = ensure_map(pod, &["metadata", "annotations"]);
    a.insert("prometheus.io/scrape".into(), json!("true"));
    a.insert("prometheus.io/port".into(), Json::String(agent_port));
    a.insert("prometheus.io/path".into(), json!("/stats/prometheus"));
    Ok(())
}

/// The scrape configuration in `PrometheusScrapeConfiguration`'s field order.
fn go_order(cfg: &Json) -> serde_json::Map<String, Json> {
    let mut out = serde_json::Map::new();
    for k in ["scrape", "path", "port", "targets"] {
        if let Some(v) = cfg.get(k) {
            out.insert(k.to_string(), v.clone());
        }
    }
    out
}

/// `applySecurePrometheusAnnotation`: a sidecar with `ENVOY_SECURE_MERGED_METRICS_PORT` gets
/// its Prometheus discovery annotation, unless the user set one.
fn secure_port_annotation(pod: &mut Json) {
    if annotations(pod).keys().any(|k| sanitize(k) == SECURE_PORT) {
        return;
    }
    let Some(sidecar) = find_sidecar_mut(pod) else {
        return;
    };
    let port = sidecar
        .get("env")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .find(|e| {
            e.get("name").and_then(Json::as_str) == Some("ENVOY_SECURE_MERGED_METRICS_PORT")
                && !matches!(e.get("value").and_then(Json::as_str), None | Some("" | "0"))
        })
        .and_then(|e| e.get("value").cloned());
    if let Some(port) = port {
        ensure_map(pod, &["metadata", "annotations"])
            .insert("prometheus.istio.io/secure-port".into(), port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::istio::version::IstioVersion;

    fn pod(annos: Json) -> Json {
        json!({"metadata": {"annotations": annos},
               "spec": {"containers": [{"name": "istio-proxy"}, {"name": "app"}]}})
    }

    fn env(pod: &Json) -> Option<String> {
        pod.pointer("/spec/containers/0/env/0/value")
            .and_then(Json::as_str)
            .map(str::to_string)
    }

    const NEW: RenderRules = IstioVersion::new(1, 31).render_rules();
    const OLD: RenderRules = IstioVersion::new(1, 30).render_rules();

    #[test]
    fn targets_parse_with_defaults_and_blanks() {
        assert_eq!(
            parse_scrape_targets(" 8080:/m , 9100 ,"),
            Some(vec![
                ScrapeTarget {
                    port: "8080".into(),
                    path: "/m".into()
                },
                ScrapeTarget {
                    port: "9100".into(),
                    path: "/metrics".into()
                },
            ])
        );
        assert_eq!(parse_scrape_targets(":/x"), None);
    }

    #[test]
    fn scrape_targets_from_1_31() {
        let annos = json!({"prometheus.io/scrape": "true",
                           "prometheus.istio.io/scrape-targets": "8080:/metrics,9100:/custom"});
        let mut p = pod(annos.clone());
        prometheus_merge(&mut p, &json!({}), 15020, NEW).unwrap();
        assert_eq!(
            env(&p).as_deref(),
            Some(
                r#"{"scrape":"true","path":"/metrics","port":"8080","targets":[{"port":"8080","path":"/metrics"},{"port":"9100","path":"/custom"}]}"#
            )
        );
        assert!(
            p.pointer("/metadata/annotations/prometheus.istio.io~1scrape-targets")
                .is_none()
        );
        let mut p = pod(annos);
        prometheus_merge(&mut p, &json!({}), 15020, OLD).unwrap();
        assert_eq!(
            env(&p).as_deref(),
            Some(r#"{"scrape":"true","path":"","port":""}"#)
        );
        assert!(
            p.pointer("/metadata/annotations/prometheus.istio.io~1scrape-targets")
                .is_some()
        );
    }

    #[test]
    fn reserved_and_invalid_ports_fail_from_1_31() {
        for (annos, want) in [
            (
                json!({"prometheus.io/port": "15090"}),
                "invalid prometheus scrape configuration: port 15090 is reserved for Istio (Envoy Prometheus (already merged)) and cannot be scraped",
            ),
            (
                json!({"prometheus.io/port": "http"}),
                "invalid prometheus scrape configuration: invalid port \"http\"",
            ),
            (
                json!({"prometheus.istio.io/scrape-targets": "8080,15020"}),
                "invalid prometheus scrape targets: target port 15020 conflicts with agent port",
            ),
        ] {
            let err = prometheus_merge(&mut pod(annos.clone()), &json!({}), 15020, NEW);
            assert_eq!(err.unwrap_err().to_string(), want);
            assert!(prometheus_merge(&mut pod(annos), &json!({}), 15020, OLD).is_ok());
        }
    }

    #[test]
    fn secure_port_from_the_sidecar_env() {
        let mut p = json!({"metadata": {}, "spec": {"containers": [{"name": "istio-proxy",
            "env": [{"name": "ENVOY_SECURE_MERGED_METRICS_PORT", "value": "15091"}]}]}});
        prometheus_merge(&mut p, &json!({"enablePrometheusMerge": false}), 15020, NEW).unwrap();
        assert_eq!(
            p.pointer("/metadata/annotations/prometheus.istio.io~1secure-port"),
            Some(&json!("15091"))
        );
    }
}
