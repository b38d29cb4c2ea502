//! Renders Istio injection templates into the mutated pod, as Istio 1.24's injector does:
//! Go text/template (gotmpl) with the sprig and Istio function maps over Istio's template
//! data, a Pod-scoped strategic merge patch, Istio's post-processing, and an RFC 6902 patch.
//!
//! Entry points: [`Injector`] (webhook path, [`Injector::inject_pod`]), [`kube_inject`]
//! (`istioctl kube-inject` over manifests) and [`json_patch`].

pub mod cluster;
mod config;
mod data;
pub(crate) mod fastyaml;
mod funcs_istio;
mod funcs_sprig;
mod gofmt;
mod goyaml;
mod injector;
mod kube_inject;
mod patch;
mod postprocess;
mod prometheus;
mod smp;
mod template;
pub(crate) mod typed;
mod validate;

pub use config::{InjectorConfig, InjectorValues, MeshConfig};
pub use injector::{DeployMeta, InjectContext, Injector, deploy_meta_from_pod};
pub use kube_inject::{
    KubeInjectError, KubeInjectOptions, KubeInjectOutput, kube_inject, run_kube_inject,
};
pub use patch::json_patch;
pub use smp::{SmpError, strategic_merge};

/// Writes a JSON value as `sigs.k8s.io/yaml` would (sorted keys, go-yaml v2 quoting).
pub fn to_go_yaml(v: &serde_json::Value) -> String {
    goyaml::to_yaml(v)
}

/// Errors of the render engine. Messages name the template or input and the place.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A template failed to parse (message carries `template: NAME:LINE:COL:`).
    #[error("injection template {template:?}: {message}")]
    TemplateParse {
        /// Template name.
        template: String,
        /// Located parse error.
        message: String,
    },
    /// A template failed while executing.
    #[error("injection template {template:?}: execution failed: {message}")]
    TemplateExec {
        /// Template name.
        template: String,
        /// The engine's message.
        message: String,
    },
    /// A requested template does not exist (Istio's wording).
    #[error("requested template {name:?} not found; have [{}]", have.join(" "))]
    TemplateNotFound {
        /// The requested name.
        name: String,
        /// The configured template names.
        have: Vec<String>,
    },
    /// The rendered template is not valid YAML.
    #[error("injection template {template:?}: rendered output is not valid YAML: {message}")]
    RenderedYaml {
        /// Template name.
        template: String,
        /// Parser message.
        message: String,
    },
    /// The strategic merge patch failed.
    #[error("strategic merge: {0}")]
    Merge(#[from] SmpError),
    /// Pod annotations failed Istio's validation (Istio's wording, lower-cased field names).
    #[error("{0}")]
    InvalidAnnotations(String),
    /// An annotation the injector reads could not be parsed.
    #[error("annotation {annotation:?}: {message}")]
    Annotation {
        /// Annotation key.
        annotation: String,
        /// Parse error.
        message: String,
    },
    /// A configuration input could not be parsed.
    #[error("{what}: {message}")]
    Config {
        /// Which input (injector config, values, mesh config).
        what: String,
        /// Parse error.
        message: String,
    },
}
