//! `pod-security-blocks-sidecar`: the namespace's Pod Security `enforce` level rejects what the
//! injector adds. The webhook mutates first and Pod Security admission validates afterwards, so
//! a pod that would be fine without a sidecar is refused with one.
//!
//! What the injectors add is read from the facts of their templates (Istio 1.24 sidecar
//! template, Linkerd's proxy-init partial): only the fields Pod Security looks at.

use crate::check::{Check, CheckContext, Evidence, Finding, Severity, Skip};
use crate::decision::Mesh;
use crate::mesh::istio::config::InjectorSettings;
use crate::origin::Origin;
use crate::workload::PodSubject;

use super::sidecar::{
    ISTIO_INIT, ISTIO_PROXY, ISTIO_VALIDATION, LINKERD_INIT, istio_cni, istio_settings,
    istio_values, linkerd_cni, will_be_admitted_injected,
};
use super::util::{subject_name, subject_ref};

pub struct PodSecurityBlocksSidecar;

const ID: &str = "pod-security-blocks-sidecar";
const ENFORCE: &str = "pod-security.kubernetes.io/enforce";

/// The capabilities the baseline level lets a container add.
const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Baseline,
    Restricted,
}

/// One injected container, as Pod Security sees it.
#[derive(Clone)]
struct Injected {
    name: &'static str,
    add_caps: Vec<&'static str>,
    privileged: bool,
    /// `runAsNonRoot: false` / `runAsUser: 0`.
    runs_as_root: bool,
    drops_all: bool,
    /// Where the container's settings come from, for the evidence.
    why: String,
    origin: Origin,
}

/// A Pod Security violation, worded as the API server words it.
struct Violation {
    policy: &'static str,
    detail: String,
}

impl Check for PodSecurityBlocksSidecar {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/pod-security-blocks-sidecar.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        // What Linkerd injects depends on linkerd-config only: read it once, not once per pod
        // (finding it scans every ConfigMap).
        let linkerd = std::cell::OnceCell::new();
        for (subject, verdict, mesh) in will_be_admitted_injected(ctx.subjects) {
            let Some(ns) = ctx.state.namespaces.get(None, &subject.namespace) else {
                continue;
            };
            let Some(level_text) = ns.obj.metadata.labels.as_ref().and_then(|l| l.get(ENFORCE))
            else {
                continue;
            };
            let level = match level_text.as_str() {
                "baseline" => Level::Baseline,
                "restricted" => Level::Restricted,
                _ => continue,
            };
            let (containers, fix) = match mesh {
                Mesh::Istio => istio_containers(subject, istio_settings(ctx.engine, verdict)),
                Mesh::Linkerd => linkerd.get_or_init(|| linkerd_containers(ctx)).clone(),
            };
            let violations = violations(level, subject, &containers);
            if violations.is_empty() {
                continue;
            }
            out.push(finding(
                subject,
                level_text,
                &ns.origin,
                &containers,
                &violations,
                fix,
            ));
        }
        Ok(())
    }
}

/// What Istio adds: `istio-init` (NET_ADMIN, NET_RAW, root) unless the CNI plugin is on, then
/// `istio-validation` (no capabilities, 1337); `istio-proxy` drops ALL and runs as 1337 unless
/// TPROXY interception or `capNetBindService` make it root.
fn istio_containers(
    subject: &PodSubject<'_>,
    settings: Option<&InjectorSettings>,
) -> (Vec<Injected>, Fix) {
    let ann = |k: &str| {
        subject
            .meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(k))
            .map(String::as_str)
    };
    let values = settings.and_then(istio_values);
    let value_str = |p: &str| -> Option<String> {
        values.as_ref()?.pointer(p).map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    let cm = settings
        .and_then(|s| s.configmap.clone())
        .unwrap_or_else(|| "the injector values".to_owned());
    let (cni, cni_field) = istio_cni(settings);
    let cfg_origin = settings.map_or(Origin::Derived, |s| s.origin.clone());
    let privileged = value_str("/global/proxy/privileged").as_deref() == Some("true");
    let interception = ann("sidecar.istio.io/interceptionMode").unwrap_or("REDIRECT");
    let tproxy = interception == "TPROXY";
    let cap_bind = ann("sidecar.istio.io/capNetBindService")
        .map(str::to_owned)
        .or_else(|| value_str("/global/proxy/capNetBindService"))
        .as_deref()
        == Some("true");
    let mut out = Vec::new();
    if interception != "NONE" {
        let cni_why = match cni_field {
            Some(f) => format!("{f}={cni} in {cm}"),
            None => format!("pilot.cni.enabled is not set in {cm} (chart default false)"),
        };
        if cni {
            out.push(Injected {
                name: ISTIO_VALIDATION,
                add_caps: Vec::new(),
                privileged,
                runs_as_root: false,
                drops_all: true,
                why: cni_why,
                origin: cfg_origin.clone(),
            });
        } else {
            out.push(Injected {
                name: ISTIO_INIT,
                add_caps: vec!["NET_ADMIN", "NET_RAW"],
                privileged,
                runs_as_root: true,
                drops_all: true,
                why: cni_why,
                origin: cfg_origin.clone(),
            });
        }
    }
    let mut proxy_caps = Vec::new();
    if tproxy {
        proxy_caps.push("NET_ADMIN");
    }
    if cap_bind {
        proxy_caps.push("NET_BIND_SERVICE");
    }
    out.push(Injected {
        name: ISTIO_PROXY,
        add_caps: proxy_caps,
        privileged,
        runs_as_root: tproxy || cap_bind,
        drops_all: true,
        why: if tproxy || cap_bind {
            "interceptionMode TPROXY or capNetBindService makes istio-proxy run as root".to_owned()
        } else {
            "istio-proxy runs as 1337 with runAsNonRoot and drops ALL".to_owned()
        },
        origin: if tproxy || cap_bind {
            subject.origin.clone()
        } else {
            cfg_origin
        },
    });
    (out, Fix::IstioCni)
}

