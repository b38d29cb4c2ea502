//! The containers Linkerd's injector adds, built from the (overridden) values: the proxy (a
//! regular container or a native sidecar), `linkerd-init` (iptables) or, with the CNI plugin,
//! `linkerd-network-validator`, and the optional `linkerd-debug` container.
//!
//! Keys are inserted in the order Linkerd's chart partials write them; the patch sorts them as
//! Go's JSON encoder does, and `inject -f` orders them as the Kubernetes types do.

use serde_json::{Map, Value as Json, json};

use super::values::{Capabilities, MountPath, Resources, Values};

/// Why the patch cannot be rendered (Linkerd's chart fails the same way).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ContainerError {
    #[error("proxy.logHTTPHeaders must be one of: insecure | off (found {0:?})")]
    LogHttpHeaders(String),
    #[error("identityTrustAnchorsPEM is empty: the proxy needs the identity trust anchors")]
    NoTrustAnchors,
    #[error("proxyInit.iptablesMode: unsupported value {0:?} (valid values: nft, legacy)")]
    IptablesMode(String),
    #[error("proxyInit.runAsRoot must be set to use proxyInit.closeWaitTimeoutSecs")]
    CloseWaitNeedsRoot,
}

fn env(name: &str, value: impl Into<String>) -> Json {
    json!({"name": name, "value": value.into()})
}

