//! The process-wide allocator: mimalloc, tuned for loading large snapshots.
//!
//! A 50,000-pod snapshot is millions of small allocations made from several threads at once
//! (the loader types list items in parallel, see `source::typed`); mimalloc's per-thread heaps
//! make that part of a large `check -A --from` markedly cheaper than the system allocator
//! (docs/scale.md). It lives in the library so that the binaries, the tests and the benchmarks
//! all measure the same thing.

/// Not in the library's own unit tests: one of them installs a counting allocator to prove the
/// decision path allocation-free.
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_arena_eager_commit` in mimalloc.h's `mi_option_e` (the bindings name no constant
/// for it).
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// Commits the allocator's arenas up front instead of page by page: fewer system calls while a
/// large snapshot is typed. Call first thing in `main`, before other threads exist.
pub fn tune() {
    // SAFETY: sets a process-wide option; mimalloc documents options as settable at any time,
    // and the binaries call this before starting any thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 1) };
}
