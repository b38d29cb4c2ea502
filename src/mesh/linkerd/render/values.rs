//! The control plane's install values (the `linkerd-config` ConfigMap's `values` key) as the
//! typed fields the proxy injector's patch depends on.
//!
//! Linkerd's injector keeps these in a Go struct; meshdoctor keeps the subset that changes the
//! patch. [`Values::chart_defaults`] is what the `linkerd-control-plane` chart's `values.yaml`
//! sets (edge-26.8.3); [`Values::overlay`] lays a `values` document over it, key by key, so a
//! ConfigMap written by an older chart that lacks a key keeps the default.

use std::collections::BTreeMap;

use serde_json::Value as Json;

/// A request/limit pair of one resource (empty string = unset).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Constraints {
    pub request: String,
    pub limit: String,
}

/// The proxy's resources (`proxy.resources`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources {
    pub cpu: Constraints,
    pub memory: Constraints,
    pub ephemeral_storage: Constraints,
}

/// An image reference split as Linkerd's values split it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Image {
    pub name: String,
    pub version: String,
    pub pull_policy: String,
}

/// Capabilities copied from the pod's first container (see `containers::capabilities`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Capabilities {
    pub add: Vec<String>,
    pub drop: Vec<String>,
}

/// A volume mount the proxy (and linkerd-init) repeat from the first container.
#[derive(Debug, Clone, PartialEq)]
pub struct MountPath {
    pub name: String,
    pub mount_path: String,
    pub read_only: bool,
}

/// `proxy.inbound` / `proxy.outbound`: scope → protocol → parameter → value, each level sorted
/// (Go templates range over maps in key order).
pub type ProxyParams = BTreeMap<String, BTreeMap<String, BTreeMap<String, Json>>>;

