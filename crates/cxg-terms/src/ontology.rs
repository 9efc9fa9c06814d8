//! The cellxgene-ontology-guide per-ontology files: finding them in a
//! folder, reading them (plain JSON or the published `.json.zst`), and the
//! questions selection asks of them — which term an id, label or synonym
//! names, and which terms descend from it.
//!
//! A file is one JSON object keyed by CURIE; each term has `label`,
//! `deprecated`, `ancestors` (CURIE → distance, already closed over `is_a`
//! and `part_of`), and optionally `synonyms`, `replaced_by`, `consider` and
//! fields this tool does not need. Descendants are not stored: a term
//! descends from R when R is among its ancestors.

use crate::index::{Built, Index, Key, Stamp, TermIn};
use cxg_core::ctx::Diag;
use cxg_core::{At, Error, Result};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A decompressed ontology may not be larger than this (the largest real
/// one, NCBITaxon, is 844 MB): a guard against a corrupt or hostile file.
const MAX_JSON_BYTES: u64 = 4 << 30;

/// A fast hash for the id interner (FxHash's multiply-rotate): the
/// ancestors of every term are interned, about 1.5 million lookups for
/// UBERON, MONDO and EFO, where SipHash's strength buys nothing.
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type Ids = HashMap<String, u32, BuildHasherDefault<Fx>>;

/// One term, as selection sees it.
#[derive(Debug, Default, Clone)]
pub struct Term {
    /// The term's number in its ontology's index.
    pub num: usize,
    pub id: String,
    pub label: String,
    pub deprecated: bool,
    pub replaced_by: Option<String>,
    pub consider: Vec<String>,
}

/// One term of a file being parsed.
#[derive(Debug, Default)]
struct Parsed {
    id: String,
    label: String,
    synonyms: Vec<String>,
    deprecated: bool,
    replaced_by: Option<String>,
    consider: Vec<String>,
    /// Ancestors, as indexes into the builder's terms.
    ancestors: Vec<u32>,
    /// False for ids seen only as someone's ancestor (not a key of the file).
    present: bool,
}

/// Where an ontology's index came from this run.
#[derive(Debug)]
pub enum Indexed {
    /// Read from `<folder>/.index/`.
    Read,
    /// Built from the file, and kept for the next run.
    Built,
    /// Built, but it could not be kept (why).
    NotKept(String),
}

/// One loaded file.
pub struct Ontology {
    /// As in the file name: `UBERON`, `HsapDv`.
    pub name: String,
    /// As in the file name: `v2026-04-01`, `55.0`.
    pub version: String,
    pub path: PathBuf,
    /// SHA-256 of the file as stored (compressed or not), lowercase hex;
    /// computed from the file only when asked for (--verbose).
    pub sha256: Option<String>,
    idx: Index,
    /// Number of terms (keys) in the file.
    pub term_count: usize,
    pub load_ms: f64,
    pub indexed: Indexed,
    /// The index file (whether or not it could be written).
    pub index_path: PathBuf,
    /// Why an index found was not used (it is rebuilt), if one was found.
    pub stale: Option<String>,
}

/// A file in an ontology folder that looks like a guide file.
#[derive(Debug, Clone)]
pub struct Found {
    pub name: String,
    pub version: String,
    pub path: PathBuf,
}

/// `<NAME>-ontology-<VERSION>.json` or `.json.zst` → (NAME, VERSION, zst).
pub fn parse_file_name(file: &str) -> Option<(String, String, bool)> {
    let (stem, zst) = if let Some(s) = file.strip_suffix(".json.zst") {
        (s, true)
    } else if let Some(s) = file.strip_suffix(".json") {
        (s, false)
    } else {
        return None;
    };
    let (name, version) = stem.split_once("-ontology-")?;
    if name.is_empty() || version.is_empty() || name.starts_with('.') {
        return None;
    }
    Some((name.to_string(), version.to_string(), zst))
}

/// The guide files in `dir`, one per ontology name. Two versions of one
/// ontology are an error (which one was meant is unknowable); the plain
/// and the compressed file of one version are one file (the compressed one
/// is read: it is the file the release publishes and `make ontologies`
/// pins, and the index makes its decompression a one-time cost).
pub fn scan(dir: &Path, diag: &Diag) -> Result<HashMap<String, Found>> {
    let cannot = format!("cannot read the ontology folder '{}'", dir.display());
    let rd = std::fs::read_dir(dir).at(&cannot)?;
    let mut found: HashMap<String, (Found, bool)> = HashMap::new();
    let mut names: Vec<String> = Vec::new();
    for entry in rd {
        let entry = entry.at(&cannot)?;
        let file = entry.file_name().to_string_lossy().into_owned();
        names.push(file);
    }
    names.sort();
    for file in names {
        let Some((name, version, zst)) = parse_file_name(&file) else {
            continue;
        };
        let f = Found {
            name: name.clone(),
            version: version.clone(),
            path: dir.join(&file),
        };
        match found.get(&name) {
            None => {
                found.insert(name, (f, zst));
            }
            Some((old, _)) if old.version != version => {
                return Err(Error::input(format!(
                    "the ontology folder '{}' holds two versions of {name} ('{}' and '{}'): keep one",
                    dir.display(),
                    old.path.display(),
                    f.path.display()
                )));
            }
            Some((old, old_zst)) => {
                // the same version plain and compressed: the .zst is read
                diag.warn(format_args!(
                    "warning: the ontology folder '{}' holds {name} {version} twice ('{}' and '{}'): reading the .json.zst (remove the other)",
                    dir.display(),
                    old.path.display(),
                    f.path.display()
                ));
                if !*old_zst && zst {
                    found.insert(name, (f, zst));
                }
            }
        }
    }
    Ok(found.into_iter().map(|(k, (f, _))| (k, f)).collect())
}

/// Decompress every zstd frame of `bytes`.
fn unzstd(name: &str, bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() * 12);
    let mut input = bytes;
    while !input.is_empty() {
        let mut dec = ruzstd::decoding::StreamingDecoder::new(&mut input)
            .at(format_args!("{name}: not a valid zstd file"))?;
        let room = MAX_JSON_BYTES.saturating_sub(out.len() as u64);
        (&mut dec)
            .take(room + 1)
            .read_to_end(&mut out)
            .at(format_args!("{name}: corrupt zstd data"))?;
        // the frame's own checksum (XXH64), when it has one: a damaged file
        // must not be indexed and believed
        let frame = dec.into_frame_decoder();
        if let (Some(want), Some(got)) = (
            frame.get_checksum_from_data(),
            frame.get_calculated_checksum(),
        ) {
            if want != got && out.len() as u64 <= MAX_JSON_BYTES {
                return Err(Error::input(format!(
                    "{name}: corrupt zstd data: the frame's checksum does not match its content"
                )));
            }
        }
        if out.len() as u64 > MAX_JSON_BYTES {
            return Err(Error::input(format!(
                "{name}: decompresses to more than {MAX_JSON_BYTES} bytes"
            )));
        }
    }
    Ok(out)
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The folder of indexes beside the ontology files.
pub const INDEX_DIR: &str = ".index";

impl Ontology {
    /// The file's index: read from `<folder>/.index/` when one made from
    /// this state of the file is there, else built from the file (and kept
    /// there when the folder can be written). With `hash`, the file's
    /// SHA-256 is computed now, and an index made from other bytes is not
    /// used.
    pub fn load(f: &Found, hash: bool, index_dir: Option<&Path>) -> Result<Ontology> {
        let start = Instant::now();
        let name = format!("'{}'", f.path.display());
        let cannot = format!("cannot read {name}");
        // one descriptor for the stamp, the hash and the bytes parsed
        let meta = std::fs::metadata(&f.path).at(&cannot)?;
        if !meta.is_file() {
            return Err(Error::input(format!("{name} is not a regular file")));
        }
        let mut file = std::fs::File::open(&f.path).at(&cannot)?;
        let stamp = Stamp::of(&file.metadata().at(&cannot)?);
        let file_name = f
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = f.path.parent().unwrap_or(Path::new("."));
        let index_path = match index_dir {
            Some(d) => d.join(format!("{file_name}.idx")),
            None => dir.join(INDEX_DIR).join(format!("{file_name}.idx")),
        };
        let mut sha = if hash {
            let mut h = cxg_core::digest::Hasher::new();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = file.read(&mut buf).at(&cannot)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            Some(h.finish().1)
        } else {
            None
        };
        let want = sha.as_deref().and_then(unhex);
        let mut stale = None;
        let (idx, indexed) = match Index::open(&index_path, &stamp, want.as_ref()) {
            Ok(idx) => (idx, Indexed::Read),
            Err(why) => {
                if std::fs::symlink_metadata(&index_path).is_ok() {
                    stale = Some(why);
                }
                let (idx, indexed, digest) = build(f, &mut file, &stamp, &index_path)?;
                if hash {
                    // the bytes indexed are the bytes named
                    sha = Some(cxg_core::digest::hex(&digest));
                }
                (idx, indexed)
            }
        };
        Ok(Ontology {
            name: f.name.clone(),
            version: f.version.clone(),
            path: f.path.clone(),
            sha256: sha,
            term_count: idx.len(),
            idx,
            load_ms: start.elapsed().as_secs_f64() * 1000.0,
            indexed,
            index_path,
            stale,
        })
    }

    fn term(&self, i: usize) -> Term {
        let x = &self.idx;
        Term {
            num: i,
            id: x.id(i).to_string(),
            label: x.label(i).to_string(),
            deprecated: x.deprecated(i),
            replaced_by: x.replaced_by(i).map(str::to_string),
            consider: x.consider(i).into_iter().map(str::to_string).collect(),
        }
    }

    /// The term with this id (exact spelling first, then without regard to case).
    pub fn get(&self, id: &str) -> Option<Term> {
        let i = match self.idx.find(id) {
            Some(i) => i,
            None => *self.idx.lookup(Key::Id, &id.to_lowercase()).first()?,
        };
        Some(self.term(i))
    }

    /// Current (not deprecated) terms with this label (`lc`: lowercase).
    pub fn by_label(&self, lc: &str) -> Vec<Term> {
        self.idx
            .lookup(Key::Label, lc)
            .into_iter()
            .map(|i| self.term(i))
            .collect()
    }

    /// Current terms with this synonym (`lc`: lowercase).
    pub fn by_synonym(&self, lc: &str) -> Vec<Term> {
        self.idx
            .lookup(Key::Synonym, lc)
            .into_iter()
            .map(|i| self.term(i))
            .collect()
    }

    /// The synonyms of a term of this file.
    pub fn synonyms_of(&self, t: &Term) -> Vec<&str> {
        self.idx.synonyms(t.num)
    }

    /// (label, synonyms) of every current term, for suggestions.
    pub fn current(&self) -> impl Iterator<Item = (&str, Vec<&str>)> {
        (0..self.idx.len())
            .filter(|&i| !self.idx.deprecated(i))
            .map(|i| (self.idx.label(i), self.idx.synonyms(i)))
    }

    /// The ids of every term that has `t` among its ancestors. Descendants
    /// are checked as they are read: when the index turns out damaged there,
    /// it is built again from the file (and kept) and asked again.
    pub fn descendants(&self, t: &Term, diag: &Diag) -> Result<Vec<String>> {
        match self.idx.descendants(t.num) {
            Ok(v) => Ok(v.into_iter().map(|i| self.idx.id(i).to_string()).collect()),
            Err(why) => {
                let name = format!("'{}'", self.path.display());
                let cannot = format!("cannot read {name}");
                let mut file = std::fs::File::open(&self.path).at(&cannot)?;
                let stamp = Stamp::of(&file.metadata().at(&cannot)?);
                let f = Found {
                    name: self.name.clone(),
                    version: self.version.clone(),
                    path: self.path.clone(),
                };
                let (idx, _, _) = build(&f, &mut file, &stamp, &self.index_path)?;
                diag.warn(format_args!(
                    "the index '{}' was {why} (found reading the descendants of {}): indexed {} again",
                    self.index_path.display(),
                    t.id,
                    self.describe()
                ));
                let Some(i) = idx.find(&t.id) else {
                    return Ok(Vec::new());
                };
                let v = idx
                    .descendants(i)
                    .map_err(|e| Error::input(format!("{name}: a fresh index of it is {e}")))?;
                Ok(v.into_iter().map(|i| idx.id(i).to_string()).collect())
            }
        }
    }

    /// "UBERON v2026-04-01"
    pub fn describe(&self) -> String {
        format!("{} {}", self.name, self.version)
    }
}

/// Remove from `index_dir` what no run will read again: temporary files
/// left by an interrupted indexing (over an hour old, and only those named
/// as this tool names them: other programs' files stay), and, when the
/// folder is the ontology folder's own `.index`, indexes of files that are
/// no longer there. Returns how many files went.
pub fn prune(index_dir: &Path, loaded: &[Ontology], own: bool) -> usize {
    let Ok(meta) = std::fs::symlink_metadata(index_dir) else {
        return 0;
    };
    if !meta.is_dir() {
        return 0;
    }
    let Ok(rd) = std::fs::read_dir(index_dir) else {
        return 0;
    };
    let keep: Vec<&std::path::PathBuf> = loaded.iter().map(|o| &o.index_path).collect();
    let mut n = 0;
    for e in rd.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(m) = e.metadata() else { continue };
        if !m.is_file() {
            continue;
        }
        let old_tmp = is_index_temp(&name)
            && m.modified()
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 3600);
        let gone = own
            && name.ends_with(".idx")
            && parse_file_name(name.trim_end_matches(".idx")).is_some()
            && !keep.iter().any(|k| **k == e.path());
        if (old_tmp || gone) && std::fs::remove_file(e.path()).is_ok() {
            n += 1;
        }
    }
    n
}