fn env_field(name: &str, path: &str) -> Json {
    json!({"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}})
}

fn image(values: &Values, name: &str, version: &str, pull_policy: &str) -> (String, String) {
    let version = if version.is_empty() {
        &values.linkerd_version
    } else {
        version
    };
    let policy = if pull_policy.is_empty() {
        &values.image_pull_policy
    } else {
        pull_policy
    };
    (format!("{name}:{version}"), policy.to_owned())
}

fn proxy_image(values: &Values) -> (String, String) {
    let i = &values.proxy.image;
    image(values, &i.name, &i.version, &i.pull_policy)
}

/// `resources` as Linkerd's partial writes it: `null` when nothing is set.
fn resources(r: &Resources) -> Json {
    let pick = |get: fn(&super::values::Constraints) -> &String| {
        let mut m = Map::new();
        for (key, c) in [
            ("cpu", &r.cpu),
            ("memory", &r.memory),
            ("ephemeral-storage", &r.ephemeral_storage),
        ] {
            let v = get(c);
            if !v.is_empty() {
                m.insert(key.to_owned(), Json::String(v.clone()));
            }
        }
        m
    };
    let limits = pick(|c| &c.limit);
    let requests = pick(|c| &c.request);
    if limits.is_empty() && requests.is_empty() {
        return Json::Null;
    }
    let mut out = Map::new();
    if !limits.is_empty() {
        out.insert("limits".into(), Json::Object(limits));
    }
    if !requests.is_empty() {
        out.insert("requests".into(), Json::Object(requests));
    }
    Json::Object(out)
}

fn mount(m: &MountPath) -> Json {
    json!({"mountPath": m.mount_path, "name": m.name, "readOnly": m.read_only})
}

fn any_addr(values: &Values) -> &'static str {
    if values.disable_ipv6 {
        "0.0.0.0"
    } else {
        "[::]"
    }
}

/// The proxy's environment, in the order of Linkerd's proxy partial.
fn proxy_env(values: &Values, control_ns: &str) -> Result<Vec<Json>, ContainerError> {
    let p = &values.proxy;
    let domain = &values.cluster_domain;
    let trust_domain = if values.identity_trust_domain.is_empty() {
        domain
    } else {
        &values.identity_trust_domain
    };
    let mut e = vec![
        env_field("_pod_name", "metadata.name"),
        env_field("_pod_ns", "metadata.namespace"),
        env_field("_pod_uid", "metadata.uid"),
        env_field("_pod_ip", "status.podIP"),
        env_field("_pod_nodeName", "spec.nodeName"),
        env("_pod_containerName", "linkerd-proxy"),
    ];
    if p.cores != 0 {
        e.push(env("LINKERD2_PROXY_CORES", p.cores.to_string()));
        e.push(env("LINKERD2_PROXY_CORES_MIN", p.cores.to_string()));
    } else {
        let min = if p.workers_minimum == 0 {
            1
        } else {
            p.workers_minimum
        };
        e.push(env("LINKERD2_PROXY_CORES", min.to_string()));
        e.push(env("LINKERD2_PROXY_CORES_MIN", min.to_string()));
        if p.workers_maximum != 0 {
            e.push(env(
                "LINKERD2_PROXY_CORES_MAX",
                p.workers_maximum.to_string(),
            ));
        }
        if p.workers_maximum_cpu_ratio != 0.0 {
            e.push(env(
                "LINKERD2_PROXY_CORES_MAX_RATIO",
                go_float(p.workers_maximum_cpu_ratio),
            ));
        }
    }
    if !p.require_identity_on_inbound_ports.is_empty() {
        e.push(env(
            "LINKERD2_PROXY_INBOUND_PORTS_REQUIRE_IDENTITY",
            &*p.require_identity_on_inbound_ports,
        ));
    }
    if !p.require_tls_on_inbound_ports.is_empty() {
        e.push(env(
            "LINKERD2_PROXY_INBOUND_PORTS_REQUIRE_TLS",
            &*p.require_tls_on_inbound_ports,
        ));
    }
    let headers = match p.log_http_headers.as_str() {
        "insecure" => "",
        "off" | "" => ",[{headers}]=off,[{request}]=off",
        other => return Err(ContainerError::LogHttpHeaders(other.to_owned())),
    };
    e.extend([
        env(
            "LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED",
            p.enable_shutdown_endpoint.to_string(),
        ),
        env("LINKERD2_PROXY_LOG", format!("{}{headers}", p.log_level)),
        env("LINKERD2_PROXY_LOG_FORMAT", &*p.log_format),
        env(
            "LINKERD2_PROXY_DESTINATION_SVC_ADDR",
            format!("linkerd-dst-headless.{control_ns}.svc.{domain}.:8086"),
        ),
        env(
            "LINKERD2_PROXY_DESTINATION_PROFILE_NETWORKS",
            &*values.cluster_networks,
        ),
        env(
            "LINKERD2_PROXY_POLICY_SVC_ADDR",
            format!("linkerd-policy.{control_ns}.svc.{domain}.:8090"),
        ),
        env(
            "LINKERD2_PROXY_POLICY_WORKLOAD",
            "{\"ns\":\"$(_pod_ns)\", \"pod\":\"$(_pod_name)\"}\n",
        ),
        env(
            "LINKERD2_PROXY_INBOUND_DEFAULT_POLICY",
            &*p.default_inbound_policy,
        ),
        env(
            "LINKERD2_PROXY_POLICY_CLUSTER_NETWORKS",
            &*values.cluster_networks,
        ),
        env(
            "LINKERD2_PROXY_CONTROL_STREAM_INITIAL_TIMEOUT",
            &*p.control_stream_initial_timeout,
        ),
        env(
            "LINKERD2_PROXY_CONTROL_STREAM_IDLE_TIMEOUT",
            &*p.control_stream_idle_timeout,
        ),
        env(
            "LINKERD2_PROXY_CONTROL_STREAM_LIFETIME",
            &*p.control_stream_lifetime,
        ),
    ]);
    for (name, v) in [
        (
            "LINKERD2_PROXY_INBOUND_CONNECT_TIMEOUT",
            &p.inbound_connect_timeout,
        ),
        (
            "LINKERD2_PROXY_OUTBOUND_CONNECT_TIMEOUT",
            &p.outbound_connect_timeout,
        ),
        (
            "LINKERD2_PROXY_OUTBOUND_DISCOVERY_IDLE_TIMEOUT",
            &p.outbound_discovery_cache_unused_timeout,
        ),
        (
            "LINKERD2_PROXY_INBOUND_DISCOVERY_IDLE_TIMEOUT",
            &p.inbound_discovery_cache_unused_timeout,
        ),
    ] {
        if !v.is_empty() {
            e.push(env(name, v.as_str()));
        }
    }
    if p.disable_outbound_protocol_detect_timeout {
        e.push(env("LINKERD2_PROXY_OUTBOUND_DETECT_TIMEOUT", "365d"));
    }
    if p.disable_inbound_protocol_detect_timeout {
        e.push(env("LINKERD2_PROXY_INBOUND_DETECT_TIMEOUT", "365d"));
    }
    let any = any_addr(values);
    let outbound_addrs = if values.disable_ipv6 {
        format!("127.0.0.1:{}", p.outbound_port)
    } else {
        format!("127.0.0.1:{0},[::1]:{0}", p.outbound_port)
    };
    e.extend([
        env(
            "LINKERD2_PROXY_CONTROL_LISTEN_ADDR",
            format!("{any}:{}", p.control_port),
        ),
        env(
            "LINKERD2_PROXY_ADMIN_LISTEN_ADDR",
            format!("{any}:{}", p.admin_port),
        ),
        env(
            "LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR",
            format!("127.0.0.1:{}", p.outbound_port),
        ),
        env("LINKERD2_PROXY_OUTBOUND_LISTEN_ADDRS", outbound_addrs),
        env(
            "LINKERD2_PROXY_INBOUND_LISTEN_ADDR",
            format!("{any}:{}", p.inbound_port),
        ),
        env_field("LINKERD2_PROXY_INBOUND_IPS", "status.podIPs"),
        env("LINKERD2_PROXY_INBOUND_PORTS", &*p.pod_inbound_ports),
    ]);
    if p.is_gateway {
        e.push(env(
            "LINKERD2_PROXY_INBOUND_GATEWAY_SUFFIXES",
            format!("svc.{domain}."),
        ));
    }
    if p.is_ingress {
        e.push(env("LINKERD2_PROXY_INGRESS_MODE", "true"));
    }
    let suffixes = if p.enable_external_profiles {
        ".".to_owned()
    } else {
        format!("svc.{domain}.")
    };
    e.extend([
        env("LINKERD2_PROXY_DESTINATION_PROFILE_SUFFIXES", suffixes),
        env("LINKERD2_PROXY_INBOUND_ACCEPT_KEEPALIVE", "10000ms"),
        env("LINKERD2_PROXY_OUTBOUND_CONNECT_KEEPALIVE", "10000ms"),
        env("LINKERD2_PROXY_INBOUND_ACCEPT_USER_TIMEOUT", "30s"),
        env("LINKERD2_PROXY_OUTBOUND_CONNECT_USER_TIMEOUT", "30s"),
        env(
            "LINKERD2_PROXY_OUTBOUND_METRICS_HOSTNAME_LABELS",
            p.metrics_hostname_labels.to_string(),
        ),
    ]);
    for (direction, params) in [("INBOUND", &p.inbound), ("OUTBOUND", &p.outbound)] {
        for (scope, protos) in params {
            for (proto, ps) in protos {
                for (param, v) in ps {
                    let name = format!(
                        "LINKERD2_PROXY_{direction}_{}_{}_{}",
                        snake_upper(scope),
                        snake_upper(proto),
                        snake_upper(param)
                    );
                    e.push(env(&name, template_text(v)));
                }
            }
        }
    }
    if !p.opaque_ports.is_empty() {
        e.push(env(
            "LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION",
            &*p.opaque_ports,
        ));
    }
    let pem = values.identity_trust_anchors_pem.trim();
    if pem.is_empty() {
        return Err(ContainerError::NoTrustAnchors);
    }
    let token_file = if values.service_account_token_projection {
        "/var/run/secrets/tokens/linkerd-identity-token"
    } else {
        "/var/run/secrets/kubernetes.io/serviceaccount/token"
    };
    let identity = |who: &str| {
        format!("{who}.{control_ns}.serviceaccount.identity.{control_ns}.{trust_domain}")
    };
    e.extend([
        env(
            "LINKERD2_PROXY_DESTINATION_CONTEXT",
            "{\"ns\":\"$(_pod_ns)\", \"nodeName\":\"$(_pod_nodeName)\", \"pod\":\"$(_pod_name)\"}\n",
        ),
        env_field("_pod_sa", "spec.serviceAccountName"),
        env("_l5d_ns", control_ns),
        env("_l5d_trustdomain", trust_domain.as_str()),
        env(
            "LINKERD2_PROXY_IDENTITY_DIR",
            "/var/run/linkerd/identity/end-entity",
        ),
        env("LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS", format!("{pem}\n")),
        env("LINKERD2_PROXY_IDENTITY_TOKEN_FILE", token_file),
        env(
            "LINKERD2_PROXY_IDENTITY_SVC_ADDR",
            format!("linkerd-identity-headless.{control_ns}.svc.{domain}.:8080"),
        ),
        env(
            "LINKERD2_PROXY_IDENTITY_LOCAL_NAME",
            format!("$(_pod_sa).$(_pod_ns).serviceaccount.identity.{control_ns}.{trust_domain}"),
        ),
        env("LINKERD2_PROXY_IDENTITY_SVC_NAME", identity("linkerd-identity")),
        env(
            "LINKERD2_PROXY_DESTINATION_SVC_NAME",
            identity("linkerd-destination"),
        ),
        env("LINKERD2_PROXY_POLICY_SVC_NAME", identity("linkerd-destination")),
    ]);
    if !p.access_log.is_empty() {
        e.push(env("LINKERD2_PROXY_ACCESS_LOG", &*p.access_log));
    }
    if !p.shutdown_grace_period.is_empty() {
        e.push(env(
            "LINKERD2_PROXY_SHUTDOWN_GRACE_PERIOD",
            &*p.shutdown_grace_period,
        ));
    }
    e.extend(p.additional_env.iter().cloned());
    e.extend(p.experimental_env.iter().cloned());
    Ok(e)
}

/// How a Go template prints a value with `quote`: strings as they are, numbers and booleans
/// in Go's `fmt` form.
fn template_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => go_float(n.as_f64().unwrap_or(0.0)),
        },
        other => other.to_string(),
    }
}

