//! `init-container-failing`: the mesh's init containers (`istio-init`, `istio-validation`,
//! `linkerd-init`, `linkerd-network-validator`) crash-looping or exiting non-zero, with the
//! container's last message. Injection worked; the pod never starts because traffic
//! redirection could not be set up (or, with CNI, was not set up by the node plugin).

use k8s_openapi::api::core::v1::{ContainerStateTerminated, ContainerStatus, Pod};

use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};
use crate::origin::Origin;
use crate::state::ClusterState;

use super::sidecar::{
    ISTIO_INIT, ISTIO_PROXY, ISTIO_VALIDATION, LINKERD_INIT, LINKERD_PROXY, LINKERD_VALIDATOR,
    ProxyLayout, find_proxy, restart_command,
};

pub struct InitContainerFailing;

const ID: &str = "init-container-failing";

impl Check for InitContainerFailing {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/init-container-failing.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        for p in ctx.state.pods.iter() {
            let pod = &p.obj;
            if !ctx.in_scope(pod.metadata.namespace.as_deref()) {
                continue;
            }
            let statuses = pod
                .status
                .as_ref()
                .and_then(|s| s.init_container_statuses.as_ref());
            for st in statuses.into_iter().flatten() {
                // A native sidecar proxy is an init container too: while it crash-loops, the
                // later init containers and the app never start.
                let native_proxy = [ISTIO_PROXY, LINKERD_PROXY].contains(&st.name.as_str())
                    && find_proxy(pod.spec.as_ref(), &st.name)
                        .is_some_and(|(_, l)| l == ProxyLayout::Native);
                if !native_proxy
                    && ![
                        ISTIO_INIT,
                        ISTIO_VALIDATION,
                        LINKERD_INIT,
                        LINKERD_VALIDATOR,
                    ]
                    .contains(&st.name.as_str())
                {
                    continue;
                }
                if let Some(f) = failing(st) {
                    out.push(finding(ctx.state, pod, &p.origin, st, &f));
                }
            }
        }
        Ok(())
    }
}

/// How a container is failing: the state's reason, and the last termination.
struct Failure<'a> {
    /// `CrashLoopBackOff`, or `Error` / exit code for a terminated container.
    state: String,
    last: Option<&'a ContainerStateTerminated>,
}

fn failing(st: &ContainerStatus) -> Option<Failure<'_>> {
    let state = st.state.as_ref();
    let last = st.last_state.as_ref().and_then(|s| s.terminated.as_ref());
    if let Some(w) = state.and_then(|s| s.waiting.as_ref())
        && w.reason.as_deref() == Some("CrashLoopBackOff")
    {
        return Some(Failure {
            state: "waiting: CrashLoopBackOff".to_owned(),
            last,
        });
    }
    if let Some(t) = state.and_then(|s| s.terminated.as_ref())
        && t.exit_code != 0
    {
        return Some(Failure {
            state: format!(
                "terminated: {} (exit code {})",
                t.reason.as_deref().unwrap_or("Error"),
                t.exit_code
            ),
            last: Some(t),
        });
    }
    None
}

/// What the container's last output means, and the fix, by container and message.
fn diagnose(name: &str, message: &str) -> (&'static str, Fix) {
    let m = message.to_ascii_lowercase();
    let iptables_mode = m.contains("nf_tables") || m.contains("nftables") || m.contains("legacy");
    let permission = m.contains("permission denied")
        || m.contains("operation not permitted")
        || m.contains("can't initialize iptables");
    match name {
        ISTIO_PROXY | LINKERD_PROXY => (
            "the proxy runs as a native sidecar (an init container with restartPolicy: Always) and keeps crashing, so the later init containers and the app containers never start",
            Fix::ProxyLogs,
        ),
        ISTIO_VALIDATION => (
            "the istio-cni node plugin did not set up the pod's traffic redirection (istio-cni not installed or not ready on this node)",
            Fix::IstioCni,
        ),
        LINKERD_VALIDATOR => (
            "the linkerd-cni node plugin did not set up the pod's traffic redirection (linkerd-cni not installed or not ready on this node)",
            Fix::LinkerdCni,
        ),
        ISTIO_INIT if permission => (
            "istio-init could not change iptables: the container lacks NET_ADMIN/NET_RAW (a policy or runtime dropped them) or the node's iptables backend is unavailable",
            Fix::IstioUseCni,
        ),
        ISTIO_INIT => (
            "istio-init could not program the pod's iptables rules",
            Fix::IstioUseCni,
        ),
        _ if iptables_mode => (
            "linkerd-init used an iptables backend (legacy vs nft) the node does not support",
            Fix::LinkerdNft,
        ),
        _ => (
            "linkerd-init could not program the pod's iptables rules (NET_ADMIN/NET_RAW missing or iptables unavailable)",
            Fix::LinkerdUseCni,
        ),
    }
}

enum Fix {
    /// Read the crashing proxy's own log.
    ProxyLogs,
    IstioCni,
    LinkerdCni,
    IstioUseCni,
    LinkerdNft,
    LinkerdUseCni,
}

