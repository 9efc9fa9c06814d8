//! cxg-diff: what changed between two harvests. Reads two dataset record
//! streams (JSON Lines as `cxg-datasets` writes, the `GET /datasets` index
//! array, or two snapshot folders) and writes one JSON line per changed
//! dataset, ordered by `dataset_id`: added, removed, revised (a new
//! `dataset_version_id`; a `schema_migration` or a `content` revision) or
//! metadata (same version, collection-level fields changed).
//!
//! Each input is streamed and reduced to a compact fingerprint per dataset
//! (ids, counts, asset URLs and sizes, term ids per facet), so memory grows
//! with the number of datasets, not with the bytes of the input.

use clap::{Parser, ValueEnum};
use cxg_catalog::ids::is_uuid;
use cxg_core::cli::warn;
use cxg_core::io::{csv_finish, csv_write_error, csv_writer, Input};
use cxg_core::{Error, Exit, Outcome, Result};
use cxg_http::{Client, HttpArgs};
use cxg_json::stream::{type_name, write_compact, JsonStream};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io::Write;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

const EXAMPLES: &str = "\
  # what changed between the two newest harvests
  cxg-diff --newest data/snapshots -o changes.jsonl

  # two snapshot folders, two saved indexes, or two cxg-datasets outputs
  cxg-diff data/snapshots/20261101T060000Z data/snapshots/20261129T060000Z
  cxg-diff old/datasets_index.json new/datasets_index.json
  cxg-diff old/datasets.jsonl new/datasets.jsonl --format csv > changes.csv

  # only new and revised datasets, as a CSV cxg-h5ad completes with links
  cxg-diff --only added,revised --format csv OLD NEW | cxg-h5ad --index NEW/datasets_index.json

  # in a script: status 1 when anything changed, as git diff --exit-code
  cxg-diff --exit-code -q OLD NEW > /dev/null || echo changed

  # were the removed datasets tombstoned (410 Gone) or just left out?
  cxg-diff --only removed --confirm-removed OLD NEW";

const NOTES: &str = "\
Each output line: change (added|removed|revised|metadata), kind (revised
only: schema_migration|content), dataset_id, collection_id, collection_change
(added|removed when the whole collection came or went), old_/new_
dataset_version_id and revised_at, and fields: what changed, e.g.
{\"cell_count\":{\"old\":10,\"new\":12,\"delta\":2}, \"cell_type\":{\"added\":[..],
\"removed\":[..]}, \"assets.H5AD.url\":{\"old\":..,\"new\":..}}. A revision is a
schema_migration when schema_version changed and no cell count, title,
donor count, is_primary_data or ontology term did. A summary of counts goes
to stderr.";

/// Compare two harvests: added, removed, revised and metadata-only datasets.
#[derive(Parser, Debug)]
#[command(name = "cxg-diff", version,
    after_help = format!("{NOTES}\n\n{}", cxg_core::cli::after_help(EXAMPLES)))]
pub struct Args {
    /// The older harvest: a snapshot folder, an index array or JSON Lines (`-`: stdin)
    #[arg(required_unless_present = "newest", conflicts_with = "newest")]
    pub old: Option<PathBuf>,
    /// The newer harvest, in any of the same forms
    #[arg(required_unless_present = "newest")]
    pub new: Option<PathBuf>,
    /// Compare the two newest snapshot folders in DIR (as `make diff` does)
    #[arg(long, value_name = "DIR")]
    pub newest: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    pub format: Format,
    /// Only these changes, comma-separated: added,removed,revised,metadata,unchanged
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub only: Vec<Change>,
    /// Also list unchanged datasets (change: unchanged)
    #[arg(long)]
    pub all: bool,
    /// Exit with status 1 when there are differences (as `git diff --exit-code`)
    #[arg(long)]
    pub exit_code: bool,
    /// No summary on stderr
    #[arg(short, long)]
    pub quiet: bool,
    /// Ask the API about each removed dataset: removed_check is gone (410,
    /// tombstoned), not_found (404) or still_served (the index left it out)
    #[arg(long)]
    pub confirm_removed: bool,
    /// Compare even when one side holds no datasets (otherwise an error:
    /// an empty input would report every dataset added or removed)
    #[arg(long)]
    pub allow_empty: bool,
    /// Requests in flight at once for --confirm-removed
    #[arg(short = 'j', long, default_value_t = 8, value_name = "N")]
    pub jobs: usize,
    #[command(flatten)]
    pub out: cxg_core::cli::OutputArgs,
    #[command(flatten)]
    pub http: HttpArgs,
}

