//! The `config.linkerd.io/*` and `config.alpha.linkerd.io/*` annotations that override the
//! install values for one pod, applied the way Linkerd's injector applies them.
//!
//! Precedence: the injector reads the pod (template) annotations; namespace annotations reach
//! the pod only where the pod lacks the key ([`inherit_namespace_annotations`], which the
//! webhook calls and `linkerd inject` does not). A value Linkerd cannot parse is ignored (it
//! logs a warning and keeps the install value); meshdoctor records the same warning.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::values::Values;
use crate::checks::sidecar::parse_quantity;

pub const PREFIX: &str = "config.linkerd.io/";
pub const ALPHA_PREFIX: &str = "config.alpha.linkerd.io/";

pub const INJECT: &str = "linkerd.io/inject";
pub const OPAQUE_PORTS: &str = "config.linkerd.io/opaque-ports";
pub const ENABLE_DEBUG: &str = "config.linkerd.io/enable-debug-sidecar";
pub const CLOSE_WAIT_TIMEOUT: &str = "config.linkerd.io/close-wait-timeout";
pub const ADDITIONAL_ENV: &str = "config.linkerd.io/proxy-additional-env";
pub const WAIT_BEFORE_EXIT: &str = "config.alpha.linkerd.io/proxy-wait-before-exit-seconds";

/// The proxy configuration keys a pod inherits from its namespace (Linkerd's list of proxy
/// annotations, its alpha ones, and `linkerd.io/inject`). Other `config.linkerd.io/*` keys on a
/// namespace are not copied.
pub const INHERITABLE: &[&str] = &[
    "config.linkerd.io/admin-port",
    "config.linkerd.io/control-port",
    "config.linkerd.io/enable-debug-sidecar",
    "config.linkerd.io/enable-external-profiles",
    "config.linkerd.io/image-pull-policy",
    "config.linkerd.io/inbound-port",
    "config.linkerd.io/outbound-port",
    "config.linkerd.io/pod-inbound-ports",
    "config.linkerd.io/proxy-cpu-limit",
    "config.linkerd.io/proxy-cpu-request",
    "config.linkerd.io/proxy-image",
    "config.linkerd.io/proxy-admin-shutdown",
    "config.linkerd.io/proxy-log-format",
    "config.linkerd.io/proxy-log-level",
    "config.linkerd.io/proxy-log-http-headers",
    "config.linkerd.io/proxy-memory-limit",
    "config.linkerd.io/proxy-memory-request",
    "config.linkerd.io/proxy-ephemeral-storage-limit",
    "config.linkerd.io/proxy-ephemeral-storage-request",
    "config.linkerd.io/proxy-uid",
    "config.linkerd.io/proxy-gid",
    "config.linkerd.io/proxy-version",
    "config.linkerd.io/proxy-require-identity-inbound-ports",
    "config.linkerd.io/skip-inbound-ports",
    "config.linkerd.io/opaque-ports",
    "config.linkerd.io/skip-outbound-ports",
    "config.linkerd.io/proxy-metrics-hostname-labels",
    "config.linkerd.io/proxy-outbound-connect-timeout",
    "config.linkerd.io/proxy-inbound-connect-timeout",
    "config.linkerd.io/proxy-await",
    "config.linkerd.io/default-inbound-policy",
    "config.linkerd.io/skip-subnets",
    "config.linkerd.io/access-log",
    "config.linkerd.io/shutdown-grace-period",
    "config.linkerd.io/proxy-outbound-discovery-cache-unused-timeout",
    "config.linkerd.io/proxy-inbound-discovery-cache-unused-timeout",
    "config.linkerd.io/proxy-disable-outbound-protocol-detect-timeout",
    "config.linkerd.io/proxy-disable-inbound-protocol-detect-timeout",
    NATIVE_SIDECAR,
    ADDITIONAL_ENV,
    WAIT_BEFORE_EXIT,
    NATIVE_SIDECAR_ALPHA,
    INJECT,
];

use super::version::{
    NATIVE_SIDECAR_KEY as NATIVE_SIDECAR, NATIVE_SIDECAR_KEY_ALPHA as NATIVE_SIDECAR_ALPHA,
};

pub type Annotations = BTreeMap<String, String>;