/// `%v` of a float64: the shortest representation (`0.1`, `3.14`, `1e+21`).
fn go_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// Sprig's `snakecase | upper`: `keepAliveInterval` → `KEEP_ALIVE_INTERVAL`, `http2` → `HTTP2`.
fn snake_upper(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                out.push('_');
            }
        }
        if c == '-' || c == ' ' {
            out.push('_');
        } else {
            out.extend(c.to_uppercase());
        }
    }
    out
}

fn capabilities_json(c: &Capabilities) -> Json {
    let mut m = Map::new();
    if !c.add.is_empty() {
        m.insert("add".into(), json!(c.add));
    }
    if !c.drop.is_empty() {
        m.insert("drop".into(), json!(c.drop));
    }
    if m.is_empty() {
        Json::Null
    } else {
        Json::Object(m)
    }
}

/// The proxy container.
pub fn proxy(values: &Values, control_ns: &str) -> Result<Json, ContainerError> {
    let p = &values.proxy;
    let (image, policy) = proxy_image(values);
    let mut c = Map::new();
    c.insert("env".into(), Json::Array(proxy_env(values, control_ns)?));
    c.insert("image".into(), Json::String(image));
    c.insert("imagePullPolicy".into(), Json::String(policy));
    c.insert(
        "livenessProbe".into(),
        json!({
            "httpGet": {"path": "/live", "port": p.admin_port},
            "initialDelaySeconds": p.liveness_initial_delay,
            "timeoutSeconds": p.liveness_timeout,
        }),
    );
    c.insert("name".into(), json!("linkerd-proxy"));
    c.insert(
        "ports".into(),
        json!([
            {"containerPort": p.inbound_port, "name": "linkerd-proxy"},
            {"containerPort": p.admin_port, "name": "linkerd-admin"},
        ]),
    );
    c.insert(
        "readinessProbe".into(),
        json!({
            "httpGet": {"path": "/ready", "port": p.admin_port},
            "initialDelaySeconds": p.readiness_initial_delay,
            "timeoutSeconds": p.readiness_timeout,
        }),
    );
    if p.native_sidecar && p.await_ {
        c.insert(
            "startupProbe".into(),
            json!({
                "httpGet": {"path": "/ready", "port": p.admin_port},
                "initialDelaySeconds": p.startup_initial_delay,
                "periodSeconds": p.startup_period,
                "failureThreshold": p.startup_failure_threshold,
            }),
        );
    }
    c.insert("resources".into(), resources(&p.resources));
    let sc = if p.security_context.is_empty() {
        let mut sc = Map::new();
        sc.insert("allowPrivilegeEscalation".into(), json!(false));
        if let Some(caps) = &p.capabilities {
            sc.insert("capabilities".into(), capabilities_json(caps));
        }
        sc.insert("readOnlyRootFilesystem".into(), json!(true));
        sc.insert("runAsNonRoot".into(), json!(true));
        sc.insert("runAsUser".into(), json!(p.uid));
        if p.gid >= 0 {
            sc.insert("runAsGroup".into(), json!(p.gid));
        }
        sc.insert("seccompProfile".into(), json!({"type": "RuntimeDefault"}));
        sc
    } else {
        p.security_context.clone()
    };
    c.insert("securityContext".into(), Json::Object(sc));
    c.insert(
        "terminationMessagePolicy".into(),
        json!("FallbackToLogsOnError"),
    );
    if !p.native_sidecar && (p.await_ || p.wait_before_exit_seconds != 0) {
        let mut lc = Map::new();
        if p.await_ {
            lc.insert(
                "postStart".into(),
                json!({"exec": {"command": [
                    "/usr/lib/linkerd/linkerd-await",
                    "--timeout=2m",
                    format!("--port={}", p.admin_port),
                ]}}),
            );
        }
        if p.wait_before_exit_seconds != 0 {
            lc.insert(
                "preStop".into(),
                json!({"exec": {"command": ["/bin/sleep", p.wait_before_exit_seconds.to_string()]}}),
            );
        }
        c.insert("lifecycle".into(), Json::Object(lc));
    }
    let mut mounts = vec![json!({
        "mountPath": "/var/run/linkerd/identity/end-entity",
        "name": "linkerd-identity-end-entity",
    })];
    if values.service_account_token_projection {
        mounts.push(
            json!({"mountPath": "/var/run/secrets/tokens", "name": "linkerd-identity-token"}),
        );
    }
    if let Some(m) = &p.sa_mount_path {
        mounts.push(mount(m));
    }
    c.insert("volumeMounts".into(), Json::Array(mounts));
    if p.native_sidecar {
        c.insert("restartPolicy".into(), json!("Always"));
    }
    Ok(Json::Object(c))
}

