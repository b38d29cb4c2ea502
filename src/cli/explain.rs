//! `meshdoctor explain <kind>/<name>` and `kubectl inject-why`: the verdict for one pod or
//! workload, the ordered trace with the decisive step marked, and the change that would flip it.
//! The plugin without a target lists the verdict of every pod and workload in scope. On request
//! (`--show-pod`, `--show-patch`) it also prints the pod as the injector would return it.

use serde::Serialize;
use serde_json::Value;

use super::Failure;
use super::args::{ExplainArgs, ExplainFormat, GlobalArgs, PluginCli, SourceArgs};
use super::common::Wants;
use crate::decision::{Decision, Mesh, TargetRef, WebhookRef};
use crate::engine::Engine;
use crate::render::cluster::injector_for;
use crate::render::{json_patch, to_go_yaml};
use crate::report;
use crate::workload::{PodSubject, all_subjects, parse_target, resolve};

pub fn run(global: &GlobalArgs, args: &ExplainArgs) -> Result<(), Failure> {
    if args.server_dry_run {
        // The only path that sends a request that is not a read.
        return crate::dryrun::run_explain(global, args);
    }
    let show = Show {
        pod: args.show_pod,
        patch: args.show_patch,
    };
    explain_one(global, &args.target, &args.source, args.output, show)
}

/// What to print beyond the decision.
#[derive(Debug, Clone, Copy, Default)]
struct Show {
    pod: bool,
    patch: bool,
}

/// `kubectl inject-why [KIND/NAME]`.
pub fn run_plugin(cli: &PluginCli) -> Result<(), Failure> {
    match &cli.target {
        Some(target) => explain_one(
            &cli.global,
            target,
            &cli.source,
            cli.output,
            Show::default(),
        ),
        None => summary(&cli.global, &cli.source, cli.all_namespaces, cli.output),
    }
}

fn explain_one(
    global: &GlobalArgs,
    target: &str,
    source: &SourceArgs,
    output: ExplainFormat,
    show: Show,
) -> Result<(), Failure> {
    let (kind, name) = parse_target(target)?;
    let loaded = super::common::load_state(
        source,
        Wants::Target {
            kind,
            name: name.clone(),
        },
        super::common::progress_allowed(global, output != ExplainFormat::Table),
    )?;
    super::common::note_unread(&loaded.state);
    let options = super::common::engine_options_for(global, &loaded)?;
    let state = loaded.state;
    let engine = Engine::new(&state, options);
    super::common::reject_invalid_webhooks(&engine)?;
    let subject = resolve(&state, kind, &loaded.namespace, &name)?;
    let decision = engine.explain(&subject);
    let mutation = if show.pod || show.patch {
        Some(mutate(&engine, &subject, &decision)?)
    } else {
        None
    };
    let out = match output {
        ExplainFormat::Table => {
            let mut text = report::explain::table(&decision, super::common::use_color(global));
            if let Some((mutated, patch)) = &mutation {
                if show.pod {
                    text.push_str("\nmutated pod:\n");
                    text.push_str(&to_go_yaml(mutated));
                }
                if show.patch {
                    text.push_str("\nJSON patch (RFC 6902):\n");
                    text.push_str(&report::to_json(patch));
                    text.push('\n');
                }
            }
            text
        }
        ExplainFormat::Json | ExplainFormat::Yaml => {
            let mut v = serde_json::to_value(&decision).unwrap_or(Value::Null);
            if let (Some((mutated, patch)), Some(obj)) = (&mutation, v.as_object_mut()) {
                if show.pod {
                    obj.insert("mutated_pod".to_owned(), mutated.clone());
                }
                if show.patch {
                    obj.insert("patch".to_owned(), patch.clone());
                }
            }
            if output == ExplainFormat::Json {
                report::to_json(&v)
            } else {
                report::to_yaml(&v)
            }
        }
    };
    super::common::print(&out);
    Ok(())
}

/// One line of the verdict list.
#[derive(Debug, Serialize)]
struct VerdictLine {
    target: TargetRef,
    inject: bool,
    mesh: Option<Mesh>,
    webhook: Option<WebhookRef>,
    decisive: &'static str,
}