/// Copies into `added` each inheritable key the namespace sets and the pod (template) lacks.
pub fn inherit_namespace_annotations(
    added: &mut Annotations,
    namespace: &Annotations,
    pod: &Annotations,
) {
    for key in INHERITABLE {
        if let Some(v) = namespace.get(*key)
            && !pod.contains_key(*key)
        {
            added.insert((*key).to_owned(), v.clone());
        }
    }
}

/// Applies the override annotations to `values`. `named_ports` resolves port names in
/// `config.linkerd.io/opaque-ports`. Returns a warning per value Linkerd would ignore.
pub fn apply(
    values: &mut Values,
    ann: &Annotations,
    named_ports: &BTreeMap<String, i64>,
) -> Vec<String> {
    let mut warn = Vec::new();
    let get = |k: &str| -> Option<&str> { ann.get(k).map(String::as_str) };
    let rules = super::version::rules_for(&values.linkerd_version);
    let p = &mut values.proxy;

    if get(INJECT) == Some("ingress") {
        p.is_ingress = true;
    }
    set_string(&mut p.image.name, get("config.linkerd.io/proxy-image"));
    set_string(&mut p.image.version, get("config.linkerd.io/proxy-version"));
    set_string(
        &mut p.image.pull_policy,
        get("config.linkerd.io/image-pull-policy"),
    );
    for (key, port) in [
        ("config.linkerd.io/control-port", &mut p.control_port),
        ("config.linkerd.io/inbound-port", &mut p.inbound_port),
        ("config.linkerd.io/admin-port", &mut p.admin_port),
        ("config.linkerd.io/outbound-port", &mut p.outbound_port),
    ] {
        if let Some(n) = get(key).and_then(|v| v.parse::<i32>().ok()) {
            *port = i64::from(n);
        }
    }
    set_string(
        &mut p.pod_inbound_ports,
        get("config.linkerd.io/pod-inbound-ports"),
    );
    enabled_disabled(
        &mut p.enable_shutdown_endpoint,
        "config.linkerd.io/proxy-admin-shutdown",
        get("config.linkerd.io/proxy-admin-shutdown"),
        &mut warn,
    );
    set_string(&mut p.log_level, get("config.linkerd.io/proxy-log-level"));
    set_string(
        &mut p.log_http_headers,
        get("config.linkerd.io/proxy-log-http-headers"),
    );
    set_string(&mut p.log_format, get("config.linkerd.io/proxy-log-format"));
    set_string(
        &mut p.require_identity_on_inbound_ports,
        get("config.linkerd.io/proxy-require-identity-inbound-ports"),
    );
    if let Some(b) = get("config.linkerd.io/proxy-metrics-hostname-labels").and_then(go_bool) {
        p.metrics_hostname_labels = b;
    }
    for (key, field, unit) in [
        (
            "config.linkerd.io/proxy-outbound-connect-timeout",
            &mut p.outbound_connect_timeout,
            Unit::Millis,
        ),
        (
            "config.linkerd.io/proxy-inbound-connect-timeout",
            &mut p.inbound_connect_timeout,
            Unit::Millis,
        ),
        (
            "config.linkerd.io/proxy-outbound-discovery-cache-unused-timeout",
            &mut p.outbound_discovery_cache_unused_timeout,
            Unit::Seconds,
        ),
        (
            "config.linkerd.io/proxy-inbound-discovery-cache-unused-timeout",
            &mut p.inbound_discovery_cache_unused_timeout,
            Unit::Seconds,
        ),
        (
            "config.linkerd.io/shutdown-grace-period",
            &mut p.shutdown_grace_period,
            Unit::Millis,
        ),
    ] {
        if let Some(v) = get(key) {
            match go_duration_seconds(v) {
                Some(secs) => *field = unit.format(secs),
                None => warn.push(format!("{key}: invalid duration {v:?} (ignored)")),
            }
        }
    }
    for (key, field) in [
        (
            "config.linkerd.io/proxy-disable-outbound-protocol-detect-timeout",
            &mut p.disable_outbound_protocol_detect_timeout,
        ),
        (
            "config.linkerd.io/proxy-disable-inbound-protocol-detect-timeout",
            &mut p.disable_inbound_protocol_detect_timeout,
        ),
    ] {
        if let Some(v) = get(key) {
            match go_bool(v) {
                Some(b) => *field = b,
                None => warn.push(format!("{key}: invalid boolean {v:?} (ignored)")),
            }
        }
    }
    if let Some(b) = get("config.linkerd.io/enable-gateway").and_then(go_bool) {
        p.is_gateway = b;
    }
    if let Some(v) = get(WAIT_BEFORE_EXIT) {
        match v.parse::<u64>() {
            Ok(n) => p.wait_before_exit_seconds = n,
            Err(_) => warn.push(format!(
                "{WAIT_BEFORE_EXIT}: expected an unsigned integer, found {v:?} (ignored)"
            )),
        }
    }
    // The keys the version reads (edge-26.8.3: GA over beta over alpha); an unparsable value
    // of the winning key is ignored without falling back to the others. A version without
    // native sidecars runs the proxy as a regular container whatever the values say.
    let native = rules.native_sidecar_keys.iter().find_map(|k| get(k));
    if let Some(b) = native.and_then(go_bool) {
        p.native_sidecar = b;
    }
    if !rules.native_sidecar {
        p.native_sidecar = false;
    }

    apply_resources(values, ann, &mut warn);

    let p = &mut values.proxy;
    for (key, field) in [
        ("config.linkerd.io/proxy-uid", &mut p.uid),
        ("config.linkerd.io/proxy-gid", &mut p.gid),
    ] {
        if let Some(n) = get(key).and_then(|v| v.parse::<i64>().ok()) {
            *field = n;
        }
    }
    if let Some(b) = get("config.linkerd.io/enable-external-profiles").and_then(go_bool) {
        p.enable_external_profiles = b;
    }
    if let Some(v) = get(OPAQUE_PORTS) {
        p.opaque_ports = resolve_opaque_ports(v, named_ports, &mut warn);
    }
    if let Some(v) = get("config.linkerd.io/proxy-await") {
        enabled_disabled(
            &mut p.await_,
            "config.linkerd.io/proxy-await",
            Some(v),
            &mut warn,
        );
    }
    if let Some(v) = get("config.linkerd.io/default-inbound-policy") {
        const POLICIES: &[&str] = &[
            "all-unauthenticated",
            "all-authenticated",
            "cluster-unauthenticated",
            "cluster-authenticated",
            "deny",
            "audit",
        ];
        if POLICIES.contains(&v) {
            p.default_inbound_policy = v.to_owned();
        } else {
            warn.push(format!(
                "config.linkerd.io/default-inbound-policy: unknown policy {v:?} (ignored)"
            ));
        }
    }
    set_string(&mut p.access_log, get("config.linkerd.io/access-log"));

    let pi = &mut values.proxy_init;
    set_string(
        &mut pi.ignore_inbound_ports,
        get("config.linkerd.io/skip-inbound-ports"),
    );
    set_string(
        &mut pi.ignore_outbound_ports,
        get("config.linkerd.io/skip-outbound-ports"),
    );
    set_string(&mut pi.skip_subnets, get("config.linkerd.io/skip-subnets"));

    let d = &mut values.debug_image;
    set_string(&mut d.name, get("config.linkerd.io/debug-image"));
    set_string(&mut d.version, get("config.linkerd.io/debug-image-version"));
    set_string(
        &mut d.pull_policy,
        get("config.linkerd.io/debug-image-pull-policy"),
    );
    warn
}

