//! `webhook-networkpolicy`: NetworkPolicies in the control-plane namespace isolate the injector
//! pods for ingress and none of their rules lets the API server reach the webhook port (istiod
//! 15017, the Linkerd proxy injector 8443). Peers given only as pod or namespace selectors do
//! not count: the API server is not a pod on most clusters (managed control planes, or a
//! host-network static pod), so such rules never match its traffic.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPort,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Skip};
use crate::selector::Selector;
use crate::state::Object;

use super::machinery::{
    ServiceUse, by_service, default_webhook_port, required_mesh_webhooks, resolve_named_port,
    selected_pod_labels, service_port, target_port,
};

pub struct WebhookNetworkPolicy;

impl Check for WebhookNetworkPolicy {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/webhook-networkpolicy.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let webhooks = required_mesh_webhooks(ctx)?;
        for usage in by_service(&webhooks) {
            if let Some(f) = check_service(ctx, &usage) {
                out.push(f);
            }
        }
        Ok(())
    }
}

/// The port the injector pods listen on: its number, and its name when the Service names it.
struct WebhookPort {
    number: i32,
    name: Option<String>,
}

fn check_service(ctx: &CheckContext<'_>, usage: &ServiceUse<'_, '_>) -> Option<Finding> {
    let svc = &usage.service;
    // A missing Service or port is webhook-service-missing's finding.
    let service = ctx.state.services.get(Some(&svc.namespace), &svc.name)?;
    let port = service_port(&service.obj, svc.port)?;
    let selector: BTreeMap<String, String> = service
        .obj
        .spec
        .as_ref()
        .and_then(|s| s.selector.clone())
        .filter(|s| !s.is_empty())?;
    let target = match target_port(port) {
        IntOrString::Int(n) => WebhookPort {
            number: n,
            name: None,
        },
        IntOrString::String(name) => WebhookPort {
            number: resolve_named_port(ctx.state, &svc.namespace, &selector, &name)
                .unwrap_or_else(|| default_webhook_port(usage.mesh())),
            name: Some(name),
        },
    };
    let pods = selected_pod_labels(ctx.state, &svc.namespace, &selector);

    let isolating: Vec<&Object<NetworkPolicy>> = ctx
        .state
        .network_policies
        .in_namespace(Some(&svc.namespace))
        .filter(|p| isolates_ingress(&p.obj, &pods))
        .collect();
    let first = isolating.first()?;
    let admitted = isolating.iter().any(|p| {
        p.obj
            .spec
            .as_ref()
            .and_then(|s| s.ingress.as_ref())
            .is_some_and(|rules| rules.iter().any(|r| admits_apiserver(r, &target)))
    });
    if admitted {
        return None;
    }

    let names: Vec<String> = isolating
        .iter()
        .map(|p| p.obj.metadata.name.clone().unwrap_or_default())
        .collect();
    let shown_selector = selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let port_text = match &target.name {
        Some(n) => format!("TCP {} ({n})", target.number),
        None => format!("TCP {}", target.number),
    };
    let message = format!(
        "{} {} in {} {} the {} injector pods ({shown_selector}) for ingress and no rule admits {port_text} from outside the pod network: the API server (not a pod on most clusters) cannot reach service {}/{}, calls end in \"context deadline exceeded\", and {}",
        if names.len() > 1 {
            "NetworkPolicies"
        } else {
            "NetworkPolicy"
        },
        super::machinery::name_list(&names),
        svc.namespace,
        if names.len() > 1 { "select" } else { "selects" },
        usage.mesh().name(),
        svc.namespace,
        svc.name,
        usage.consequence()
    );
    let evidence = isolating
        .iter()
        .map(|p| {
            Evidence::new(
                "spec.ingress",
                describe_rules(p.obj.spec.as_ref().and_then(|s| s.ingress.as_deref())),
                format!("a rule allowing {port_text} from any source (no `from`, or an ipBlock that covers the API server)"),
                &p.origin,
            )
        })
        .collect();
    let policy_name = format!("allow-{}-webhook", svc.name);
    let match_labels = selector
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let fix = format!(
        "kubectl -n {ns} apply -f - <<'EOF'\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {policy_name}\nspec:\n  podSelector:\n    matchLabels: {{{match_labels}}}\n  policyTypes: [Ingress]\n  ingress:\n  - ports:\n    - {{protocol: TCP, port: {}}}\nEOF",
        target.number,
        ns = svc.namespace,
    );
    Some(Finding {
        check: "webhook-networkpolicy".to_owned(),
        severity: usage.severity(),
        object: ObjectRef::new(
            "NetworkPolicy",
            Some(&svc.namespace),
            first.obj.metadata.name.as_deref().unwrap_or(""),
        ),
        message,
        evidence,
        fix,
    })
}

