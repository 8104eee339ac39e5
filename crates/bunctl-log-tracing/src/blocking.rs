//! Blocking calls that keep a tokio runtime running.

use tokio::runtime::{Handle, RuntimeFlavor};

/// Runs `f`, which may block the calling thread for a while (waiting for room in the writer's
/// buffer, or for the writer to shut down), without stalling a tokio runtime:
///
/// - on a thread of a multi-thread runtime, through [`tokio::task::block_in_place`]: the
///   runtime hands this worker's other tasks to another thread first, and a thread that is not
///   a worker (the `block_on` thread, a `spawn_blocking` thread) just runs `f`;
/// - anywhere else (a plain thread, a current-thread runtime, where `block_in_place` would
///   panic), directly. That cannot deadlock: the writer is an OS thread of its own, which
///   needs no runtime to make room. On a current-thread runtime it does hold up that
///   runtime's other tasks while it waits, as any blocking call there does.
///
/// tokio decides which case this is: [`Handle::try_current`] and
/// [`Handle::runtime_flavor`].
pub(crate) fn off_the_runtime<R>(f: impl FnOnce() -> R) -> R {
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::off_the_runtime;

    #[test]
    fn runs_on_plain_threads_and_both_runtime_flavors() {
        assert_eq!(off_the_runtime(|| 1), 1);

        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(async { off_the_runtime(|| 2) }), 2);

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        // On a worker, on the block_on thread, and on a blocking-pool thread.
        let on_worker = rt.block_on(async { tokio::spawn(async { off_the_runtime(|| 3) }).await });
        assert_eq!(on_worker.unwrap(), 3);
        assert_eq!(rt.block_on(async { off_the_runtime(|| 4) }), 4);
        let on_pool = rt.block_on(rt.spawn_blocking(|| off_the_runtime(|| 5)));
        assert_eq!(on_pool.unwrap(), 5);
    }
}