/// A temporary index file as `AtomicFile` names it for an index of an
/// ontology file: `.<NAME>-ontology-<VERSION>.json[.zst].idx.<random>.tmp`.
fn is_index_temp(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
        return false;
    };
    let Some((idx, rand)) = rest.rsplit_once('.') else {
        return false;
    };
    !rand.is_empty()
        && rand.bytes().all(|b| b.is_ascii_alphanumeric())
        && idx
            .strip_suffix(".idx")
            .is_some_and(|f| parse_file_name(f).is_some())
}

/// The JSON text of a guide file (decompressed when `.json.zst`): for
/// the fields the index does not keep (`description`), of the small files
/// that need them (HsapDv, MmusDv).
pub fn read_json(path: &Path) -> Result<Vec<u8>> {
    let name = format!("'{}'", path.display());
    let raw = std::fs::read(path).at(format_args!("cannot read {name}"))?;
    if path.to_string_lossy().ends_with(".zst") {
        unzstd(&name, &raw)
    } else {
        Ok(raw)
    }
}

/// Read, parse and index the file open as `file` (from its start), and keep
/// the index at `index_path` when its folder can be written. Returns the
/// index, how it was kept, and the SHA-256 of the bytes indexed.
fn build(
    f: &Found,
    file: &mut std::fs::File,
    stamp: &Stamp,
    index_path: &Path,
) -> Result<(Index, Indexed, [u8; 32])> {
    use std::io::Seek;
    let name = format!("'{}'", f.path.display());
    let cannot = format!("cannot read {name}");
    file.rewind().at(&cannot)?;
    let mut raw = Vec::new();
    file.read_to_end(&mut raw).at(&cannot)?;
    let digest = cxg_core::digest::sha256_bytes(&raw);
    let json = if f.path.to_string_lossy().ends_with(".zst") {
        unzstd(&name, &raw)?
    } else {
        raw
    };
    let built = parse(&name, json, stamp, &digest)?;
    let kept =
        keep(index_path, &built).and_then(|()| Index::open(index_path, stamp, Some(&digest)));
    Ok(match kept {
        Ok(idx) => (idx, Indexed::Built, digest),
        Err(why) => (
            Index::from_bytes(built.into_bytes())
                .map_err(|e| Error::input(format!("{name}: {e}")))?,
            Indexed::NotKept(why),
            digest,
        ),
    })
}