impl cxg_core::cli::ToolArgs for Args {
    fn output(&self) -> Option<&std::path::Path> {
        self.out.output.as_deref()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line
    Jsonl,
    /// A flat table with one row per change
    Csv,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Change {
    Added,
    Removed,
    Revised,
    Metadata,
    Unchanged,
}

impl Change {
    fn name(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Revised => "revised",
            Change::Metadata => "metadata",
            Change::Unchanged => "unchanged",
        }
    }
}

/// The ontology facets compared as sets of term ids.
const FACETS: [&str; 9] = [
    "assay",
    "cell_type",
    "development_stage",
    "disease",
    "organism",
    "self_reported_ethnicity",
    "sex",
    "suspension_type",
    "tissue",
];

/// Dataset-level scalars compared as JSON text; `true` marks fields of
/// substance (a change in one makes a revision a `content` revision).
const SCALARS: [(&str, bool); 6] = [
    ("cell_count", true),
    ("primary_cell_count", true),
    ("title", true),
    ("is_primary_data", true),
    ("donor_count", true),
    ("schema_version", false),
];

/// Collection-level fields (metadata).
const COLLECTION_FIELDS: [&str; 6] = [
    "collection_version_id",
    "name",
    "doi",
    "publisher_metadata",
    "links",
    "consortia",
];

/// Term ids are shared across datasets and both inputs: stored once.
#[derive(Default)]
struct Interner {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.into());
        self.ids.insert(s.into(), i);
        i
    }
    fn name(&self, i: u32) -> &str {
        self.names.get(i as usize).map_or("", |s| s)
    }
}

/// Separates the JSON texts packed into one string (JSON text never holds
/// a raw control character: strings escape them).
const US: char = '\u{1f}';
const RS: char = '\u{1e}';

/// What one dataset record says, reduced to what is compared, in few
/// allocations: the scalars' JSON texts in one string, every facet's term
/// ids in one slice, the assets in one string.
#[derive(Clone, PartialEq)]
struct Fp {
    collection_id: Box<str>,
    version: Option<Box<str>>,
    revised_at: Option<Box<str>>,
    /// SCALARS as JSON text, separated by US
    scalars: Box<str>,
    /// term ids of every facet, facet after facet
    terms: Box<[u32]>,
    /// where each facet's ids end in `terms`
    facet_ends: [u32; FACETS.len()],
    /// `filetype US url US filesize RS` per asset, by filetype
    assets: Box<str>,
}

impl Fp {
    /// Map term ids through `table` (another interner's ids to ours) and
    /// sort each facet again.
    fn renumber(&mut self, table: &[u32]) {
        for t in self.terms.iter_mut() {
            *t = table.get(*t as usize).copied().unwrap_or(*t);
        }
        let mut start = 0;
        for end in self.facet_ends {
            if let Some(f) = self.terms.get_mut(start..end as usize) {
                f.sort_unstable();
            }
            start = end as usize;
        }
    }
    fn scalar(&self, i: usize) -> &str {
        self.scalars.split(US).nth(i).unwrap_or("null")
    }
    fn facet(&self, i: usize) -> &[u32] {
        let start = if i == 0 {
            0
        } else {
            self.facet_ends[i - 1] as usize
        };
        let end = self.facet_ends[i] as usize;
        self.terms.get(start..end).unwrap_or(&[])
    }
    /// (filetype, url, filesize) of each asset.
    fn assets(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.assets.split_terminator(RS).map(|a| {
            let mut p = a.split(US);
            (
                p.next().unwrap_or(""),
                p.next().unwrap_or("null"),
                p.next().unwrap_or("null"),
            )
        })
    }
}

/// One harvest: datasets by id, and collection fields by collection id
/// (only the fields its input format carries).
#[derive(Default)]
struct Side {
    name: String,
    datasets: BTreeMap<Box<str>, Fp>,
    collections: HashMap<Box<str>, BTreeMap<&'static str, Box<str>>>,
    /// dataset ids seen more than once
    dup_datasets: BTreeSet<Box<str>>,
    /// collection ids seen more than once in collections.json
    dup_collections: BTreeSet<Box<str>>,
}

/// Ids named on stderr at most when warning about duplicates.
const MAX_DUP_IDS: usize = 10;

/// How one of two different records of the same dataset is chosen, the
/// same whatever the input order: the later revised_at, then the larger
/// dataset_version_id, then the larger content (compared as text, with
/// term names rather than this run's term numbers).
fn rank<'a>(fp: &'a Fp, int: &Interner) -> (Option<&'a str>, Option<&'a str>, String) {
    let mut canon = String::new();
    canon.extend([
        &*fp.collection_id,
        "\u{1d}",
        &fp.scalars,
        "\u{1d}",
        &fp.assets,
    ]);
    for i in 0..FACETS.len() {
        canon.push('\u{1d}');
        let mut names: Vec<&str> = fp.facet(i).iter().map(|t| int.name(*t)).collect();
        names.sort_unstable();
        for n in names {
            canon.extend([n, "\u{1f}"]);
        }
    }
    (fp.revised_at.as_deref(), fp.version.as_deref(), canon)
}