#[derive(Debug, Clone, PartialEq)]
pub struct Proxy {
    pub capabilities: Option<Capabilities>,
    pub enable_external_profiles: bool,
    pub image: Image,
    pub enable_shutdown_endpoint: bool,
    pub log_level: String,
    pub log_format: String,
    pub log_http_headers: String,
    pub sa_mount_path: Option<MountPath>,
    pub admin_port: i64,
    pub control_port: i64,
    pub inbound_port: i64,
    pub outbound_port: i64,
    pub resources: Resources,
    pub uid: i64,
    pub gid: i64,
    pub wait_before_exit_seconds: u64,
    pub is_gateway: bool,
    pub is_ingress: bool,
    pub require_identity_on_inbound_ports: String,
    pub require_tls_on_inbound_ports: String,
    pub outbound_connect_timeout: String,
    pub inbound_connect_timeout: String,
    pub outbound_discovery_cache_unused_timeout: String,
    pub inbound_discovery_cache_unused_timeout: String,
    pub disable_outbound_protocol_detect_timeout: bool,
    pub disable_inbound_protocol_detect_timeout: bool,
    pub pod_inbound_ports: String,
    pub opaque_ports: String,
    pub await_: bool,
    pub default_inbound_policy: String,
    pub access_log: String,
    pub shutdown_grace_period: String,
    pub native_sidecar: bool,
    pub liveness_initial_delay: i64,
    pub liveness_timeout: i64,
    pub readiness_initial_delay: i64,
    pub readiness_timeout: i64,
    pub startup_initial_delay: i64,
    pub startup_period: i64,
    pub startup_failure_threshold: i64,
    pub control_stream_initial_timeout: String,
    pub control_stream_idle_timeout: String,
    pub control_stream_lifetime: String,
    pub metrics_hostname_labels: bool,
    pub additional_env: Vec<Json>,
    pub experimental_env: Vec<Json>,
    pub inbound: ProxyParams,
    pub outbound: ProxyParams,
    /// Deprecated fixed core count (`proxy.cores`); 0 = unset.
    pub cores: i64,
    pub workers_minimum: i64,
    pub workers_maximum: i64,
    pub workers_maximum_cpu_ratio: f64,
    /// `proxy.securityContext`: replaces the default security context when non-empty.
    pub security_context: serde_json::Map<String, Json>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProxyInit {
    pub capabilities: Option<Capabilities>,
    pub ignore_inbound_ports: String,
    pub ignore_outbound_ports: String,
    pub skip_subnets: String,
    pub log_level: String,
    pub log_format: String,
    pub sa_mount_path: Option<MountPath>,
    pub xt_mount_path: String,
    pub xt_mount_name: String,
    pub close_wait_timeout_secs: i64,
    pub privileged: bool,
    pub run_as_root: bool,
    pub run_as_user: i64,
    pub run_as_group: i64,
    pub iptables_mode: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NetworkValidator {
    pub log_level: String,
    pub log_format: String,
    pub connect_addr: String,
    pub listen_addr: String,
    pub timeout: String,
    /// `networkValidator.enableSecurityContext` (absent = true).
    pub enable_security_context: bool,
    pub security_context: serde_json::Map<String, Json>,
}

/// The install values the injector renders its patch from.
#[derive(Debug, Clone, PartialEq)]
pub struct Values {
    pub linkerd_version: String,
    pub cluster_domain: String,
    pub cluster_networks: String,
    pub image_pull_policy: String,
    pub disable_ipv6: bool,
    pub cni_enabled: bool,
    pub identity_trust_anchors_pem: String,
    pub identity_trust_domain: String,
    pub service_account_token_projection: bool,
    pub proxy: Proxy,
    pub proxy_init: ProxyInit,
    pub network_validator: NetworkValidator,
    pub debug_image: Image,
}

/// A `values` document that is not a mapping, or a key of the wrong type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: expected {expected}, found {found}")]
pub struct ValuesError {
    pub key: String,
    pub expected: &'static str,
    pub found: String,
}

/// `proxy.inbound` and `proxy.outbound` default to the same HTTP/2 server keep-alive.
fn keep_alive_params() -> ProxyParams {
    let mut http2 = BTreeMap::new();
    http2.insert("keepAliveInterval".to_owned(), Json::String("10s".into()));
    http2.insert("keepAliveTimeout".to_owned(), Json::String("3s".into()));
    let mut server = BTreeMap::new();
    server.insert("http2".to_owned(), http2);
    BTreeMap::from([("server".to_owned(), server)])
}

impl Values {
    /// The chart's `values.yaml` defaults of edge-26.8.3 (`linkerdVersion` is filled in at
    /// install; here it is empty until a ConfigMap or `--linkerd-version` sets it).
    pub fn chart_defaults() -> Values {
        Values {
            linkerd_version: String::new(),
            cluster_domain: "cluster.local".into(),
            cluster_networks: "10.0.0.0/8,100.64.0.0/10,172.16.0.0/12,192.168.0.0/16,fd00::/8"
                .into(),
            image_pull_policy: "IfNotPresent".into(),
            disable_ipv6: true,
            cni_enabled: false,
            identity_trust_anchors_pem: String::new(),
            identity_trust_domain: String::new(),
            service_account_token_projection: true,
            proxy: Proxy {
                capabilities: None,
                enable_external_profiles: false,
                image: Image {
                    name: "cr.l5d.io/linkerd/proxy".into(),
                    ..Image::default()
                },
                enable_shutdown_endpoint: false,
                log_level: "warn,linkerd=info,hickory=error".into(),
                log_format: "plain".into(),
                log_http_headers: "off".into(),
                sa_mount_path: None,
                admin_port: 4191,
                control_port: 4190,
                inbound_port: 4143,
                outbound_port: 4140,
                resources: Resources::default(),
                uid: 2102,
                gid: -1,
                wait_before_exit_seconds: 0,
                is_gateway: false,
                is_ingress: false,
                require_identity_on_inbound_ports: String::new(),
                require_tls_on_inbound_ports: String::new(),
                outbound_connect_timeout: "1000ms".into(),
                inbound_connect_timeout: "100ms".into(),
                outbound_discovery_cache_unused_timeout: "5s".into(),
                inbound_discovery_cache_unused_timeout: "90s".into(),
                disable_outbound_protocol_detect_timeout: false,
                disable_inbound_protocol_detect_timeout: false,
                pod_inbound_ports: String::new(),
                opaque_ports: "25,587,3306,4444,5432,6379,9300,11211".into(),
                await_: true,
                default_inbound_policy: "all-unauthenticated".into(),
                access_log: String::new(),
                shutdown_grace_period: String::new(),
                native_sidecar: true,
                liveness_initial_delay: 10,
                liveness_timeout: 1,
                readiness_initial_delay: 2,
                readiness_timeout: 1,
                startup_initial_delay: 0,
                startup_period: 1,
                startup_failure_threshold: 120,
                control_stream_initial_timeout: "3s".into(),
                control_stream_idle_timeout: "5m".into(),
                control_stream_lifetime: "1h".into(),
                metrics_hostname_labels: false,
                additional_env: Vec::new(),
                experimental_env: Vec::new(),
                inbound: keep_alive_params(),
                outbound: keep_alive_params(),
                cores: 0,
                workers_minimum: 1,
                workers_maximum: 0,
                workers_maximum_cpu_ratio: 0.0,
                security_context: serde_json::Map::new(),
            },
            proxy_init: ProxyInit {
                capabilities: None,
                ignore_inbound_ports: "4567,4568".into(),
                ignore_outbound_ports: "4567,4568".into(),
                skip_subnets: String::new(),
                log_level: String::new(),
                log_format: String::new(),
                sa_mount_path: None,
                xt_mount_path: "/run".into(),
                xt_mount_name: "linkerd-proxy-init-xtables-lock".into(),
                close_wait_timeout_secs: 0,
                privileged: false,
                run_as_root: false,
                run_as_user: 65534,
                run_as_group: 65534,
                iptables_mode: "nft".into(),
            },
            network_validator: NetworkValidator {
                log_level: "debug".into(),
                log_format: "plain".into(),
                connect_addr: String::new(),
                listen_addr: String::new(),
                timeout: "10s".into(),
                enable_security_context: true,
                security_context: default_validator_security_context(),
            },
            debug_image: Image {
                name: "cr.l5d.io/linkerd/debug".into(),
                ..Image::default()
            },
        }
    }

    /// The chart defaults overlaid with a `values` document.
    pub fn from_document(doc: &Json) -> Result<Values, ValuesError> {
        let mut v = Values::chart_defaults();
        v.overlay(doc)?;
        Ok(v)
    }

    /// Lays `doc` over these values: every key present (and not null) replaces the field.
    pub fn overlay(&mut self, doc: &Json) -> Result<(), ValuesError> {
        if doc.is_null() {
            return Ok(());
        }
        if !doc.is_object() {
            return Err(wrong("values", "a mapping", doc));
        }
        let r = Reader { doc };
        r.string("linkerdVersion", &mut self.linkerd_version)?;
        r.string("clusterDomain", &mut self.cluster_domain)?;
        r.string("clusterNetworks", &mut self.cluster_networks)?;
        r.string("imagePullPolicy", &mut self.image_pull_policy)?;
        r.boolean("disableIPv6", &mut self.disable_ipv6)?;
        r.boolean("cniEnabled", &mut self.cni_enabled)?;
        r.string(
            "identityTrustAnchorsPEM",
            &mut self.identity_trust_anchors_pem,
        )?;
        r.string("identityTrustDomain", &mut self.identity_trust_domain)?;
        r.boolean(
            "identity.serviceAccountTokenProjection",
            &mut self.service_account_token_projection,
        )?;
        self.overlay_proxy(&r)?;
        let pi = &mut self.proxy_init;
        r.string("proxyInit.ignoreInboundPorts", &mut pi.ignore_inbound_ports)?;
        r.string(
            "proxyInit.ignoreOutboundPorts",
            &mut pi.ignore_outbound_ports,
        )?;
        r.string("proxyInit.skipSubnets", &mut pi.skip_subnets)?;
        r.string("proxyInit.logLevel", &mut pi.log_level)?;
        r.string("proxyInit.logFormat", &mut pi.log_format)?;
        r.string("proxyInit.xtMountPath.mountPath", &mut pi.xt_mount_path)?;
        r.string("proxyInit.xtMountPath.name", &mut pi.xt_mount_name)?;
        r.int(
            "proxyInit.closeWaitTimeoutSecs",
            &mut pi.close_wait_timeout_secs,
        )?;
        r.boolean("proxyInit.privileged", &mut pi.privileged)?;
        r.boolean("proxyInit.runAsRoot", &mut pi.run_as_root)?;
        r.int("proxyInit.runAsUser", &mut pi.run_as_user)?;
        r.int("proxyInit.runAsGroup", &mut pi.run_as_group)?;
        r.string("proxyInit.iptablesMode", &mut pi.iptables_mode)?;
        let nv = &mut self.network_validator;
        r.string("networkValidator.logLevel", &mut nv.log_level)?;
        r.string("networkValidator.logFormat", &mut nv.log_format)?;
        r.string("networkValidator.connectAddr", &mut nv.connect_addr)?;
        r.string("networkValidator.listenAddr", &mut nv.listen_addr)?;
        r.string("networkValidator.timeout", &mut nv.timeout)?;
        r.boolean(
            "networkValidator.enableSecurityContext",
            &mut nv.enable_security_context,
        )?;
        r.map("networkValidator.securityContext", &mut nv.security_context)?;
        r.string("debugContainer.image.name", &mut self.debug_image.name)?;
        r.string(
            "debugContainer.image.version",
            &mut self.debug_image.version,
        )?;
        r.string(
            "debugContainer.image.pullPolicy",
            &mut self.debug_image.pull_policy,
        )?;
        Ok(())
    }

    fn overlay_proxy(&mut self, r: &Reader<'_>) -> Result<(), ValuesError> {
        let p = &mut self.proxy;
        r.boolean(
            "proxy.enableExternalProfiles",
            &mut p.enable_external_profiles,
        )?;
        r.string("proxy.image.name", &mut p.image.name)?;
        r.string("proxy.image.version", &mut p.image.version)?;
        r.string("proxy.image.pullPolicy", &mut p.image.pull_policy)?;
        r.boolean(
            "proxy.enableShutdownEndpoint",
            &mut p.enable_shutdown_endpoint,
        )?;
        r.string("proxy.logLevel", &mut p.log_level)?;
        r.string("proxy.logFormat", &mut p.log_format)?;
        r.string("proxy.logHTTPHeaders", &mut p.log_http_headers)?;
        r.int("proxy.ports.admin", &mut p.admin_port)?;
        r.int("proxy.ports.control", &mut p.control_port)?;
        r.int("proxy.ports.inbound", &mut p.inbound_port)?;
        r.int("proxy.ports.outbound", &mut p.outbound_port)?;
        for (key, c) in [
            ("cpu", &mut p.resources.cpu),
            ("memory", &mut p.resources.memory),
            ("ephemeral-storage", &mut p.resources.ephemeral_storage),
        ] {
            r.string(&format!("proxy.resources.{key}.request"), &mut c.request)?;
            r.string(&format!("proxy.resources.{key}.limit"), &mut c.limit)?;
        }
        r.int("proxy.uid", &mut p.uid)?;
        r.int("proxy.gid", &mut p.gid)?;
        let mut wait = p.wait_before_exit_seconds as i64;
        r.int("proxy.waitBeforeExitSeconds", &mut wait)?;
        p.wait_before_exit_seconds = wait.max(0) as u64;
        r.boolean("proxy.isGateway", &mut p.is_gateway)?;
        r.boolean("proxy.isIngress", &mut p.is_ingress)?;
        r.string(
            "proxy.requireIdentityOnInboundPorts",
            &mut p.require_identity_on_inbound_ports,
        )?;
        r.string(
            "proxy.requireTLSOnInboundPorts",
            &mut p.require_tls_on_inbound_ports,
        )?;
        r.string(
            "proxy.outboundConnectTimeout",
            &mut p.outbound_connect_timeout,
        )?;
        r.string(
            "proxy.inboundConnectTimeout",
            &mut p.inbound_connect_timeout,
        )?;
        r.string(
            "proxy.outboundDiscoveryCacheUnusedTimeout",
            &mut p.outbound_discovery_cache_unused_timeout,
        )?;
        r.string(
            "proxy.inboundDiscoveryCacheUnusedTimeout",
            &mut p.inbound_discovery_cache_unused_timeout,
        )?;
        r.boolean(
            "proxy.disableOutboundProtocolDetectTimeout",
            &mut p.disable_outbound_protocol_detect_timeout,
        )?;
        r.boolean(
            "proxy.disableInboundProtocolDetectTimeout",
            &mut p.disable_inbound_protocol_detect_timeout,
        )?;
        r.string("proxy.opaquePorts", &mut p.opaque_ports)?;
        r.boolean("proxy.await", &mut p.await_)?;
        r.string("proxy.defaultInboundPolicy", &mut p.default_inbound_policy)?;
        r.string("proxy.accessLog", &mut p.access_log)?;
        r.string("proxy.shutdownGracePeriod", &mut p.shutdown_grace_period)?;
        r.boolean("proxy.nativeSidecar", &mut p.native_sidecar)?;
        r.int(
            "proxy.livenessProbe.initialDelaySeconds",
            &mut p.liveness_initial_delay,
        )?;
        r.int(
            "proxy.livenessProbe.timeoutSeconds",
            &mut p.liveness_timeout,
        )?;
        r.int(
            "proxy.readinessProbe.initialDelaySeconds",
            &mut p.readiness_initial_delay,
        )?;
        r.int(
            "proxy.readinessProbe.timeoutSeconds",
            &mut p.readiness_timeout,
        )?;
        r.int(
            "proxy.startupProbe.initialDelaySeconds",
            &mut p.startup_initial_delay,
        )?;
        r.int("proxy.startupProbe.periodSeconds", &mut p.startup_period)?;
        r.int(
            "proxy.startupProbe.failureThreshold",
            &mut p.startup_failure_threshold,
        )?;
        r.string(
            "proxy.control.streams.initialTimeout",
            &mut p.control_stream_initial_timeout,
        )?;
        r.string(
            "proxy.control.streams.idleTimeout",
            &mut p.control_stream_idle_timeout,
        )?;
        r.string(
            "proxy.control.streams.lifetime",
            &mut p.control_stream_lifetime,
        )?;
        r.boolean(
            "proxy.metrics.hostnameLabels",
            &mut p.metrics_hostname_labels,
        )?;
        r.list("proxy.additionalEnv", &mut p.additional_env)?;
        r.list("proxy.experimentalEnv", &mut p.experimental_env)?;
        r.params("proxy.inbound", &mut p.inbound)?;
        r.params("proxy.outbound", &mut p.outbound)?;
        r.int("proxy.cores", &mut p.cores)?;
        r.int("proxy.runtime.workers.minimum", &mut p.workers_minimum)?;
        r.int("proxy.runtime.workers.maximum", &mut p.workers_maximum)?;
        r.float(
            "proxy.runtime.workers.maximumCPURatio",
            &mut p.workers_maximum_cpu_ratio,
        )?;
        r.map("proxy.securityContext", &mut p.security_context)?;
        Ok(())
    }

    /// Sets one dotted key (`proxy.ports.admin`) as a `values` document would.
    pub fn set(&mut self, key: &str, value: Json) -> Result<(), ValuesError> {
        let mut doc = value;
        for part in key.rsplit('.') {
            let mut m = serde_json::Map::new();
            m.insert(part.to_owned(), doc);
            doc = Json::Object(m);
        }
        self.overlay(&doc)
    }

    /// The proxy image's tag: `proxy.image.version`, else the control plane's version.
    pub fn proxy_version(&self) -> &str {
        if self.proxy.image.version.is_empty() {
            &self.linkerd_version
        } else {
            &self.proxy.image.version
        }
    }
}

fn default_validator_security_context() -> serde_json::Map<String, Json> {
    let Json::Object(m) = serde_json::json!({
        "allowPrivilegeEscalation": false,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": true,
        "runAsGroup": 65534,
        "runAsNonRoot": true,
        "runAsUser": 65534,
        "seccompProfile": {"type": "RuntimeDefault"},
    }) else {
        unreachable!("a json! object literal is an object")
    };
    m
}

fn wrong(key: &str, expected: &'static str, found: &Json) -> ValuesError {
    ValuesError {
        key: key.to_owned(),
        expected,
        found: found.to_string(),
    }
}

/// Reads dotted keys out of a `values` document; an absent or null key leaves the field alone.
struct Reader<'a> {
    doc: &'a Json,
}

impl Reader<'_> {
    fn get(&self, key: &str) -> Option<&Json> {
        let mut cur = self.doc;
        for part in key.split('.') {
            cur = cur.get(part)?;
        }
        (!cur.is_null()).then_some(cur)
    }

