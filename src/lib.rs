//! meshdoctor: explains whether a service-mesh sidecar will be injected into a pod, why, what the
//! mutated pod looks like, and what is broken in the injection machinery.
//!
//! The data flow is `source → state → mesh profiles → engine → checks → report`
//! (see `docs/architecture.md`). The binaries are thin wrappers around the `cli` module.

pub mod admission;
pub mod allocator;
pub mod check;
pub mod checks;
pub mod cli;
pub mod decision;
pub mod dryrun;
pub mod engine;
pub mod flip;
#[doc(hidden)]
pub mod fuzzing;
pub mod mesh;
pub mod origin;
pub mod parallel;
pub mod pki;
pub mod preflight;
pub mod progress;
pub mod render;
pub mod report;
pub mod selector;
pub mod serve;
pub mod source;
pub mod state;
pub mod timings;
pub mod trace;
pub mod workload;