fn finding(
    state: &ClusterState,
    pod: &Pod,
    origin: &Origin,
    st: &ContainerStatus,
    f: &Failure<'_>,
) -> Finding {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or("");
    let last_message = f
        .last
        .and_then(|t| t.message.as_deref())
        .map(str::trim)
        .filter(|m| !m.is_empty());
    let last_summary = f.last.map(|t| {
        format!(
            "{} (exit code {})",
            t.reason.as_deref().unwrap_or("Error"),
            t.exit_code
        )
    });
    let (meaning, fix) = diagnose(&st.name, last_message.unwrap_or(""));
    let mut evidence = vec![Evidence::new(
        format!("status.initContainerStatuses[name={}].state", st.name),
        f.state.clone(),
        if matches!(fix, Fix::ProxyLogs) {
            "running (a native sidecar keeps running)"
        } else {
            "terminated: Completed (exit code 0)"
        },
        origin,
    )];
    if let Some(s) = &last_summary {
        evidence.push(Evidence::new(
            format!(
                "status.initContainerStatuses[name={}].lastState.terminated",
                st.name
            ),
            s.clone(),
            "exit code 0",
            origin,
        ));
    }
    if let Some(m) = last_message {
        evidence.push(Evidence::new(
            format!(
                "status.initContainerStatuses[name={}].lastState.terminated.message",
                st.name
            ),
            m,
            "(none)",
            origin,
        ));
    }
    if st.restart_count > 0 {
        evidence.push(Evidence::new(
            format!(
                "status.initContainerStatuses[name={}].restartCount",
                st.name
            ),
            st.restart_count.to_string(),
            "0",
            origin,
        ));
    }
    let last_text = match (last_message, &last_summary) {
        (Some(m), _) => format!(": last message \"{}\"", first_line(m)),
        (None, Some(s)) => format!(": last exit {s}"),
        (None, None) => String::new(),
    };
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("<node>");
    let retry = format!("kubectl -n {ns} delete pod {name}");
    let fix_text = match fix {
        Fix::ProxyLogs => format!(
            "kubectl -n {ns} logs {name} -c {} --previous   # the proxy's own error (bootstrap, certificates, istiod/destination reachability), then {retry}",
            st.name
        ),
        Fix::IstioCni => {
            let ds = cni_daemonset(state, "istio-cni-node")
                .unwrap_or_else(|| ("istio-system".to_owned(), "istio-cni-node".to_owned()));
            format!(
                "kubectl -n {} get pods -l k8s-app={} --field-selector spec.nodeName={node} && {retry}   # once the CNI pod on the node is Ready",
                ds.0, ds.1
            )
        }
        Fix::LinkerdCni => {
            let ds = cni_daemonset(state, "linkerd-cni")
                .unwrap_or_else(|| ("linkerd-cni".to_owned(), "linkerd-cni".to_owned()));
            format!(
                "kubectl -n {} rollout status daemonset/{} && {retry}",
                ds.0, ds.1
            )
        }
        Fix::IstioUseCni => format!(
            "istioctl install --set components.cni.enabled=true && {}   # istio-validation replaces istio-init and needs no NET_ADMIN",
            restart_command(state, pod)
        ),
        Fix::LinkerdNft => format!(
            "linkerd upgrade --set proxyInit.iptablesMode=nft | kubectl apply -f - && {}",
            restart_command(state, pod)
        ),
        Fix::LinkerdUseCni => format!(
            "linkerd install-cni | kubectl apply -f - && linkerd upgrade --linkerd-cni-enabled | kubectl apply -f - && {}",
            restart_command(state, pod)
        ),
    };
    Finding {
        check: ID.to_owned(),
        severity: Severity::Error,
        object: ObjectRef::new("Pod", Some(ns), name),
        message: format!(
            "pod {ns}/{name}: init container {} is failing ({}){last_text}: {meaning}",
            st.name, f.state
        ),
        evidence,
        fix: fix_text,
    }
}

/// The namespace and name of a CNI DaemonSet in the state, if any.
fn cni_daemonset(state: &ClusterState, name: &str) -> Option<(String, String)> {
    state
        .daemonsets
        .iter()
        .find(|d| d.obj.metadata.name.as_deref() == Some(name))
        .map(|d| {
            (
                d.obj.metadata.namespace.clone().unwrap_or_default(),
                name.to_owned(),
            )
        })
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnoses_by_container_and_message() {
        assert!(matches!(diagnose(ISTIO_VALIDATION, "").1, Fix::IstioCni));
        assert!(matches!(
            diagnose(
                LINKERD_INIT,
                "iptables-legacy: can't find table nat; nf_tables in use"
            )
            .1,
            Fix::LinkerdNft
        ));
        assert!(matches!(
            diagnose(ISTIO_INIT, "iptables-restore: Permission denied").1,
            Fix::IstioUseCni
        ));
        assert!(
            diagnose(ISTIO_INIT, "Permission denied")
                .0
                .contains("NET_ADMIN")
        );
    }
}
