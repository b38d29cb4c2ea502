//! `injection-failed-events`: `FailedCreate` events whose message shows a mutating webhook
//! failing, decoded into their cause (untrusted certificate, no endpoints, timeout, refused
//! connection, a denial by the injector) and linked to the webhook configuration in the state.
//!
//! The message formats are the API server's (`ErrCallingWebhook`, `ErrWebhookRejection`); the
//! controller prefixes them with `Error creating: `.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Event;

use crate::admission::{CompiledWebhook, WebhookTarget};
use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};
use crate::engine::WebhookRole;
use crate::origin::Origin;

pub struct InjectionFailedEvents;

const ID: &str = "injection-failed-events";

/// Kinds whose controllers create pods and report `FailedCreate`.
const POD_CREATORS: [&str; 4] = ["ReplicaSet", "Job", "StatefulSet", "DaemonSet"];

/// What the API server's message says went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cause {
    UnknownAuthority,
    Expired,
    WrongName,
    NoEndpoints,
    ServiceNotFound,
    Timeout,
    Refused,
    Denied,
    Other,
}

impl Cause {
    fn classify(message: &str) -> Cause {
        let m = message;
        if m.contains("certificate signed by unknown authority") {
            Cause::UnknownAuthority
        } else if m.contains("certificate has expired or is not yet valid") {
            Cause::Expired
        } else if m.contains("x509: certificate is valid for")
            || m.contains("relies on legacy Common Name field")
        {
            Cause::WrongName
        } else if m.contains("no endpoints available for service") {
            Cause::NoEndpoints
        } else if m.contains("service \"") && m.contains("\" not found") {
            Cause::ServiceNotFound
        } else if m.contains("context deadline exceeded")
            || m.contains("i/o timeout")
            || m.contains("Client.Timeout exceeded")
        {
            Cause::Timeout
        } else if m.contains("connection refused") {
            Cause::Refused
        } else if m.contains("denied the request") {
            Cause::Denied
        } else {
            Cause::Other
        }
    }

    /// The short text the API server printed for this cause.
    fn observed(self) -> &'static str {
        match self {
            Cause::UnknownAuthority => "x509: certificate signed by unknown authority",
            Cause::Expired => "x509: certificate has expired or is not yet valid",
            Cause::WrongName => "x509: certificate is not valid for the service name",
            Cause::NoEndpoints => "no endpoints available for service",
            Cause::ServiceNotFound => "service not found",
            Cause::Timeout => "context deadline exceeded / i/o timeout",
            Cause::Refused => "connect: connection refused",
            Cause::Denied => "admission webhook denied the request",
            Cause::Other => "failed calling webhook",
        }
    }

    /// What it means, in a sentence, and the catalog check that looks at the cause.
    fn meaning(self) -> (&'static str, Option<&'static str>) {
        match self {
            Cause::UnknownAuthority => (
                "the API server does not trust the injector's serving certificate: the webhook's caBundle does not match the CA that signed it",
                Some("cabundle-mismatch"),
            ),
            Cause::Expired => (
                "the injector's serving certificate (or its CA) has expired",
                Some("cert-expiry"),
            ),
            Cause::WrongName => (
                "the injector's serving certificate does not name the webhook service",
                Some("cert-chain"),
            ),
            Cause::NoEndpoints => (
                "the injector service has no ready pod behind it",
                Some("webhook-endpoints-not-ready"),
            ),
            Cause::ServiceNotFound => (
                "the service the webhook points at does not exist",
                Some("webhook-service-missing"),
            ),
            Cause::Timeout => (
                "the API server got no answer within timeoutSeconds: the network path from the control plane to the injector pods (firewall, NetworkPolicy, private cluster) or a slow injector",
                Some("webhook-timeout"),
            ),
            Cause::Refused => (
                "nothing accepted the connection on the service's ClusterIP: no ready injector pod, or the service's targetPort is wrong",
                Some("webhook-endpoints-not-ready"),
            ),
            Cause::Denied => (
                "the injector was reached and rejected the pod (always fatal, whatever the failurePolicy)",
                None,
            ),
            Cause::Other => ("the API server could not call the webhook", None),
        }
    }
}

