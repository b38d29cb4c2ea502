//! The Istio mesh profile: its webhooks and revisions, injector settings per revision, the
//! control-plane version, and istiod's side of the decision.

pub mod ambient;
pub mod config;
pub mod decide;
pub mod install;
pub mod native;
pub mod version;
