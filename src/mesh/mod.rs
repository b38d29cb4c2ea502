//! Service-mesh profiles: what each mesh's injector decides once the API server calls it.

pub mod linkerd;
