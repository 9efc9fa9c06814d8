//! The second walk: every file of the snapshot written as its collection
//! comes, streamed. The collections list and each full collection are
//! written around their `datasets` arrays one dataset at a time; the index
//! goes through an on-disk sort (`sort`). The bytes are those of the whole
//! snapshot built in memory and written compactly, as the API sends it.

use crate::args::Args;
use crate::assets;
use crate::snapshot::{index_entry, sorted, walk, Collection, Fate, Fates, PREVIEW_KEYS};
use crate::sort::Sorter;
use crate::write::to_bytes;
use cxg_core::io::{write_file_atomic, AtomicFile};
use cxg_core::{Error, Result};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What was written, for the summary.
#[derive(Default)]
pub(crate) struct Tally {
    pub collections: usize,
    pub datasets: usize,
    pub indexed: usize,
    pub gone: usize,
    pub assets: usize,
    pub asset_bytes: u64,
}

/// A file written as a stream, with its name for messages.
struct Stream {
    path: PathBuf,
    file: AtomicFile,
    first: bool,
}

impl Stream {
    fn create(path: PathBuf) -> Result<Stream> {
        let file = AtomicFile::create_unsynced(&path)?;
        Ok(Stream {
            path,
            file,
            first: true,
        })
    }

    fn put(&mut self, b: &[u8]) -> Result<()> {
        self.file
            .write_all(b)
            .map_err(|e| Error::write(&format!("'{}'", self.path.display()), e))
    }

    /// One element of a JSON array, after a comma unless the first.
    fn element(&mut self, b: &[u8]) -> Result<()> {
        if !std::mem::take(&mut self.first) {
            self.put(b",")?;
        }
        self.put(b)
    }

    fn commit(self) -> Result<()> {
        self.file.commit()
    }
}

/// The outputs open over the whole walk.
struct Out<'a> {
    dir: &'a Path,
    args: &'a Args,
    /// The folder of the last dataset object written (made once).
    folder: Option<PathBuf>,
    list: Stream,
    gone: Option<Stream>,
    index: Option<Sorter>,
    tally: Tally,
    k: usize,
}

/// Write the files of the snapshot `fates` describes into `dir`.
pub(crate) fn write_files(args: &Args, fates: &Fates, dir: &Path) -> Result<Tally> {
    let collections = dir.join("collections");
    std::fs::create_dir_all(&collections).map_err(|e| cannot_create(&collections, e))?;
    let mut out = Out {
        dir,
        args,
        folder: None,
        list: Stream::create(dir.join("collections.json"))?,
        gone: match fates.gone {
            0 => None,
            _ => Some(Stream::create(dir.join("gone.json"))?),
        },
        index: (!args.list_only).then(|| Sorter::new(dir.join(".index-runs"), args.sort_bytes)),
        tally: Tally::default(),
        k: 0,
    };
    out.list.put(b"[")?;
    if let Some(g) = &mut out.gone {
        g.put(b"[")?;
    }
    walk(args, |c| out.collection(c, fates))?;
    out.list.put(b"]")?;
    out.list.commit()?;
    if let Some(mut g) = out.gone {
        g.put(b"]")?;
        g.commit()?;
    }
    if let Some(ix) = out.index {
        let p = dir.join("datasets.json");
        let mut f = AtomicFile::create_unsynced(&p)?;
        ix.finish(&mut f, &p)?;
        f.commit()?;
    }
    Ok(out.tally)
}

fn cannot_create(p: &Path, e: std::io::Error) -> Error {
    Error::input(format!("cannot create '{}': {e}", p.display()))
}

/// The bytes of collection `m` (keys sorted, `datasets` among them)
/// before and after the elements of its `datasets` array.
fn around_datasets(m: &Map<String, Value>) -> (Vec<u8>, Vec<u8>) {
    let mut m = m.clone();
    m.insert("datasets".into(), Value::Null);
    m.sort_keys();
    let (mut head, mut tail) = (b"{".to_vec(), Vec::new());
    let mut after = false;
    for (i, (k, v)) in m.iter().enumerate() {
        let part = if after { &mut tail } else { &mut head };
        if i > 0 {
            part.push(b',');
        }
        part.extend(to_bytes(&Value::String(k.clone())));
        part.push(b':');
        if k == "datasets" {
            part.push(b'[');
            after = true;
            tail.push(b']');
        } else {
            part.extend(to_bytes(v));
        }
    }
    tail.push(b'}');
    (head, tail)
}

/// A dataset's preview in the collections list.
fn preview(d: &Map<String, Value>) -> Value {
    let keys = PREVIEW_KEYS
        .iter()
        .filter_map(|key| Some(((*key).to_string(), d.get(*key)?.clone())));
    Value::Object(keys.collect())
}

