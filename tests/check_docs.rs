//! The check pages are the single source of the catalog's documentation: every built-in check
//! has a complete page, ids are unique kebab-case, and docs/checks.md is up to date.

use meshdoctor::check::doc::{missing_sections, parse, render_index};

#[test]
fn every_check_page_is_complete() {
    let mut ids = std::collections::BTreeSet::new();
    let mut docs = Vec::new();
    for check in meshdoctor::checks::builtin() {
        let d = parse(check.doc()).unwrap_or_else(|e| panic!("check page does not parse: {e}"));
        assert!(
            d.id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !d.id.starts_with('-'),
            "{}: id is not kebab-case",
            d.id
        );
        assert!(ids.insert(d.id.clone()), "{}: duplicate id", d.id);
        let missing = missing_sections(&d);
        assert!(missing.is_empty(), "checks/{}.md lacks {missing:?}", d.id);
        let page = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("checks")
            .join(format!("{}.md", d.id));
        assert!(
            page.is_file(),
            "{}: the page must be checks/{}.md",
            d.id,
            d.id
        );
        docs.push(d);
    }
    let generated = render_index(&docs);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/checks.md");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk.trim_end() == generated.trim_end(),
        "docs/checks.md is stale: run `cargo run -- checks --markdown > docs/checks.md`"
    );
}
