//! `meshdoctor man DIR`: one roff page per command, generated from the clap definitions so the
//! pages cannot drift from `--help` (docs/man/ is checked for freshness by tests/man_pages.rs).

use std::path::Path;

use clap::CommandFactory;

use crate::cli::Failure;
use crate::cli::args::{Cli, ManArgs};

pub fn run(args: &ManArgs) -> Result<(), Failure> {
    write_pages(&args.dir).map_err(|e| Failure::Usage(format!("{}: {e}", args.dir.display())))?;
    Ok(())
}

/// The pages, by file name: `meshdoctor.1` and `meshdoctor-SUBCOMMAND.1`.
pub fn pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let root = Cli::command().version(env!("CARGO_PKG_VERSION"));
    let mut out = Vec::new();
    let mut buf = Vec::new();
    clap_mangen::Man::new(root.clone()).render(&mut buf)?;
    out.push(("meshdoctor.1".to_owned(), buf));
    for sub in root.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("meshdoctor-{}", sub.get_name());
        let page = sub
            .clone()
            .display_name(name.clone())
            .bin_name(format!("meshdoctor {}", sub.get_name()))
            .version(env!("CARGO_PKG_VERSION"));
        let mut buf = Vec::new();
        clap_mangen::Man::new(page).render(&mut buf)?;
        out.push((format!("{name}.1"), buf));
    }
    Ok(out)
}

fn write_pages(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in pages()? {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}
