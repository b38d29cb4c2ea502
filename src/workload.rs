//! Turns what a user names (`pod/x`, `deployment/y`, ...) into the pod the API server would
//! see: a pod's own metadata and spec, or a workload's pod template evaluated in the workload's
//! namespace. Keeps the workload's own metadata too, because an inject annotation placed there
//! is ignored by every injector and users keep putting it there.

use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::decision::TargetRef;
use crate::origin::Origin;
use crate::state::{ClusterState, Kind};

/// A pod (real or from a template) ready for the decision.
#[derive(Debug, Clone)]
pub struct PodSubject<'a> {
    pub target: TargetRef,
    /// The namespace the pod is (or would be) created in.
    pub namespace: String,
    pub meta: &'a ObjectMeta,
    pub spec: Option<&'a PodSpec>,
    /// The workload's own metadata, when the subject is a workload's template.
    pub workload_meta: Option<&'a ObjectMeta>,
    /// Where the pod (or the template's workload) is defined.
    pub origin: Origin,
}

static EMPTY_META: std::sync::LazyLock<ObjectMeta> = std::sync::LazyLock::new(ObjectMeta::default);

/// Why a target could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error(
        "unknown kind \"{0}\" (expected pod, deployment, statefulset, daemonset, replicaset, job or cronjob)"
    )]
    UnknownKind(String),
    #[error(
        "\"{0}\" is not a workload kind meshdoctor can explain (pod, deployment, statefulset, daemonset, replicaset, job, cronjob)"
    )]
    NotAWorkload(String),
    #[error("{kind} \"{name}\" not found in namespace \"{namespace}\"")]
    NotFound {
        kind: String,
        namespace: String,
        name: String,
    },
    #[error("target \"{0}\": expected KIND/NAME (e.g. pod/web-1 or deployment/web)")]
    Malformed(String),
}

/// Parses `kind/name` (a bare name means a pod, as with `kubectl`).
pub fn parse_target(text: &str) -> Result<(Kind, String), TargetError> {
    let (kind, name) = match text.split_once('/') {
        Some((k, n)) => (
            Kind::parse_user(k).ok_or_else(|| TargetError::UnknownKind(k.to_owned()))?,
            n,
        ),
        None => (Kind::Pod, text),
    };
    if name.is_empty() || name.contains('/') {
        return Err(TargetError::Malformed(text.to_owned()));
    }
    Ok((kind, name.to_owned()))
}

/// Finds the pod or workload `kind/name` in `namespace`.
pub fn resolve<'a>(
    state: &'a ClusterState,
    kind: Kind,
    namespace: &str,
    name: &str,
) -> Result<PodSubject<'a>, TargetError> {
    let not_found = || TargetError::NotFound {
        kind: kind.name().to_ascii_lowercase(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    };
    let ns = Some(namespace);
    match kind {
        Kind::Pod => state.pods.get(ns, name).map(|p| {
            pod_subject(
                p.obj.metadata.namespace.as_deref().unwrap_or(namespace),
                &p.obj.metadata,
                p.obj.spec.as_ref(),
                &p.origin,
            )
        }),
        // Workloads differ only in where their pod template lives.
        Kind::Deployment => state.deployments.get(ns, name).map(|d| {
            template_subject(kind, &d.obj.metadata, Some(&d.obj.spec.template), &d.origin)
        }),
        Kind::StatefulSet => state.statefulsets.get(ns, name).map(|d| {
            template_subject(kind, &d.obj.metadata, Some(&d.obj.spec.template), &d.origin)
        }),
        Kind::DaemonSet => state.daemonsets.get(ns, name).map(|d| {
            template_subject(kind, &d.obj.metadata, Some(&d.obj.spec.template), &d.origin)
        }),
        Kind::ReplicaSet => state.replicasets.get(ns, name).map(|d| {
            template_subject(
                kind,
                &d.obj.metadata,
                d.obj.spec.template.as_ref(),
                &d.origin,
            )
        }),
        Kind::Job => state.jobs.get(ns, name).map(|d| {
            let t = d.obj.spec.as_ref().map(|s| &s.template);
            template_subject(kind, &d.obj.metadata, t, &d.origin)
        }),
        Kind::CronJob => state.cronjobs.get(ns, name).map(|d| {
            let t = d.obj.spec.job_template.spec.as_ref().map(|s| &s.template);
            template_subject(kind, &d.obj.metadata, t, &d.origin)
        }),
        other => return Err(TargetError::NotAWorkload(other.name().to_ascii_lowercase())),
    }
    .ok_or_else(not_found)
}