    fn string(&self, key: &str, out: &mut String) -> Result<(), ValuesError> {
        match self.get(key) {
            None => {}
            Some(Json::String(s)) => *out = s.clone(),
            // Go's YAML decoder accepts a bare number or boolean for a string field.
            Some(v @ (Json::Number(_) | Json::Bool(_))) => *out = v.to_string(),
            Some(v) => return Err(wrong(key, "a string", v)),
        }
        Ok(())
    }

    fn boolean(&self, key: &str, out: &mut bool) -> Result<(), ValuesError> {
        match self.get(key) {
            None => {}
            Some(Json::Bool(b)) => *out = *b,
            Some(v) => return Err(wrong(key, "true or false", v)),
        }
        Ok(())
    }

    fn int(&self, key: &str, out: &mut i64) -> Result<(), ValuesError> {
        match self.get(key) {
            None => {}
            Some(Json::Number(n)) if n.as_i64().is_some() => *out = n.as_i64().unwrap_or(0),
            Some(v) => return Err(wrong(key, "an integer", v)),
        }
        Ok(())
    }

    fn float(&self, key: &str, out: &mut f64) -> Result<(), ValuesError> {
        match self.get(key) {
            None => {}
            Some(Json::Number(n)) => *out = n.as_f64().unwrap_or(0.0),
            Some(v) => return Err(wrong(key, "a number", v)),
        }
        Ok(())
    }