fn apply_resources(values: &mut Values, ann: &Annotations, warn: &mut Vec<String>) {
    let get = |k: &str| -> Option<&str> { ann.get(k).map(String::as_str) };
    let p = &mut values.proxy;
    let valid = |key: &str, warn: &mut Vec<String>| -> Option<(String, i64)> {
        let v = get(key)?;
        match parse_quantity(v) {
            // Linkerd rounds the CPU quantity up to whole cores for the worker count.
            Some(milli) => Some((v.to_owned(), ((milli + 999).div_euclid(1000)) as i64)),
            None => {
                warn.push(format!("{key}: invalid quantity {v:?} (ignored)"));
                None
            }
        }
    };
    if let Some((v, cores)) = valid("config.linkerd.io/proxy-cpu-request", warn) {
        p.resources.cpu.request = v;
        p.workers_minimum = cores;
    }
    if let Some((v, cores)) = valid("config.linkerd.io/proxy-cpu-limit", warn) {
        p.resources.cpu.limit = v;
        p.workers_maximum = cores;
    }
    if let Some(v) = get("config.linkerd.io/proxy-cpu-ratio-limit") {
        match v.parse::<f64>() {
            Ok(r) if r > 0.0 && r < 1.0 => p.workers_maximum_cpu_ratio = r,
            _ => warn.push(format!(
                "config.linkerd.io/proxy-cpu-ratio-limit: expected a number between 0.0 and 1.0, found {v:?} (ignored)"
            )),
        }
    }
    for (key, field) in [
        (
            "config.linkerd.io/proxy-memory-request",
            &mut p.resources.memory.request,
        ),
        (
            "config.linkerd.io/proxy-memory-limit",
            &mut p.resources.memory.limit,
        ),
        (
            "config.linkerd.io/proxy-ephemeral-storage-request",
            &mut p.resources.ephemeral_storage.request,
        ),
        (
            "config.linkerd.io/proxy-ephemeral-storage-limit",
            &mut p.resources.ephemeral_storage.limit,
        ),
    ] {
        if let Some((v, _)) = valid(key, warn) {
            *field = v;
        }
    }
}

