//! What a run counts as it goes, and says at its end: datasets the index
//! lacks, and `--where` failures grouped by message.

use cxg_core::ctx::Diag;
use cxg_core::{Error, Result};
use std::collections::HashMap;
use std::path::PathBuf;

/// Up to this many examples are named in a summary line.
const NAMED: usize = 3;

#[derive(Default)]
pub(crate) struct Tally {
    pub seen: usize,
    pub kept: usize,
    /// The `--index` file, when there is one.
    index: Option<PathBuf>,
    /// Datasets the index lacks: how many, and the first few.
    missing: (usize, Vec<String>),
    /// `--where` failures by message, in the order first seen: how many,
    /// and the first few datasets.
    failures: Vec<(String, usize, Vec<String>)>,
    by_msg: HashMap<String, usize>,
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `, ...` when fewer than `n` were named.
fn more(n: usize, named: usize) -> &'static str {
    if n > named {
        ", ..."
    } else {
        ""
    }
}

impl Tally {
    pub(crate) fn new(index: Option<PathBuf>) -> Tally {
        Tally {
            index,
            ..Tally::default()
        }
    }

    /// A dataset the index lacks, named by `who`.
    pub(crate) fn not_in_index(&mut self, who: impl FnOnce() -> String) {
        self.missing.0 += 1;
        if self.missing.1.len() < NAMED {
            self.missing.1.push(who());
        }
    }

    /// `--where` failed with `msg` on the dataset `who`.
    pub(crate) fn failed(&mut self, msg: String, who: String) {
        let k = *self.by_msg.entry(msg.clone()).or_insert_with(|| {
            self.failures.push((msg, 0, Vec::new()));
            self.failures.len() - 1
        });
        let f = &mut self.failures[k];
        f.1 += 1;
        if f.2.len() < NAMED {
            f.2.push(who);
        }
    }

    /// The summary lines; failures are counted (exit status 1), and a
    /// `--where` that failed on every dataset ends the run (exit 2).
    pub(crate) fn report(self, diag: &Diag, filtered: bool) -> Result<()> {
        let seen = self.seen;
        if let (Some(p), (n @ 1.., named)) = (&self.index, &self.missing) {
            diag.warn(format_args!(
                "{n} of {seen} dataset{} not in the index '{}', kept as previews (no cell_count, title, assets): {}{}",
                plural(seen),
                p.display(),
                named.join(", "),
                more(*n, named.len())
            ));
        }
        let mut failed = 0;
        for (msg, n, who) in &self.failures {
            failed += n;
            diag.fail_many(
                *n,
                format_args!(
                    "--where failed on {n} of {seen} dataset{}, left out: {msg} (dataset {}{})",
                    plural(seen),
                    who.join(", "),
                    more(*n, who.len())
                ),
            );
        }
        if failed > 0 && failed == seen {
            return Err(Error::input(format!(
                "--where failed on every dataset ({seen}): the expression does not fit the data (a misspelt field? fields are those of `cxg-datasets` output, with the collection under .collection)"
            )));
        }
        if filtered && self.kept == 0 && seen > 0 {
            diag.warn(format_args!(
                "--where kept 0 of {seen} dataset{}",
                plural(seen)
            ));
        }
        Ok(())
    }
}