/// `linkerd-init`, which sets up the pod's iptables redirect (no CNI plugin).
pub fn proxy_init(values: &Values) -> Result<Json, ContainerError> {
    let p = &values.proxy;
    let pi = &values.proxy_init;
    let mut args: Vec<String> = Vec::new();
    match pi.iptables_mode.as_str() {
        "nft" => args.extend(
            [
                "--firewall-bin-path",
                "iptables-nft",
                "--firewall-save-bin-path",
                "iptables-nft-save",
            ]
            .map(String::from),
        ),
        "legacy" | "" => {}
        other => return Err(ContainerError::IptablesMode(other.to_owned())),
    }
    if values.disable_ipv6 {
        args.push("--ipv6=false".into());
    }
    args.extend([
        "--incoming-proxy-port".into(),
        p.inbound_port.to_string(),
        "--outgoing-proxy-port".into(),
        p.outbound_port.to_string(),
        "--proxy-uid".into(),
        p.uid.to_string(),
    ]);
    if p.gid >= 0 {
        args.extend(["--proxy-gid".into(), p.gid.to_string()]);
    }
    let mut inbound_ignore = format!("{},{}", p.control_port, p.admin_port);
    if !pi.ignore_inbound_ports.is_empty() {
        inbound_ignore.push(',');
        inbound_ignore.push_str(&pi.ignore_inbound_ports);
    }
    args.extend(["--inbound-ports-to-ignore".into(), inbound_ignore]);
    if !pi.ignore_outbound_ports.is_empty() {
        args.extend([
            "--outbound-ports-to-ignore".into(),
            pi.ignore_outbound_ports.clone(),
        ]);
    }
    if pi.close_wait_timeout_secs != 0 {
        if !pi.run_as_root {
            return Err(ContainerError::CloseWaitNeedsRoot);
        }
        args.extend([
            "--timeout-close-wait-secs".into(),
            pi.close_wait_timeout_secs.to_string(),
        ]);
    }
    for (flag, v) in [
        ("--log-format", &pi.log_format),
        ("--log-level", &pi.log_level),
        ("--subnets-to-ignore", &pi.skip_subnets),
    ] {
        if !v.is_empty() {
            args.extend([flag.to_owned(), v.clone()]);
        }
    }
    let (image, policy) = proxy_image(values);
    let privileged = pi.close_wait_timeout_secs != 0 || pi.privileged;
    let mut add = vec![json!("NET_ADMIN"), json!("NET_RAW")];
    let mut caps = Map::new();
    let mut drop = None;
    if let Some(c) = &pi.capabilities {
        add.extend(c.add.iter().map(|a| json!(a)));
        if !c.drop.is_empty() {
            drop = Some(json!(c.drop));
        }
    }
    caps.insert("add".into(), Json::Array(add));
    if let Some(d) = drop {
        caps.insert("drop".into(), d);
    }
    let mut sc = Map::new();
    sc.insert("allowPrivilegeEscalation".into(), json!(privileged));
    sc.insert("capabilities".into(), Json::Object(caps));
    sc.insert("privileged".into(), json!(privileged));
    if pi.run_as_root {
        sc.insert("runAsGroup".into(), json!(0));
        sc.insert("runAsNonRoot".into(), json!(false));
        sc.insert("runAsUser".into(), json!(0));
    } else {
        let or_nobody = |id: i64| if id == 0 { 65534 } else { id };
        sc.insert("runAsNonRoot".into(), json!(true));
        sc.insert("runAsUser".into(), json!(or_nobody(pi.run_as_user)));
        sc.insert("runAsGroup".into(), json!(or_nobody(pi.run_as_group)));
    }
    sc.insert("readOnlyRootFilesystem".into(), json!(true));
    sc.insert("seccompProfile".into(), json!({"type": "RuntimeDefault"}));

    let mut c = Map::new();
    c.insert("args".into(), json!(args));
    c.insert("image".into(), Json::String(image));
    c.insert(
        "command".into(),
        json!(["/usr/lib/linkerd/linkerd2-proxy-init"]),
    );
    c.insert("imagePullPolicy".into(), Json::String(policy));
    c.insert("name".into(), json!("linkerd-init"));
    c.insert("resources".into(), resources(&p.resources));
    c.insert("securityContext".into(), Json::Object(sc));
    c.insert(
        "terminationMessagePolicy".into(),
        json!("FallbackToLogsOnError"),
    );
    let mut mounts = Vec::new();
    if !values.cni_enabled {
        mounts.push(json!({"mountPath": pi.xt_mount_path, "name": pi.xt_mount_name}));
    }
    if let Some(m) = &pi.sa_mount_path {
        mounts.push(mount(m));
    }
    if !mounts.is_empty() {
        c.insert("volumeMounts".into(), Json::Array(mounts));
    }
    Ok(Json::Object(c))
}

