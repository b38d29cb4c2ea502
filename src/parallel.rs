//! `map`: a function applied to every item of a slice on all cores, results in item order.
//!
//! Pod verdicts and checks are independent of each other and read only shared state, so a
//! large cluster's run spreads them over the machine's cores. Items are handed out one at a
//! time from a shared counter, so that one slow item (a check that reads every pod) does not
//! leave the other threads idle.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Applies `f` to every item, on up to `available_parallelism()` threads when there are at
/// least `min_items_per_thread` items per thread; otherwise on the calling thread.
pub fn map<T: Sync, R: Send>(
    items: &[T],
    min_items_per_thread: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map(std::num::NonZero::get)
        .unwrap_or(1)
        .min(8)
        .min(items.len() / min_items_per_thread.max(1))
        .max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        out.push((i, f(item)));
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| match w.join() {
                Ok(part) => part,
                // A panic in a worker is a bug; re-raise it where the caller sees it.
                Err(payload) => std::panic::resume_unwind(payload),
            })
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_item_order() {
        let items: Vec<u64> = (0..10_000).collect();
        let squares = super::map(&items, 16, |x| x * x);
        assert_eq!(squares, items.iter().map(|x| x * x).collect::<Vec<_>>());
    }

    #[test]
    fn few_items_run_on_the_calling_thread() {
        let caller = std::thread::current().id();
        let ids = super::map(&[1, 2, 3], 16, |_| std::thread::current().id());
        assert!(ids.iter().all(|id| *id == caller));
    }
}
