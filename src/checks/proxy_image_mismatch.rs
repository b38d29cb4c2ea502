//! `proxy-image-mismatch`: running `istio-proxy` containers whose image differs from the one
//! the injector of their revision would inject now, which is what a control-plane upgrade
//! without a restart of the workloads leaves behind.
//!
//! The injector's image is computed from its ConfigMap values as `istioctl analyze` does it
//! (IST0158): `global.proxy.image` when it contains `/`, else
//! `<global.hub>/<global.proxy.image>:<global.tag>`; an image with a `-<variant>` suffix
//! (e.g. `-distroless`) matches too.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};
use crate::mesh::istio::config::InjectorSettings;
use crate::origin::Origin;

use super::sidecar::{
    ISTIO_PROXY, ProxyLayout, find_proxy, istio_values, restart_command, restart_target,
};

pub struct ProxyImageMismatch;

const ID: &str = "proxy-image-mismatch";

impl Check for ProxyImageMismatch {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/proxy-image-mismatch.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let install = &ctx.engine.istio;
        // workload (or pod) → (revision, expected image, settings origin, pods with their image)
        let mut groups: BTreeMap<ObjectRef, Group> = BTreeMap::new();
        // A set: the same reason for every pod of a revision is said once (and not held 50,000 times).
        let mut uncomputable: BTreeSet<String> = BTreeSet::new();
        let mut compared = 0usize;
        for p in ctx.state.pods.iter() {
            let pod = &p.obj;
            let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
            if !ctx.in_scope(Some(ns)) {
                continue;
            }
            let annotations = pod.metadata.annotations.as_ref();
            if annotations.is_some_and(|a| a.contains_key("sidecar.istio.io/proxyImage")) {
                continue;
            }
            // A native sidecar is an init container; the image is compared all the same.
            let Some((running, layout)) = find_proxy(pod.spec.as_ref(), ISTIO_PROXY)
                .and_then(|(c, layout)| Some((c.image.clone()?, layout)))
            else {
                continue;
            };
            // `image: auto` is a gateway that was never injected: another problem.
            if running == "auto" {
                continue;
            }
            let revision = pod_revision(ctx, pod);
            let Some(settings) = install
                .settings_for_revision(&revision)
                .filter(|s| s.configmap.is_some())
            else {
                uncomputable.insert(format!(
                    "revision \"{revision}\" has no injector ConfigMap in the input"
                ));
                continue;
            };
            let Some(expected) = injector_image(settings) else {
                uncomputable.insert(format!(
                    "the values of {} do not name the proxy image (global.hub, global.proxy.image, global.tag)",
                    settings.configmap.as_deref().unwrap_or("")
                ));
                continue;
            };
            compared += 1;
            if image_matches(&running, &expected) {
                continue;
            }
            let name = pod.metadata.name.clone().unwrap_or_default();
            let object = match restart_target(ctx.state, pod) {
                Some((kind, owner)) => ObjectRef::new(kind, Some(ns), &owner),
                None => ObjectRef::new("Pod", Some(ns), &name),
            };
            let g = groups.entry(object).or_insert_with(|| Group {
                revision: revision.clone(),
                expected: expected.clone(),
                settings_origin: settings.origin.clone(),
                configmap: settings.configmap.clone().unwrap_or_default(),
                fix: restart_command(ctx.state, pod),
                pods: Vec::new(),
            });
            g.pods.push((name, running, layout, p.origin.clone()));
        }
        if compared == 0 && !uncomputable.is_empty() {
            return Err(Skip(format!(
                "cannot compute the injector's proxy image: {}",
                uncomputable.into_iter().collect::<Vec<_>>().join("; ")
            )));
        }
        for (object, g) in groups {
            out.push(finding(object, g));
        }
        Ok(())
    }
}

struct Group {
    revision: String,
    expected: String,
    settings_origin: Origin,
    configmap: String,
    fix: String,
    pods: Vec<(String, String, ProxyLayout, Origin)>,
}

