//! The input: the CSV that cxg-h5ad writes (an `h5ad_url` column) or JSON
//! dataset records with assets, read into one [`Row`] per row; and the
//! sizes a saved datasets index gives (`--index`).

use crate::job::Job;
use cxg_core::io::Input;
use cxg_core::{At, Error, Result};
use cxg_json::stream::JsonStream;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};

/// One input row.
#[derive(Debug, Clone)]
pub struct Row {
    pub dataset_id: String,
    pub dataset_version_id: String,
    pub url: String,
    /// The file to get, or why the row cannot be processed.
    pub job: std::result::Result<Job, String>,
}

/// Check a URL and take its file name: http(s), basename `<uuid>.h5ad`.
pub fn file_name(url: &str) -> std::result::Result<String, String> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(format!("'{url}' is not an http(s) URL"));
    }
    let uri: ureq::http::Uri = url
        .parse()
        .map_err(|e| format!("'{url}' is not a valid URL ({e})"))?;
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("'{url}' has no host"));
    }
    let name = uri.path().rsplit('/').next().unwrap_or_default();
    match name.strip_suffix(".h5ad") {
        Some(stem) if cxg_catalog::ids::is_uuid(stem) => Ok(name.to_string()),
        _ => Err(format!(
            "the file name of '{url}' is not <uuid>.h5ad; nothing written"
        )),
    }
}

/// The row's dataset_version_id (when it gives one) is the version whose
/// file the URL names (`<dataset_version_id>.h5ad`): else the manifest
/// would tie one version to another's file.
fn same_version(dvid: &str, name: &str) -> std::result::Result<(), String> {
    let stem = name.strip_suffix(".h5ad").unwrap_or(name);
    if dvid.is_empty() || dvid.eq_ignore_ascii_case(stem) {
        return Ok(());
    }
    Err(format!(
        "dataset_version_id {dvid} but the URL names the file {name} of another version: refused, nothing written"
    ))
}

/// A size cell: bytes, or empty / -1 for unknown.
fn parse_size(s: &str) -> std::result::Result<Option<u64>, String> {
    match s.trim() {
        "" | "-1" => Ok(None),
        t => t
            .parse::<u64>()
            .map(Some)
            .map_err(|_| format!("h5ad_filesize '{t}' is not a number of bytes")),
    }
}

fn row(
    dataset_id: String,
    dvid: String,
    url: String,
    size: std::result::Result<Option<u64>, String>,
) -> Row {
    let job = if url.is_empty() {
        Err("no H5AD url (h5ad_url is empty)".to_string())
    } else {
        size.and_then(|size| {
            let name = file_name(&url)?;
            same_version(&dvid, &name)?;
            Ok(Job {
                url: url.clone(),
                name,
                size,
                learned: false,
            })
        })
    };
    Row {
        dataset_id,
        dataset_version_id: dvid,
        url,
        job,
    }
}

/// The header of a CSV, and a function from a column name to its index.
pub fn csv_header<R: std::io::Read>(name: &str, rdr: &mut csv::Reader<R>) -> Result<Vec<String>> {
    let header = rdr
        .headers()
        .at(format_args!("{name}: cannot read the CSV header"))?;
    Ok(header.iter().map(str::to_string).collect())
}

fn read_csv(name: &str, r: impl std::io::Read) -> Result<Vec<Row>> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(r);
    let header = csv_header(name, &mut rdr)?;
    let col = |n: &str| header.iter().position(|h| h == n);
    let Some(ui) = col("h5ad_url") else {
        return Err(Error::input(format!(
            "{name}: expected an h5ad_url column (cxg-h5ad output) or JSON dataset records; found columns: {}",
            if header.is_empty() { "(none)".into() } else { header.join(", ") }
        )));
    };
    let (si, di, vi) = (
        col("h5ad_filesize"),
        col("dataset_id"),
        col("dataset_version_id"),
    );
    let mut rows = Vec::new();
    for (k, rec) in rdr.records().enumerate() {
        let rec = rec.at(format_args!("{name}: CSV record {}", k + 1))?;
        let cell = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or_default().to_string();
        rows.push(row(
            cell(di),
            cell(vi),
            cell(Some(ui)),
            parse_size(&cell(si)),
        ));
    }
    Ok(rows)
}

/// The H5AD asset of a dataset record.
fn h5ad_asset(v: &Value) -> Option<&Value> {
    v.get("assets")
        .and_then(Value::as_array)?
        .iter()
        .find(|a| a.get("filetype").and_then(Value::as_str) == Some("H5AD"))
}

