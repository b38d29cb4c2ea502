//! Helpers shared by the injection-intent checks: which Istio revision's rules apply to a pod,
//! which workload controls a pod (so a finding lands on the object users edit), and the
//! `kubectl` commands that change a pod template or recreate a pod.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Map, Value, json};

use crate::check::{CheckContext, Skip};
use crate::engine::{Engine, Verdict, WebhookRole};
use crate::mesh::istio::config::InjectorSettings;
use crate::state::ClusterState;
use crate::workload::PodSubject;

use super::util::ISTIO_REV;

/// Whether any Istio sidecar-injector webhook is in the input.
pub fn has_istio(engine: &Engine<'_>) -> bool {
    engine
        .roles
        .iter()
        .any(|r| matches!(r, WebhookRole::Istio { .. }))
}

/// Whether Linkerd's proxy-injector webhook is in the input.
pub fn has_linkerd(engine: &Engine<'_>) -> bool {
    engine.roles.contains(&WebhookRole::Linkerd)
}

/// Which meshes have an injection webhook in the input.
#[derive(Debug, Clone, Copy)]
pub struct Meshes {
    pub istio: bool,
    pub linkerd: bool,
}

/// The meshes present, or the skip every mesh check gives when there is none.
pub fn required_meshes(engine: &Engine<'_>) -> Result<Meshes, Skip> {
    let meshes = Meshes {
        istio: has_istio(engine),
        linkerd: has_linkerd(engine),
    };
    if meshes.istio || meshes.linkerd {
        Ok(meshes)
    } else {
        Err(no_mesh_webhook())
    }
}

/// The skip of a check that has no Istio or Linkerd injection webhook to look at.
pub fn no_mesh_webhook() -> Skip {
    Skip("no Istio or Linkerd injection webhook in the input".to_owned())
}

/// The Istio revision whose injector decided, when an Istio webhook matched.
pub fn istio_revision<'e>(engine: &'e Engine<'_>, verdict: &Verdict) -> Option<&'e str> {
    match verdict.webhook.and_then(|i| engine.roles.get(i)) {
        Some(WebhookRole::Istio { revision }) => Some(revision),
        _ => None,
    }
}

/// The injector settings (and so the version rules) that apply to a pod: the revision that
/// serves it; else the revision or tag its namespace or its own `istio.io/rev` label names;
/// else the default revision; else any revision. `None` when no Istio revision is known.
pub fn istio_settings<'e>(
    engine: &'e Engine<'_>,
    subject: &PodSubject<'_>,
    verdict: &Verdict,
) -> Option<&'e InjectorSettings> {
    if let Some(rev) = istio_revision(engine, verdict) {
        return engine.istio.settings_for_revision(rev);
    }
    let named = engine
        .namespace_labels(&subject.namespace)
        .and_then(|l| l.get(ISTIO_REV))
        .or_else(|| subject.meta.labels.as_ref().and_then(|l| l.get(ISTIO_REV)));
    if let Some(name) = named
        && let Some(w) = engine
            .istio
            .webhooks
            .iter()
            .find(|w| w.tag.as_deref() == Some(name.as_str()) || w.revision == *name)
        && let Some(s) = engine.istio.settings_for_revision(&w.revision)
    {
        return Some(s);
    }
    engine
        .istio
        .settings_for_revision("default")
        .or_else(|| engine.istio.revisions.values().next())
}

/// A workload that controls a pod, found by following controller `ownerReferences` through
/// objects present in the state (pod → ReplicaSet → Deployment, pod → Job → CronJob, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub kind: &'static str,
    pub name: String,
}

/// The top-most workload in the state that controls `meta` (a pod), or `None` when the pod
/// has no controller or its controller is not in the input.
pub fn controlling_workload(
    state: &ClusterState,
    namespace: &str,
    meta: &ObjectMeta,
) -> Option<Owner> {
    let mut found: Option<Owner> = None;
    let mut current = meta;
    // Owner chains are at most two hops deep; the bound also stops a malformed cycle.
    for _ in 0..4 {
        let Some(r) = current
            .owner_references
            .iter()
            .flatten()
            .find(|r| r.controller == Some(true))
        else {
            break;
        };
        let ns = Some(namespace);
        let next: Option<(&'static str, &ObjectMeta)> = match r.kind.as_str() {
            "ReplicaSet" => state
                .replicasets
                .get(ns, &r.name)
                .map(|o| ("ReplicaSet", &o.obj.metadata)),
            "Deployment" => state
                .deployments
                .get(ns, &r.name)
                .map(|o| ("Deployment", &o.obj.metadata)),
            "StatefulSet" => state
                .statefulsets
                .get(ns, &r.name)
                .map(|o| ("StatefulSet", &o.obj.metadata)),
            "DaemonSet" => state
                .daemonsets
                .get(ns, &r.name)
                .map(|o| ("DaemonSet", &o.obj.metadata)),
            "Job" => state
                .jobs
                .get(ns, &r.name)
                .map(|o| ("Job", &o.obj.metadata)),
            "CronJob" => state
                .cronjobs
                .get(ns, &r.name)
                .map(|o| ("CronJob", &o.obj.metadata)),
            _ => None,
        };
        let Some((kind, m)) = next else { break };
        found = Some(Owner {
            kind,
            name: r.name.clone(),
        });
        current = m;
    }
    found
}