/// Say which ids appeared more than once (the first few and how many).
fn warn_dups(side: &str, what: &str, ids: &BTreeSet<Box<str>>, rule: &str) {
    if ids.is_empty() {
        return;
    }
    let shown: Vec<&str> = ids.iter().take(MAX_DUP_IDS).map(|s| &**s).collect();
    warn(format_args!(
        "{side}: {} {what} id{} appear{} more than once{}: {}{}; {rule}",
        ids.len(),
        if ids.len() == 1 { "" } else { "s" },
        if ids.len() == 1 { "s" } else { "" },
        if ids.len() > MAX_DUP_IDS {
            format!(" (the first {MAX_DUP_IDS})")
        } else {
            String::new()
        },
        shown.join(", "),
        if ids.len() > MAX_DUP_IDS { ", ..." } else { "" },
    ));
}

fn text(v: Option<&Value>) -> Box<str> {
    match v {
        None => "null".into(),
        Some(v) => v.to_string().into(),
    }
}

fn str_of(v: Option<&Value>) -> Option<Box<str>> {
    v.and_then(Value::as_str).map(Into::into)
}

fn terms(v: Option<&Value>, facet: &str, int: &mut Interner) -> Vec<u32> {
    let mut set = BTreeSet::new();
    for t in v.and_then(Value::as_array).into_iter().flatten() {
        let term = match t {
            Value::String(s) => s.clone(),
            Value::Object(o) => {
                let id = o
                    .get("ontology_term_id")
                    .or_else(|| o.get("label"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                match o.get("tissue_type").and_then(Value::as_str) {
                    Some(tt) if facet == "tissue" && tt != "tissue" => format!("{id} ({tt})"),
                    _ => id.to_string(),
                }
            }
            other => other.to_string(),
        };
        set.insert(term);
    }
    let mut ids: Vec<u32> = set.iter().map(|t| int.id(t)).collect();
    ids.sort_unstable();
    ids
}

impl Side {
    /// Record the collection-level fields of collection `cid`; on
    /// conflicting values the greater text wins, so the result does not
    /// depend on the order of the input.
    fn collection_fields(&mut self, cid: &str, fields: Vec<(&'static str, Box<str>)>) {
        let entry = self.collections.entry(cid.into()).or_default();
        for (k, v) in fields {
            match entry.get(k) {
                Some(old) if **old >= *v => {}
                _ => {
                    entry.insert(k, v);
                }
            }
        }
    }

    /// Read one dataset record (an index item, or a cxg-datasets line).
    fn add(&mut self, at: &str, v: &Value, int: &mut Interner) -> Result<()> {
        let Some(o) = v.as_object() else {
            return Err(Error::input(format!(
                "{at}: expected a dataset object, found {}",
                type_name(v)
            )));
        };
        // UUIDs: the same id in upper or lower case is one dataset
        let id = match o.get("dataset_id") {
            Some(Value::String(s)) if is_uuid(s) => s.to_ascii_lowercase(),
            Some(Value::String(s)) => {
                return Err(Error::input(format!(
                    "{at}: dataset_id '{s}' is not a UUID"
                )))
            }
            _ => return Err(Error::input(format!("{at}: no string dataset_id"))),
        };
        let coll = o.get("collection").and_then(Value::as_object);
        let cid = o
            .get("collection_id")
            .or_else(|| coll.and_then(|c| c.get("collection_id")))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        let cid = cid.as_str();
        if let Some(c) = coll {
            let f = COLLECTION_FIELDS
                .iter()
                .map(|k| (*k, text(c.get(*k))))
                .collect();
            self.collection_fields(cid, f);
        } else if o.contains_key("collection_name") || o.contains_key("collection_version_id") {
            let f = vec![
                (
                    "collection_version_id",
                    text(o.get("collection_version_id")),
                ),
                ("name", text(o.get("collection_name"))),
                ("doi", text(o.get("collection_doi"))),
            ];
            self.collection_fields(cid, f);
        }
        let donor_count: Box<str> = match o.get("donor_id").and_then(Value::as_array) {
            Some(a) => a.len().to_string().into(),
            None => "null".into(),
        };
        let scalars: Vec<Box<str>> = SCALARS
            .iter()
            .map(|(k, _)| match *k {
                "donor_count" => donor_count.clone(),
                _ => text(o.get(*k)),
            })
            .collect();
        let mut all_terms = Vec::new();
        let mut facet_ends = [0u32; FACETS.len()];
        for (i, f) in FACETS.iter().enumerate() {
            all_terms.extend(terms(o.get(*f), f, int));
            facet_ends[i] = all_terms.len() as u32;
        }
        let mut assets: Vec<(Box<str>, Box<str>, Box<str>)> = Vec::new();
        for a in o
            .get("assets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let ft = a.get("filetype").and_then(Value::as_str).unwrap_or("");
            if assets.iter().any(|x| &*x.0 == ft) {
                continue;
            }
            assets.push((ft.into(), text(a.get("url")), text(a.get("filesize"))));
        }
        assets.sort();
        let mut packed = String::new();
        for (ft, url, size) in &assets {
            packed.extend([&**ft, "\u{1f}", url, "\u{1f}", size, "\u{1e}"]);
        }
        let fp = Fp {
            collection_id: cid.into(),
            version: str_of(o.get("dataset_version_id")),
            revised_at: str_of(o.get("revised_at")),
            scalars: scalars.join("\u{1f}").into(),
            terms: all_terms.into_boxed_slice(),
            facet_ends,
            assets: packed.into(),
        };
        match self.datasets.get(id.as_str()) {
            Some(prev) => {
                // the same choice whatever the input order
                let keep_new = *prev != fp && rank(&fp, int) > rank(prev, int);
                self.dup_datasets.insert(id.as_str().into());
                if keep_new {
                    self.datasets.insert(id.into(), fp);
                }
            }
            None => {
                self.datasets.insert(id.into(), fp);
            }
        }
        Ok(())
    }
}

/// Which keys of an object are kept by [`Slim`].
trait Keys {
    const KEYS: &'static [&'static str];
    const WHAT: &'static str;
}

struct DatasetKeys;
impl Keys for DatasetKeys {
    const KEYS: &'static [&'static str] = &[
        "dataset_id",
        "dataset_version_id",
        "revised_at",
        "collection_id",
        "collection",
        "collection_name",
        "collection_doi",
        "collection_version_id",
        "cell_count",
        "primary_cell_count",
        "title",
        "is_primary_data",
        "donor_id",
        "schema_version",
        "assets",
        "assay",
        "cell_type",
        "development_stage",
        "disease",
        "organism",
        "self_reported_ethnicity",
        "sex",
        "suspension_type",
        "tissue",
    ];
    const WHAT: &'static str = "a dataset object";
}

struct CollectionKeys;
impl Keys for CollectionKeys {
    const KEYS: &'static [&'static str] = &[
        "collection_id",
        "collection_version_id",
        "name",
        "doi",
        "publisher_metadata",
        "links",
        "consortia",
    ];
    const WHAT: &'static str = "a collection object";
}