impl Check for InjectionFailedEvents {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/injection-failed-events.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        // One finding per (object, webhook, cause), counting repeated events.
        let mut grouped: BTreeMap<(ObjectRef, String, Cause), Group<'_>> = BTreeMap::new();
        for ev in ctx.state.events.iter() {
            let e = &ev.obj;
            if e.reason.as_deref() != Some("FailedCreate") {
                continue;
            }
            let involved = &e.involved_object;
            let kind = involved.kind.as_deref().unwrap_or("");
            if !POD_CREATORS.contains(&kind) {
                continue;
            }
            let ns = involved
                .namespace
                .as_deref()
                .or(e.metadata.namespace.as_deref());
            if !ctx.in_scope(ns) {
                continue;
            }
            let Some(message) = e.message.as_deref() else {
                continue;
            };
            let Some(webhook) = webhook_name(message) else {
                continue;
            };
            if !is_injector(ctx, webhook) {
                continue;
            }
            let object = ObjectRef::new(kind, ns, involved.name.as_deref().unwrap_or(""));
            let cause = Cause::classify(message);
            let g = grouped
                .entry((object, webhook.to_owned(), cause))
                .or_insert(Group {
                    event: e,
                    origin: &ev.origin,
                    count: 0,
                });
            g.count += e.count.unwrap_or(1).max(1);
            // Keep the newest event's text.
            if e.last_timestamp > g.event.last_timestamp {
                g.event = e;
                g.origin = &ev.origin;
            }
        }
        for ((object, webhook, cause), g) in grouped {
            out.push(finding(ctx, object, &webhook, cause, &g));
        }
        Ok(())
    }
}

struct Group<'a> {
    event: &'a Event,
    origin: &'a Origin,
    count: i32,
}

/// The webhook named in an API server message: `failed calling webhook "X"` or
/// `admission webhook "X" denied the request`.
fn webhook_name(message: &str) -> Option<&str> {
    for marker in ["failed calling webhook \"", "admission webhook \""] {
        if let Some(start) = message.find(marker) {
            let rest = &message[start + marker.len()..];
            return rest.split_once('"').map(|(name, _)| name);
        }
    }
    None
}

/// Whether the named webhook is a mesh injector: by its role when it is in the input, else by
/// the names Istio and Linkerd give their injector webhooks.
fn is_injector(ctx: &CheckContext<'_>, name: &str) -> bool {
    let roles: Vec<&WebhookRole> = ctx
        .engine
        .webhooks
        .iter()
        .zip(&ctx.engine.roles)
        .filter(|(w, _)| w.name.as_ref() == name)
        .map(|(_, r)| r)
        .collect();
    if roles.is_empty() {
        return crate::mesh::istio::install::is_istio_injector_webhook(name)
            || name == crate::mesh::linkerd::WEBHOOK_NAME;
    }
    roles.iter().any(|r| **r != WebhookRole::Other)
}

/// The text after the last `": "` of the failure (the Go error chain's innermost cause), or
/// the denial's reason.
fn cause_text(message: &str) -> &str {
    if let Some((_, reason)) = message.split_once("denied the request: ") {
        return reason.trim();
    }
    // `Post "https://…": <cause>`: the URL is quoted, the cause follows it.
    if let Some(idx) = message.rfind("\": ") {
        return message[idx + 3..].trim();
    }
    message.trim()
}

/// The webhook the message names, preferring the one whose service host the message contains
/// (revisions reuse webhook names).
fn find_webhook<'e>(
    ctx: &'e CheckContext<'_>,
    name: &str,
    message: &str,
) -> Option<&'e CompiledWebhook> {
    let named: Vec<&CompiledWebhook> = ctx
        .engine
        .webhooks
        .iter()
        .filter(|w| w.name.as_ref() == name)
        .collect();
    named
        .iter()
        .find(|w| match &w.client_config.target {
            WebhookTarget::Service {
                namespace, name, ..
            } => message.contains(&format!("{name}.{namespace}.svc")),
            WebhookTarget::Url(u) => message.contains(u.as_str()),
        })
        .or_else(|| named.first())
        .copied()
}