/// The revision that injected a pod: its `istio.io/rev` annotation (the injector writes it) or
/// label, else its namespace's `istio.io/rev` label, else `default`; a tag resolves to the
/// revision it points at.
fn pod_revision(ctx: &CheckContext<'_>, pod: &k8s_openapi::api::core::v1::Pod) -> String {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let rev = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("istio.io/rev"))
        .or_else(|| pod.metadata.labels.as_ref()?.get("istio.io/rev"))
        .cloned()
        .or_else(|| {
            let labels = ctx.state.namespace_labels(ns)?;
            if labels
                .get("istio-injection")
                .is_some_and(|v| v == "enabled")
            {
                return Some("default".to_owned());
            }
            labels.get("istio.io/rev").cloned()
        })
        .unwrap_or_else(|| "default".to_owned());
    // A tag (`istio.io/tag` on its webhook configuration) names the revision it serves.
    ctx.engine
        .istio
        .webhooks
        .iter()
        .find(|w| w.tag.as_deref() == Some(rev.as_str()))
        .map(|w| w.revision.clone())
        .unwrap_or(rev)
}

/// The image the injector puts in `istio-proxy`, from its values.
fn injector_image(settings: &InjectorSettings) -> Option<String> {
    let values = istio_values(settings)?;
    let text = |p: &str| -> Option<String> {
        match values.pointer(p)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let image = text("/global/proxy/image").unwrap_or_else(|| "proxyv2".to_owned());
    if image.contains('/') {
        return Some(image);
    }
    let hub = text("/global/hub")?;
    let tag = text("/global/tag")?;
    Some(format!("{hub}/{image}:{tag}"))
}

fn image_matches(running: &str, expected: &str) -> bool {
    running == expected
        || running
            .strip_prefix(expected)
            .is_some_and(|rest| rest.starts_with('-'))
}

fn finding(object: ObjectRef, g: Group) -> Finding {
    let kind = object.kind.to_ascii_lowercase();
    let ns = object.namespace.clone().unwrap_or_default();
    let (first_pod, first_image, _, _) = g.pods.first().cloned().unwrap_or_else(|| {
        (
            String::new(),
            String::new(),
            ProxyLayout::Container,
            Origin::Derived,
        )
    });
    let mut evidence = vec![Evidence::new(
        format!(
            "configmap {}: data.values (global.hub, global.proxy.image, global.tag)",
            g.configmap
        ),
        g.expected.clone(),
        g.expected.clone(),
        &g.settings_origin,
    )];
    for (pod, image, layout, origin) in g.pods.iter().take(5) {
        evidence.push(Evidence::new(
            format!("pod {pod}: {}.image", layout.field(ISTIO_PROXY)),
            image.clone(),
            g.expected.clone(),
            origin,
        ));
    }
    let who = if kind == "pod" {
        format!("pod {ns}/{}", object.name)
    } else {
        let n = g.pods.len();
        format!(
            "{kind} {ns}/{} ({n} pod{})",
            object.name,
            if n == 1 { "" } else { "s" }
        )
    };
    Finding {
        check: ID.to_owned(),
        severity: Severity::Warning,
        object,
        message: format!(
            "{who} runs istio-proxy {first_image} (pod {first_pod}), but the injector of revision \"{}\" now injects {}: the pods were injected before an upgrade and were not restarted",
            g.revision, g.expected
        ),
        evidence,
        fix: g.fix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_match() {
        let e = "docker.io/istio/proxyv2:1.24.6";
        assert!(image_matches(e, e));
        assert!(image_matches(
            "docker.io/istio/proxyv2:1.24.6-distroless",
            e
        ));
        assert!(!image_matches("docker.io/istio/proxyv2:1.23.2", e));
        assert!(!image_matches("docker.io/istio/proxyv2:1.24.60", e));
    }
}
