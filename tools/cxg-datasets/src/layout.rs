//! `--out-dir DIR`: the old per-collection folders,
//! `collection_<id>/{collection_<id>,datasets_<id>,dataset_<dvid>}.json`.

use crate::collection::str_of;
use cxg_core::io::{create_subdir, write_file_atomic};
use cxg_core::{Error, Result};
use cxg_json::names::{safe, Written};
use cxg_json::raw::{emit, object, Member, Node};
use std::path::PathBuf;

pub(crate) struct Layout {
    dir: PathBuf,
    pretty: bool,
    written: Written,
}

/// `v` (compact JSON this tool wrote) as a file's text.
fn file_text(v: &[u8], pretty: bool) -> Vec<u8> {
    let mut b = Vec::with_capacity(v.len() + 1);
    // re-emitting compact JSON this tool wrote cannot fail
    let _ = emit(v, pretty, &mut b);
    b.push(b'\n');
    b
}

impl Layout {
    pub(crate) fn new(dir: PathBuf, pretty: bool) -> Layout {
        Layout {
            dir,
            pretty,
            written: Written::default(),
        }
    }

    /// The folder of collection `c` (read at `place`) with the datasets
    /// kept. Returns the files written.
    pub(crate) fn write(
        &mut self,
        c: Node<'_>,
        cid: Option<&str>,
        datasets: &[Node<'_>],
        place: &str,
    ) -> Result<Vec<PathBuf>> {
        let cid = cid.ok_or_else(|| {
            Error::input(format!(
                "{place}: the collection has no string collection_id"
            ))
        })?;
        safe(cid, &format!("{place}: collection_id"))?;
        let cdir = create_subdir(&self.dir, &format!("collection_{cid}"))?;
        let mut names = Vec::new();
        for (k, d) in datasets.iter().enumerate() {
            let what = format!("{place}: collection {cid}: datasets[{k}]");
            let dvid = str_of(*d, "dataset_version_id")
                .ok_or_else(|| Error::input(format!("{what} has no string dataset_version_id")))?;
            let what = format!("{what}: dataset_version_id");
            safe(&dvid, &what)?;
            let p = cdir.join(format!("dataset_{dvid}.json"));
            self.written.claim(&p, &what)?;
            names.push(p);
        }
        let cpath = cdir.join(format!("collection_{cid}.json"));
        let dpath = cdir.join(format!("datasets_{cid}.json"));
        self.written
            .claim(&cpath, &format!("{place}: collection_id"))?;
        self.written
            .claim(&dpath, &format!("{place}: collection_id"))?;
        let arr = array(datasets);
        write_file_atomic(&dpath, &file_text(&arr, self.pretty))?;
        for (d, p) in datasets.iter().zip(&names) {
            write_file_atomic(p, &file_text(d.json(), self.pretty))?;
        }
        write_file_atomic(&cpath, &file_text(&with_datasets(c, &arr), self.pretty))?;
        let mut files = vec![cpath, dpath];
        files.extend(names);
        Ok(files)
    }
}

/// `[d1,d2,...]`, compact.
fn array(datasets: &[Node<'_>]) -> Vec<u8> {
    let mut arr = vec![b'['];
    for (i, d) in datasets.iter().enumerate() {
        if i > 0 {
            arr.push(b',');
        }
        arr.extend_from_slice(d.json());
    }
    arr.push(b']');
    arr
}

/// The collection as read, its `datasets` (the kept ones) where it stood.
fn with_datasets(c: Node<'_>, arr: &[u8]) -> Vec<u8> {
    let ds = Member {
        key_json: b"\"datasets\"",
        value: arr,
    };
    let mut ms: Vec<Member<'_>> = c.parts().map(Node::member).collect();
    match ms.iter().position(|m| m.is("datasets")) {
        Some(i) => ms[i] = ds,
        None => ms.push(ds),
    }
    let mut col = Vec::new();
    object(&ms, &mut col);
    col
}