/// `linkerd-network-validator`, which checks the CNI plugin set up the redirect.
pub fn network_validator(values: &Values) -> Json {
    let nv = &values.network_validator;
    let (image, policy) = proxy_image(values);
    let mut c = Map::new();
    c.insert("name".into(), json!("linkerd-network-validator"));
    c.insert("image".into(), Json::String(image));
    c.insert("imagePullPolicy".into(), Json::String(policy));
    c.insert("resources".into(), resources(&values.proxy.resources));
    if nv.enable_security_context {
        let sc = if nv.security_context.is_empty() {
            super::values::Values::chart_defaults()
                .network_validator
                .security_context
        } else {
            nv.security_context.clone()
        };
        c.insert("securityContext".into(), Json::Object(sc));
    }
    c.insert(
        "command".into(),
        json!(["/usr/lib/linkerd/linkerd2-network-validator"]),
    );
    let connect = if !nv.connect_addr.is_empty() {
        nv.connect_addr.clone()
    } else if values.disable_ipv6 {
        "1.1.1.1:20001".to_owned()
    } else {
        "[fd00::1]:20001".to_owned()
    };
    let listen = if !nv.listen_addr.is_empty() {
        nv.listen_addr.clone()
    } else {
        format!("{}:4140", any_addr(values))
    };
    c.insert(
        "args".into(),
        json!([
            "--log-format",
            nv.log_format,
            "--log-level",
            nv.log_level,
            "--connect-addr",
            connect,
            "--listen-addr",
            listen,
            "--timeout",
            nv.timeout,
        ]),
    );
    Json::Object(c)
}

