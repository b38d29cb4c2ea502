//! Pages of a mapped input file handed back to the kernel once their items are typed.
//!
//! A large snapshot is mapped read-only (`offline::FileContents`), and all of it is resident
//! while its items are typed: for a 50,000-pod JSON file that is 1.5 GiB beside the 2 GiB of
//! state being built, most of the peak above the state itself. Once a chunk of items is typed
//! its text is not needed again (an item left to the general path is read again, which only
//! faults its pages back in from the file), so the loader gives the chunk's whole pages back
//! with `madvise(MADV_DONTNEED)`. On a private, never-written file mapping that only drops the
//! pages from memory: reading them again returns the file's bytes, so no value ever changes.
//!
//! Text that is not inside a registered mapping (a file read into memory, stdin, a string a
//! test built) is never touched: there `MADV_DONTNEED` would zero the memory.

use std::ops::Range;
use std::sync::Mutex;

/// The address ranges of the read-only file mappings being loaded.
static MAPPED: Mutex<Vec<Range<usize>>> = Mutex::new(Vec::new());

/// A mapping's registration, for as long as the loader reads it.
pub(super) struct Registered(Range<usize>);

impl Registered {
    /// Registers `bytes`, which must be a private read-only file mapping nothing writes to.
    pub(super) fn new(bytes: &[u8]) -> Registered {
        let range = address_range(bytes);
        if let Ok(mut mapped) = MAPPED.lock() {
            mapped.push(range.clone());
        }
        Registered(range)
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut mapped) = MAPPED.lock()
            && let Some(i) = mapped.iter().position(|r| *r == self.0)
        {
            mapped.swap_remove(i);
        }
    }
}

fn address_range(bytes: &[u8]) -> Range<usize> {
    let start = bytes.as_ptr() as usize;
    start..start + bytes.len()
}

/// Gives back the whole pages of `bytes` when they lie inside a registered mapping; does
/// nothing otherwise.
pub(super) fn release(bytes: &[u8]) {
    release_span(bytes, bytes);
}

/// [`release`] for the text from the start of `first` to the end of `last` (two slices of the
/// same text, `first` not after `last`).
pub(super) fn release_span(first: &[u8], last: &[u8]) {
    let range = first.as_ptr() as usize..last.as_ptr() as usize + last.len();
    let inside = range.start <= range.end
        && MAPPED.lock().is_ok_and(|mapped| {
            mapped
                .iter()
                .any(|m| m.start <= range.start && range.end <= m.end)
        });
    if inside {
        release_pages(range);
    }
}

#[cfg(unix)]
fn release_pages(range: Range<usize>) {
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let start = range.start.next_multiple_of(page.max(1));
    let end = range.end / page.max(1) * page.max(1);
    if end > start {
        // SAFETY: the pages lie inside a private read-only file mapping that stays mapped
        // while it is registered (the caller's borrow of `bytes` proves it is alive); dropping
        // such pages only makes the next read fault them in again from the file.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

#[cfg(not(unix))]
fn release_pages(_: Range<usize>) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_outside_a_registered_mapping_is_never_released() {
        let heap = vec![7u8; 1 << 20];
        release(&heap);
        assert!(heap.iter().all(|&b| b == 7));
    }

    #[test]
    fn a_released_mapping_reads_back_the_file() {
        let dir = std::env::temp_dir().join(format!("meshdoctor-mapped-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let bytes: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: a private read-only map of a file only this test writes, before mapping.
        let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        {
            let _registered = Registered::new(&map);
            release(&map[1000..]);
        }
        assert_eq!(&map[..], &bytes[..]);
        // Unregistered again: releasing is a no-op.
        assert!(
            MAPPED
                .lock()
                .unwrap()
                .iter()
                .all(|r| *r != address_range(&map))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
