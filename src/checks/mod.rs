//! The built-in check catalog, one file per check. The order here is the order of
//! `meshdoctor checks` and of the runner.

mod namespace_not_selected;

pub(crate) mod util;

use crate::check::Check;

/// Every built-in check.
pub fn builtin() -> Vec<Box<dyn Check>> {
    vec![Box::new(namespace_not_selected::NamespaceNotSelected)]
}