impl Out<'_> {
    /// One collection: its entry in the list, its full record, and its
    /// datasets' objects, index entries and asset files.
    fn collection(&mut self, c: &Collection, fates: &Fates) -> Result<()> {
        self.tally.collections += 1;
        // the record around its datasets (the whole record when it is
        // served without the key)
        let (head, tail) = if c.has_datasets_key {
            around_datasets(&c.full)
        } else {
            (to_bytes(&sorted(Value::Object(c.full.clone()))), Vec::new())
        };
        let path = self.dir.join("collections").join(format!("{}.json", c.cid));
        let mut full = (!self.args.list_only)
            .then(|| Stream::create(path))
            .transpose()?;
        self.list.element(&head)?;
        if let Some(f) = &mut full {
            f.put(&head)?;
        }
        for m in 0..c.len() {
            let fate = fates.of(self.k);
            self.k += 1;
            let (d, names) = self.dataset(c, m, fate != Fate::Gone)?;
            if c.has_datasets_key {
                let comma: &[u8] = if m == 0 { b"" } else { b"," };
                self.list.put(comma)?;
                self.list.put(&to_bytes(&preview(&d)))?;
                if let Some(f) = &mut full {
                    f.put(comma)?;
                    f.put(&to_bytes(&Value::Object(d.clone())))?;
                }
            }
            if fate != Fate::Gone {
                self.assets(names)?;
            }
            self.served(c, d, fate)?;
        }
        self.list.put(&tail)?;
        match full {
            Some(mut f) => {
                f.put(&tail)?;
                f.commit()
            }
            None => Ok(()),
        }
    }

    /// Dataset `m` of `c`, with its H5AD sizes set and their files named
    /// (--assets): a served dataset's H5AD is written here, before any
    /// view of the record, whose `filesize` is at least the file's.
    fn dataset(
        &self,
        c: &Collection,
        m: usize,
        served: bool,
    ) -> Result<(Map<String, Value>, BTreeMap<String, u64>)> {
        let mut names = BTreeMap::new();
        let d = c.dataset(m);
        if !self.args.assets {
            return Ok((d, names));
        }
        let (a, dir) = (self.args, self.dir.join("assets"));
        let mut natural = |name: &str, v: &Value| -> Result<u64> {
            if !served || a.sparse_assets {
                return Ok(0);
            }
            std::fs::create_dir_all(&dir).map_err(|e| cannot_create(&dir, e))?;
            assets::write_h5ad(&dir, a.seed, name, v)
        };
        let mut v = Value::Object(d);
        assets::patch_sizes(&mut v, a.seed, a.asset_bytes, &mut names, &mut natural)?;
        match v {
            Value::Object(d) => Ok((d, names)),
            _ => Ok((Map::new(), names)),
        }
    }

    /// A dataset after its entries in the list and the full collection:
    /// named in gone.json if removed, else its object, its asset files and
    /// (unless left out) its index entry.
    fn served(&mut self, c: &Collection, d: Map<String, Value>, fate: Fate) -> Result<()> {
        self.tally.datasets += 1;
        let did = d["dataset_id"].as_str().unwrap_or_default().to_string();
        if fate == Fate::Gone {
            self.tally.gone += 1;
            if let Some(g) = &mut self.gone {
                g.element(&to_bytes(&Value::String(did)))?;
            }
            return Ok(());
        }
        let mut single = d;
        single.insert("processing_status".into(), json!("SUCCESS"));
        if !self.args.list_only {
            let folder = self.dir.join("collections").join(&c.cid).join("datasets");
            if self.folder.as_ref() != Some(&folder) {
                std::fs::create_dir_all(&folder).map_err(|e| cannot_create(&folder, e))?;
                self.folder = Some(folder.clone());
            }
            let object = sorted(Value::Object(single.clone()));
            write_file_atomic(&folder.join(format!("{did}.json")), &to_bytes(&object))?;
        }
        if fate == Fate::Indexed {
            self.tally.indexed += 1;
            if let Some(ix) = &mut self.index {
                let entry = index_entry(single, &c.full);
                let key = entry["published_at"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                ix.push((key, did), to_bytes(&entry))?;
            }
        }
        Ok(())
    }

    /// The H5AD files of a served dataset (--assets).
    fn assets(&mut self, names: BTreeMap<String, u64>) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let dir = self.dir.join("assets");
        std::fs::create_dir_all(&dir).map_err(|e| cannot_create(&dir, e))?;
        for (name, size) in names {
            let a = self.args;
            assets::write_asset(&dir, a.seed, &name, size, a.sparse_assets)?;
            self.tally.assets += 1;
            self.tally.asset_bytes = self.tally.asset_bytes.saturating_add(size);
        }
        Ok(())
    }
}
