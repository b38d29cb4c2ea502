//! `webhook-endpoints-not-ready`: the Service a mesh injector webhook calls has no ready
//! endpoint for the webhook port. EndpointSlices (label `kubernetes.io/service-name`) are read
//! first, as kube-proxy and the API server's endpoint routing do; the core Endpoints object is the
//! fallback for inputs that only carry it.

use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Skip};
use crate::origin::Origin;
use crate::state::Kind;

use super::machinery::{
    MeshKind, ServiceRef, ServiceUse, by_service, required_mesh_webhooks, service_port,
    show_int_or_string, target_port,
};

pub struct WebhookEndpointsNotReady;

const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Ready and not-ready endpoints of one Service port, and where they were read.
struct Count {
    ready: usize,
    not_ready: usize,
    /// `endpointslice istio-system/istiod-abcde`, or `endpoints istio-system/istiod`.
    from: Vec<String>,
    origin: Origin,
}

impl Check for WebhookEndpointsNotReady {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/webhook-endpoints-not-ready.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let webhooks = required_mesh_webhooks(ctx)?;
        if let (Some(a), Some(b)) = (
            ctx.state.unavailable_reason(Kind::EndpointSlice),
            ctx.state.unavailable_reason(Kind::Endpoints),
        ) {
            return Err(Skip(format!("{a}; {b}")));
        }
        for usage in by_service(&webhooks) {
            if let Some(f) = check_service(ctx, &usage) {
                out.push(f);
            }
        }
        Ok(())
    }
}