fn finding(
    ctx: &CheckContext<'_>,
    object: ObjectRef,
    webhook: &str,
    cause: Cause,
    g: &Group<'_>,
) -> Finding {
    let message = g.event.message.as_deref().unwrap_or("");
    let (meaning, related) = cause.meaning();
    let wh = find_webhook(ctx, webhook, message);
    let mut evidence = vec![Evidence::new(
        "event.message",
        cause_text(message),
        "pods created without a webhook error",
        g.origin,
    )];
    if g.count > 1 {
        evidence.push(Evidence::new(
            "event.count",
            g.count.to_string(),
            "0",
            g.origin,
        ));
    }
    let (svc_ns, svc_name, svc_port) = match wh.map(|w| &w.client_config.target) {
        Some(WebhookTarget::Service {
            namespace,
            name,
            port,
            ..
        }) => (namespace.clone(), name.clone(), *port),
        _ => (String::new(), String::new(), 443),
    };
    let configuration = match wh {
        Some(w) => {
            let origin = w.origin.clone().unwrap_or(Origin::Derived);
            let target = match &w.client_config.target {
                WebhookTarget::Service {
                    namespace,
                    name,
                    port,
                    path,
                } => format!(
                    "service {namespace}/{name}:{port}{}",
                    path.as_deref().unwrap_or("")
                ),
                WebhookTarget::Url(u) => u.clone(),
            };
            evidence.push(Evidence::new(
                format!(
                    "mutatingwebhookconfiguration {}: webhooks[{}].clientConfig",
                    w.configuration, w.index
                ),
                target,
                "a reachable, trusted injector",
                &origin,
            ));
            format!(" (mutatingwebhookconfiguration {})", w.configuration)
        }
        None => {
            evidence.push(Evidence::new(
                "mutatingwebhookconfigurations",
                format!("no webhook named \"{webhook}\" in the input"),
                format!("the configuration that holds \"{webhook}\""),
                &Origin::Derived,
            ));
            String::new()
        }
    };
    let see = related
        .map(|r| format!("; see check {r}"))
        .unwrap_or_default();
    let kind = object.kind.to_ascii_lowercase();
    let ns = object.namespace.clone().unwrap_or_default();
    let msg = format!(
        "{kind} {ns}/{} cannot create pods: webhook \"{webhook}\"{configuration} failed with \"{}\": {meaning}{see}",
        object.name,
        cause.observed(),
    );
    let fix = fix_for(cause, &svc_ns, &svc_name, svc_port, &object, ctx);
    Finding {
        check: ID.to_owned(),
        severity: Severity::Error,
        object,
        message: msg,
        evidence,
        fix,
    }
}

fn fix_for(
    cause: Cause,
    svc_ns: &str,
    svc_name: &str,
    port: i32,
    object: &ObjectRef,
    ctx: &CheckContext<'_>,
) -> String {
    let (ns, name) = if svc_name.is_empty() {
        ("istio-system", "istiod")
    } else {
        (svc_ns, svc_name)
    };
    let linkerd = name.starts_with("linkerd");
    match cause {
        Cause::UnknownAuthority | Cause::Expired | Cause::WrongName => {
            if linkerd {
                "linkerd upgrade | kubectl apply -f -   # re-issues the injector certificate and the webhook caBundle together".to_owned()
            } else {
                format!(
                    "kubectl -n {ns} rollout restart deployment/{name}   # istiod re-patches the webhook caBundle with its current CA on start"
                )
            }
        }
        Cause::NoEndpoints | Cause::Refused => format!(
            "kubectl -n {ns} rollout restart deployment/{name} && kubectl -n {ns} rollout status deployment/{name}"
        ),
        Cause::ServiceNotFound => format!(
            "kubectl get mutatingwebhookconfigurations -o yaml | grep -n 'name: {name}'   # remove the stale configuration or reinstall the service it names"
        ),
        Cause::Timeout => {
            let target = target_port(ctx, ns, name, port);
            format!(
                "allow TCP {target} from the control plane to the {ns}/{name} pods (e.g. GKE private clusters: gcloud compute firewall-rules create allow-apiserver-to-{name} --allow tcp:{target} --source-ranges <master CIDR> --target-tags <node tag>)"
            )
        }
        Cause::Denied | Cause::Other => format!(
            "kubectl -n {ns} logs deployment/{name} --since=1h | grep -i '{}'   # the injector's log says why; fix the pod template or the injector config it names",
            object.name
        ),
    }
}

