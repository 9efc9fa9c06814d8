//! Before any transfer: one job per file, what is on disk already, what
//! remains to fetch and whether it fits, and what a dry run reports.

use crate::input::Row;
use crate::job::{Done, Job, Status};
use crate::transfer::resumable_bytes;
use cxg_core::{At, Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// The files to get: one job per file name (later rows with the same URL
/// share its result), and for every row its job or why it has none.
pub struct Work {
    pub jobs: Vec<Job>,
    pub slot: Vec<std::result::Result<usize, String>>,
}

impl Work {
    pub fn of(rows: &[Row]) -> Work {
        let mut w = Work {
            jobs: Vec::new(),
            slot: Vec::with_capacity(rows.len()),
        };
        let mut by_name: HashMap<String, usize> = HashMap::new();
        for r in rows {
            let slot = match &r.job {
                Err(e) => Err(e.clone()),
                Ok(j) => match by_name.get(&j.name) {
                    Some(&i) if w.jobs[i].url == j.url && w.jobs[i].size == j.size => Ok(i),
                    Some(&i) => Err(format!(
                        "'{}' is also the file of another row with a different url or size ({})",
                        j.name, w.jobs[i].url
                    )),
                    None => {
                        by_name.insert(j.name.clone(), w.jobs.len());
                        w.jobs.push(j.clone());
                        Ok(w.jobs.len() - 1)
                    }
                },
            };
            w.slot.push(slot);
        }
        w
    }

    /// Take the sizes the input lacks from a datasets index (url -> size).
    pub fn sizes_from(&mut self, sizes: &HashMap<String, u64>) {
        for j in self.jobs.iter_mut().filter(|j| j.size.is_none()) {
            j.size = sizes.get(&j.url).copied();
        }
    }

    /// Rows that cannot be processed.
    pub fn bad_rows(&self) -> usize {
        self.slot.iter().filter(|s| s.is_err()).count()
    }
}

/// What is on disk for a job before anything is transferred.
pub enum Plan {
    Present(u64),
    /// Bytes still to fetch (None: size unknown), and the bytes already in a `.part`.
    Fetch(Option<u64>, u64),
}

pub fn plan(dir: &Path, job: &Job) -> Plan {
    let dest = dir.join(&job.name);
    let final_len = std::fs::metadata(&dest)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    if let (Some(l), Some(s)) = (final_len, job.size) {
        if l == s && l > 0 {
            return Plan::Present(l);
        }
    }
    let part = resumable_bytes(dir, job);
    match job.size {
        Some(s) if part > 0 => Plan::Fetch(Some(s.saturating_sub(part)), part),
        Some(s) => Plan::Fetch(Some(s), 0),
        None => Plan::Fetch(None, part),
    }
}

/// What the plans add up to.
#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    /// Bytes to fetch (of the files whose size is known).
    pub need: u64,
    /// Files to fetch whose size is unknown.
    pub unknown: usize,
    pub present: usize,
    /// Bytes already in `.part` files that will be continued.
    pub partial: u64,
    pub to_fetch: usize,
}

impl Totals {
    /// The totals of the plans; sizes whose sum does not fit in 64 bits
    /// are an error (never a total that wrapped around).
    pub fn of(plans: &[Plan]) -> Result<Totals> {
        let mut t = Totals::default();
        let add = |sum: u64, n: u64, what: &str| {
            sum.checked_add(n).ok_or_else(|| {
                Error::input(format!(
                    "the {what} add up to more than {} bytes: a size in the input is wrong",
                    u64::MAX
                ))
            })
        };
        for p in plans {
            match p {
                Plan::Present(_) => t.present += 1,
                Plan::Fetch(n, part) => {
                    t.to_fetch += 1;
                    t.partial = add(t.partial, *part, "bytes already in .part files")?;
                    match n {
                        Some(n) => t.need = add(t.need, *n, "sizes of the files to fetch")?,
                        None => t.unknown += 1,
                    }
                }
            }
        }
        Ok(t)
    }

    /// The line that says what the run will do.
    pub fn summary(
        &self,
        rows: usize,
        files: usize,
        bad_rows: usize,
        free: u64,
        dir: &Path,
    ) -> String {
        let unknown = match self.unknown {
            0 => String::new(),
            n => format!(" + {n} of unknown size"),
        };
        let partial = match self.partial {
            0 => String::new(),
            n => format!(", continuing from {} already in .part files", human(n)),
        };
        format!(
            "{rows} rows, {files} files: {} present, {} to fetch ({} = {} bytes{unknown}{partial}), {bad_rows} rows with errors; {} free in '{}'",
            self.present,
            self.to_fetch,
            human(self.need),
            self.need,
            human(free),
            dir.display()
        )
    }

    /// Fail when what remains exceeds the `--max-total` bound.
    pub fn check_bound(&self, max: Option<u64>) -> Result<()> {
        match max {
            Some(m) if self.need > m => Err(Error::input(format!(
                "{} files need {} bytes ({}), more than --max-total {} ({}): nothing transferred; \
                 narrow the input or give a larger --max-total to go ahead",
                self.to_fetch,
                self.need,
                human(self.need),
                m,
                human(m)
            ))),
            _ => Ok(()),
        }
    }

    /// Fail when what remains does not fit in `free` bytes.
    pub fn check_space(&self, free: u64, dir: &Path) -> Result<()> {
        if self.need <= free {
            return Ok(());
        }
        Err(Error::input(format!(
            "not enough space in '{}': {} files need {} bytes ({}), {free} bytes ({}) are available",
            dir.display(),
            self.to_fetch,
            self.need,
            human(self.need),
            human(free)
        )))
    }
}

/// The free bytes of `dir`'s filesystem (or what the tests assume).
pub fn free_space(dir: &Path, assume: Option<u64>) -> Result<u64> {
    match assume {
        Some(n) => Ok(n),
        None => cxg_core::io::free_space(dir).at(format_args!(
            "cannot read the free space of '{}'",
            dir.display()
        )),
    }
}

/// What a dry run reports for each job.
pub fn dry_run(jobs: &[Job], plans: &[Plan]) -> Vec<Done> {
    let one = |j: &Job, p: &Plan| match p {
        Plan::Present(l) => Done {
            status: Status::Present,
            bytes: Some(*l),
            sha256: String::new(),
            verified_by: "size".into(),
            etag: String::new(),
            reason: "dry run: already present".into(),
            service: false,
        },
        Plan::Fetch(n, part) => {
            let mut d = Done::failed("", j.size, false);
            d.reason = match (n, part) {
                (Some(n), 0) => format!("dry run: would download {n} bytes"),
                (Some(n), p) => format!("dry run: would resume from byte {p} ({n} bytes left)"),
                (None, _) => "dry run: would download (size unknown)".into(),
            };
            d
        }
    };
    jobs.iter().zip(plans).map(|(j, p)| one(j, p)).collect()
}

/// Bytes in binary units, for messages.
pub fn human(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = n as f64;
    let mut i = 0;
    while x >= 1024.0 && i < U.len() - 1 {
        x /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{x:.1} {}", U[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(10), "10 B");
    }
}