/// The row of one dataset record.
fn json_row(v: &Value) -> Row {
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (id, dvid) = (text("dataset_id"), text("dataset_version_id"));
    let Some(a) = h5ad_asset(v) else {
        let mut r = row(id, dvid, String::new(), Ok(None));
        r.job = Err("the record has no H5AD asset".into());
        return r;
    };
    let url = a.get("url").and_then(Value::as_str).unwrap_or_default();
    let size = match a.get("filesize") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => parse_size(&n.to_string()),
        Some(other) => Err(format!("filesize {other} is not a number")),
    };
    let mut r = row(id, dvid, url.to_string(), size);
    if r.job.is_ok() && r.dataset_version_id.is_empty() {
        r.dataset_version_id = r
            .url
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .trim_end_matches(".h5ad")
            .to_string();
    }
    r
}

fn read_json(name: &str, r: impl std::io::Read) -> Result<Vec<Row>> {
    let mut s = JsonStream::new(name, r);
    let mut rows = Vec::new();
    while let Some((at, v)) = s.next_value()? {
        if !v.is_object() {
            return Err(Error::input(format!(
                "{name}: line {}: element {} is not a dataset object",
                at.line, at.index
            )));
        }
        rows.push(json_row(&v));
    }
    Ok(rows)
}

/// Read the input: JSON when it starts with `{` or `[`, else CSV.
pub fn read_rows(input: Input) -> Result<Vec<Row>> {
    let mut r = BufReader::with_capacity(1 << 16, input.reader);
    // a UTF-8 byte order mark is not part of the data (nor of a CSV header)
    if r.fill_buf()
        .at(format_args!("cannot read {}", input.name))?
        .starts_with(b"\xef\xbb\xbf")
    {
        r.consume(3);
    }
    let first = loop {
        let buf = r
            .fill_buf()
            .at(format_args!("cannot read {}", input.name))?;
        match buf.iter().position(|c| !c.is_ascii_whitespace()) {
            Some(i) => break Some(buf[i]),
            None if buf.is_empty() => break None,
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    };
    match first {
        None => Err(Error::input(format!("{}: the input is empty", input.name))),
        Some(b'{' | b'[') => read_json(&input.name, r),
        Some(_) => read_csv(&input.name, r),
    }
}

/// H5AD url -> filesize from a datasets index (sizes of -1 or absent are
/// left out).
pub fn index_sizes(input: Input) -> Result<HashMap<String, u64>> {
    let mut s = JsonStream::new(input.name.clone(), input.reader);
    let mut sizes = HashMap::new();
    while let Some((_, v)) = s.next_value()? {
        let assets = v.get("assets").and_then(Value::as_array);
        for a in assets.into_iter().flatten() {
            if a.get("filetype").and_then(Value::as_str) != Some("H5AD") {
                continue;
            }
            if let (Some(u), Some(n)) = (
                a.get("url").and_then(Value::as_str),
                a.get("filesize").and_then(Value::as_u64),
            ) {
                sizes.insert(u.to_string(), n);
            }
        }
    }
    if sizes.is_empty() {
        return Err(Error::input(format!(
            "{}: the index holds no H5AD asset with a size (not a saved `cxg-fetch datasets` response?)",
            input.name
        )));
    }
    Ok(sizes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_from_urls() {
        let id = "0b4b2fd1-6e6a-4e9b-9d0a-3b1a1e7e2c11";
        assert_eq!(
            file_name(&format!(
                "https://datasets.cellxgene.cziscience.com/{id}.h5ad"
            ))
            .unwrap(),
            format!("{id}.h5ad")
        );
        assert!(file_name(&format!("https://x.org/{id}.rds")).is_err());
        assert!(file_name("https://x.org/../../etc/passwd").is_err());
        assert!(file_name(&format!("https://x.org/{id}.h5ad/..")).is_err());
        assert!(file_name(&format!("ftp://x.org/{id}.h5ad")).is_err());
        assert!(file_name(&format!("file:///{id}.h5ad")).is_err());
        assert!(file_name("https://x.org/").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("").unwrap(), None);
        assert_eq!(parse_size("-1").unwrap(), None);
        assert_eq!(parse_size("5000000000").unwrap(), Some(5_000_000_000));
        assert!(parse_size("1.5").is_err());
        assert!(parse_size("-2").is_err());
    }
}