fn check_service(ctx: &CheckContext<'_>, usage: &ServiceUse<'_, '_>) -> Option<Finding> {
    let svc = &usage.service;
    // A missing Service or port is webhook-service-missing's finding.
    let service = ctx.state.services.get(Some(&svc.namespace), &svc.name)?;
    let port = service_port(&service.obj, svc.port)?;
    let port_name = port.name.clone().unwrap_or_default();
    let target = show_int_or_string(&target_port(port));
    let count = count_endpoints(ctx, &svc.namespace, &svc.name, &port_name);
    if count.ready > 0 {
        return None;
    }
    let selector = service
        .obj
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .map(|s| {
            s.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let seen = if count.from.is_empty() {
        format!(
            "no EndpointSlice labelled {SERVICE_NAME_LABEL}={} and no Endpoints object",
            svc.name
        )
    } else {
        count.from.join(", ")
    };
    let message = format!(
        "service {}/{} (port {} → targetPort {target}) has 0 ready endpoints and {} not ready, so the API server cannot reach the injector (no endpoints available for service \"{}\", or a refused or timed-out connection to the cluster IP); {}",
        svc.namespace,
        svc.name,
        svc.port,
        count.not_ready,
        svc.name,
        usage.consequence()
    );
    let mut evidence = vec![Evidence::new(
        format!(
            "ready endpoints for port {}",
            if port_name.is_empty() {
                svc.port.to_string()
            } else {
                port_name.clone()
            }
        ),
        format!("0 ready, {} not ready ({seen})", count.not_ready),
        format!("at least 1 ready pod matching {selector} serving targetPort {target}"),
        &count.origin,
    )];
    if let Some(w) = usage.webhooks.first() {
        evidence.push(Evidence::new(
            w.field("failurePolicy"),
            w.failure_policy(),
            "a reachable injector",
            w.origin,
        ));
    }
    // The injector Deployment carries the Service's name in both meshes' charts.
    let fix = if count.not_ready > 0 {
        format!(
            "kubectl -n {ns} rollout restart deployment {name} && kubectl -n {ns} rollout status deployment {name}",
            ns = svc.namespace,
            name = svc.name
        )
    } else {
        format!(
            "kubectl -n {ns} scale deployment {name} --replicas=2 && kubectl -n {ns} rollout status deployment {name}",
            ns = svc.namespace,
            name = svc.name
        )
    };
    Some(Finding {
        check: "webhook-endpoints-not-ready".to_owned(),
        severity: usage.severity(),
        object: ObjectRef::new("Service", Some(&svc.namespace), &svc.name),
        message,
        evidence,
        fix,
    })
}

/// The ready and not-ready endpoints behind one injector Service port, for `meshdoctor serve`.
pub struct InjectorEndpoints {
    pub service: ServiceRef,
    pub mesh: MeshKind,
    /// The webhook configurations that call it (`istio-sidecar-injector, istio-revision-tag-default`).
    pub configurations: String,
    pub ready: usize,
    pub not_ready: usize,
}

/// Every Service-backed mesh injector webhook's endpoints, counted as this check counts them.
/// A Service (or port) that does not exist counts zero: the API server cannot call it either.
pub fn injector_endpoints(ctx: &CheckContext<'_>) -> Vec<InjectorEndpoints> {
    let webhooks = crate::checks::machinery::mesh_webhooks(ctx);
    by_service(&webhooks)
        .iter()
        .map(|usage| {
            let svc = &usage.service;
            let port_name = ctx
                .state
                .services
                .get(Some(&svc.namespace), &svc.name)
                .and_then(|s| service_port(&s.obj, svc.port))
                .map(|p| p.name.clone().unwrap_or_default());
            let (ready, not_ready) = match port_name {
                Some(port) => {
                    let c = count_endpoints(ctx, &svc.namespace, &svc.name, &port);
                    (c.ready, c.not_ready)
                }
                None => (0, 0),
            };
            InjectorEndpoints {
                service: svc.clone(),
                mesh: usage.mesh(),
                configurations: usage.configurations(),
                ready,
                not_ready,
            }
        })
        .collect()
}

fn count_endpoints(ctx: &CheckContext<'_>, namespace: &str, name: &str, port_name: &str) -> Count {
    let mut count = Count {
        ready: 0,
        not_ready: 0,
        from: Vec::new(),
        origin: Origin::Derived,
    };
    let slices: Vec<_> = ctx
        .state
        .endpoint_slices
        .in_namespace(Some(namespace))
        .filter(|s| {
            s.obj
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
                .is_some_and(|v| v == name)
        })
        .collect();
    if !slices.is_empty() {
        for s in &slices {
            if count.from.is_empty() {
                count.origin = s.origin.clone();
            }
            count.from.push(format!(
                "endpointslice {namespace}/{}",
                s.obj.metadata.name.as_deref().unwrap_or("")
            ));
            // A slice serves the Service port whose name it carries (no ports = all ports).
            let serves = s.obj.ports.as_ref().is_none_or(|ps| {
                ps.is_empty()
                    || ps
                        .iter()
                        .any(|p| p.name.as_deref().unwrap_or("") == port_name)
            });
            if !serves {
                continue;
            }
            for e in s.obj.endpoints.iter().flatten() {
                // `ready` unset means ready (discovery/v1 EndpointConditions).
                let ready = e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
                if ready {
                    count.ready += 1;
                } else {
                    count.not_ready += 1;
                }
            }
        }
        return count;
    }
    if let Some(ep) = ctx.state.endpoints.get(Some(namespace), name) {
        count.origin = ep.origin.clone();
        count.from.push(format!("endpoints {namespace}/{name}"));
        for subset in ep.obj.subsets.iter().flatten() {
            let serves = subset.ports.as_ref().is_none_or(|ps| {
                ps.is_empty()
                    || ps
                        .iter()
                        .any(|p| p.name.as_deref().unwrap_or("") == port_name)
            });
            if !serves {
                continue;
            }
            count.ready += subset.addresses.as_ref().map_or(0, Vec::len);
            count.not_ready += subset.not_ready_addresses.as_ref().map_or(0, Vec::len);
        }
    } else if let Some(s) = ctx.state.services.get(Some(namespace), name) {
        count.origin = s.origin.clone();
    }
    count
}

#[cfg(test)]
mod tests {
    use super::super::machinery::testing::{istio_mwc, run};
    use super::*;

    fn with(endpoints: &str) -> Result<Vec<Finding>, Skip> {
        let yaml = format!(
            "{}---
apiVersion: v1
kind: Service
metadata: {{name: istiod, namespace: istio-system}}
spec:
  selector: {{app: istiod}}
  ports: [{{name: https-webhook, port: 443, targetPort: 15017}}]
{endpoints}",
            istio_mwc("inj", "istiod", "")
        );
        run(&WebhookEndpointsNotReady, &yaml)
    }

    #[test]
    fn skipped_without_endpoints_or_slices() {
        let e = with("").unwrap_err();
        assert!(e.0.contains("no endpointslices in the input"), "{}", e.0);
    }

    #[test]
    fn endpoints_object_counts_addresses_for_the_service_port() {
        let ready = "---
apiVersion: v1
kind: Endpoints
metadata: {name: istiod, namespace: istio-system}
subsets:
- addresses: [{ip: 10.1.0.5}]
  ports: [{name: https-webhook, port: 15017}]
";
        assert!(with(ready).unwrap().is_empty());
        // Ready addresses for another port only do not serve the webhook.
        let other_port = ready.replace("name: https-webhook", "name: grpc-xds");
        let f = with(&other_port).unwrap();
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.contains("0 ready endpoints"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn slice_endpoints_without_a_ready_condition_are_ready() {
        let slice = "---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: istiod-abcde
  namespace: istio-system
  labels: {kubernetes.io/service-name: istiod}
addressType: IPv4
ports: [{name: https-webhook, port: 15017}]
endpoints:
- addresses: [10.1.0.5]
";
        assert!(with(slice).unwrap().is_empty());
        let not_ready = format!("{slice}  conditions: {{ready: false}}\n");
        assert_eq!(with(&not_ready).unwrap().len(), 1);
        // A slice of another Service does not count.
        let other = slice.replace("service-name: istiod}", "service-name: other}");
        let f = with(&other).unwrap();
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("0 ready endpoints and 0 not ready"));
    }
}