/// A JSON object with only the keys `K` compares: the other values are
/// checked and skipped without being built (the records' citations,
/// previews and descriptions are most of the bytes).
struct Slim<K>(Value, PhantomData<K>);

struct KeySeed<K>(PhantomData<K>);

impl<'de, K: Keys> DeserializeSeed<'de> for KeySeed<K> {
    type Value = Option<&'static str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<K: Keys> Visitor<'_> for KeySeed<K> {
    type Value = Option<&'static str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(K::KEYS.iter().find(|k| **k == v).copied())
    }
}

struct SlimVisitor<K>(PhantomData<K>);

impl<'de, K: Keys> Visitor<'de> for SlimVisitor<K> {
    type Value = Slim<K>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(K::WHAT)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut m = Map::new();
        while let Some(k) = map.next_key_seed(KeySeed::<K>(PhantomData))? {
            match k {
                Some(k) => {
                    let v: Value = map.next_value()?;
                    m.insert(k.to_string(), v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Slim(Value::Object(m), PhantomData))
    }
}

impl<'de, K: Keys> Deserialize<'de> for Slim<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SlimVisitor::<K>(PhantomData))
    }
}

fn read_records(side: &mut Side, input: Input, int: &mut Interner) -> Result<()> {
    let name = input.name.clone();
    let mut s = JsonStream::new(name.clone(), input.reader);
    while let Some((at, Slim(v, _))) = s.next_as::<Slim<DatasetKeys>>()? {
        side.add(
            &format!("{name}: line {} (element {})", at.line, at.index),
            &v,
            int,
        )?;
    }
    Ok(())
}

/// Collection-level fields from a snapshot's collections.json.
fn read_collections(side: &mut Side, path: &Path) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    let input = Input::open(Some(path))?;
    let name = input.name.clone();
    let mut s = JsonStream::new(name.clone(), input.reader);
    while let Some((at, Slim(v, _))) = s.next_as::<Slim<CollectionKeys>>()? {
        let Some(cid) = v.get("collection_id").and_then(Value::as_str) else {
            return Err(Error::input(format!(
                "{name}: line {}: collection {} has no string collection_id",
                at.line, at.index
            )));
        };
        let cid = cid.to_ascii_lowercase();
        let f: Vec<(&'static str, Box<str>)> = COLLECTION_FIELDS
            .iter()
            .map(|k| (*k, text(v.get(*k))))
            .collect();
        if seen.insert(cid.clone()) {
            // collections.json's fields replace what the datasets carried
            side.collections.remove(cid.as_str());
            side.collection_fields(&cid, f);
        } else {
            // a duplicate entry: the greater one (as text, field by field in
            // a fixed order) whatever the input order
            side.dup_collections.insert(cid.as_str().into());
            let entry = side.collections.entry(cid.into()).or_default();
            let old: Vec<&str> = COLLECTION_FIELDS
                .iter()
                .map(|k| entry.get(k).map_or("", |v| &**v))
                .collect();
            let new: Vec<&str> = f.iter().map(|(_, v)| &**v).collect();
            if new > old {
                *entry = f.into_iter().collect();
            }
        }
    }
    Ok(())
}