/// Write the index at `path` (atomically, flushed to disk; its folder,
/// `.index` beside the ontology files, is created, and never written
/// through when it is a symbolic link planted there).
fn keep(path: &Path, built: &Built) -> std::result::Result<(), String> {
    let (Some(dir), Some(leaf)) = (path.parent(), path.parent().and_then(Path::file_name)) else {
        return Err(format!("'{}' has no folder", path.display()));
    };
    if leaf == INDEX_DIR {
        if let Some(parent) = dir.parent() {
            cxg_core::io::create_subdir(parent, INDEX_DIR).map_err(|e| e.msg)?;
        }
    } else if !dir.is_dir() {
        return Err(format!(
            "the index folder '{}' does not exist",
            dir.display()
        ));
    }
    let mut f = cxg_core::io::AtomicFile::create(path).map_err(|e| e.msg)?;
    built
        .write_to(&mut f)
        .map_err(|e| format!("cannot write '{}': {e}", path.display()))?;
    f.commit().map_err(|e| e.msg)
}

/// Parse a guide file and build its index.
fn parse(name: &str, json: Vec<u8>, stamp: &Stamp, sha: &[u8; 32]) -> Result<Built> {
    let mut b = Builder::default();
    let mut de = serde_json::Deserializer::from_slice(&json);
    FileSeed(&mut b)
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| {
            let msg = e.to_string();
            let msg = msg.rsplit_once(" at line ").map_or(msg.as_str(), |x| x.0);
            Error::input(format!(
                "{name}: line {}, column {}: not an ontology file of the cellxgene-ontology-guide: {msg}",
                e.line(),
                e.column()
            ))
        })?;
    drop(de);
    drop(json);
    drop(std::mem::take(&mut b.index));
    // only the file's keys are terms; ancestors named nowhere else are dropped
    let mut num = vec![u32::MAX; b.terms.len()];
    let mut n = 0u32;
    for (i, t) in b.terms.iter().enumerate() {
        if t.present {
            num[i] = n;
            n += 1;
        }
    }
    b.terms.retain(|t| t.present);
    for t in &mut b.terms {
        t.ancestors.retain_mut(|a| {
            *a = num[*a as usize];
            *a != u32::MAX
        });
        t.ancestors.sort_unstable();
        t.ancestors.dedup();
    }
    drop(num);
    let terms: Vec<TermIn> = b
        .terms
        .iter()
        .map(|t| TermIn {
            id: &t.id,
            label: &t.label,
            deprecated: t.deprecated,
            synonyms: &t.synonyms,
            replaced_by: t.replaced_by.as_deref(),
            consider: &t.consider,
            ancestors: &t.ancestors,
        })
        .collect();
    crate::index::build(&terms, stamp, sha).map_err(|e| Error::input(format!("{name}: {e}")))
}

