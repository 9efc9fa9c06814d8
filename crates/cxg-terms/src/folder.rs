//! The ontology folder of a run: which guide files it holds, which of
//! them are loaded (each on first need, one thread a file), where their
//! indexes are kept, and `--prepare`, which indexes them all.

use crate::args::Request;
use crate::ontology::{self, Found, Indexed, Ontology};
use crate::report::plural;
use cxg_catalog::facets::FACETS;
use cxg_core::ctx::Diag;
use cxg_core::{At, Error, Result};
use std::collections::HashMap;
use std::path::PathBuf;

/// Where a run's ontology files are and how they are loaded: the options
/// of the tool that resolves terms.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// --ontology (default: $CXG_ONTOLOGY).
    pub ontology: Option<PathBuf>,
    /// --index-dir (default: $CXG_ONTOLOGY_INDEX).
    pub index_dir: Option<PathBuf>,
    /// Compute each file's SHA-256 (--verbose).
    pub hash: bool,
    /// An index that cannot be kept is a failure (--prepare), not a warning.
    pub must_keep: bool,
}

/// The loaded ontologies and what the run knows of them.
pub struct Ontologies {
    pub dir: Option<PathBuf>,
    found: HashMap<String, Found>,
    pub loaded: Vec<Ontology>,
    /// Compute each file's SHA-256 (--verbose).
    hash: bool,
    /// Where indexes are kept (--index-dir), if not beside the files.
    index_dir: Option<PathBuf>,
    /// An index that cannot be kept is a failure (--prepare), not a warning.
    must_keep: bool,
    pub diag: Diag,
}

/// A directory named by an option or, when the option is not given, by an
/// environment variable (set to nothing: unset).
fn dir_of(option: &Option<PathBuf>, var: &str) -> Option<PathBuf> {
    option.clone().or_else(|| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

impl Ontologies {
    /// No folder at all, whatever $CXG_ONTOLOGY says (cxg-select
    /// --no-ontology): every value matches as it appears in the data.
    pub fn none(diag: &Diag) -> Ontologies {
        Ontologies {
            dir: None,
            found: HashMap::new(),
            loaded: Vec::new(),
            hash: false,
            index_dir: None,
            must_keep: false,
            diag: diag.clone(),
        }
    }

    /// The folder named by --ontology or $CXG_ONTOLOGY, with the files the
    /// facets of `requests` use loaded; none when no folder is named.
    pub fn open(args: &Options, requests: &[Request], diag: &Diag) -> Result<Ontologies> {
        let mut o = Ontologies {
            dir: None,
            found: HashMap::new(),
            loaded: Vec::new(),
            hash: args.hash,
            index_dir: None,
            must_keep: args.must_keep,
            diag: diag.clone(),
        };
        let Some(dir) = dir_of(&args.ontology, "CXG_ONTOLOGY") else {
            return Ok(o);
        };
        if !dir.is_dir() {
            return Err(Error::input(format!(
                "the ontology folder '{}' does not exist (make ontologies downloads it; --ontology DIR or CXG_ONTOLOGY names it)",
                dir.display()
            )));
        }
        o.found = ontology::scan(&dir, diag)?;
        if o.found.is_empty() && !requests.is_empty() {
            diag.warn(format_args!(
                "warning: the ontology folder '{}' holds no <NAME>-ontology-<VERSION>.json[.zst] file",
                dir.display()
            ));
        }
        let mut wanted: Vec<&str> = Vec::new();
        for n in requests.iter().flat_map(|r| FACETS[r.facet].ontologies) {
            if !wanted.contains(n) {
                wanted.push(n);
            }
        }
        o.index_dir = dir_of(&args.index_dir, "CXG_ONTOLOGY_INDEX");
        if let Some(d) = &o.index_dir {
            std::fs::create_dir_all(d).at(format_args!(
                "cannot create the index folder '{}' (--index-dir or CXG_ONTOLOGY_INDEX names it)",
                d.display()
            ))?;
        }
        o.dir = Some(dir);
        o.load(&wanted)?;
        Ok(o)
    }

    /// The loaded files among `names`, in that order.
    pub fn for_names(&self, names: &[&str]) -> Vec<&Ontology> {
        names
            .iter()
            .filter_map(|n| self.loaded.iter().find(|o| o.name == *n))
            .collect()
    }

    /// Load these files (those present and not yet loaded), one thread each.
    pub fn load(&mut self, names: &[&str]) -> Result<()> {
        let (hash, index_dir) = (self.hash, self.index_dir.as_deref());
        let files: Vec<&Found> = names
            .iter()
            .filter(|n| !self.loaded.iter().any(|o| o.name == **n))
            .filter_map(|n| self.found.get(*n))
            .collect();
        let results: Vec<Result<Ontology>> = std::thread::scope(|s| {
            let handles: Vec<_> = files
                .iter()
                .map(|f| (f, s.spawn(move || Ontology::load(f, hash, index_dir))))
                .collect();
            handles
                .into_iter()
                .map(|(f, h)| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::input(format!(
                            "the ontology file '{}' could not be read (its reader failed)",
                            f.path.display()
                        )))
                    })
                })
                .collect()
        });
        for r in results {
            let o = r?;
            self.tell_indexed(&o);
            self.loaded.push(o);
        }
        Ok(())
    }

    /// Say that a file was indexed now, and whether its index was kept.
    fn tell_indexed(&self, o: &Ontology) {
        let stale = o
            .stale
            .as_deref()
            .map(|why| format!(" (the index there was {why})"))
            .unwrap_or_default();
        match &o.indexed {
            Indexed::Read => {}
            Indexed::Built => self.diag.warn(format_args!(
                "indexed {} in {:.0} ms into '{}'{stale}; later runs read the index",
                o.describe(),
                o.load_ms,
                o.index_path.display()
            )),
            Indexed::NotKept(why) => {
                let msg = format!(
                    "warning: indexed {} in {:.0} ms, but cannot keep the index: {why}; it is built again each run",
                    o.describe(),
                    o.load_ms
                );
                if self.must_keep {
                    self.diag.fail(msg);
                } else {
                    self.diag.warn(msg);
                }
            }
        }
    }

    /// --verbose: each file loaded, its version, path, SHA-256, terms, and
    /// how it was loaded.
    pub fn tell_loaded(&self) {
        for o in &self.loaded {
            let how = match &o.indexed {
                Indexed::Read => "index read".to_string(),
                Indexed::Built => format!("indexed into '{}'", o.index_path.display()),
                Indexed::NotKept(_) => "indexed, not kept".to_string(),
            };
            self.diag.warn(format_args!(
                "ontology {}: '{}' sha256 {} ({} terms, {how} in {:.0} ms)",
                o.describe(),
                o.path.display(),
                o.sha256.as_deref().unwrap_or("-"),
                o.term_count,
                o.load_ms,
            ));
        }
    }

    /// Load the files of every facet (best effort), to say where a value
    /// given to the wrong option belongs.
    pub fn load_all_facets(&mut self) {
        let mut every: Vec<&str> = Vec::new();
        for n in FACETS.iter().flat_map(|f| f.ontologies) {
            if !every.contains(n) {
                every.push(n);
            }
        }
        let _ = self.load(&every);
    }
}

