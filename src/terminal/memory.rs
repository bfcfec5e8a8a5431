//! How the C allocator keeps freed memory. A network's forward and backward pass allocates and
//! frees tensors of megabytes to hundreds of megabytes per operation. With glibc's defaults such
//! blocks are mapped fresh from the kernel and unmapped when freed (or trimmed off the top of a
//! heap), so each operation faults its output's pages in again and the kernel zeroes every page
//! first (perf: `clear_page_erms`, `exc_page_fault`, a tenth of `ftf bench detect`'s reference
//! inference). Here every block comes from one heap that is never trimmed, so freed memory is
//! reused. Measured on 2 cores (README, issue 18): PSMNet's reference inference 21.9 → 17.0 s,
//! PointPillars' 0.88–1.02 → 0.72–0.73 s, its tiny training step −10–15 %; peak resident memory
//! of the PSMNet reference benchmark 1.43 → 1.55 GB.

/// Keeps freed heap memory for reuse (glibc on Linux; elsewhere the allocator is left as it is).
/// Call first thing in `main`, before any thread starts. The resident size then stays at its
/// peak until the process exits, which a command-line run does once its work is done.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's settings; called before other threads run.
    unsafe {
        // One arena for every thread (worker threads would each get their own, whose heaps are
        // at most 64 MB, so larger blocks were mapped separately after all) ...
        libc::mallopt(libc::M_ARENA_MAX, 1);
        // ... that never gives the top of its heap back ...
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        // ... and serves large blocks too, instead of mapping each one on its own.
        libc::mallopt(libc::M_MMAP_MAX, 0);
    }
}