#[derive(Default)]
struct Builder {
    terms: Vec<Parsed>,
    index: Ids,
}

impl Builder {
    fn intern(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.index.get(id) {
            return i;
        }
        let i = self.terms.len() as u32;
        self.terms.push(Parsed {
            id: id.to_string(),
            ..Parsed::default()
        });
        self.index.insert(id.to_string(), i);
        i
    }
}

/// A string borrowed from the input where it has no escapes.
struct Str<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Str<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(
                self,
                v: &'de str,
            ) -> std::result::Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// The whole file: `{CURIE: term, ...}`.
struct FileSeed<'a>(&'a mut Builder);

impl<'de> DeserializeSeed<'de> for FileSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FileSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object keyed by term id")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<(), A::Error> {
        while let Some(Str(id)) = m.next_key::<Str>()? {
            let i = self.0.intern(&id);
            if self.0.terms[i as usize].present {
                return Err(de::Error::custom(format!("term {id} appears twice")));
            }
            m.next_value_seed(TermSeed(self.0, i))?;
        }
        Ok(())
    }
}

/// One term object.
struct TermSeed<'a>(&'a mut Builder, u32);

impl<'de> DeserializeSeed<'de> for TermSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TermSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a term object (label, deprecated, ancestors, ...)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<(), A::Error> {
        let TermSeed(b, i) = self;
        let mut t = Parsed::default();
        let (mut has_label, mut has_anc) = (false, false);
        while let Some(Str(k)) = m.next_key::<Str>()? {
            match &*k {
                "label" => {
                    t.label = m.next_value()?;
                    has_label = true;
                }
                "deprecated" => t.deprecated = m.next_value()?,
                "synonyms" => {
                    t.synonyms = m.next_value::<Option<Vec<String>>>()?.unwrap_or_default()
                }
                "consider" => {
                    t.consider = m.next_value::<Option<Vec<String>>>()?.unwrap_or_default()
                }
                "replaced_by" => t.replaced_by = m.next_value()?,
                "ancestors" => {
                    t.ancestors = m.next_value_seed(AncestorSeed(b))?;
                    has_anc = true;
                }
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !has_label || !has_anc {
            let id = &b.terms[i as usize].id;
            return Err(de::Error::custom(format!(
                "term {id} lacks '{}'",
                if has_label { "ancestors" } else { "label" }
            )));
        }
        let slot = &mut b.terms[i as usize];
        t.id = std::mem::take(&mut slot.id);
        t.present = true;
        *slot = t;
        Ok(())
    }
}

/// `{CURIE: distance, ...}` → interned indexes.
struct AncestorSeed<'a>(&'a mut Builder);