/// Read one side: a folder (snapshot or data folder) or a file / stdin.
fn load(path: &Path, int: &mut Interner) -> Result<Side> {
    let mut side = Side {
        name: format!("'{}'", path.display()),
        ..Side::default()
    };
    if path.is_dir() {
        let Some(index) = cxg_catalog::snapshots::datasets_file(path) else {
            return Err(Error::input(format!(
                "'{}' is a folder without datasets_index.json or datasets.json \
                 (expected a snapshot folder)",
                path.display()
            )));
        };
        read_records(&mut side, Input::open(Some(&index))?, int)?;
        let colls = path.join("collections.json");
        if colls.is_file() {
            read_collections(&mut side, &colls)?;
        }
    } else {
        let input = Input::open(Some(path))?;
        side.name = input.name.clone();
        read_records(&mut side, input, int)?;
    }
    warn_dups(
        &side.name,
        "dataset",
        &side.dup_datasets,
        "where their records differ, the later revised_at, then the larger \
         dataset_version_id, then the larger content is compared",
    );
    warn_dups(
        &side.name,
        "collection",
        &side.dup_collections,
        "where their entries differ, the greater is compared",
    );
    Ok(side)
}

fn parse(t: &str) -> Value {
    serde_json::from_str(t).unwrap_or(Value::Null)
}

fn delta(old: &str, new: &str) -> Option<Value> {
    // i128 holds the difference of any two i64s; a difference beyond i64
    // (JSON numbers as serde_json keeps them) is left out, never wrapped
    if let (Ok(a), Ok(b)) = (old.parse::<i64>(), new.parse::<i64>()) {
        let d = i128::from(b) - i128::from(a);
        return i64::try_from(d)
            .map(Value::from)
            .ok()
            .or_else(|| u64::try_from(d).map(Value::from).ok());
    }
    match (old.parse::<f64>(), new.parse::<f64>()) {
        (Ok(a), Ok(b)) => serde_json::Number::from_f64(b - a).map(Value::Number),
        _ => None,
    }
}

fn old_new(old: &str, new: &str, with_delta: bool) -> Value {
    let mut m = Map::new();
    m.insert("old".into(), parse(old));
    m.insert("new".into(), parse(new));
    if with_delta {
        if let Some(d) = delta(old, new) {
            m.insert("delta".into(), d);
        }
    }
    Value::Object(m)
}

/// Differences between two fingerprints of one dataset; the flag says
/// whether any field of substance changed.
fn fields(
    a: &Fp,
    b: &Fp,
    ca: Option<&BTreeMap<&'static str, Box<str>>>,
    cb: Option<&BTreeMap<&'static str, Box<str>>>,
    int: &Interner,
) -> (Map<String, Value>, bool) {
    let mut out = Map::new();
    let mut substance = false;
    if a.collection_id != b.collection_id {
        out.insert(
            "collection_id".into(),
            serde_json::json!({"old": &*a.collection_id, "new": &*b.collection_id}),
        );
    }
    for (i, (name, subst)) in SCALARS.iter().enumerate() {
        let (x, y) = (a.scalar(i), b.scalar(i));
        if x != y {
            substance |= subst;
            let d = matches!(*name, "cell_count" | "primary_cell_count" | "donor_count");
            out.insert((*name).into(), old_new(x, y, d));
        }
    }
    for (i, facet) in FACETS.iter().enumerate() {
        let (x, y) = (a.facet(i), b.facet(i));
        if x == y {
            continue;
        }
        substance = true;
        let names = |v: Vec<&u32>| -> Vec<Value> {
            let mut v: Vec<&str> = v.into_iter().map(|t| int.name(*t)).collect();
            v.sort_unstable();
            v.into_iter().map(Value::from).collect()
        };
        let added = names(y.iter().filter(|t| !x.contains(t)).collect());
        let removed = names(x.iter().filter(|t| !y.contains(t)).collect());
        out.insert(
            (*facet).into(),
            serde_json::json!({"added": added, "removed": removed}),
        );
    }
    if a.assets != b.assets {
        let types: BTreeSet<&str> = a.assets().chain(b.assets()).map(|x| x.0).collect();
        for t in types {
            let find = |fp: &'_ Fp| {
                fp.assets()
                    .find(|x| x.0 == t)
                    .map_or(("null".to_string(), "null".to_string()), |x| {
                        (x.1.to_string(), x.2.to_string())
                    })
            };
            let ((xu, xs), (yu, ys)) = (find(a), find(b));
            if xu != yu {
                out.insert(format!("assets.{t}.url"), old_new(&xu, &yu, false));
            }
            if xs != ys {
                out.insert(format!("assets.{t}.filesize"), old_new(&xs, &ys, true));
            }
        }
    }
    if let (Some(ca), Some(cb)) = (ca, cb) {
        for k in COLLECTION_FIELDS {
            if let (Some(x), Some(y)) = (ca.get(k), cb.get(k)) {
                if x != y {
                    out.insert(format!("collection.{k}"), old_new(x, y, false));
                }
            }
        }
    }
    (out, substance)
}

