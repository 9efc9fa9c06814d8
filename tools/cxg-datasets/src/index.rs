//! `--index FILE`: the saved `GET /datasets` response, whose full records
//! replace the previews of the collections list, joined on dataset_id.

use crate::collection::str_of;
use cxg_core::io::Input;
use cxg_core::{Error, Result};
use cxg_json::raw::{Form, Node, Tape};
use cxg_json::stream::JsonStream;
use std::collections::HashMap;
use std::path::Path;

/// dataset_id → the record, compact, with its members' places.
pub(crate) struct Index(HashMap<String, (Vec<u8>, Tape)>);

impl Index {
    /// Read the index; the first record of a dataset_id is the one used.
    pub(crate) fn load(path: &Path) -> Result<Index> {
        let input = Input::open(Some(path))?;
        let mut stream = JsonStream::new(input.name.clone(), input.reader);
        let mut map = HashMap::new();
        let mut buf = Vec::new();
        let mut tape = Tape::new(1);
        loop {
            buf.clear();
            let Some(at) = stream.next_emit(Form::Compact, &mut buf, Some(&mut tape))? else {
                break;
            };
            let id = dataset_id(tape.root(&buf), &stream.place(at))?;
            map.entry(id).or_insert_with(|| (buf.clone(), tape.clone()));
        }
        Ok(Index(map))
    }

    /// The full record of dataset `id`.
    pub(crate) fn get(&self, id: &str) -> Option<Node<'_>> {
        self.0.get(id).map(|(json, tape)| tape.root(json))
    }
}

/// The record's dataset_id; a collection (the wrong file) is named as such.
fn dataset_id(r: Node<'_>, place: &str) -> Result<String> {
    if r.kind() != "object" {
        return Err(Error::input(format!("{place}: expected a dataset object")));
    }
    let has = |k: &str| r.parts().any(|m| m.is(k));
    if has("datasets") && !has("dataset_id") {
        return Err(Error::input(format!(
            "{place}: --index: this is a collection, not a dataset: the index is what `cxg-fetch datasets` saves (GET /datasets)"
        )));
    }
    str_of(r, "dataset_id")
        .map(|id| id.into_owned())
        .ok_or_else(|| {
            Error::input(format!(
                "{place}: --index: the record has no string dataset_id"
            ))
        })
}
