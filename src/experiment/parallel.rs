//! Running a study's independent stages side by side: a fixed number of worker threads take
//! items in order. On the CPU one training barely fills two cores (burn's CPU kernels are
//! parallel only in parts), so two at a time finish the study sooner. Each worker gets its own
//! share of the cores as a rayon pool, which burn's CPU kernels and the stages' own parallel
//! loops then use: side-by-side trainings do not compete for (and spin-wait on) one pool.

use anyhow::Result;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// `f` applied to every item with at most `jobs` running at once; the results in the items'
/// order. After a failure no new item starts, and the first failure (in item order) is returned.
pub fn map<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Result<R>>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let worker = || {
        while !failed.load(Ordering::SeqCst) {
            let i = next.fetch_add(1, Ordering::SeqCst);
            let Some(item) = items.get(i) else { break };
            let r = f(item);
            if r.is_err() {
                failed.store(true, Ordering::SeqCst);
            }
            *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        }
    };
    let workers = jobs.clamp(1, items.len().max(1));
    if workers == 1 {
        worker();
    } else {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = (cores / workers).max(1);
        let pools = (0..workers)
            .map(|_| rayon::ThreadPoolBuilder::new().num_threads(threads).build())
            .collect::<Result<Vec<_>, _>>()?;
        std::thread::scope(|s| {
            for pool in &pools {
                s.spawn(move || pool.install(worker));
            }
        });
    }
    let mut out = Vec::with_capacity(items.len());
    for slot in slots {
        match slot.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(r) => out.push(r?),
            // Only after a failure do items go unstarted; that failure comes first.
            None => anyhow::bail!("a stage did not run because an earlier one failed"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn results_come_in_item_order_whatever_finishes_first() {
        let items: Vec<u64> = (0..7).collect();
        let out = map(&items, 3, |&i| {
            // Early items finish last.
            std::thread::sleep(Duration::from_millis(5 * (7 - i)));
            Ok(i * 10)
        })
        .unwrap();
        assert_eq!(out, vec![0, 10, 20, 30, 40, 50, 60]);
    }

    #[test]
    fn two_jobs_run_at_the_same_time() {
        // Item 0 waits for a message that only item 1 sends: sequential running times out.
        let (tx, rx) = mpsc::channel::<()>();
        let (tx, rx) = (Mutex::new(tx), Mutex::new(rx));
        let out = map(&[0, 1], 2, |&i| {
            if i == 0 {
                let got = rx.lock().unwrap().recv_timeout(Duration::from_secs(20));
                Ok(got.is_ok())
            } else {
                tx.lock().unwrap().send(()).unwrap();
                Ok(true)
            }
        })
        .unwrap();
        assert_eq!(out, vec![true, true]);
    }

    #[test]
    fn each_job_has_its_share_of_the_cores() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = map(&[0, 1, 2], 2, |_| Ok(rayon::current_num_threads())).unwrap();
        assert_eq!(threads, vec![(cores / 2).max(1); 3]);
    }

    #[test]
    fn one_job_runs_items_in_order_on_the_calling_thread() {
        let seen = Mutex::new(Vec::new());
        let caller = std::thread::current().id();
        map(&[1, 2, 3], 1, |&i| {
            assert_eq!(std::thread::current().id(), caller);
            seen.lock().unwrap().push(i);
            Ok(())
        })
        .unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![1, 2, 3]);
    }

    #[test]
    fn a_failure_stops_new_items_and_is_returned() {
        let started = AtomicUsize::new(0);
        let err = map(&[0, 1, 2, 3, 4, 5], 1, |&i| {
            started.fetch_add(1, Ordering::SeqCst);
            if i == 2 {
                anyhow::bail!("item {i} broke")
            }
            Ok(i)
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "item 2 broke");
        assert_eq!(started.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn the_first_failure_in_item_order_wins() {
        let err = map(&[0, 1, 2, 3], 2, |&i| {
            // Item 3 fails first in time, item 1 later: item 1's error is reported.
            std::thread::sleep(Duration::from_millis(if i == 1 { 50 } else { 0 }));
            anyhow::ensure!(i % 2 == 0, "item {i} broke");
            Ok(i)
        });
        let msg = err.unwrap_err().to_string();
        assert!(msg == "item 1 broke", "{msg}");
    }
}