/// --prepare: index every file of the folder, and remove the indexes no
/// run will read again. An index that cannot be kept is a failure (exit 1).
pub fn prepare(args: &Options, diag: &Diag) -> Result<()> {
    let mut onts = Ontologies::open(args, &[], diag)?;
    let Some(dir) = onts.dir.clone() else {
        return Err(Error::input(
            "--prepare needs the ontology folder (--ontology DIR or CXG_ONTOLOGY)",
        ));
    };
    let mut names: Vec<String> = onts.found.keys().cloned().collect();
    names.sort();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    onts.load(&names)?;
    let count = |f: fn(&Indexed) -> bool| onts.loaded.iter().filter(|o| f(&o.indexed)).count();
    let built = count(|i| !matches!(i, Indexed::Read));
    let lost = count(|i| matches!(i, Indexed::NotKept(_)));
    let own = onts.index_dir.is_none();
    let index_dir = onts
        .index_dir
        .clone()
        .unwrap_or_else(|| dir.join(ontology::INDEX_DIR));
    let pruned = ontology::prune(&index_dir, &onts.loaded, own);
    let lost = if lost > 0 {
        format!(" ({lost} could not be kept: see above)")
    } else {
        String::new()
    };
    let pruned = if pruned > 0 {
        format!(
            "; removed {}",
            plural(pruned, "stale index file", "stale index files")
        )
    } else {
        String::new()
    };
    diag.warn(format_args!(
        "'{}': {}: {built} indexed now{lost}, {} already indexed{pruned}",
        dir.display(),
        plural(onts.loaded.len(), "ontology file", "ontology files"),
        onts.loaded.len() - built,
    ));
    Ok(())
}
