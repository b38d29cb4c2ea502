//! Webhook matching as the Kubernetes API server does it. Knows nothing about any mesh.
