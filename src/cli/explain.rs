//! `meshdoctor explain <kind>/<name>` and `kubectl inject-why`: the verdict for one pod or
//! workload, the ordered trace with the decisive step marked, and the change that would flip it.

use super::Failure;
use super::args::{ExplainArgs, ExplainFormat, GlobalArgs};
use crate::engine::Engine;
use crate::report;
use crate::workload::{parse_target, resolve};

pub fn run(global: &GlobalArgs, args: &ExplainArgs) -> Result<(), Failure> {
    let (kind, name) = parse_target(&args.target)?;
    let state = super::common::load_state(&args.source)?;
    let namespace = args
        .source
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let engine = Engine::new(&state, super::common::engine_options(global)?);
    let subject = resolve(&state, kind, &namespace, &name)?;
    let decision = engine.explain(&subject);
    let out = match args.output {
        ExplainFormat::Table => report::explain::table(&decision, super::common::use_color(global)),
        ExplainFormat::Json => report::to_json(&decision),
        ExplainFormat::Yaml => report::to_yaml(&decision),
    };
    super::common::print(&out);
    Ok(())
}