/// Whether a policy selects any of the injector pods and restricts their ingress. Without
/// `policyTypes`, every policy restricts ingress (egress only when it has egress rules).
fn isolates_ingress(policy: &NetworkPolicy, pods: &[BTreeMap<String, String>]) -> bool {
    let Some(spec) = policy.spec.as_ref() else {
        return false;
    };
    let ingress = spec
        .policy_types
        .as_ref()
        .filter(|t| !t.is_empty())
        .is_none_or(|t| t.iter().any(|t| t == "Ingress"));
    if !ingress {
        return false;
    }
    // An invalid selector cannot be stored by the API server; such a policy selects nothing.
    let Ok(selector) = Selector::compile_optional_webhook(spec.pod_selector.as_ref()) else {
        return false;
    };
    pods.iter().any(|labels| selector.matches(labels))
}

/// Whether an ingress rule can admit the API server on the webhook port.
fn admits_apiserver(rule: &NetworkPolicyIngressRule, port: &WebhookPort) -> bool {
    // Any ipBlock may cover the API server's address (which a capture does not show), so it is
    // given the benefit of the doubt; selectors alone only ever match pods.
    let from_anywhere = rule
        .from
        .as_ref()
        .is_none_or(|peers| peers.is_empty() || peers.iter().any(|p| p.ip_block.is_some()));
    let on_port = rule
        .ports
        .as_ref()
        .is_none_or(|ps| ps.is_empty() || ps.iter().any(|p| port_matches(p, port)));
    from_anywhere && on_port
}

fn port_matches(p: &NetworkPolicyPort, port: &WebhookPort) -> bool {
    if p.protocol.as_deref().is_some_and(|proto| proto != "TCP") {
        return false;
    }
    match &p.port {
        None => true,
        Some(IntOrString::Int(n)) => match p.end_port {
            Some(end) => (*n..=end).contains(&port.number),
            None => *n == port.number,
        },
        Some(IntOrString::String(name)) => port.name.as_deref() == Some(name.as_str()),
    }
}

/// `none (deny all)`, or each rule as `from namespaceSelector on 15012, 15017`.
fn describe_rules(rules: Option<&[NetworkPolicyIngressRule]>) -> String {
    let Some(rules) = rules.filter(|r| !r.is_empty()) else {
        return "no ingress rules (all ingress denied)".to_owned();
    };
    rules
        .iter()
        .map(|r| {
            let from = match r.from.as_deref() {
                None | Some([]) => "any source".to_owned(),
                Some(peers) => peers
                    .iter()
                    .map(|p| {
                        let mut kinds = Vec::new();
                        if p.ip_block.is_some() {
                            kinds.push("ipBlock");
                        }
                        if p.namespace_selector.is_some() {
                            kinds.push("namespaceSelector");
                        }
                        if p.pod_selector.is_some() {
                            kinds.push("podSelector");
                        }
                        kinds.join("+")
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let ports = match r.ports.as_deref() {
                None | Some([]) => "all ports".to_owned(),
                Some(ps) => ps
                    .iter()
                    .map(|p| match &p.port {
                        None => "all ports".to_owned(),
                        Some(IntOrString::Int(n)) => match p.end_port {
                            Some(e) => format!("{n}-{e}"),
                            None => n.to_string(),
                        },
                        Some(IntOrString::String(s)) => s.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            format!("from {from} on {ports}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::super::machinery::testing::{istio_mwc, run};
    use super::*;

    fn with(policies: &str) -> Vec<Finding> {
        let yaml = format!(
            "{}---
apiVersion: v1
kind: Service
metadata: {{name: istiod, namespace: istio-system}}
spec:
  selector: {{app: istiod}}
  ports: [{{name: https-webhook, port: 443, targetPort: 15017}}]
{policies}",
            istio_mwc("inj", "istiod", "")
        );
        run(&WebhookNetworkPolicy, &yaml).unwrap()
    }

    fn policy(spec: &str) -> String {
        format!(
            "---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: p, namespace: istio-system}}
spec:
{spec}"
        )
    }

    #[test]
    fn egress_only_policies_do_not_isolate_ingress() {
        assert!(with(&policy("  podSelector: {}\n  policyTypes: [Egress]\n")).is_empty());
        assert_eq!(
            with(&policy("  podSelector: {}\n")).len(),
            1,
            "no policyTypes = Ingress"
        );
    }

    #[test]
    fn port_ranges_protocols_and_ip_blocks() {
        let rule = |r: &str| policy(&format!("  podSelector: {{}}\n  ingress:\n{r}"));
        assert!(with(&rule("  - ports: [{port: 15000, endPort: 15100}]\n")).is_empty());
        assert_eq!(
            with(&rule("  - ports: [{port: 15000, endPort: 15010}]\n")).len(),
            1
        );
        assert_eq!(
            with(&rule("  - ports: [{port: 15017, protocol: UDP}]\n")).len(),
            1
        );
        assert!(with(&rule("  - from: [{ipBlock: {cidr: 10.0.0.0/8}}]\n")).is_empty());
        let pods_only = with(&rule(
            "  - from: [{podSelector: {}}]\n    ports: [{port: 15017}]\n",
        ));
        assert_eq!(pods_only.len(), 1);
        assert_eq!(
            pods_only[0].evidence[0].observed,
            "from podSelector on 15017"
        );
        // A policy for other pods leaves istiod alone.
        assert!(with(&policy("  podSelector: {matchLabels: {app: web}}\n")).is_empty());
    }
}