/// One output record.
struct Record<'a> {
    change: Change,
    kind: Option<&'static str>,
    id: &'a str,
    collection_id: &'a str,
    collection_change: Option<&'static str>,
    /// What the API said about a removed dataset (--confirm-removed).
    removed_check: Option<&'static str>,
    old: Option<&'a Fp>,
    new: Option<&'a Fp>,
    fields: Map<String, Value>,
}

impl Record<'_> {
    fn json(&self) -> Value {
        let mut m = Map::new();
        m.insert("change".into(), self.change.name().into());
        if let Some(k) = self.kind {
            m.insert("kind".into(), k.into());
        }
        m.insert("dataset_id".into(), (*self.id).into());
        m.insert("collection_id".into(), (*self.collection_id).into());
        if let Some(c) = self.collection_change {
            m.insert("collection_change".into(), c.into());
        }
        if let Some(c) = self.removed_check {
            m.insert("removed_check".into(), c.into());
        }
        let opt = |v: Option<&Box<str>>| v.map_or(Value::Null, |s| Value::from(&**s));
        m.insert(
            "old_dataset_version_id".into(),
            opt(self.old.as_ref().and_then(|f| f.version.as_ref())),
        );
        m.insert(
            "new_dataset_version_id".into(),
            opt(self.new.as_ref().and_then(|f| f.version.as_ref())),
        );
        m.insert(
            "old_revised_at".into(),
            opt(self.old.as_ref().and_then(|f| f.revised_at.as_ref())),
        );
        m.insert(
            "new_revised_at".into(),
            opt(self.new.as_ref().and_then(|f| f.revised_at.as_ref())),
        );
        if matches!(
            self.change,
            Change::Revised | Change::Metadata | Change::Unchanged
        ) {
            m.insert("fields".into(), Value::Object(self.fields.clone()));
        }
        Value::Object(m)
    }

    fn csv(&self) -> Vec<String> {
        let s = |v: Option<&str>| v.unwrap_or("").to_string();
        let ver = |f: &Option<&Fp>| s(f.and_then(|f| f.version.as_deref()));
        let rev = |f: &Option<&Fp>| s(f.and_then(|f| f.revised_at.as_deref()));
        let count = |f: &Option<&Fp>| match f.map(|f| f.scalar(0)) {
            None | Some("null") => String::new(),
            Some(c) => c.to_string(),
        };
        let (oc, nc) = (count(&self.old), count(&self.new));
        let d = delta(&oc, &nc).map_or(String::new(), |d| d.to_string());
        vec![
            self.change.name().into(),
            s(self.kind),
            self.id.to_string(),
            self.collection_id.to_string(),
            s(self.collection_change),
            ver(&self.old),
            ver(&self.new),
            rev(&self.old),
            rev(&self.new),
            oc,
            nc,
            d,
            self.fields.keys().cloned().collect::<Vec<_>>().join(";"),
            s(self.removed_check),
        ]
    }
}

const CSV_HEADER: [&str; 14] = [
    "change",
    "kind",
    "dataset_id",
    "collection_id",
    "collection_change",
    "old_dataset_version_id",
    "new_dataset_version_id",
    "old_revised_at",
    "new_revised_at",
    "old_cell_count",
    "new_cell_count",
    "cell_count_delta",
    "fields",
    "removed_check",
];

fn collection_ids(side: &Side) -> BTreeSet<&str> {
    side.datasets
        .values()
        .map(|f| &*f.collection_id)
        .chain(side.collections.keys().map(|k| &**k))
        .collect()
}

