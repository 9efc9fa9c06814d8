//! `cxg-snapshot list`: one line per snapshot (date, collections, datasets,
//! size, bytes new in it) as an aligned table; a damaged snapshot is named
//! and the others are still listed.

use crate::args::List;
use crate::file_name;
use crate::inputs::count_records;
use crate::lock::clean_if_idle;
use crate::store::snapshot_files;
use cxg_core::io::Output;
use cxg_core::{Ctx, Error, Result};
use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

type Row = [String; 6];

const HEADER: [&str; 6] = [
    "snapshot",
    "date (UTC)",
    "collections",
    "datasets",
    "size",
    "new",
];

pub(crate) fn list(a: List, ctx: &mut Ctx) -> Result<()> {
    clean_if_idle(&a.dir, &ctx.diag);
    let snaps = cxg_catalog::snapshots::list(&a.dir)?;
    // files already counted, by (device, inode): hard links to one object
    let mut seen = HashSet::new();
    let mut rows = vec![HEADER.map(String::from)];
    for s in &snaps {
        match row(s, &mut seen) {
            Ok(r) => rows.push(r),
            Err(why) => ctx
                .diag
                .fail(format_args!("snapshot {} is damaged: {why}", file_name(s))),
        }
    }
    write_table(&rows, &mut ctx.out)?;
    if snaps.is_empty() {
        // the table first, as a terminal shows it
        ctx.out.flush().map_err(|e| ctx.out.error(e))?;
        ctx.diag.warn(format_args!(
            "no snapshots in '{}' yet (each harvest adds one)",
            a.dir.display()
        ));
    }
    Ok(())
}

/// The line of snapshot `s`, or why it is damaged. Its size counts the
/// per-dataset answers in its subfolders too; what it adds counts only
/// the files no earlier snapshot holds (`seen`).
fn row(s: &Path, seen: &mut HashSet<(u64, u64)>) -> Result<Row> {
    let name = file_name(s);
    let date = format!(
        "{}-{}-{} {}:{}:{}",
        &name[0..4],
        &name[4..6],
        &name[6..8],
        &name[9..11],
        &name[11..13],
        &name[13..15]
    );
    let count = |p: Option<PathBuf>| match p {
        Some(p) if p.is_file() => count_records(&p).map(|n| n.to_string()),
        _ => Ok("-".to_string()),
    };
    let colls = count(Some(s.join("collections.json")))?;
    let sets = count(cxg_catalog::snapshots::datasets_file(s))?;
    if std::fs::read_dir(s).is_err() {
        return Err(Error::input("cannot read its folder"));
    }
    let (mut size, mut fresh) = (0u64, 0u64);
    for p in snapshot_files(s).values() {
        let Ok(m) = std::fs::symlink_metadata(p) else {
            continue;
        };
        if !m.is_file() {
            continue;
        }
        size += m.len();
        if seen.insert((m.dev(), m.ino())) {
            fresh += m.len();
        }
    }
    Ok([name, date, colls, sets, human(size), human(fresh)])
}

/// The table, names and dates left-aligned, numbers right-aligned.
fn write_table(rows: &[Row], out: &mut Output) -> Result<()> {
    let widths: Vec<usize> = (0..6)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, &w))| {
                if i < 2 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end()).map_err(|e| out.error(e))?;
    }
    Ok(())
}

/// Bytes for people: `999 B`, `1.5 kB`, `12.3 MB`, `4.0 GB`.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
