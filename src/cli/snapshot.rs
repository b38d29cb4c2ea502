//! `meshdoctor snapshot`: capture the injection-relevant state (from the cluster, or from
//! `--from` files) into one `kind: List` file that `--from` reads back.

use std::collections::BTreeSet;

use super::Failure;
use super::args::{GlobalArgs, SnapshotArgs, SnapshotFormat};
use super::common::Wants;
use crate::source::snapshot;
use crate::state::Kind;

pub fn run(global: &GlobalArgs, args: &SnapshotArgs) -> Result<(), Failure> {
    let wants = Wants::Kinds {
        kinds: Kind::ALL.into_iter().collect::<BTreeSet<_>>(),
        all_namespaces: args.all_namespaces,
    };
    // The snapshot is YAML or JSON: on stdout it is for a tool, into a file it is not.
    let to_stdout = args.output_file.is_none();
    let progress = super::common::progress_allowed(global, to_stdout);
    let loaded = super::common::load_state(&args.source, wants, progress)?;
    // The snapshot records them too; the note says so to whoever took it.
    super::common::note_unread(&loaded.state);
    let scope = (!args.all_namespaces).then_some(loaded.namespace.as_str());
    let doc = snapshot::document(&loaded.state, scope);
    let text = match args.output {
        SnapshotFormat::Yaml => serde_saphyr::to_string(&doc)
            .map_err(|e| Failure::Usage(format!("cannot write the snapshot as YAML: {e}")))?,
        SnapshotFormat::Json => {
            let mut t = crate::report::to_json(&doc);
            t.push('\n');
            t
        }
    };
    match &args.output_file {
        None => super::common::print(&text),
        Some(path) => std::fs::write(path, text).map_err(|e| {
            Failure::Usage(format!(
                "--output-file {}: cannot write: {e}",
                path.display()
            ))
        })?,
    }
    Ok(())
}
