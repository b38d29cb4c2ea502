//! Renders Istio injection templates into the mutated pod.