/// Whether a subject is a pod whose controlling workload is in the input: the workload's
/// template is then a subject of its own, and findings about what the pod carries go there
/// (it is where the fix is made) rather than being repeated for every replica.
pub fn covered_by_workload(ctx: &CheckContext<'_>, subject: &PodSubject<'_>) -> bool {
    subject.target.kind == "Pod"
        && controlling_workload(ctx.state, &subject.namespace, subject.meta).is_some()
}

/// `labels` or `annotations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Labels,
    Annotations,
}

impl Section {
    pub fn key(self) -> &'static str {
        match self {
            Section::Labels => "labels",
            Section::Annotations => "annotations",
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Section::Labels => "label",
            Section::Annotations => "annotate",
        }
    }
}

/// One change to a pod's (template's) metadata: set `key` to a value, or remove it (`None`).
#[derive(Debug, Clone)]
pub struct MetaChange<'a> {
    pub section: Section,
    pub key: &'a str,
    pub value: Option<&'a str>,
}

/// Quotes text for a POSIX shell when it holds anything but safe characters.
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@".contains(c))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The command that applies `template` changes to a subject: a merge patch of the workload's
/// pod template (also removing `own` keys from the workload's own metadata), or, for a bare
/// pod, recreating it with the change (a running pod is never re-injected).
pub fn change_command(
    subject: &PodSubject<'_>,
    template: &[MetaChange<'_>],
    own: &[MetaChange<'_>],
) -> String {
    let ns = shell_quote(&subject.namespace);
    let name = shell_quote(&subject.target.name);
    if subject.target.kind == "Pod" {
        let mut cmd = format!("kubectl get pod {name} -n {ns} -o yaml");
        for c in template {
            let arg = match c.value {
                Some(v) => format!("{}={}", c.key, v),
                None => format!("{}-", c.key),
            };
            cmd.push_str(&format!(
                " | kubectl {} -f - --local --overwrite -o yaml {}",
                c.section.verb(),
                shell_quote(&arg)
            ));
        }
        cmd.push_str(" | kubectl replace --force -f -");
        return cmd;
    }
    let mut meta = Map::new();
    for c in template {
        let entry = meta
            .entry(c.section.key())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            m.insert(c.key.to_owned(), c.value.map_or(Value::Null, |v| json!(v)));
        }
    }
    let template_value = json!({ "metadata": meta });
    let spec = if subject.target.kind == "CronJob" {
        json!({"jobTemplate": {"spec": {"template": template_value}}})
    } else {
        json!({ "template": template_value })
    };
    let mut patch = Map::new();
    if !own.is_empty() {
        let mut own_meta = Map::new();
        for c in own {
            let entry = own_meta
                .entry(c.section.key())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = entry {
                m.insert(c.key.to_owned(), c.value.map_or(Value::Null, |v| json!(v)));
            }
        }
        patch.insert("metadata".to_owned(), Value::Object(own_meta));
    }
    patch.insert("spec".to_owned(), spec);
    let text = Value::Object(patch).to_string();
    format!(
        "kubectl patch {} {name} -n {ns} --type merge -p {}",
        subject.target.kind.to_ascii_lowercase(),
        shell_quote(&text)
    )
}

/// `deployment web, pod api-1 and 3 more`.
pub fn name_list(names: &[String], shown: usize) -> String {
    match names.len() {
        0 => String::new(),
        n if n <= shown => names.join(", "),
        n => {
            let first: Vec<&str> = names.iter().take(shown).map(String::as_str).collect();
            format!("{} and {} more", first.join(", "), n - shown)
        }
    }
}

/// Subjects an Istio revision's injector was called for and left without a sidecar because of
/// its policy (workload templates, and pods no workload in the input covers).
pub fn not_injected_by_policy<'c>(
    ctx: &'c CheckContext<'_>,
    revision: &str,
) -> Vec<&'c (PodSubject<'c>, Verdict)> {
    ctx.subjects
        .iter()
        .filter(|(s, v)| {
            !v.inject
                && v.decisive == "policy"
                && istio_revision(ctx.engine, v) == Some(revision)
                && !covered_by_workload(ctx, s)
        })
        .collect()
}

/// Whether an active (not deactivated) webhook is served by `revision`'s istiod.
pub fn revision_is_served(engine: &Engine<'_>, revision: &str) -> bool {
    engine
        .istio
        .webhooks
        .iter()
        .any(|w| !w.deactivated && w.revision == revision)
}

