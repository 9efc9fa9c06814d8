//! The datasets index (a saved `cxg-fetch datasets` response, or one
//! `GET /datasets`): what the API says about each dataset.

use crate::Args;
use cxg_core::{Ctx, Error, Result};
use cxg_http::Client;
use cxg_json::stream::JsonStream;
use serde_json::Value;
use std::collections::HashMap;

/// What the API says about one dataset.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Info {
    pub(crate) cell_count: String,
    pub(crate) h5ad_url: String,
    pub(crate) title: String,
    pub(crate) explorer_url: String,
    pub(crate) h5ad_filesize: String,
    pub(crate) rds_url: String,
}

fn scalar(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => (if *b { "TRUE" } else { "FALSE" }).into(),
        _ => String::new(),
    }
}

/// Extract the columns from a dataset object (index item or single GET).
pub(crate) fn info(d: &Value) -> Info {
    let asset = |t: &str| {
        d.get("assets").and_then(Value::as_array).and_then(|a| {
            a.iter()
                .find(|x| x.get("filetype").and_then(Value::as_str) == Some(t))
        })
    };
    let h5ad = asset("H5AD");
    Info {
        cell_count: scalar(d.get("cell_count")),
        h5ad_url: scalar(h5ad.and_then(|a| a.get("url"))),
        title: scalar(d.get("title")),
        explorer_url: scalar(d.get("explorer_url")),
        h5ad_filesize: scalar(h5ad.and_then(|a| a.get("filesize"))),
        rds_url: scalar(asset("RDS").and_then(|a| a.get("url"))),
    }
}

/// Read a datasets index (array or JSON Lines) into dataset_id -> Info.
/// A dataset_id that appears more than once keeps its last entry, and a
/// warning names the repeated ids.
fn load_index(ctx: &Ctx, name: &str, r: impl std::io::Read) -> Result<HashMap<String, Info>> {
    let mut s = JsonStream::new(name, r);
    let mut map = HashMap::new();
    let mut repeated: Vec<String> = Vec::new();
    while let Some((at, v)) = s.next_value()? {
        let Some(id) = v.get("dataset_id").and_then(Value::as_str) else {
            return Err(Error::input(format!(
                "{}: has no string dataset_id",
                s.place(at)
            )));
        };
        if map.insert(id.to_string(), info(&v)).is_some() {
            repeated.push(id.to_string());
        }
    }
    if map.is_empty() {
        return Err(Error::input(format!(
            "{name}: the index holds no datasets (an empty file or []): not a saved \
             `cxg-fetch datasets` response; without one every row would be one request"
        )));
    }
    if !repeated.is_empty() {
        repeated.sort();
        repeated.dedup();
        let shown: Vec<&str> = repeated.iter().take(10).map(String::as_str).collect();
        ctx.diag.warn(format_args!(
            "{name}: {} dataset_id{} appear more than once; the last entry of each is used: {}{}",
            repeated.len(),
            if repeated.len() == 1 { "" } else { "s" },
            shown.join(", "),
            if repeated.len() > 10 {
                format!(" and {} more", repeated.len() - 10)
            } else {
                String::new()
            }
        ));
    }
    Ok(map)
}

/// Step 2: the index, from a file or one GET /datasets (none with
/// --per-dataset).
pub(crate) fn read_index(
    args: &Args,
    client: &Client,
    ctx: &mut Ctx,
) -> Result<HashMap<String, Info>> {
    if args.per_dataset {
        return Ok(HashMap::new());
    }
    if let Some(p) = &args.index {
        let inp = ctx.input(Some(p))?;
        return load_index(ctx, &inp.name, inp.reader);
    }
    let body = client.get("/datasets").map_err(|e| e.into_error())?;
    let name = format!("GET {}/datasets", client.base());
    load_index(ctx, &name, &body[..]).map_err(|e| Error::api(e.msg))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn info_from_assets() {
        let d = json!({"cell_count": 12, "title": "T", "explorer_url": "E",
            "assets": [{"filetype": "RDS", "url": "r", "filesize": 1}, {"filetype": "H5AD", "url": "h", "filesize": -1}]});
        assert_eq!(
            info(&d),
            Info {
                cell_count: "12".into(),
                h5ad_url: "h".into(),
                title: "T".into(),
                explorer_url: "E".into(),
                h5ad_filesize: "-1".into(),
                rds_url: "r".into()
            }
        );
        assert_eq!(
            info(&json!({"assets": null, "cell_count": null})),
            Info::default()
        );
    }

    /// (index, error or the datasets and their cell counts)
    #[test]
    fn indexes() {
        type Counts<'a> = Result<&'a [(&'a str, &'a str)], &'a str>;
        let cases: [(&str, Counts); 4] = [
            (
                r#"[{"dataset_id":"a","cell_count":7},{"dataset_id":"b"}]"#,
                Ok(&[("a", "7"), ("b", "")]),
            ),
            (
                "{\"dataset_id\":\"a\",\"cell_count\":1}\n{\"dataset_id\":\"a\",\"cell_count\":2}",
                Ok(&[("a", "2")]),
            ),
            (
                "[{\"dataset_id\":\"a\"},\n{\"id\":\"b\"}]",
                Err("idx: line 2: array element 1: has no string dataset_id"),
            ),
            ("[]", Err("idx: the index holds no datasets")),
        ];
        for (text, want) in cases {
            let ctx = Ctx::memory(b"");
            let got = load_index(&ctx, "idx", text.as_bytes());
            match (got, want) {
                (Ok(map), Ok(want)) => {
                    assert_eq!(map.len(), want.len(), "{text}");
                    for (id, n) in want {
                        assert_eq!(map[*id].cell_count, *n, "{text}");
                    }
                }
                (Err(e), Err(w)) => assert!(e.msg.starts_with(w), "{text}: {}", e.msg),
                (got, want) => panic!("{text}: {:?}, wanted {want:?}", got.map(|m| m.len())),
            }
        }
    }
}
