//! The command line: `save`, `list` and `verify`, and the help that shows
//! the snapshots folder's layout.

use clap::{Parser, Subcommand};
use cxg_core::cli::OutputArgs;
use std::path::{Path, PathBuf};

const EXAMPLES: &str = "\
  # keep this harvest's raw responses, with provenance of the whole run
  cxg-snapshot save --into data/snapshots --api-url $API_URL \\
      --requests data/requests.jsonl --tools-dir target/release \\
      --output-file data/all_datasets_h5ad.csv \\
      data/collections.json data/datasets_index.json

  # ... with the per-dataset answers cxg-h5ad --keep-responses kept, so that
  # a replay also answers the rows the index lacked
  cxg-snapshot save --into data/snapshots --responses data/responses \
      data/collections.json data/datasets_index.json

  # every snapshot: date, collections, datasets, size
  cxg-snapshot list data/snapshots

  # re-hash every stored file; name the damaged ones and their snapshots
  cxg-snapshot verify data/snapshots

  # a cell filter chosen after the harvest (make obs CELLS=...), recorded
  # in the working provenance.json (an empty value removes it)
  cxg-snapshot choose --provenance data/provenance.json 'CELLS=--normal --primary'

  # replay a past harvest offline
  cxg-serve --port 0 data/snapshots/20261101T060000Z";

const LAYOUT: &str = "\
Snapshots folder:
  SNAPSHOTS/<YYYYMMDDTHHMMSSZ>/   one per harvest: the raw files + provenance.json
    collections/<cid>/datasets/<did>.json   the per-dataset answers (--responses)
  SNAPSHOTS/.objects/<sha256>     each distinct file once (a copy of the working
                                  file, links followed); snapshot files are hard
                                  links to these, the working files never are
  SNAPSHOTS/latest                symlink to the newest snapshot (by name, however
                                  concurrent saves finish)
  SNAPSHOTS/.lock, .latest.lock   locks shared by concurrent saves (flock): a
                                  staging folder (.saving.*) is removed only
                                  when no save holds .lock
A save with no requests logged whose raw files equal the newest snapshot's
(a rebuild that fetched nothing) adds no snapshot (--always adds one anyway);
--provenance FILE is still written, naming that snapshot.
A snapshot folder is a cxg-serve folder (datasets_index.json is served as
GET /datasets), and cxg-diff compares two of them.";

/// Keep dated snapshots of raw harvests with their provenance.
#[derive(Parser, Debug)]
#[command(name = "cxg-snapshot", version,
    after_help = format!("{LAYOUT}\n\n{}", cxg_core::cli::after_help(EXAMPLES)))]
pub struct Args {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// `list` writes its table to stdout or `-o FILE`; `save` and `verify`
/// write files and diagnostics only, so a closed stdout is no error there.
impl cxg_core::cli::ToolArgs for Args {
    fn output(&self) -> Option<&Path> {
        match &self.command {
            Command::List(l) => l.out.output.as_deref(),
            Command::Save(_) | Command::Verify(_) | Command::Choose(_) => None,
        }
    }

    fn writes_stdout(&self) -> bool {
        matches!(self.command, Command::List(_))
    }
}

// parsed once per run: the size of the Save variant costs nothing
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Store raw responses in a new SNAPSHOTS/<UTC time>/ with provenance.json
    Save(Save),
    /// List the snapshots: date, collections, datasets, size
    List(List),
    /// Re-hash the stored files; name each damaged object and snapshot file
    Verify(Folder),
    /// Record a choice made after the harvest (the cell filter of a later
    /// make obs) in a working provenance.json, in place
    Choose(Choose),
}

#[derive(clap::Args, Debug)]
pub(crate) struct Save {
    /// Raw API responses to keep (e.g. collections.json datasets_index.json)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The snapshots folder (created if needed)
    #[arg(long, value_name = "DIR")]
    pub into: PathBuf,
    /// An output of the harvest to hash and count in provenance.json (repeat)
    #[arg(long = "output-file", value_name = "FILE")]
    pub outputs: Vec<PathBuf>,
    /// The request log the tools appended to (--log-requests)
    #[arg(long, value_name = "FILE")]
    pub requests: Option<PathBuf>,
    /// The API the harvest read
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// Folder of the cxg binaries whose versions are recorded
    #[arg(long, value_name = "DIR")]
    pub tools_dir: Option<PathBuf>,
    /// An ontology release a selection used, by name (repeat)
    #[arg(long, value_name = "NAME")]
    pub ontology_release: Vec<String>,
    /// An ontology file a selection used (`<ONTOLOGY>-ontology-<release>.json[.zst]`,
    /// as cellxgene-ontology-guide names them): its release, size and SHA-256 (repeat)
    #[arg(long, value_name = "FILE")]
    pub ontology_file: Vec<PathBuf>,
    /// A choice the harvest was made with, `NAME=VALUE` (e.g. the cell
    /// filter `CELLS=--normal --primary`), recorded under `choices` (repeat;
    /// none given: no `choices` key)
    #[arg(long, value_name = "NAME=VALUE", value_parser = choice)]
    pub choice: Vec<(String, String)>,
    /// Also write provenance.json to FILE (atomically)
    #[arg(long, value_name = "FILE")]
    pub provenance: Option<PathBuf>,
    /// A new snapshot even when nothing was fetched and the raw files equal
    /// the newest snapshot's
    #[arg(long)]
    pub always: bool,
    /// Also keep the per-dataset answers in DIR (as `cxg-h5ad
    /// --keep-responses DIR` writes them): every
    /// DIR/collections/<uuid>/datasets/<uuid>.json, under the same path. Any
    /// other entry in DIR (another name, a symlink) is named and the save
    /// refused before anything is stored
    #[arg(long, value_name = "DIR")]
    pub responses: Option<PathBuf>,
    /// No summary line on stderr
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(clap::Args, Debug)]
pub(crate) struct Choose {
    /// The provenance.json to change (written atomically; the snapshot
    /// folders keep theirs)
    #[arg(long, value_name = "FILE")]
    pub provenance: PathBuf,
    /// A choice, `NAME=VALUE`, set under `choices`; an empty VALUE removes
    /// NAME (repeat)
    #[arg(required = true, value_name = "NAME=VALUE", value_parser = choice)]
    pub choice: Vec<(String, String)>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct List {
    /// The snapshots folder
    pub dir: PathBuf,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(clap::Args, Debug)]
pub(crate) struct Folder {
    /// The snapshots folder
    pub dir: PathBuf,
}

/// `NAME=VALUE`: a name, then anything.
fn choice(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((n, v)) if !n.is_empty() => Ok((n.to_string(), v.to_string())),
        _ => Err(format!("'{s}' is not NAME=VALUE")),
    }
}
