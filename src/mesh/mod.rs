//! Service-mesh profiles: each mesh's webhooks, configuration objects, version differences and
//! what its injector decides once the API server calls it.

pub mod istio;
pub mod linkerd;
pub mod versions;
