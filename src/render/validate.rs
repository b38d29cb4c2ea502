//! Istio's annotation validation (`pkg/kube/inject/validate.go`), run before the templates:
//! a bad value fails the whole injection with Istio's message.

use super::config::parse_proxy_config_annotation;
use serde_json::{Map, Value as Json};

fn valid_port(p: &str) -> Result<(), String> {
    match p.trim().parse::<u32>() {
        Ok(n) if n <= 65535 => Ok(()),
        Ok(n) => Err(format!("port number {n} must be in the range 1..65535")),
        Err(e) => Err(format!(
            "strconv.ParseUint: parsing {:?}: {}",
            p.trim(),
            go_parse_err(&e)
        )),
    }
}

fn go_parse_err(e: &std::num::ParseIntError) -> &'static str {
    match e.kind() {
        std::num::IntErrorKind::PosOverflow => "value out of range",
        _ => "invalid syntax",
    }
}

fn port_list(v: &str) -> Result<(), String> {
    if v.trim().is_empty() {
        return Ok(());
    }
    for p in v.split(',') {
        valid_port(p)?;
    }
    Ok(())
}

fn cidr(v: &str) -> Result<(), String> {
    let (addr, bits) = v
        .split_once('/')
        .ok_or_else(|| format!("netip.ParsePrefix({v:?}): no '/'"))?;
    let ip: std::net::IpAddr = addr.parse().map_err(|_| {
        format!("netip.ParsePrefix({v:?}): ParseAddr({addr:?}): unable to parse IP")
    })?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match bits.parse::<u32>() {
        Ok(b) if b <= max => Ok(()),
        _ => Err(format!(
            "netip.ParsePrefix({v:?}): bad bits after slash: {bits:?}"
        )),
    }
}

fn cidr_list(v: &str) -> Result<(), String> {
    if v.trim().is_empty() {
        return Ok(());
    }
    for c in v.split(',') {
        cidr(c.trim())?;
    }
    Ok(())
}

fn interfaces(v: &str) -> Result<(), String> {
    for i in v.split(',') {
        let i = i.trim();
        if i.is_empty() || i.len() > 15 || i.contains('/') || i.contains(char::is_whitespace) {
            return Err(format!("interface name {i:?} is invalid"));
        }
    }
    Ok(())
}

fn quantity(v: &str) -> Result<(), String> {
    if v.chars().any(char::is_control) {
        return Err("quantity contains control characters".into());
    }
    super::typed::canonical_quantity(v)
        .map(|_| ())
        .ok_or_else(|| "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'".into())
}

fn check(name: &str, value: &str) -> Result<(), String> {
    match name {
        "sidecar.istio.io/interceptionMode" => match value {
            "REDIRECT" | "TPROXY" | "NONE" => Ok(()),
            _ => Err(format!("interceptionMode invalid: {value}")),
        },
        "status.sidecar.istio.io/port" => value
            .parse::<u16>()
            .map(|_| ())
            .map_err(|_| format!("failed parsing port {value:?}")),
        "readiness.status.sidecar.istio.io/initialDelaySeconds"
        | "readiness.status.sidecar.istio.io/periodSeconds"
        | "readiness.status.sidecar.istio.io/failureThreshold" => value
            .parse::<u32>()
            .map(|_| ())
            .map_err(|_| format!("failed parsing {value:?}")),
        "traffic.sidecar.istio.io/includeOutboundIPRanges" => {
            if value == "*" {
                Ok(())
            } else {
                cidr_list(value).map_err(|e| format!("includeIPRanges invalid: {e}"))
            }
        }
        "traffic.sidecar.istio.io/excludeOutboundIPRanges" => {
            cidr_list(value).map_err(|e| format!("excludeIPRanges invalid: {e}"))
        }
        "traffic.sidecar.istio.io/includeInboundPorts" => {
            if value == "*" {
                Ok(())
            } else {
                port_list(value).map_err(|e| format!("includeInboundPorts invalid: {e}"))
            }
        }
        "traffic.sidecar.istio.io/excludeInboundPorts" => {
            port_list(value).map_err(|e| format!("excludeInboundPorts invalid: {e}"))
        }
        "traffic.sidecar.istio.io/excludeOutboundPorts" => {
            port_list(value).map_err(|e| format!("excludeOutboundPorts invalid: {e}"))
        }
        "traffic.sidecar.istio.io/excludeInterfaces"
        | "traffic.sidecar.istio.io/kubevirtInterfaces"
        | "istio.io/reroute-virtual-interfaces" => interfaces(value),
        "prometheus.istio.io/merge-metrics" => parse_go_bool(value)
            .map(|_| ())
            .ok_or_else(|| format!("strconv.ParseBool: parsing {value:?}: invalid syntax")),
        "proxy.istio.io/config" => parse_proxy_config_annotation(value).map(|_| ()),
        "sidecar.istio.io/proxyCPU"
        | "sidecar.istio.io/proxyMemory"
        | "sidecar.istio.io/proxyCPULimit"
        | "sidecar.istio.io/proxyMemoryLimit" => quantity(value),
        _ => Ok(()),
    }
}

/// `strconv.ParseBool`.
pub(crate) fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Validates the pod annotations; the error text follows Istio's
/// `invalid value '<v>' for annotation '<k>': <reason>` (one line per bad annotation).
pub(crate) fn validate_annotations(annotations: &Map<String, Json>) -> Result<(), String> {
    let mut errors = Vec::new();
    for (k, v) in annotations {
        let Some(v) = v.as_str() else { continue };
        if let Err(e) = check(k, v) {
            errors.push(format!("invalid value '{v}' for annotation '{k}': {e}"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_one(k: &str, v: &str) -> Result<(), String> {
        let Json::Object(m) = json!({ k: v }) else {
            return Ok(());
        };
        validate_annotations(&m)
    }

    #[test]
    fn rejects_like_istio() {
        let e = check_one("traffic.sidecar.istio.io/includeOutboundIPRanges", "bad");
        assert!(
            e.err()
                .unwrap_or_default()
                .to_lowercase()
                .contains("includeipranges")
        );
        assert!(check_one("traffic.sidecar.istio.io/excludeOutboundIPRanges", "*").is_err());
        assert!(check_one("traffic.sidecar.istio.io/excludeInboundPorts", "*").is_err());
        assert!(check_one("traffic.sidecar.istio.io/includeInboundPorts", "bad").is_err());
        assert!(check_one("traffic.sidecar.istio.io/excludeOutboundPorts", "bad").is_err());
    }

    #[test]
    fn accepts_good_values() {
        assert!(
            check_one(
                "traffic.sidecar.istio.io/includeOutboundIPRanges",
                "127.0.0.1/24,10.96.0.1/24"
            )
            .is_ok()
        );
        assert!(check_one("traffic.sidecar.istio.io/includeInboundPorts", "*").is_ok());
        assert!(check_one("traffic.sidecar.istio.io/excludeInboundPorts", "").is_ok());
        assert!(check_one("sidecar.istio.io/proxyCPU", "100m").is_ok());
    }
}
