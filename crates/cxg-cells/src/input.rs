//! The files to read (cxg-obs summarises them, cxg-subset writes their
//! kept cells): a list of paths, or the manifest CSV that cxg-download
//! writes (its `path`, ids, `bytes` and `status` columns).

use cxg_core::ctx::{Ctx, Diag};
use cxg_core::io::Input;
use cxg_core::{At, Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One file to read.
#[derive(Debug, Clone)]
pub struct Job {
    /// As written in the input.
    pub path: String,
    /// Where it is read from.
    pub resolved: PathBuf,
    pub dataset_id: Option<String>,
    pub dataset_version_id: Option<String>,
    /// The manifest's `bytes`: the file must have this size.
    pub bytes: Option<String>,
    /// The manifest's `sha256` of the file (64 lowercase hex digits).
    pub sha256: Option<String>,
}

/// The input: the files to read and the manifest rows skipped.
#[derive(Debug, Default)]
pub struct Jobs {
    pub jobs: Vec<Job>,
    pub skipped: usize,
    /// When the input file (not stdin) was last written: a manifest's
    /// `sha256` stands for a file unchanged since
    /// ([`cxg_core::digest::unchanged_since`]).
    pub written: Option<std::time::SystemTime>,
}

impl Jobs {
    /// The manifest's SHA-256 of `job`'s file, when the file has not
    /// changed since the manifest was written (and the row gives its size,
    /// which [`check_bytes`] holds it to); None: compute it.
    pub fn known_sha256(&self, job: &Job) -> Option<String> {
        job.bytes.as_ref()?;
        let (sha, written) = (job.sha256.as_ref()?, self.written?);
        cxg_core::digest::unchanged_since(&job.resolved, written).then(|| sha.clone())
    }
}

/// The files `file` (or stdin) names, read whole and parsed: what cxg-obs
/// and cxg-subset both start from.
pub fn jobs(ctx: &Ctx, file: Option<&Path>, base: Option<&Path>) -> Result<Jobs> {
    let input = ctx.input(file)?;
    let name = input.name.clone();
    let text = read_all(input)?;
    let mut jobs = parse(&name, &text, base, &ctx.diag)?;
    jobs.written = file
        .and_then(|f| std::fs::metadata(f).ok())
        .filter(std::fs::Metadata::is_file)
        .and_then(|m| m.modified().ok());
    Ok(jobs)
}

/// The whole input, as text.
pub fn read_all(mut input: Input) -> Result<String> {
    let name = input.name;
    let mut buf = Vec::new();
    input
        .reader
        .read_to_end(&mut buf)
        .at(format_args!("cannot read {name}"))?;
    if buf.starts_with(b"\x89HDF\r\n\x1a\n") {
        return Err(wrong_input(
            &name,
            &format!(
                "an HDF5 file itself; give its path instead (echo FILE | {})",
                cxg_core::cli::tool()
            ),
        ));
    }
    String::from_utf8(buf).map_err(|_| Error::input(format!("{name}: not UTF-8 text")))
}

/// The one error for an input that is neither a list of paths nor a manifest.
fn wrong_input(name: &str, got: &str) -> Error {
    Error::input(format!(
        "{name}: expected H5AD paths, one per line, or cxg-download's manifest \
         (a CSV with a 'path' column); got {got}"
    ))
}

/// What the first line says the input is when it is not a list of paths:
/// JSON, or a CSV header (two or more column names and nothing else) of
/// another stage, with the step that makes a manifest of it.
fn other_stage(first: &str, header: &[String]) -> Option<String> {
    let t = first.trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        return Some(
            "JSON (cxg-obs's records are joined with cxg-obs --join CSV; \
             dataset records go through cxg-tocsv, cxg-h5ad and cxg-download first)"
                .into(),
        );
    }
    let column = |h: &String| {
        h.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if header.len() < 2 || !header.iter().all(column) {
        return None;
    }
    let has = |c: &str| header.iter().any(|h| h == c);
    let hint = if has("h5ad_url") {
        "the harvest CSV: cxg-download --dir h5ad FILE -o manifest.csv downloads its \
         files and writes the manifest this tool reads"
    } else if has("change") {
        "cxg-diff's changes, not files"
    } else if has("reason") {
        "a failures file (the rows a stage could not do), not files"
    } else if has("dataset_id") {
        "datasets without H5AD links: cxg-h5ad adds them, then cxg-download"
    } else {
        "not a manifest"
    };
    let shown: Vec<&str> = header.iter().take(4).map(String::as_str).collect();
    let more = if header.len() > 4 { ", ..." } else { "" };
    Some(format!(
        "a CSV with {} columns ({}{more}) and no 'path' column: {hint}",
        header.len(),
        shown.join(", ")
    ))
}

/// Parse the input: a manifest CSV (a header with a `path` column) or
/// paths, one per line (blank lines and `#` comments ignored). Relative
/// paths are taken from `base` if given, else from the current folder —
/// one place, never a search. Manifest rows of failed downloads are named
/// on `diag` and skipped.
pub fn parse(name: &str, text: &str, base: Option<&Path>, diag: &Diag) -> Result<Jobs> {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let header: Vec<String> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(first.as_bytes())
        .records()
        .next()
        .and_then(|r| r.ok())
        .map(|r| r.iter().map(|s| s.trim().to_string()).collect())
        .unwrap_or_default();
    if header.iter().any(|h| h == "path") {
        manifest(name, text, &header, base, diag)
    } else if let Some(got) = other_stage(first, &header) {
        Err(wrong_input(name, &got))
    } else {
        Ok(paths(text, base))
    }
}

/// Paths, one per line.
fn paths(text: &str, base: Option<&Path>) -> Jobs {
    let mut out = Jobs::default();
    for l in text.lines() {
        let p = l.trim_end_matches('\r');
        if p.trim().is_empty() || p.starts_with('#') {
            continue;
        }
        out.jobs.push(Job {
            path: p.to_string(),
            resolved: resolve(p, base),
            dataset_id: None,
            dataset_version_id: None,
            bytes: None,
            sha256: None,
        });
    }
    out
}

/// The rows of cxg-download's manifest.
fn manifest(
    name: &str,
    text: &str,
    header: &[String],
    base: Option<&Path>,
    diag: &Diag,
) -> Result<Jobs> {
    let mut out = Jobs::default();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let col = |n: &str| header.iter().position(|h| h == n);
    let sha_col = col("sha256");
    let (pi, si, di, vi, bi) = (
        col("path"),
        col("status"),
        col("dataset_id"),
        col("dataset_version_id"),
        col("bytes"),
    );
    for (k, rec) in rdr.records().enumerate() {
        let rec = rec.at(format_args!("{name}: CSV record {}", k + 1))?;
        let cell = |i: Option<usize>| {
            i.and_then(|i| rec.get(i))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
        };
        let (dataset_id, dvid) = (cell(di), cell(vi));
        let status = cell(si);
        if let Some(why) = match status.as_deref() {
            Some("failed") => Some("the download failed"),
            // cxg-download's row of a dataset without an H5AD
            Some("no_asset") => Some("no H5AD (no_asset)"),
            _ => None,
        } {
            diag.warn(format_args!(
                "{name}: row {}: dataset {}: {why}; skipped",
                k + 1,
                dvid.as_deref()
                    .or(dataset_id.as_deref())
                    .unwrap_or("(no id)")
            ));
            out.skipped += 1;
            continue;
        }
        let path = cell(pi).unwrap_or_default();
        out.jobs.push(Job {
            resolved: resolve(&path, base),
            path,
            dataset_id,
            dataset_version_id: dvid,
            bytes: cell(bi),
            sha256: cell(sha_col).filter(|s| cxg_core::digest::is_sha256_hex(s)),
        });
    }
    Ok(out)
}

/// Where a path is read from: as written if absolute, else under `base`
/// (the current folder when none).
fn resolve(path: &str, base: Option<&Path>) -> PathBuf {
    match base {
        Some(b) if Path::new(path).is_relative() => b.join(path),
        _ => PathBuf::from(path),
    }
}

/// The file must be as long as the manifest says: cheap, and it catches a
/// path that resolves to another file.
pub fn check_bytes(job: &Job) -> std::result::Result<(), String> {
    let Some(want) = &job.bytes else {
        return Ok(());
    };
    let want: u64 = want
        .parse()
        .map_err(|_| format!("the manifest's bytes '{want}' is not a number"))?;
    let meta = std::fs::metadata(&job.resolved)
        .map_err(|e| format!("cannot open {}: {e}", job.resolved.display()))?;
    if !meta.is_file() {
        // a FIFO, a device, a folder: the reader names what it is
        return Ok(());
    }
    let have = meta.len();
    if have != want {
        return Err(format!(
            "{} has {have} bytes, the manifest says {want}: not the file the manifest names",
            job.resolved.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn paths_or_manifest() {
        let diag = cxg_core::Ctx::memory(b"").diag;
        let j = parse("x", "a.h5ad\n\n# note\nb c.h5ad\n", None, &diag).unwrap();
        let p: Vec<&str> = j.jobs.iter().map(|j| j.path.as_str()).collect();
        assert_eq!(p, ["a.h5ad", "b c.h5ad"]);
        let m = "dataset_id,dataset_version_id,url,path,bytes,sha256,status\n\
                 d1,v1,u,x/a.h5ad,1,s,ok\nd2,v2,u,,0,,failed\nd3,v3,u,,0,,ok\nd4,v4,,,,,no_asset\n";
        let j = parse("m", m, Some(Path::new("/b")), &diag).unwrap();
        assert_eq!(j.skipped, 2);
        assert_eq!(j.jobs.len(), 2);
        assert_eq!(j.jobs[0].dataset_version_id.as_deref(), Some("v1"));
        assert_eq!(j.jobs[0].dataset_id.as_deref(), Some("d1"));
        assert_eq!(j.jobs[0].resolved, Path::new("/b/x/a.h5ad"));
        assert_eq!(
            diag.messages(),
            [
                "m: row 2: dataset v2: the download failed; skipped",
                "m: row 4: dataset v4: no H5AD (no_asset); skipped"
            ]
        );
    }

    /// Another stage's file is one error that says what was expected and
    /// what came; a list of paths with commas in them is still a list.
    #[test]
    fn another_stages_file_is_one_error() {
        let diag = cxg_core::Ctx::memory(b"").diag;
        #[rustfmt::skip]
        let cases = [
            ("dataset_id,collection_id,title,h5ad_url\nd1,c1,\"a, b\",u\n", Some("a CSV with 4 columns (dataset_id, collection_id, title, h5ad_url) and no 'path' column: the harvest CSV: cxg-download")),
            ("change,kind,dataset_id\nadded,,d1\n", Some("cxg-diff's changes")),
            ("dataset_id,collection_id,status,reason\nd,c,removed,410\n", Some("a failures file")),
            ("dataset_id,title\nd1,x\n", Some("cxg-h5ad adds them")),
            ("a,b,c,d,e\n1,2,3,4,5\n", Some("5 columns (a, b, c, d, ...) and no 'path' column: not a manifest")),
            ("{\"dataset_version_id\":\"v\"}\n", Some("got JSON (cxg-obs's records are joined with cxg-obs --join CSV")),
            ("a,b.h5ad\nc.h5ad\n", None),
            ("/data/x 1,2.h5ad\n", None),
        ];
        for (text, want) in cases {
            let got = parse("'in'", text, None, &diag);
            match want {
                None => assert!(got.is_ok(), "{text}"),
                Some(w) => {
                    let e = got.unwrap_err().to_string();
                    assert!(e.starts_with("'in': expected H5AD paths, one per line, or cxg-download's manifest (a CSV with a 'path' column); got "), "{e}");
                    assert!(e.contains(w), "{text}: {e}");
                }
            }
        }
    }
}