fn pod_subject<'a>(
    namespace: &str,
    meta: &'a ObjectMeta,
    spec: Option<&'a PodSpec>,
    origin: &Origin,
) -> PodSubject<'a> {
    PodSubject {
        target: TargetRef {
            kind: "Pod".into(),
            namespace: Some(namespace.to_owned()),
            name: meta.name.clone().unwrap_or_default(),
        },
        namespace: namespace.to_owned(),
        meta,
        spec,
        workload_meta: None,
        origin: origin.clone(),
    }
}

fn template_subject<'a>(
    kind: Kind,
    workload: &'a ObjectMeta,
    template: Option<&'a PodTemplateSpec>,
    origin: &Origin,
) -> PodSubject<'a> {
    let template_meta = template.and_then(|t| t.metadata.as_ref());
    let spec = template.and_then(|t| t.spec.as_ref());
    let namespace = workload
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    PodSubject {
        target: TargetRef {
            kind: kind.name().to_owned(),
            namespace: Some(namespace.clone()),
            name: workload.name.clone().unwrap_or_default(),
        },
        namespace,
        meta: template_meta.unwrap_or(&EMPTY_META),
        spec,
        workload_meta: Some(workload),
        origin: origin.clone(),
    }
}

/// Every subject a namespace-wide check evaluates: each pod, and each top-level workload's
/// template (workloads owned by another workload are covered by their owner).
pub fn all_subjects<'a>(
    state: &'a ClusterState,
    namespace: Option<&'a str>,
) -> Vec<PodSubject<'a>> {
    let mut out = Vec::new();
    for p in state.pods.in_namespace(namespace) {
        let ns = p.obj.metadata.namespace.as_deref().unwrap_or("default");
        out.push(pod_subject(
            ns,
            &p.obj.metadata,
            p.obj.spec.as_ref(),
            &p.origin,
        ));
    }
    let top = |m: &ObjectMeta| {
        m.owner_references
            .as_ref()
            .is_none_or(|o| o.iter().all(|r| r.controller != Some(true)))
    };
    macro_rules! workloads {
        ($store:ident, $kind:expr) => {
            for w in state.$store.in_namespace(namespace) {
                if top(&w.obj.metadata)
                    && let Some(name) = &w.obj.metadata.name
                    && let Ok(s) = resolve(
                        state,
                        $kind,
                        w.obj.metadata.namespace.as_deref().unwrap_or("default"),
                        name,
                    )
                {
                    out.push(s);
                }
            }
        };
    }
    workloads!(deployments, Kind::Deployment);
    workloads!(statefulsets, Kind::StatefulSet);
    workloads!(daemonsets, Kind::DaemonSet);
    workloads!(replicasets, Kind::ReplicaSet);
    workloads!(jobs, Kind::Job);
    workloads!(cronjobs, Kind::CronJob);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        assert_eq!(
            parse_target("pod/web-1").unwrap(),
            (Kind::Pod, "web-1".into())
        );
        assert_eq!(
            parse_target("deploy/web").unwrap(),
            (Kind::Deployment, "web".into())
        );
        assert_eq!(parse_target("web-1").unwrap(), (Kind::Pod, "web-1".into()));
        assert!(matches!(
            parse_target("gizmo/x"),
            Err(TargetError::UnknownKind(_))
        ));
        assert!(matches!(
            parse_target("pod/"),
            Err(TargetError::Malformed(_))
        ));
    }
}