impl<'de> DeserializeSeed<'de> for AncestorSeed<'_> {
    type Value = Vec<u32>;
    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Vec<u32>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AncestorSeed<'_> {
    type Value = Vec<u32>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object mapping ancestor ids to distances")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Vec<u32>, A::Error> {
        let mut v = Vec::with_capacity(m.size_hint().unwrap_or(16));
        while let Some(Str(k)) = m.next_key::<Str>()? {
            m.next_value::<IgnoredAny>()?;
            v.push(self.0.intern(&k));
        }
        Ok(v)
    }
    // Tolerate a list of ids as well (older files); distances are unused.
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> std::result::Result<Vec<u32>, A::Error> {
        let mut v = Vec::new();
        while let Some(Str(k)) = s.next_element::<Str>()? {
            v.push(self.0.intern(&k));
        }
        Ok(v)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(
            parse_file_name("UBERON-ontology-v2026-04-01.json.zst"),
            Some(("UBERON".into(), "v2026-04-01".into(), true))
        );
        assert_eq!(
            parse_file_name("CVCL-ontology-55.0.json"),
            Some(("CVCL".into(), "55.0".into(), false))
        );
        assert_eq!(parse_file_name("ontology_info.json"), None);
        assert_eq!(parse_file_name("UBERON-ontology-v1.json.gz"), None);
        assert_eq!(parse_file_name("-ontology-v1.json"), None);
    }

    fn load_text(text: &str) -> Result<Ontology> {
        let d = std::env::temp_dir().join(format!(
            "cxg-select-onto-{}-{}",
            std::process::id(),
            text.len()
        ));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("T-ontology-v1.json");
        std::fs::write(&p, text).unwrap();
        let r = Ontology::load(
            &Found {
                name: "T".into(),
                version: "v1".into(),
                path: p,
            },
            true,
            None,
        );
        let _ = std::fs::remove_dir_all(&d);
        r
    }

    impl std::fmt::Debug for Ontology {
        fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "{}", self.describe())
        }
    }

    #[test]
    fn descendants_scan_ancestors() {
        let o = load_text(
            r#"{"T:1":{"ancestors":{},"label":"root","deprecated":false},
               "T:3":{"ancestors":{"T:2":1,"T:1":2},"label":"leaf","synonyms":["l\u00e9af"],"deprecated":false},
               "T:2":{"ancestors":{"T:1":1},"label":"mid","deprecated":false,"extra":[1]},
               "T:9":{"ancestors":{},"label":"","deprecated":true,"replaced_by":"T:2"}}"#,
        )
        .unwrap();
        assert_eq!(o.term_count, 4);
        let diag = cxg_core::Ctx::memory(b"").diag;
        let d = o.descendants(&o.get("T:1").unwrap(), &diag).unwrap();
        assert_eq!(d, ["T:2", "T:3"]);
        assert_eq!(
            o.descendants(&o.get("T:3").unwrap(), &diag).unwrap(),
            Vec::<&str>::new()
        );
        assert_eq!(o.by_label("leaf")[0].id, "T:3");
        assert_eq!(o.by_synonym("léaf")[0].id, "T:3");
        assert!(o.by_label("").is_empty());
        // an id without regard to case
        assert_eq!(o.get("t:3").unwrap().id, "T:3");
        assert_eq!(o.get("T:9").unwrap().replaced_by.as_deref(), Some("T:2"));
        assert!(o.get("T:4").is_none());
    }

    #[test]
    fn malformed_files_are_named() {
        let e = load_text(r#"{"T:1":{"label":"x","deprecated":false}}"#).unwrap_err();
        assert!(e.msg.contains("term T:1 lacks 'ancestors'"), "{}", e.msg);
        let e = load_text(r#"[1,2]"#).unwrap_err();
        assert!(e.msg.contains("line 1, column"), "{}", e.msg);
        let e = load_text(r#"{"T:1":{"label":"x","ancestors":{},"deprecated":false}"#).unwrap_err();
        assert!(e.msg.contains("not an ontology file"), "{}", e.msg);
    }
}