/// The port the injector pods listen on: the Service's targetPort for the webhook port, else
/// the mesh default (Istio 15017, Linkerd 8443).
fn target_port(ctx: &CheckContext<'_>, ns: &str, name: &str, port: i32) -> String {
    let from_service = ctx
        .state
        .services
        .get(Some(ns), name)
        .and_then(|s| s.obj.spec.as_ref()?.ports.as_ref())
        .and_then(|ports| ports.iter().find(|p| p.port == port))
        .and_then(|p| p.target_port.as_ref())
        .map(|t| match t {
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => i.to_string(),
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
        });
    from_service.unwrap_or_else(|| {
        if name.starts_with("linkerd") {
            "8443".to_owned()
        } else {
            "15017".to_owned()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const X509: &str = r#"Error creating: Internal error occurred: failed calling webhook "namespace.sidecar-injector.istio.io": failed to call webhook: Post "https://istiod.istio-system.svc:443/inject?timeout=10s": tls: failed to verify certificate: x509: certificate signed by unknown authority"#;

    #[test]
    fn names_the_webhook() {
        assert_eq!(
            webhook_name(X509),
            Some("namespace.sidecar-injector.istio.io")
        );
        assert_eq!(
            webhook_name(
                r#"Error creating: admission webhook "linkerd-proxy-injector.linkerd.io" denied the request: bad annotation"#
            ),
            Some("linkerd-proxy-injector.linkerd.io")
        );
        assert_eq!(
            webhook_name("Error creating: pods \"x\" is forbidden: exceeded quota"),
            None
        );
    }

    #[test]
    fn classifies_causes() {
        assert_eq!(Cause::classify(X509), Cause::UnknownAuthority);
        assert_eq!(
            Cause::classify(
                r#"failed calling webhook "x": failed to call webhook: Post "https://linkerd-proxy-injector.linkerd.svc:443/?timeout=10s": context deadline exceeded"#
            ),
            Cause::Timeout
        );
        assert_eq!(
            Cause::classify(
                r#"failed calling webhook "x": Post "https://istiod.istio-system.svc:443/inject": dial tcp 10.0.0.1:15017: i/o timeout"#
            ),
            Cause::Timeout
        );
        assert_eq!(
            Cause::classify(
                r#"failed calling webhook "x": failed to call webhook: Post "https://a.b.svc:443/": no endpoints available for service "linkerd-proxy-injector""#
            ),
            Cause::NoEndpoints
        );
        assert_eq!(
            Cause::classify(
                r#"failed calling webhook "x": Post "https://a.b.svc:443/": dial tcp 10.96.0.12:443: connect: connection refused"#
            ),
            Cause::Refused
        );
        assert_eq!(
            Cause::classify(r#"admission webhook "x" denied the request: injection failed"#),
            Cause::Denied
        );
        assert_eq!(
            Cause::classify(r#"failed calling webhook "x"; no further details available"#),
            Cause::Other
        );
    }

    #[test]
    fn extracts_the_innermost_cause() {
        assert_eq!(
            cause_text(X509),
            "tls: failed to verify certificate: x509: certificate signed by unknown authority"
        );
        assert_eq!(
            cause_text(r#"admission webhook "x" denied the request: template: inject:12: bad"#),
            "template: inject:12: bad"
        );
    }
}