    fn map(&self, key: &str, out: &mut serde_json::Map<String, Json>) -> Result<(), ValuesError> {
        match self.get(key) {
            None => {}
            Some(Json::Object(m)) => *out = m.clone(),
            Some(v) => return Err(wrong(key, "a mapping", v)),
        }
        Ok(())
    }

    fn list(&self, key: &str, out: &mut Vec<Json>) -> Result<(), ValuesError> {
        match self.get(key) {
            None => {}
            Some(Json::Array(a)) => *out = a.clone(),
            Some(v) => return Err(wrong(key, "a list", v)),
        }
        Ok(())
    }

    fn params(&self, key: &str, out: &mut ProxyParams) -> Result<(), ValuesError> {
        let Some(v) = self.get(key) else {
            return Ok(());
        };
        let mut parsed = ProxyParams::new();
        let Json::Object(scopes) = v else {
            return Err(wrong(key, "a mapping", v));
        };
        for (scope, protos) in scopes {
            let Json::Object(protos) = protos else {
                return Err(wrong(&format!("{key}.{scope}"), "a mapping", protos));
            };
            let entry = parsed.entry(scope.clone()).or_default();
            for (proto, ps) in protos {
                let Json::Object(ps) = ps else {
                    return Err(wrong(&format!("{key}.{scope}.{proto}"), "a mapping", ps));
                };
                let leaf = entry.entry(proto.clone()).or_default();
                for (k, val) in ps {
                    leaf.insert(k.clone(), val.clone());
                }
            }
        }
        *out = parsed;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_keeps_defaults_for_absent_keys() {
        let doc = serde_json::json!({
            "linkerdVersion": "edge-26.8.3",
            "proxy": {"logLevel": "debug", "ports": {"admin": 1234}, "cores": null},
        });
        let v = Values::from_document(&doc).unwrap();
        assert_eq!(v.linkerd_version, "edge-26.8.3");
        assert_eq!(v.proxy.log_level, "debug");
        assert_eq!(v.proxy.admin_port, 1234);
        assert_eq!(v.proxy.control_port, 4190);
        assert_eq!(v.proxy_version(), "edge-26.8.3");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let doc = serde_json::json!({"proxy": {"ports": {"admin": "x"}}});
        let e = Values::from_document(&doc).unwrap_err();
        assert_eq!(
            e.to_string(),
            "proxy.ports.admin: expected an integer, found \"x\""
        );
    }
}