/// `linkerd-debug`, the troubleshooting container (`config.linkerd.io/enable-debug-sidecar`).
pub fn debug(values: &Values) -> Json {
    let d = &values.debug_image;
    let (image, policy) = image(values, &d.name, &d.version, &d.pull_policy);
    json!({
        "image": image,
        "imagePullPolicy": policy,
        "name": "linkerd-debug",
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "livenessProbe": {"exec": {"command": ["true"]}},
        "readinessProbe": {"exec": {"command": ["true"]}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_like_sprig() {
        assert_eq!(snake_upper("keepAliveInterval"), "KEEP_ALIVE_INTERVAL");
        assert_eq!(snake_upper("http2"), "HTTP2");
        assert_eq!(snake_upper("appleSauce"), "APPLE_SAUCE");
        assert_eq!(snake_upper("blueBerry"), "BLUE_BERRY");
    }

    #[test]
    fn no_trust_anchors_is_an_error() {
        let v = Values::chart_defaults();
        assert_eq!(proxy(&v, "linkerd"), Err(ContainerError::NoTrustAnchors));
    }

    #[test]
    fn regular_sidecar_waits_with_post_start() {
        let mut v = Values::chart_defaults();
        v.identity_trust_anchors_pem = "pem".into();
        v.proxy.native_sidecar = false;
        v.proxy.wait_before_exit_seconds = 30;
        let c = proxy(&v, "linkerd").unwrap();
        assert!(c.get("startupProbe").is_none());
        assert!(c.get("restartPolicy").is_none());
        assert_eq!(c["lifecycle"]["preStop"]["exec"]["command"][1], "30");
        assert_eq!(
            c["lifecycle"]["postStart"]["exec"]["command"][2],
            "--port=4191"
        );
    }
}
