//! The datasets index sorted on disk: entries arrive in collection order
//! but the index is served by (published_at, dataset_id), descending. Up
//! to a budget of bytes they are sorted in memory; beyond it each sorted
//! run is spilled to a file, and the runs are merged (at most `FAN_IN` at
//! a time) into the output. Equal keys keep their arrival order, as a
//! stable sort in memory would, so the bytes never depend on the budget.

use cxg_core::{Error, Result};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// The most runs read at once (open files).
const FAN_IN: usize = 64;
/// Counted per entry on top of its bytes (the entry's own allocations).
const OVERHEAD: usize = 96;

/// (published_at, dataset_id)
pub(crate) type Key = (String, String);

struct Entry {
    key: Key,
    body: Vec<u8>,
}

/// Index entries in, one JSON array sorted by key (descending) out.
pub(crate) struct Sorter {
    dir: PathBuf,
    budget: usize,
    held: Vec<Entry>,
    bytes: usize,
    runs: Vec<PathBuf>,
    made: usize,
}

fn cannot_write(p: &Path, e: io::Error) -> Error {
    Error::write(&format!("'{}'", p.display()), e)
}

impl Sorter {
    /// Spill runs into `dir` (created when first needed, removed by
    /// [`Sorter::finish`]) whenever more than `budget` bytes are held.
    pub fn new(dir: PathBuf, budget: usize) -> Sorter {
        Sorter {
            dir,
            budget,
            held: Vec::new(),
            bytes: 0,
            runs: Vec::new(),
            made: 0,
        }
    }

    pub fn push(&mut self, key: Key, body: Vec<u8>) -> Result<()> {
        self.bytes += key.0.len() + key.1.len() + body.len() + OVERHEAD;
        self.held.push(Entry { key, body });
        if self.bytes > self.budget {
            self.spill()?;
        }
        Ok(())
    }

    fn new_run(&mut self) -> Result<(PathBuf, BufWriter<File>)> {
        std::fs::create_dir_all(&self.dir).map_err(|e| cannot_write(&self.dir, e))?;
        let p = self.dir.join(format!("run-{}", self.made));
        self.made += 1;
        let f = File::create(&p).map_err(|e| cannot_write(&p, e))?;
        Ok((p, BufWriter::with_capacity(1 << 16, f)))
    }

    /// The held entries, sorted, into a new run (last in order).
    fn spill(&mut self) -> Result<()> {
        self.held.sort_by(|a, b| b.key.cmp(&a.key));
        let (p, mut w) = self.new_run()?;
        let held = std::mem::take(&mut self.held);
        held.iter()
            .try_for_each(|e| write_entry(&mut w, e))
            .and_then(|()| w.flush())
            .map_err(|e| cannot_write(&p, e))?;
        self.runs.push(p);
        self.bytes = 0;
        Ok(())
    }

    /// Write every entry, largest key first, as one JSON array to `out`
    /// (named `name` in messages), and remove the runs.
    pub fn finish(mut self, out: &mut dyn Write, name: &Path) -> Result<()> {
        let w = |e| cannot_write(name, e);
        if self.runs.is_empty() {
            self.held.sort_by(|a, b| b.key.cmp(&a.key));
            let mut first = true;
            out.write_all(b"[").map_err(w)?;
            for e in &self.held {
                element(out, &mut first, &e.body).map_err(w)?;
            }
            return out.write_all(b"]").map_err(w);
        }
        if !self.held.is_empty() {
            self.spill()?;
        }
        while self.runs.len() > FAN_IN {
            // the first runs hold the earliest entries: their merge goes first
            let (p, mut wr) = self.new_run()?;
            let group: Vec<PathBuf> = self.runs.drain(..FAN_IN).collect();
            merge(&group, &mut |e| write_entry(&mut wr, &e))
                .and_then(|()| wr.flush())
                .map_err(|e| cannot_write(&p, e))?;
            remove(&group);
            self.runs.insert(0, p);
        }
        let mut first = true;
        out.write_all(b"[").map_err(w)?;
        merge(&self.runs, &mut |e| element(out, &mut first, &e.body)).map_err(w)?;
        out.write_all(b"]").map_err(w)?;
        remove(&self.runs);
        let _ = std::fs::remove_dir(&self.dir);
        Ok(())
    }
}

fn remove(runs: &[PathBuf]) {
    for p in runs {
        let _ = std::fs::remove_file(p);
    }
}