/// Compare two sides into records ordered by dataset_id, and the number
/// of unchanged datasets (listed too with `all`).
fn compare<'a>(
    old: &'a Side,
    new: &'a Side,
    int: &Interner,
    all: bool,
) -> (Vec<Record<'a>>, usize) {
    let (oc, nc) = (collection_ids(old), collection_ids(new));
    let mut out = Vec::new();
    let mut unchanged = 0;
    let mut a = old.datasets.iter().peekable();
    let mut b = new.datasets.iter().peekable();
    loop {
        let (ka, kb) = (a.peek().map(|x| x.0), b.peek().map(|x| x.0));
        let rec = match (ka, kb) {
            (None, None) => break,
            (Some(x), y) if y.is_none_or(|y| x < y) => {
                let Some((id, f)) = a.next() else { break };
                Record {
                    change: Change::Removed,
                    kind: None,
                    id,
                    collection_id: &f.collection_id,
                    collection_change: (!nc.contains(&*f.collection_id)).then_some("removed"),
                    removed_check: None,
                    old: Some(f),
                    new: None,
                    fields: Map::new(),
                }
            }
            (x, Some(y)) if x.is_none_or(|x| y < x) => {
                let Some((id, f)) = b.next() else { break };
                Record {
                    change: Change::Added,
                    kind: None,
                    id,
                    collection_id: &f.collection_id,
                    collection_change: (!oc.contains(&*f.collection_id)).then_some("added"),
                    removed_check: None,
                    old: None,
                    new: Some(f),
                    fields: Map::new(),
                }
            }
            _ => {
                let (Some((id, fa)), Some((_, fb))) = (a.next(), b.next()) else {
                    break;
                };
                let (flds, substance) = fields(
                    fa,
                    fb,
                    old.collections.get(&fa.collection_id),
                    new.collections.get(&fb.collection_id),
                    int,
                );
                let (change, kind) = if fa.version != fb.version {
                    let migrated = fa.scalar(5) != fb.scalar(5) && !substance;
                    (
                        Change::Revised,
                        Some(if migrated {
                            "schema_migration"
                        } else {
                            "content"
                        }),
                    )
                } else if !flds.is_empty() {
                    (Change::Metadata, None)
                } else {
                    (Change::Unchanged, None)
                };
                if change == Change::Unchanged {
                    unchanged += 1;
                    if !all {
                        continue;
                    }
                }
                Record {
                    change,
                    kind,
                    id,
                    collection_id: &fb.collection_id,
                    collection_change: None,
                    removed_check: None,
                    old: Some(fa),
                    new: Some(fb),
                    fields: flds,
                }
            }
        };
        out.push(rec);
    }
    (out, unchanged)
}

/// Ask the API about every removed dataset: 410 means it was tombstoned,
/// 404 that the id is unknown, 200 that it is still served (the index left
/// it out). Returns how many could not be checked (each named on stderr).
fn confirm_removed(http: &HttpArgs, jobs: usize, recs: &mut [Record]) -> Result<usize> {
    let at: Vec<usize> = (0..recs.len())
        .filter(|&i| recs[i].change == Change::Removed)
        .collect();
    if at.is_empty() {
        return Ok(0);
    }
    let client = Client::new(http, jobs.max(1))?;
    let items: Vec<(String, String)> = at
        .iter()
        .map(|&i| (recs[i].collection_id.to_string(), recs[i].id.to_string()))
        .collect();
    let mut answers: Vec<Option<&'static str>> = vec![None; items.len()];
    let mut failed = 0usize;
    cxg_core::par::ordered_map(
        &items,
        jobs.max(1),
        |_, (cid, did)| {
            if !is_uuid(cid) {
                return Err(None);
            }
            client
                .get(&format!("/collections/{cid}/datasets/{did}"))
                .map(|_| ())
                .map_err(Some)
        },
        |k, r| {
            let (cid, did) = &items[k];
            answers[k] = match r {
                Ok(()) => Some("still_served"),
                Err(Some(e)) if e.service => return Err(e.into_error()),
                Err(Some(e)) if e.status == Some(410) => Some("gone"),
                Err(Some(e)) if e.status == Some(404) => Some("not_found"),
                Err(Some(e)) => {
                    warn(format_args!(
                        "dataset {did}: cannot confirm the removal: {e}"
                    ));
                    failed += 1;
                    None
                }
                Err(None) => {
                    warn(format_args!(
                        "dataset {did}: collection_id '{cid}' is not a UUID; removal not checked"
                    ));
                    failed += 1;
                    None
                }
            };
            Ok(())
        },
    )?;
    for (k, &i) in at.iter().enumerate() {
        recs[i].removed_check = answers[k];
    }
    Ok(failed)
}

/// Collections named on stderr at most; the output records name them all.
const MAX_COLLECTION_LINES: usize = 20;

/// The counts line and the collections that came or went.
fn summary(old: &Side, new: &Side, recs: &[Record], unchanged: usize) {
    let n = |c: Change| recs.iter().filter(|r| r.change == c).count();
    let k = |k: &str| recs.iter().filter(|r| r.kind == Some(k)).count();
    warn(format_args!(
        "{} -> {}: {} added, {} removed, {} revised ({} schema_migration, {} content), \
         {} metadata, {} unchanged",
        old.name,
        new.name,
        n(Change::Added),
        n(Change::Removed),
        n(Change::Revised),
        k("schema_migration"),
        k("content"),
        n(Change::Metadata),
        unchanged,
    ));
    let mut colls: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for r in recs {
        if let Some(c) = r.collection_change {
            *colls.entry((c, r.collection_id)).or_default() += 1;
        }
    }
    let total = colls.len();
    for ((c, cid), count) in colls.into_iter().take(MAX_COLLECTION_LINES) {
        warn(format_args!(
            "collection {cid} {c} with its {count} dataset{}",
            if count == 1 { "" } else { "s" }
        ));
    }
    if total > MAX_COLLECTION_LINES {
        warn(format_args!(
            "and {} more collections added or removed (collection_change in the output names each)",
            total - MAX_COLLECTION_LINES
        ));
    }
}