/// Merges `config.linkerd.io/proxy-additional-env` (a JSON list of env vars) from the namespace
/// and then the workload into `proxy.additionalEnv`, replacing entries of the same name.
pub fn merge_additional_env(
    values: &mut Values,
    namespace: &Annotations,
    workload: &Annotations,
) -> Vec<String> {
    let mut warn = Vec::new();
    for layer in [namespace, workload] {
        let Some(text) = layer.get(ADDITIONAL_ENV).filter(|t| !t.is_empty()) else {
            continue;
        };
        match serde_json::from_str::<Vec<Json>>(text) {
            Ok(list) => {
                for e in list {
                    let name = e.get("name").cloned();
                    let env = &mut values.proxy.additional_env;
                    match env.iter().position(|x| x.get("name") == name.as_ref()) {
                        Some(i) => env[i] = e,
                        None => env.push(e),
                    }
                }
            }
            Err(e) => warn.push(format!("{ADDITIONAL_ENV}: invalid JSON: {e} (ignored)")),
        }
    }
    warn
}

/// `config.linkerd.io/opaque-ports` with names resolved to the container ports they name and
/// invalid entries dropped, written back as `a,b-c`.
pub fn resolve_opaque_ports(
    text: &str,
    named_ports: &BTreeMap<String, i64>,
    warn: &mut Vec<String>,
) -> String {
    let mut out: Vec<String> = Vec::new();
    for entry in text.strip_suffix(',').unwrap_or(text).split(',') {
        let entry = entry.trim();
        if let Some(port) = named_ports.get(entry) {
            out.push(port.to_string());
            continue;
        }
        match port_range(entry) {
            Some((lo, hi)) if lo == hi => out.push(lo.to_string()),
            Some((lo, hi)) => out.push(format!("{lo}-{hi}")),
            None => warn.push(format!(
                "{OPAQUE_PORTS}: invalid port range {entry:?} (ignored)"
            )),
        }
    }
    out.join(",")
}

fn port_range(s: &str) -> Option<(u32, u32)> {
    let mut parts = s.split('-');
    let lo = parts.next()?;
    let hi = parts.next().unwrap_or(lo);
    if parts.next().is_some() {
        return None;
    }
    let lo: u32 = lo.parse().ok().filter(|p| *p <= 65535)?;
    let hi: u32 = hi.parse().ok().filter(|p| *p <= 65535)?;
    (hi >= lo).then_some((lo, hi))
}

fn set_string(field: &mut String, v: Option<&str>) {
    if let Some(v) = v {
        *field = v.to_owned();
    }
}

fn enabled_disabled(field: &mut bool, key: &str, v: Option<&str>, warn: &mut Vec<String>) {
    match v {
        None => {}
        Some("enabled") => *field = true,
        Some("disabled") => *field = false,
        Some(other) => warn.push(format!(
            "{key}: expected enabled or disabled, found {other:?} (ignored)"
        )),
    }
}

/// Go's `strconv.ParseBool`.
pub fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[derive(Clone, Copy)]
enum Unit {
    Millis,
    Seconds,
}

impl Unit {
    /// Linkerd truncates the parsed duration to whole milliseconds or seconds.
    fn format(self, secs: f64) -> String {
        match self {
            Unit::Millis => format!("{}ms", (secs * 1000.0) as i64),
            Unit::Seconds => format!("{}s", secs as i64),
        }
    }
}

