//! Loading the two harvests: a snapshot folder (its dataset index and
//! collections.json), an index array or JSON Lines, each streamed and
//! reduced to fingerprints as it is read.

use crate::fp::Interner;
use crate::side::Side;
use cxg_catalog::facets;
use cxg_core::ctx::Diag;
use cxg_core::io::Input;
use cxg_core::Ctx;
use cxg_core::{At, Error, Result};
use cxg_json::stream::JsonStream;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

/// Read both sides at once (each with its own term table), then number
/// NEW's terms as OLD's. Duplicate ids are named on `ctx.diag`, OLD's
/// first; `-` is the context's stdin.
pub(crate) fn both(old: &Path, new: &Path, ctx: &Ctx) -> Result<(Side, Side, Interner)> {
    let stdin = |p: &Path| {
        (p.as_os_str() == "-")
            .then(|| ctx.input(Some(p)))
            .transpose()
    };
    let (old_in, new_in) = (stdin(old)?, stdin(new)?);
    let (ra, rb) = std::thread::scope(|sc| {
        let h = sc.spawn(|| {
            let mut int = Interner::default();
            load(old, old_in, &mut int).map(|s| (s, int))
        });
        let mut int = Interner::default();
        let rb = load(new, new_in, &mut int).map(|s| (s, int));
        let ra = h
            .join()
            .unwrap_or_else(|_| Err(Error::input("the reader of OLD stopped unexpectedly")));
        (ra, rb)
    });
    for (side, _) in [&ra, &rb].into_iter().flatten() {
        warn_dups(side, &ctx.diag);
    }
    let (old, mut int) = ra?;
    let (mut new, int_b) = rb?;
    let renumber = int_b.renumbering(&mut int);
    for fp in new.datasets.values_mut() {
        fp.renumber(&renumber);
    }
    Ok((old, new, int))
}

/// Read one side: a folder (snapshot or data folder), a file, or `stdin`
/// (already open).
fn load(path: &Path, stdin: Option<Input>, int: &mut Interner) -> Result<Side> {
    let mut side = Side {
        name: format!("'{}'", path.display()),
        ..Side::default()
    };
    if stdin.is_some() || !path.is_dir() {
        let input = match stdin {
            Some(input) => input,
            None => Input::open(Some(path))?,
        };
        side.name = input.name.clone();
        read_records(&mut side, input, int)?;
        return Ok(side);
    }
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
    Ok(side)
}

fn read_records(side: &mut Side, input: Input, int: &mut Interner) -> Result<()> {
    let input = crate::sniff::json_or_error(input)?;
    let name = input.name;
    let mut s = JsonStream::new(name.clone(), input.reader);
    while let Some((at, Slim(v, _))) = s.next_as::<Slim<DatasetKeys>>()? {
        side.add(&v, int).at(format_args!(
            "{name}: line {} (element {})",
            at.line, at.index
        ))?;
    }
    Ok(())
}

/// Collection-level fields from a snapshot's collections.json.
fn read_collections(side: &mut Side, path: &Path) -> Result<()> {
    let mut seen = HashSet::new();
    let input = Input::open(Some(path))?;
    let name = input.name;
    let mut s = JsonStream::new(name.clone(), input.reader);
    while let Some((at, Slim(v, _))) = s.next_as::<Slim<CollectionKeys>>()? {
        let Some(cid) = v.get("collection_id").and_then(Value::as_str) else {
            return Err(Error::input(format!(
                "{name}: line {}: collection {} has no string collection_id",
                at.line, at.index
            )));
        };
        let cid = cid.to_ascii_lowercase();
        let first = seen.insert(cid.clone());
        side.add_collection(cid, first, &v);
    }
    Ok(())
}

/// Ids named on stderr at most when warning about duplicates.
const MAX_DUP_IDS: usize = 10;

/// Say which ids of `side` appeared more than once.
fn warn_dups(side: &Side, diag: &Diag) {
    warn_dup(
        diag,
        &side.name,
        "dataset",
        &side.dup_datasets,
        "where their records differ, the later revised_at, then the larger \
         dataset_version_id, then the larger content is compared",
    );
    warn_dup(
        diag,
        &side.name,
        "collection",
        &side.dup_collections,
        "where their entries differ, the greater is compared",
    );
}

/// Name the first few ids that appeared more than once, and how many.
fn warn_dup(
    diag: &Diag,
    side: &str,
    what: &str,
    ids: &std::collections::BTreeSet<Box<str>>,
    rule: &str,
) {
    if ids.is_empty() {
        return;
    }
    let n = ids.len();
    let shown: Vec<&str> = ids.iter().take(MAX_DUP_IDS).map(|s| &**s).collect();
    let (first, more) = if n > MAX_DUP_IDS {
        (format!(" (the first {MAX_DUP_IDS})"), ", ...")
    } else {
        (String::new(), "")
    };
    let (s, verb_s) = if n == 1 { ("", "s") } else { ("s", "") };
    diag.warn(format_args!(
        "{side}: {n} {what} id{s} appear{verb_s} more than once{first}: {}{more}; {rule}",
        shown.join(", "),
    ));
}

/// Which keys of an object are kept by [`Slim`].
trait Keys {
    /// The kept key equal to `key`.
    fn find(key: &str) -> Option<&'static str>;
    const WHAT: &'static str;
}

/// The key of `list` equal to `key` (the lists are constants, so that
/// the comparisons are against known strings: this runs for every key of
/// every record).
fn find_in(list: &'static [&'static str], key: &str) -> Option<&'static str> {
    list.iter().find(|k| **k == key).copied()
}

/// What a dataset record is compared by besides its facets: ids,
/// collection fields, the scalars and the assets.
const DATASET_FIELDS: [&str; 15] = [
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
];

/// The record field of every facet in the catalogue's table (a superset
/// of [`crate::fp::FACETS`], known at compile time).
const FACET_FIELDS: [&str; facets::FACETS.len()] = {
    let mut out = [""; facets::FACETS.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = facets::FACETS[i].field;
        i += 1;
    }
    out
};

struct DatasetKeys;
impl Keys for DatasetKeys {
    fn find(key: &str) -> Option<&'static str> {
        find_in(&DATASET_FIELDS, key).or_else(|| find_in(&FACET_FIELDS, key))
    }
    const WHAT: &'static str = "a dataset object";
}

struct CollectionKeys;
impl Keys for CollectionKeys {
    fn find(key: &str) -> Option<&'static str> {
        find_in(
            &[
                "collection_id",
                "collection_version_id",
                "name",
                "doi",
                "publisher_metadata",
                "links",
                "consortia",
            ],
            key,
        )
    }
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
        Ok(K::find(v))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_compared_facet_is_kept() {
        for f in crate::fp::FACETS.iter() {
            assert_eq!(DatasetKeys::find(f), Some(*f));
        }
        assert_eq!(DatasetKeys::find("donor_id"), Some("donor_id"));
        assert_eq!(DatasetKeys::find("citation"), None);
        assert_eq!(CollectionKeys::find("links"), Some("links"));
    }
}
