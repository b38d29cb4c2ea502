//! Mesh profiles.
pub mod istio;