/// The command that sets `global.proxy.autoInject` (rendered into the injector ConfigMap's
/// `policy`) for a revision: a Helm upgrade of the release that owns the ConfigMap (the
/// release the docs install, `istiod` or `istiod-<revision>`, when the ConfigMap does not
/// say). Editing the ConfigMap itself is undone by the next upgrade.
pub fn auto_inject_command(
    ctx: &CheckContext<'_>,
    settings: &InjectorSettings,
    value: &str,
) -> String {
    let (cm_ns, cm_name) = settings
        .configmap
        .as_deref()
        .and_then(|c| c.split_once('/'))
        .unwrap_or(("istio-system", "istio-sidecar-injector"));
    let annotations = ctx
        .state
        .configmaps
        .get(Some(cm_ns), cm_name)
        .and_then(|c| c.obj.metadata.annotations.as_ref());
    let release = get(annotations, "meta.helm.sh/release-name")
        .map(str::to_owned)
        .unwrap_or_else(|| {
            if settings.revision == "default" {
                "istiod".to_owned()
            } else {
                format!("istiod-{}", settings.revision)
            }
        });
    let release_ns = get(annotations, "meta.helm.sh/release-namespace").unwrap_or(cm_ns);
    format!(
        "helm upgrade {} istio/istiod -n {} --reuse-values --set global.proxy.autoInject={value}",
        shell_quote(&release),
        shell_quote(release_ns)
    )
}

/// The value of `key` in a metadata map, if any.
pub fn get<'a>(map: Option<&'a BTreeMap<String, String>>, key: &str) -> Option<&'a str> {
    map.and_then(|m| m.get(key)).map(String::as_str)
}

/// The injector settings of every Istio revision some active webhook serves, for the checks
/// that read the injector policy. Skips when there is no Istio webhook, or when no served
/// revision's injector ConfigMap is in the input (the policy is then unknown, not fine).
pub(crate) fn served_injector_settings<'e>(
    engine: &'e Engine<'_>,
) -> Result<Vec<&'e InjectorSettings>, crate::check::Skip> {
    use crate::check::Skip;
    if !has_istio(engine) {
        return Err(Skip("no Istio injection webhook in the input".to_owned()));
    }
    let served: Vec<&InjectorSettings> = engine
        .istio
        .revisions
        .values()
        .filter(|s| revision_is_served(engine, &s.revision))
        .collect();
    if !served.is_empty() && served.iter().all(|s| s.configmap.is_none()) {
        return Err(Skip(
            "no istio-sidecar-injector ConfigMap for any served Istio revision in the input"
                .to_owned(),
        ));
    }
    Ok(served)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::TargetRef;
    use crate::origin::Origin;

    fn subject<'a>(kind: &str, meta: &'a ObjectMeta) -> PodSubject<'a> {
        PodSubject {
            target: TargetRef {
                kind: kind.to_owned(),
                namespace: Some("shop".into()),
                name: "web".into(),
            },
            namespace: "shop".into(),
            meta,
            spec: None,
            workload_meta: None,
            origin: Origin::Derived,
        }
    }

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(shell_quote("web-1"), "web-1");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn patches_the_template_of_each_kind() {
        let meta = ObjectMeta::default();
        let set = [MetaChange {
            section: Section::Labels,
            key: "sidecar.istio.io/inject",
            value: Some("true"),
        }];
        assert_eq!(
            change_command(&subject("Deployment", &meta), &set, &[]),
            r#"kubectl patch deployment web -n shop --type merge -p '{"spec":{"template":{"metadata":{"labels":{"sidecar.istio.io/inject":"true"}}}}}'"#
        );
        assert_eq!(
            change_command(&subject("CronJob", &meta), &set, &[]),
            r#"kubectl patch cronjob web -n shop --type merge -p '{"spec":{"jobTemplate":{"spec":{"template":{"metadata":{"labels":{"sidecar.istio.io/inject":"true"}}}}}}}'"#
        );
        let own = [MetaChange {
            section: Section::Annotations,
            key: "sidecar.istio.io/inject",
            value: None,
        }];
        let cmd = change_command(&subject("StatefulSet", &meta), &set, &own);
        assert!(
            cmd.contains(r#"{"metadata":{"annotations":{"sidecar.istio.io/inject":null}},"spec""#),
            "{cmd}"
        );
    }

    #[test]
    fn recreates_bare_pods() {
        let meta = ObjectMeta::default();
        let set = [MetaChange {
            section: Section::Annotations,
            key: "linkerd.io/inject",
            value: Some("enabled"),
        }];
        assert_eq!(
            change_command(&subject("Pod", &meta), &set, &[]),
            "kubectl get pod web -n shop -o yaml | kubectl annotate -f - --local --overwrite -o yaml linkerd.io/inject=enabled | kubectl replace --force -f -"
        );
    }

    #[test]
    fn lists_names() {
        let n: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(name_list(&n, 5), "a, b, c");
        assert_eq!(name_list(&n, 2), "a, b and 1 more");
        assert_eq!(name_list(&[], 2), "");
    }
}