/// What Linkerd adds: `linkerd-init` with NET_ADMIN and NET_RAW unless `cniEnabled`, then
/// `linkerd-network-validator`, which adds no capability. Only the capabilities are evaluated:
/// they are what every Linkerd version adds, whatever its other security settings.
fn linkerd_containers(ctx: &CheckContext<'_>) -> (Vec<Injected>, Fix) {
    if linkerd_cni(ctx.state) {
        return (Vec::new(), Fix::LinkerdCni);
    }
    (
        vec![Injected {
            name: LINKERD_INIT,
            add_caps: vec!["NET_ADMIN", "NET_RAW"],
            privileged: false,
            runs_as_root: false,
            drops_all: true,
            why: "cniEnabled is not true in linkerd-config".to_owned(),
            origin: super::sidecar::linkerd_values(ctx.state)
                .map_or(Origin::Derived, |(_, o, _)| o),
        }],
        Fix::LinkerdCni,
    )
}

/// How the init container can be avoided for this mesh.
#[derive(Debug, Clone, Copy)]
enum Fix {
    IstioCni,
    LinkerdCni,
}

fn pod_has_seccomp(subject: &PodSubject<'_>) -> bool {
    subject
        .spec
        .and_then(|s| s.security_context.as_ref())
        .and_then(|c| c.seccomp_profile.as_ref())
        .is_some_and(|p| p.type_ == "RuntimeDefault" || p.type_ == "Localhost")
}

/// The policies of the level the injected containers fail, in Pod Security's words.
fn violations(level: Level, subject: &PodSubject<'_>, containers: &[Injected]) -> Vec<Violation> {
    let mut out = Vec::new();
    let names = |f: &dyn Fn(&Injected) -> bool| -> Vec<&'static str> {
        containers.iter().filter(|c| f(c)).map(|c| c.name).collect()
    };
    let quoted = |v: &[&str]| {
        v.iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let privileged = names(&|c| c.privileged);
    if !privileged.is_empty() {
        out.push(Violation {
            policy: "privileged",
            detail: format!(
                "containers {} must not set securityContext.privileged=true",
                quoted(&privileged)
            ),
        });
    }
    // Baseline allows a default set of capabilities; NET_ADMIN and NET_RAW are not in it.
    // Restricted allows adding only NET_BIND_SERVICE.
    for c in containers {
        let bad: Vec<&str> = c
            .add_caps
            .iter()
            .copied()
            .filter(|cap| match level {
                Level::Baseline => !BASELINE_CAPABILITIES.contains(cap),
                Level::Restricted => *cap != "NET_BIND_SERVICE",
            })
            .collect();
        if !bad.is_empty() {
            let policy = match level {
                Level::Baseline => "non-default capabilities",
                Level::Restricted => "unrestricted capabilities",
            };
            out.push(Violation {
                policy,
                detail: format!(
                    "container \"{}\" must not include {} in securityContext.capabilities.add",
                    c.name,
                    quoted(&bad)
                ),
            });
        }
    }
    if level == Level::Restricted {
        let root = names(&|c| c.runs_as_root);
        if !root.is_empty() {
            out.push(Violation {
                policy: "runAsNonRoot != true",
                detail: format!(
                    "containers {} must not set securityContext.runAsNonRoot=false or runAsUser=0",
                    quoted(&root)
                ),
            });
        }
        let no_drop = names(&|c| !c.drops_all);
        if !no_drop.is_empty() {
            out.push(Violation {
                policy: "unrestricted capabilities",
                detail: format!(
                    "containers {} must set securityContext.capabilities.drop=[\"ALL\"]",
                    quoted(&no_drop)
                ),
            });
        }
        // The injected containers set no seccompProfile; only a pod-level one covers them.
        if !pod_has_seccomp(subject) && !containers.is_empty() {
            let all: Vec<&str> = containers.iter().map(|c| c.name).collect();
            out.push(Violation {
                policy: "seccompProfile",
                detail: format!(
                    "pod or containers {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
                    quoted(&all)
                ),
            });
        }
    }
    out
}