fn sides(args: &Args) -> Result<(PathBuf, PathBuf)> {
    if let Some(dir) = &args.newest {
        let list = cxg_catalog::snapshots::list(dir)?;
        return match list.as_slice() {
            [.., a, b] => Ok((a.clone(), b.clone())),
            _ => Err(Error::new(
                Exit::Input,
                format!(
                    "--newest: '{}' holds {} snapshot folder{}; two are needed \
                     (each 'make refresh' adds one)",
                    dir.display(),
                    list.len(),
                    if list.len() == 1 { "" } else { "s" }
                ),
            )),
        };
    }
    match (&args.old, &args.new) {
        (Some(a), Some(b)) => {
            if a.as_os_str() == "-" && b.as_os_str() == "-" {
                return Err(Error::input("OLD and NEW cannot both be stdin"));
            }
            Ok((a.clone(), b.clone()))
        }
        _ => Err(Error::input("give OLD and NEW, or --newest DIR")),
    }
}

/// Run in the context `ctx`: its output (`-o`) was checked before this is
/// called, and records that could not be processed set the exit status.
pub fn run(args: Args, ctx: &mut cxg_core::Ctx) -> Result<()> {
    let outcome = run_in(args, ctx)?;
    ctx.diag.add_outcome(outcome);
    Ok(())
}

fn run_in(args: Args, ctx: &mut cxg_core::Ctx) -> Result<Outcome> {
    let (a, b) = sides(&args)?;
    let mut out = &mut ctx.out;
    // the two sides are read at once (each with its own term table), then
    // NEW's term ids are renumbered into OLD's table
    let (ra, rb) = std::thread::scope(|sc| {
        let h = sc.spawn(|| {
            let mut int = Interner::default();
            load(&a, &mut int).map(|s| (s, int))
        });
        let mut int = Interner::default();
        let rb = load(&b, &mut int).map(|s| (s, int));
        let ra = h
            .join()
            .unwrap_or_else(|_| Err(Error::input("the reader of OLD stopped unexpectedly")));
        (ra, rb)
    });
    let (old, mut int) = ra?;
    let (mut new, int_b) = rb?;
    if !args.allow_empty {
        for side in [&old, &new] {
            if side.datasets.is_empty() {
                return Err(Error::input(format!(
                    "{} holds no datasets: refusing to report every dataset of the other \
                     side as added or removed (--allow-empty compares it anyway)",
                    side.name
                )));
            }
        }
    }
    let renumber: Vec<u32> = int_b.names.iter().map(|n| int.id(n)).collect();
    for fp in new.datasets.values_mut() {
        fp.renumber(&renumber);
    }
    let all = args.all || args.only.contains(&Change::Unchanged);
    let (mut recs, unchanged) = compare(&old, &new, &int, all);
    let failed = if args.confirm_removed {
        confirm_removed(&args.http, args.jobs, &mut recs)?
    } else {
        0
    };
    if !args.quiet {
        summary(&old, &new, &recs, unchanged);
    }
    let shown: Vec<&Record> = recs
        .iter()
        .filter(|r| r.change != Change::Unchanged || all)
        .filter(|r| args.only.is_empty() || args.only.contains(&r.change))
        .collect();
    let name = out.name();
    match args.format {
        Format::Jsonl => {
            for r in &shown {
                write_compact(&mut out, &r.json())
                    .and_then(|_| out.write_all(b"\n"))
                    .map_err(|e| Error::write(&name, e))?;
            }
        }
        Format::Csv => {
            let mut w = csv_writer(&mut out);
            w.write_record(CSV_HEADER)
                .map_err(|e| csv_write_error(&name, e))?;
            for r in &shown {
                w.write_record(r.csv())
                    .map_err(|e| csv_write_error(&name, e))?;
            }
            csv_finish(w, &name)?;
        }
    }
    let differences = shown.iter().any(|r| r.change != Change::Unchanged);
    if failed > 0 {
        return Ok(Outcome::Partial(failed));
    }
    if args.exit_code && differences {
        // the output is complete: commit it, then exit 1 as git diff does
        ctx.finish()?;
        return Err(Error::new(Exit::Partial, "differences found (--exit-code)"));
    }
    Ok(Outcome::Complete)
}