/// Go's `time.ParseDuration`, in seconds: `300ms`, `1.5h`, `2m30s`, `-1s`; `0` alone is valid.
pub fn go_duration_seconds(s: &str) -> Option<f64> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..num_end];
        if number.is_empty() || number == "." {
            return None;
        }
        let n: f64 = number.parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    Some(if neg { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> Annotations {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn durations_are_truncated_like_linkerd() {
        assert_eq!(go_duration_seconds("1m30s"), Some(90.0));
        assert_eq!(go_duration_seconds("250ms"), Some(0.25));
        assert_eq!(go_duration_seconds("10"), None);
        let mut v = Values::chart_defaults();
        let w = apply(
            &mut v,
            &ann(&[
                ("config.linkerd.io/proxy-outbound-connect-timeout", "1.5s"),
                (
                    "config.linkerd.io/proxy-inbound-discovery-cache-unused-timeout",
                    "2m",
                ),
                ("config.linkerd.io/shutdown-grace-period", "bogus"),
            ]),
            &BTreeMap::new(),
        );
        assert_eq!(v.proxy.outbound_connect_timeout, "1500ms");
        assert_eq!(v.proxy.inbound_discovery_cache_unused_timeout, "120s");
        assert_eq!(v.proxy.shutdown_grace_period, "");
        assert_eq!(w.len(), 1, "{w:?}");
    }

    #[test]
    fn cpu_request_sets_whole_cores() {
        let mut v = Values::chart_defaults();
        apply(
            &mut v,
            &ann(&[
                ("config.linkerd.io/proxy-cpu-request", "1500m"),
                ("config.linkerd.io/proxy-cpu-ratio-limit", "1.5"),
            ]),
            &BTreeMap::new(),
        );
        assert_eq!(v.proxy.resources.cpu.request, "1500m");
        assert_eq!(v.proxy.workers_minimum, 2);
        assert_eq!(v.proxy.workers_maximum_cpu_ratio, 0.0);
    }

    #[test]
    fn opaque_ports_resolve_names_and_ranges() {
        let named = BTreeMap::from([("mysql".to_owned(), 3306)]);
        let mut w = Vec::new();
        assert_eq!(
            resolve_opaque_ports("mysql, 5000-6000,,x,", &named, &mut w),
            "3306,5000-6000"
        );
        assert_eq!(w.len(), 2);
    }

    #[test]
    fn namespace_keys_fill_only_what_the_pod_lacks() {
        let ns = ann(&[
            ("config.linkerd.io/skip-outbound-ports", "34567"),
            ("config.linkerd.io/proxy-log-level", "debug"),
            ("config.linkerd.io/invalid-key", "x"),
        ]);
        let pod = ann(&[("config.linkerd.io/proxy-log-level", "info")]);
        let mut added = Annotations::new();
        inherit_namespace_annotations(&mut added, &ns, &pod);
        assert_eq!(
            added,
            ann(&[("config.linkerd.io/skip-outbound-ports", "34567")])
        );
    }

    #[test]
    fn native_sidecar_ga_key_wins() {
        let mut v = Values::chart_defaults();
        apply(
            &mut v,
            &ann(&[(NATIVE_SIDECAR, "false"), (NATIVE_SIDECAR_ALPHA, "true")]),
            &BTreeMap::new(),
        );
        assert!(!v.proxy.native_sidecar);
    }

    /// Before edge-26.5.2 the GA key does not exist: the beta key (edge-25.10.2 on) decides;
    /// before edge-23.11.4 no key does and the proxy is a regular container.
    #[test]
    fn native_sidecar_keys_are_the_versions() {
        let beta = super::super::version::NATIVE_SIDECAR_KEY_BETA;
        let both = ann(&[(NATIVE_SIDECAR, "true"), (beta, "false")]);
        for (version, want) in [("edge-26.5.2", true), ("edge-25.10.2", false)] {
            let mut v = Values::chart_defaults();
            v.linkerd_version = version.into();
            apply(&mut v, &both, &BTreeMap::new());
            assert_eq!(v.proxy.native_sidecar, want, "{version}");
        }
        let mut v = Values::chart_defaults();
        v.linkerd_version = "edge-23.10.1".into();
        v.proxy.native_sidecar = true;
        apply(
            &mut v,
            &ann(&[(NATIVE_SIDECAR_ALPHA, "true")]),
            &BTreeMap::new(),
        );
        assert!(!v.proxy.native_sidecar);
    }
}