fn finding(
    subject: &PodSubject<'_>,
    level: &str,
    ns_origin: &Origin,
    containers: &[Injected],
    violations: &[Violation],
    fix: Fix,
) -> Finding {
    let ns = &subject.namespace;
    let added: Vec<&str> = containers.iter().map(|c| c.name).collect();
    let mut evidence = vec![Evidence::new(
        format!("namespace {ns}: metadata.labels.{ENFORCE}"),
        level,
        "a level that admits the injected containers (privileged, or CNI mode for the mesh)",
        ns_origin,
    )];
    for v in violations {
        evidence.push(Evidence::new(
            v.policy,
            v.detail.clone(),
            format!("allowed by Pod Security \"{level}\""),
            &subject.origin,
        ));
    }
    for c in containers {
        evidence.push(Evidence::new(
            format!("injected container {}", c.name),
            c.why.clone(),
            "settings the level admits",
            &c.origin,
        ));
    }
    let policies: Vec<&str> = {
        let mut p: Vec<&str> = violations.iter().map(|v| v.policy).collect();
        p.dedup();
        p
    };
    let only_seccomp = violations.iter().all(|v| v.policy == "seccompProfile");
    let init_blocked = violations.iter().any(|v| {
        v.detail.contains(&format!("\"{ISTIO_INIT}\""))
            || v.detail.contains(&format!("\"{LINKERD_INIT}\""))
    }) && !only_seccomp;
    let target = subject_target(subject);
    let fix_text = if only_seccomp {
        if subject.target.kind == "Pod" {
            format!(
                "kubectl -n {ns} get {target} -o yaml > pod.yaml   # add spec.securityContext.seccompProfile.type: RuntimeDefault, then: kubectl replace --force -f pod.yaml"
            )
        } else {
            format!(
                "kubectl -n {ns} patch {target} --type merge -p '{}'",
                seccomp_patch(subject)
            )
        }
    } else if init_blocked {
        match fix {
            Fix::IstioCni => "istioctl install --set components.cni.enabled=true   # then istio-validation replaces istio-init and needs no capabilities; restart the workload afterwards".to_owned(),
            Fix::LinkerdCni => "linkerd install-cni | kubectl apply -f - && linkerd upgrade --linkerd-cni-enabled | kubectl apply -f -   # linkerd-network-validator replaces linkerd-init".to_owned(),
        }
    } else {
        format!(
            "kubectl -n {ns} edit {target}   # remove the pod template annotations sidecar.istio.io/interceptionMode: TPROXY and sidecar.istio.io/capNetBindService (they make istio-proxy run as root); keep global.proxy.privileged=false"
        )
    };
    Finding {
        check: ID.to_owned(),
        severity: Severity::Error,
        object: subject_ref(subject),
        message: format!(
            "{} will be rejected after injection: namespace \"{ns}\" enforces Pod Security \"{level}\", which the injected {} violate ({})",
            subject_name(subject),
            added.join(", "),
            policies.join(", ")
        ),
        evidence,
        fix: fix_text,
    }
}

/// `deployment/web`, or `pod/web-1`.
fn subject_target(subject: &PodSubject<'_>) -> String {
    format!(
        "{}/{}",
        subject.target.kind.to_ascii_lowercase(),
        subject.target.name
    )
}

fn seccomp_patch(subject: &PodSubject<'_>) -> &'static str {
    match subject.target.kind.as_str() {
        "Pod" => r#"{"spec":{"securityContext":{"seccompProfile":{"type":"RuntimeDefault"}}}}"#,
        "CronJob" => {
            r#"{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"securityContext":{"seccompProfile":{"type":"RuntimeDefault"}}}}}}}}"#
        }
        _ => {
            r#"{"spec":{"template":{"spec":{"securityContext":{"seccompProfile":{"type":"RuntimeDefault"}}}}}}"#
        }
    }
}
