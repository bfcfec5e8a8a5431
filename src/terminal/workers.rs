//! Running a command on a worker of rayon's global pool. burn's CPU kernels and our own
//! parallel loops split their work with rayon; called from a thread outside the pool, every
//! split hands its job to the pool and puts the caller to sleep until it is done (a futex wait
//! and wake per operation, thousands per training step). Called from a worker, the caller takes
//! part in the work and the other workers steal from it. Measured with `ftf bench psmnet` and
//! `ftf bench detect` on 2 cores: tiny training steps 10–25 % faster (README, issue 18).

/// Stack of the pool's threads: as much as a main thread usually has and more, since the
/// command runs on one of them.
const STACK_BYTES: usize = 16 << 20;

/// `f()` on a worker of the global pool (sized by `RAYON_NUM_THREADS` or the cores), set up here
/// with a main-thread-sized stack unless it exists already.
pub fn on_global_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    // An error only says the global pool exists already; it is then used as it is.
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(STACK_BYTES)
        .build_global();
    rayon::scope(|_| f())
}