fn summary(
    global: &GlobalArgs,
    source: &SourceArgs,
    all_namespaces: bool,
    output: ExplainFormat,
) -> Result<(), Failure> {
    let wants = Wants::Kinds {
        kinds: crate::source::live::ENGINE_KINDS.into_iter().collect(),
        all_namespaces,
    };
    let progress = super::common::progress_allowed(global, output != ExplainFormat::Table);
    let loaded = super::common::load_state(source, wants, progress)?;
    super::common::note_unread(&loaded.state);
    let options = super::common::engine_options_for(global, &loaded)?;
    let state = loaded.state;
    let engine = Engine::new(&state, options);
    super::common::reject_invalid_webhooks(&engine)?;
    let scope = (!all_namespaces).then_some(loaded.namespace.as_str());
    let lines: Vec<VerdictLine> = all_subjects(&state, scope)
        .iter()
        .map(|s| {
            let v = engine.verdict(s);
            VerdictLine {
                target: s.target.clone(),
                inject: v.inject,
                mesh: v.mesh,
                webhook: v.webhook.and_then(|i| engine.webhook_ref(i)),
                decisive: v.decisive,
            }
        })
        .collect();
    let out = match output {
        ExplainFormat::Json => report::to_json(&lines),
        ExplainFormat::Yaml => report::to_yaml(&lines),
        ExplainFormat::Table => {
            let mut t = comfy_table::Table::new();
            t.load_style(comfy_table::presets::NOTHING);
            t.set_header(vec![
                "NAMESPACE",
                "KIND",
                "NAME",
                "INJECT",
                "MESH",
                "DECIDED BY",
            ]);
            for l in &lines {
                t.add_row(vec![
                    l.target.namespace.as_deref().unwrap_or(""),
                    l.target.kind.as_str(),
                    l.target.name.as_str(),
                    if l.inject { "yes" } else { "no" },
                    l.mesh.map(Mesh::as_str).unwrap_or("-"),
                    l.decisive,
                ]);
            }
            if lines.is_empty() {
                "no pods or workloads in scope".to_owned()
            } else {
                super::common::trim_table(&t.to_string())
            }
        }
    };
    super::common::print(&out);
    Ok(())
}

/// The pod as the deciding injector returns it, and the RFC 6902 patch that takes the pod the
/// API server sends there (the pod unchanged and an empty patch when nothing injects it).
/// For Linkerd the patch is the webhook's own list of operations; for Istio, whose webhook
/// returns the difference of two pods, it is that difference.
fn mutate(
    engine: &Engine<'_>,
    subject: &PodSubject<'_>,
    decision: &Decision,
) -> Result<(Value, Value), Failure> {
    let pod = subject_pod(subject);
    if decision.inject && decision.mesh == Some(Mesh::Linkerd) {
        return super::linkerd_render::predict(
            engine,
            subject,
            &pod,
            decision,
            super::linkerd_render::PodOwner::Controller,
        );
    }
    let mutated = render_prediction(engine, subject, &pod, decision)?;
    let patch = json_patch(&pod, &mutated);
    Ok((mutated, patch))
}

/// What the injector that decided returns for `pod` (the pod unchanged when nothing injects
/// it). `explain --server-dry-run` compares this with the cluster's answer.
pub(crate) fn render_prediction(
    engine: &Engine<'_>,
    subject: &PodSubject<'_>,
    pod: &Value,
    decision: &Decision,
) -> Result<Value, Failure> {
    if !decision.inject {
        return Ok(pod.clone());
    }
    if decision.mesh == Some(Mesh::Linkerd) {
        let owner = super::linkerd_render::PodOwner::AsSent;
        return super::linkerd_render::predict(engine, subject, pod, decision, owner)
            .map(|(m, _)| m);
    }
    let namespace = subject.namespace.as_str();
    let revision = decision.revision.as_deref().unwrap_or("default");
    let settings = engine
        .istio
        .settings_for_revision(revision)
        .ok_or_else(|| {
            Failure::Usage(format!(
                "no injector settings for Istio revision \"{revision}\""
            ))
        })?;
    // A template that does not parse or render is the injector ConfigMap's fault: name it.
    let in_configmap = |e: &dyn std::fmt::Display| {
        let what = match &settings.configmap {
            Some(cm) => format!("configmap {cm}: {e}"),
            None => e.to_string(),
        };
        Failure::Input(crate::source::InputError::new(
            settings.origin.to_string(),
            what,
        ))
    };
    let (injector, mut ctx) = injector_for(engine.state, settings).map_err(|e| in_configmap(&e))?;
    ctx.request_namespace = namespace.to_owned();
    // The layout istiod picks from its flag and the Nodes, as the trace's native-sidecar step
    // says; the pod's own annotation is applied by the injector.
    static NO_ANNOTATIONS: std::collections::BTreeMap<String, String> =
        std::collections::BTreeMap::new();
    let node = subject.spec.and_then(|s| s.node_name.as_deref());
    let annotations = subject.meta.annotations.as_ref().unwrap_or(&NO_ANNOTATIONS);
    ctx.native_sidecars = Some(
        engine
            .native
            .decide(engine.state, settings, node, annotations)
            .cluster,
    );
    injector.inject_pod(pod, &ctx).map_err(|e| in_configmap(&e))
}

/// The pod as the API server receives it at CREATE: a pod's own object, or a workload's
/// template with the namespace and the `generateName` its controller would use.
pub(crate) fn subject_pod(subject: &PodSubject<'_>) -> Value {
    let mut meta = serde_json::to_value(subject.meta).unwrap_or(Value::Null);
    if let Some(m) = meta.as_object_mut() {
        m.insert(
            "namespace".to_owned(),
            Value::String(subject.namespace.clone()),
        );
        if subject.target.kind != "Pod" && !m.contains_key("name") {
            m.insert(
                "generateName".to_owned(),
                Value::String(format!("{}-", subject.target.name)),
            );
        }
    }
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": subject.spec.map(|s| serde_json::to_value(s).unwrap_or(Value::Null)).unwrap_or(Value::Null),
    })
}
