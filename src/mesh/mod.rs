//! Mesh profiles.
pub mod istio;
pub mod linkerd;
