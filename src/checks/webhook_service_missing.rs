//! `webhook-service-missing`: a mesh injector webhook calls a Service that does not exist, that
//! has no port for the webhook's `clientConfig.service.port`, or that the API server cannot
//! route to (headless). The API server's service resolver fails before any TLS happens.

use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Skip};

use super::machinery::{MeshKind, ServiceUse, by_service, required_mesh_webhooks, service_port};

pub struct WebhookServiceMissing;

impl Check for WebhookServiceMissing {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/webhook-service-missing.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let webhooks = required_mesh_webhooks(ctx)?;
        for usage in by_service(&webhooks) {
            if let Some(f) = problem(ctx, &usage) {
                out.push(f);
            }
        }
        Ok(())
    }
}

fn problem(ctx: &CheckContext<'_>, usage: &ServiceUse<'_, '_>) -> Option<Finding> {
    let svc = &usage.service;
    let first = usage.webhooks.first()?;
    let object = ObjectRef::new("Service", Some(&svc.namespace), &svc.name);
    let webhook_field = first.field("clientConfig.service");
    let Some(found) = ctx.state.services.get(Some(&svc.namespace), &svc.name) else {
        let message = format!(
            "service {}/{} does not exist, but {} calls it: the API server fails every call (service \"{}\" not found), and {}",
            svc.namespace,
            svc.name,
            usage.configurations(),
            svc.name,
            usage.consequence()
        );
        let fix = match first.mesh {
            // A configuration left behind by a removed control plane (or revision).
            MeshKind::Istio => format!(
                "kubectl delete mutatingwebhookconfiguration {}",
                first.configuration
            ),
            MeshKind::Linkerd => "linkerd upgrade | kubectl apply -f -".to_owned(),
        };
        return Some(Finding {
            check: "webhook-service-missing".to_owned(),
            severity: usage.severity(),
            object,
            message,
            evidence: vec![Evidence::new(
                webhook_field,
                format!("{}/{} port {}", svc.namespace, svc.name, svc.port),
                "an existing Service in the control-plane namespace",
                first.origin,
            )],
            fix,
        });
    };
    let spec = found.obj.spec.as_ref();
    let headless = spec
        .and_then(|s| s.cluster_ip.as_deref())
        .is_some_and(|ip| ip == "None");
    let ports: Vec<String> = spec
        .and_then(|s| s.ports.as_ref())
        .map(|ps| ps.iter().map(|p| p.port.to_string()).collect())
        .unwrap_or_default();
    let (message, evidence, fix) = if headless {
        (
            format!(
                "service {}/{} is headless (clusterIP: None): the API server cannot route to it (cannot route to service with ClusterIP \"None\"), and {}",
                svc.namespace,
                svc.name,
                usage.consequence()
            ),
            Evidence::new("spec.clusterIP", "None", "a cluster IP", &found.origin),
            // clusterIP is immutable: recreate the Service from the chart.
            match first.mesh {
                MeshKind::Istio => format!(
                    "kubectl -n {ns} delete service {name} && helm upgrade --install {name} istio/istiod -n {ns} --reuse-values",
                    ns = svc.namespace,
                    name = svc.name
                ),
                MeshKind::Linkerd => format!(
                    "kubectl -n {} delete service {} && linkerd upgrade | kubectl apply -f -",
                    svc.namespace, svc.name
                ),
            },
        )
    } else if service_port(&found.obj, svc.port).is_none() {
        let (port_name, target) = match first.mesh {
            MeshKind::Istio => ("https-webhook", "15017"),
            MeshKind::Linkerd => ("proxy-injector", "\"proxy-injector\""),
        };
        (
            format!(
                "service {}/{} has no port {} (it has {}), which {} calls: the API server fails every call (no service port {} found for service \"{}\"), and {}",
                svc.namespace,
                svc.name,
                svc.port,
                if ports.is_empty() {
                    "none".to_owned()
                } else {
                    ports.join(", ")
                },
                usage.configurations(),
                svc.port,
                svc.name,
                usage.consequence()
            ),
            Evidence::new(
                "spec.ports[*].port",
                if ports.is_empty() {
                    "none".to_owned()
                } else {
                    ports.join(", ")
                },
                format!(
                    "{} (clientConfig.service.port of {})",
                    svc.port, first.configuration
                ),
                &found.origin,
            ),
            format!(
                "kubectl -n {} patch service {} --type=json -p '[{{\"op\":\"add\",\"path\":\"/spec/ports/-\",\"value\":{{\"name\":\"{port_name}\",\"port\":{},\"targetPort\":{target}}}}}]'",
                svc.namespace, svc.name, svc.port
            ),
        )
    } else {
        return None;
    };
    let mut evidence = vec![evidence];
    evidence.push(Evidence::new(
        webhook_field,
        format!("{}/{} port {}", svc.namespace, svc.name, svc.port),
        "a routable Service port",
        first.origin,
    ));
    Some(Finding {
        check: "webhook-service-missing".to_owned(),
        severity: usage.severity(),
        object,
        message,
        evidence,
        fix,
    })
}

#[cfg(test)]
mod tests {
    use super::super::machinery::testing::{istio_mwc, run};
    use super::*;
    use crate::check::Severity;

    const SERVICE: &str = "---
apiVersion: v1
kind: Service
metadata: {name: istiod, namespace: istio-system}
spec:
  selector: {app: istiod}
";

    #[test]
    fn headless_services_cannot_be_routed_to() {
        let yaml = format!(
            "{}{SERVICE}  clusterIP: None\n  ports: [{{name: https-webhook, port: 443, targetPort: 15017}}]\n",
            istio_mwc("inj", "istiod", "  failurePolicy: Ignore")
        );
        let f = run(&WebhookServiceMissing, &yaml).unwrap();
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message
                .contains("cannot route to service with ClusterIP \"None\"")
        );
        assert_eq!(f[0].severity, Severity::Warning, "failurePolicy Ignore");
    }

    #[test]
    fn a_custom_webhook_port_must_exist_on_the_service() {
        let ports = "  ports: [{name: https-webhook, port: 443, targetPort: 15017}]\n";
        let with_port = |port: &str| {
            format!(
                "{}{SERVICE}{ports}",
                istio_mwc("inj", "istiod", "")
                    .replace("path: /inject}", &format!("path: /inject, port: {port}}}"))
            )
        };
        assert!(
            run(&WebhookServiceMissing, &with_port("443"))
                .unwrap()
                .is_empty()
        );
        let f = run(&WebhookServiceMissing, &with_port("8443")).unwrap();
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message
                .contains("no service port 8443 found for service \"istiod\"")
        );
        assert_eq!(f[0].severity, Severity::Error);
    }
}
