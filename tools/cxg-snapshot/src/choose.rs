//! `cxg-snapshot choose`: record a choice made after the harvest (the cell
//! filter of a later `make obs`) in the working folder's provenance.json,
//! in place: every other key, and the key order, stay as they are. The
//! snapshot folders are never touched: each keeps the provenance of its own
//! harvest.

use crate::args::Choose;
use cxg_core::io::{write_file_atomic, Input};
use cxg_core::{Error, Result};
use cxg_json::stream::JsonStream;
use cxg_json::value::write_pretty;
use serde_json::{Map, Value};

pub(crate) fn choose(a: Choose) -> Result<()> {
    let mut prov = read_provenance(&a)?;
    set_choices(&mut prov, &a.choice);
    let mut bytes = Vec::new();
    write_pretty(&mut bytes, &Value::Object(prov)).map_err(|e| Error::write("provenance", e))?;
    bytes.push(b'\n');
    write_file_atomic(&a.provenance, &bytes)
}

/// The one object in the file, which must be a provenance.json (it names
/// its snapshot).
fn read_provenance(a: &Choose) -> Result<Map<String, Value>> {
    let input = Input::open(Some(&a.provenance))?;
    let name = input.name.clone();
    let mut s = JsonStream::new(input.name, input.reader);
    let first = s.next_value()?;
    if s.next_value()?.is_some() {
        return Err(Error::input(format!(
            "{name}: more than one JSON value; a provenance.json holds one object"
        )));
    }
    match first {
        Some((_, Value::Object(m))) if m.contains_key("snapshot") => Ok(m),
        _ => Err(Error::input(format!(
            "{name}: not a provenance.json (one object with a \"snapshot\" key, \
             as cxg-snapshot save --provenance writes)"
        ))),
    }
}

/// Set each `NAME=VALUE` under `choices`, where it is (an empty VALUE
/// removes NAME: no such choice was made); no `choices` key when none is
/// left, as `save` writes it.
fn set_choices(prov: &mut Map<String, Value>, choices: &[(String, String)]) {
    if !matches!(prov.get("choices"), Some(Value::Object(_))) {
        prov.insert("choices".into(), Value::Object(Map::new()));
    }
    if let Some(Value::Object(now)) = prov.get_mut("choices") {
        for (name, value) in choices {
            if value.is_empty() {
                now.shift_remove(name);
            } else {
                now.insert(name.clone(), Value::String(value.clone()));
            }
        }
        if now.is_empty() {
            prov.shift_remove("choices");
        }
    }
}
