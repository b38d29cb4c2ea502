//! `meshdoctor explain <kind>/<name>` and `kubectl inject-why`: the verdict for one pod or
//! workload, the ordered trace with the decisive step marked, and the change that would flip it.
//! The plugin without a target lists the verdict of every pod and workload in scope.

use serde::Serialize;

use super::Failure;
use super::args::{ExplainArgs, ExplainFormat, GlobalArgs, PluginCli, SourceArgs};
use super::common::Wants;
use crate::decision::{Mesh, TargetRef, WebhookRef};
use crate::engine::Engine;
use crate::report;
use crate::workload::{all_subjects, parse_target, resolve};

pub fn run(global: &GlobalArgs, args: &ExplainArgs) -> Result<(), Failure> {
    explain_one(global, &args.target, &args.source, args.output)
}

/// `kubectl inject-why [KIND/NAME]`.
pub fn run_plugin(cli: &PluginCli) -> Result<(), Failure> {
    match &cli.target {
        Some(target) => explain_one(&cli.global, target, &cli.source, cli.output),
        None => summary(&cli.global, &cli.source, cli.all_namespaces, cli.output),
    }
}

fn explain_one(
    global: &GlobalArgs,
    target: &str,
    source: &SourceArgs,
    output: ExplainFormat,
) -> Result<(), Failure> {
    let (kind, name) = parse_target(target)?;
    let loaded = super::common::load_state(
        source,
        Wants::Target {
            kind,
            name: name.clone(),
        },
    )?;
    let state = loaded.state;
    let engine = Engine::new(&state, super::common::engine_options(global)?);
    let subject = resolve(&state, kind, &loaded.namespace, &name)?;
    let decision = engine.explain(&subject);
    let out = match output {
        ExplainFormat::Table => report::explain::table(&decision, super::common::use_color(global)),
        ExplainFormat::Json => report::to_json(&decision),
        ExplainFormat::Yaml => report::to_yaml(&decision),
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
    let loaded = super::common::load_state(source, wants)?;
    let state = loaded.state;
    let engine = Engine::new(&state, super::common::engine_options(global)?);
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
