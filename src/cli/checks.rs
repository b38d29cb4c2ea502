//! `meshdoctor checks [ID]`: the catalog, from the check pages embedded in the binary.

use super::Failure;
use super::args::ChecksArgs;
use crate::check::doc;

pub fn run(args: &ChecksArgs) -> Result<(), Failure> {
    let checks = crate::check::user::catalog(&super::config::check_sources(
        args.checks_dir.as_deref(),
        args.config.as_deref(),
    )?)
    .map_err(|e| Failure::Usage(e.to_string()))?;
    let docs: Vec<doc::CheckDoc> = checks
        .iter()
        .map(|c| doc::parse(c.doc()).map_err(|e| Failure::Usage(format!("check page: {e}"))))
        .collect::<Result<_, _>>()?;
    if args.markdown {
        super::common::print(&doc::render_index(&docs));
        return Ok(());
    }
    match &args.id {
        None => {
            let mut t = comfy_table::Table::new();
            t.load_style(comfy_table::presets::NOTHING);
            t.set_header(vec!["ID", "SEVERITY", "TITLE"]);
            for d in &docs {
                t.add_row(vec![d.id.as_str(), d.severity.as_str(), d.title.as_str()]);
            }
            super::common::print(&super::common::trim_table(&t.to_string()));
            Ok(())
        }
        Some(id) => {
            let d = docs.iter().find(|d| &d.id == id).ok_or_else(|| {
                Failure::Usage(format!("unknown check \"{id}\" (see `meshdoctor checks`)"))
            })?;
            let inputs: Vec<&str> = d.inputs.iter().map(|k| k.name()).collect();
            super::common::print(&format!(
                "# {} — {}\n\nseverity: {}\ninputs: {}\n\n{}",
                d.id,
                d.title,
                d.severity.as_str(),
                inputs.join(", "),
                d.body
            ));
            Ok(())
        }
    }
}