/// One element of a JSON array, after a comma unless it is the first.
fn element(out: &mut dyn Write, first: &mut bool, body: &[u8]) -> io::Result<()> {
    if !std::mem::take(first) {
        out.write_all(b",")?;
    }
    out.write_all(body)
}

fn write_field(w: &mut impl Write, b: &[u8]) -> io::Result<()> {
    let n = u32::try_from(b.len()).map_err(io::Error::other)?;
    w.write_all(&n.to_le_bytes())?;
    w.write_all(b)
}

fn write_entry(w: &mut impl Write, e: &Entry) -> io::Result<()> {
    write_field(w, e.key.0.as_bytes())?;
    write_field(w, e.key.1.as_bytes())?;
    write_field(w, &e.body)
}

/// A field, or None at the end of the run.
fn read_field(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut n = [0u8; 4];
    match r.read_exact(&mut n) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut b = vec![0u8; u32::from_le_bytes(n) as usize];
    r.read_exact(&mut b)?;
    Ok(Some(b))
}

fn read_entry(r: &mut impl Read) -> io::Result<Option<Entry>> {
    let text = |b: Vec<u8>| String::from_utf8(b).map_err(io::Error::other);
    let Some(a) = read_field(r)? else {
        return Ok(None);
    };
    let broken = || io::Error::new(io::ErrorKind::UnexpectedEof, "truncated run");
    let b = read_field(r)?.ok_or_else(broken)?;
    let body = read_field(r)?.ok_or_else(broken)?;
    Ok(Some(Entry {
        key: (text(a)?, text(b)?),
        body,
    }))
}

/// The next entry of run `run`, ordered for a max-heap: largest key
/// first, and of equal keys the earlier run's.
struct Head {
    entry: Entry,
    run: usize,
}

impl Ord for Head {
    fn cmp(&self, o: &Self) -> Ordering {
        self.entry.key.cmp(&o.entry.key).then(o.run.cmp(&self.run))
    }
}
impl PartialOrd for Head {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl PartialEq for Head {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Head {}

/// Merge the sorted `runs` into `emit`, largest key first.
fn merge(runs: &[PathBuf], emit: &mut dyn FnMut(Entry) -> io::Result<()>) -> io::Result<()> {
    let mut readers = Vec::with_capacity(runs.len());
    let mut heap = BinaryHeap::with_capacity(runs.len());
    for (run, p) in runs.iter().enumerate() {
        let mut r = BufReader::with_capacity(1 << 15, File::open(p)?);
        if let Some(entry) = read_entry(&mut r)? {
            heap.push(Head { entry, run });
        }
        readers.push(r);
    }
    while let Some(Head { entry, run }) = heap.pop() {
        emit(entry)?;
        if let Some(entry) = read_entry(&mut readers[run])? {
            heap.push(Head { entry, run });
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The same array whatever the budget: in memory, a few runs, and
    /// more runs than are merged at once; equal keys in arrival order.
    #[test]
    fn any_budget_gives_the_same_bytes() {
        let t = tempfile::tempdir().unwrap();
        let entries: Vec<(Key, String)> = (0..500u32)
            .map(|i| {
                let k = ((i * 7919) % 37).to_string();
                (
                    (format!("t{k:0>3}"), format!("d{}", i % 5)),
                    format!("{{\"i\":{i}}}"),
                )
            })
            .collect();
        let run = |budget: usize| {
            let mut s = Sorter::new(t.path().join("runs"), budget);
            for (k, b) in &entries {
                s.push(k.clone(), b.clone().into_bytes()).unwrap();
            }
            let mut out = Vec::new();
            s.finish(&mut out, Path::new("x")).unwrap();
            assert!(!t.path().join("runs").exists());
            String::from_utf8(out).unwrap()
        };
        let mut want = entries.clone();
        want.sort_by(|a, b| b.0.cmp(&a.0));
        let want = format!(
            "[{}]",
            want.iter()
                .map(|e| e.1.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        for budget in [usize::MAX, 20_000, 1_000, 1] {
            assert_eq!(run(budget), want, "budget {budget}");
        }
        let mut empty = Vec::new();
        Sorter::new(t.path().join("none"), 1)
            .finish(&mut empty, Path::new("x"))
            .unwrap();
        assert_eq!(empty, b"[]");
    }
}
