//! Bounded-concurrency work with results delivered in input order: the
//! pattern behind `-j N` for network fan-out. A fixed set of scoped worker
//! threads (not rayon, whose pool is as small as the core count) runs the
//! jobs; the caller's sink sees results in order as soon as each is ready,
//! and workers never run more than a window ahead of the sink, so memory
//! stays bounded however long the input is.

use crate::error::Result;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Condvar, Mutex};

/// Run `work` on every item with `jobs` threads and hand each result to
/// `sink` in input order. An error from `sink` stops the remaining work and
/// is returned.
pub fn ordered_map<T, R, W, S>(items: &[T], jobs: usize, work: W, mut sink: S) -> Result<()>
where
    T: Sync,
    R: Send,
    W: Fn(usize, &T) -> R + Sync,
    S: FnMut(usize, R) -> Result<()>,
{
    let jobs = jobs.clamp(1, items.len().max(1));
    let window = jobs * 4;
    let next = AtomicUsize::new(0);
    let cancel = AtomicBool::new(false);
    let emitted = Mutex::new(0usize);
    let advanced = Condvar::new();
    let (tx, rx) = mpsc::channel::<(usize, R)>();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, cancel, emitted, advanced, work) =
                (&next, &cancel, &emitted, &advanced, &work);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= items.len() || cancel.load(Ordering::SeqCst) {
                    break;
                }
                {
                    let mut done = emitted.lock().unwrap_or_else(|e| e.into_inner());
                    while i >= *done + window && !cancel.load(Ordering::SeqCst) {
                        done = advanced.wait(done).unwrap_or_else(|e| e.into_inner());
                    }
                }
                if cancel.load(Ordering::SeqCst) {
                    break;
                }
                let r = work(i, &items[i]);
                if tx.send((i, r)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut want = 0usize;
        let mut result = Ok(());
        for (i, r) in rx.iter() {
            if result.is_err() {
                continue; // drain so that workers can finish
            }
            pending.insert(i, r);
            while let Some(r) = pending.remove(&want) {
                if let Err(e) = sink(want, r) {
                    result = Err(e);
                    cancel.store(true, Ordering::SeqCst);
                    break;
                }
                want += 1;
            }
            *emitted.lock().unwrap_or_else(|e| e.into_inner()) = want;
            advanced.notify_all();
        }
        result
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn keeps_input_order() {
        let items: Vec<u64> = (0..200).collect();
        for jobs in [1, 3, 16] {
            let mut out = Vec::new();
            ordered_map(
                &items,
                jobs,
                |_, &x| {
                    std::thread::sleep(std::time::Duration::from_micros((x * 7919) % 500));
                    x * 2
                },
                |i, r| {
                    out.push((i, r));
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(
                out,
                items
                    .iter()
                    .map(|&x| (x as usize, x * 2))
                    .collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn sink_error_stops_the_work() {
        let items: Vec<u64> = (0..10_000).collect();
        let ran = AtomicUsize::new(0);
        let r = ordered_map(
            &items,
            4,
            |_, _| {
                ran.fetch_add(1, Ordering::SeqCst);
            },
            |i, _| {
                if i == 5 {
                    Err(Error::api("stop"))
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!(r.unwrap_err().msg, "stop");
        assert!(ran.load(Ordering::SeqCst) < 200);
    }

    #[test]
    fn empty_input() {
        let items: Vec<u8> = vec![];
        ordered_map(&items, 8, |_, _| 1, |_, _| panic!("no items")).unwrap();
    }
}
