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

use cxg_core::{Error, Result};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A decompressed ontology may not be larger than this (the largest real
/// one, MONDO, is 17 MB): a guard against a corrupt or hostile file.
const MAX_JSON_BYTES: u64 = 1 << 30;

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

type Index = HashMap<String, u32, BuildHasherDefault<Fx>>;

/// One term of an ontology file.
#[derive(Debug, Default)]
pub struct Term {
    pub id: String,
    pub label: String,
    pub synonyms: Vec<String>,
    pub deprecated: bool,
    pub replaced_by: Option<String>,
    pub consider: Vec<String>,
    /// Ancestors, as indexes into [`Ontology::ids`].
    ancestors: Vec<u32>,
    /// False for ids seen only as someone's ancestor (not a key of the file).
    present: bool,
}

/// One loaded file.
#[derive(Debug)]
pub struct Ontology {
    /// As in the file name: `UBERON`, `HsapDv`.
    pub name: String,
    /// As in the file name: `v2026-04-01`, `55.0`.
    pub version: String,
    pub path: PathBuf,
    /// SHA-256 of the file as stored (compressed or not), lowercase hex;
    /// computed only when asked for (--verbose).
    pub sha256: Option<String>,
    /// Every id the file names (keys and ancestors), by index.
    terms: Vec<Term>,
    index: Index,
    /// Number of keys (terms) in the file.
    pub term_count: usize,
    pub load_ms: f64,
    /// Of which reading and decompressing.
    pub read_ms: f64,
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
/// and the compressed file of one version are one file (the plain one is
/// read: it is faster).
pub fn scan(dir: &Path) -> Result<HashMap<String, Found>> {
    let rd = std::fs::read_dir(dir).map_err(|e| {
        Error::input(format!(
            "cannot read the ontology folder '{}': {e}",
            dir.display()
        ))
    })?;
    let mut found: HashMap<String, (Found, bool)> = HashMap::new();
    let mut names: Vec<String> = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| {
            Error::input(format!(
                "cannot read the ontology folder '{}': {e}",
                dir.display()
            ))
        })?;
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
            Some((_, old_zst)) => {
                if *old_zst && !zst {
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
        let dec = ruzstd::decoding::StreamingDecoder::new(&mut input)
            .map_err(|e| Error::input(format!("{name}: not a valid zstd file: {e}")))?;
        let room = MAX_JSON_BYTES.saturating_sub(out.len() as u64);
        dec.take(room + 1)
            .read_to_end(&mut out)
            .map_err(|e| Error::input(format!("{name}: corrupt zstd data: {e}")))?;
        if out.len() as u64 > MAX_JSON_BYTES {
            return Err(Error::input(format!(
                "{name}: decompresses to more than {MAX_JSON_BYTES} bytes"
            )));
        }
    }
    Ok(out)
}

impl Ontology {
    /// Read and index one guide file, with its SHA-256 when `hash`.
    pub fn load(f: &Found, hash: bool) -> Result<Ontology> {
        let start = Instant::now();
        let name = format!("'{}'", f.path.display());
        let raw =
            std::fs::read(&f.path).map_err(|e| Error::input(format!("cannot read {name}: {e}")))?;
        let sha256 = hash.then(|| cxg_core::reqlog::sha256_hex(&raw));
        let json = if f.path.to_string_lossy().ends_with(".zst") {
            Cow::Owned(unzstd(&name, &raw)?)
        } else {
            Cow::Borrowed(&raw[..])
        };
        let read_ms = start.elapsed().as_secs_f64() * 1000.0;
        let mut b = Builder::default();
        {
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
        }
        let term_count = b.terms.iter().filter(|t| t.present).count();
        Ok(Ontology {
            name: f.name.clone(),
            version: f.version.clone(),
            path: f.path.clone(),
            sha256,
            terms: b.terms,
            index: b.index,
            term_count,
            load_ms: start.elapsed().as_secs_f64() * 1000.0,
            read_ms,
        })
    }

    /// The term with this id (exact spelling first, then without regard to case).
    pub fn get(&self, id: &str) -> Option<&Term> {
        let i = match self.index.get(id) {
            Some(i) => *i,
            None => {
                let lc = id.to_lowercase();
                self.terms
                    .iter()
                    .position(|t| t.present && t.id.to_lowercase() == lc)? as u32
            }
        };
        self.terms.get(i as usize).filter(|t| t.present)
    }

    /// Every term of the file.
    pub fn terms(&self) -> impl Iterator<Item = &Term> {
        self.terms.iter().filter(|t| t.present)
    }

    /// The ids of every term that has `root` among its ancestors.
    pub fn descendants(&self, root: &str) -> Vec<&str> {
        let Some(&r) = self.index.get(root) else {
            return Vec::new();
        };
        self.terms
            .iter()
            .filter(|t| t.present && t.ancestors.contains(&r))
            .map(|t| t.id.as_str())
            .collect()
    }

    /// "UBERON v2026-04-01"
    pub fn describe(&self) -> String {
        format!("{} {}", self.name, self.version)
    }
}

#[derive(Default)]
struct Builder {
    terms: Vec<Term>,
    index: Index,
}

impl Builder {
    fn intern(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.index.get(id) {
            return i;
        }
        let i = self.terms.len() as u32;
        self.terms.push(Term {
            id: id.to_string(),
            ..Term::default()
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
        let mut t = Term::default();
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
        );
        let _ = std::fs::remove_dir_all(&d);
        r
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
        let mut d = o.descendants("T:1");
        d.sort();
        assert_eq!(d, ["T:2", "T:3"]);
        assert_eq!(o.descendants("T:3"), Vec::<&str>::new());
        assert_eq!(o.get("t:3").unwrap().synonyms, ["léaf"]);
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
