//! The files a run writes besides the downloads (`-o`, `--failures`,
//! `--log-requests`), checked before any work: none may be another, nor
//! any file the downloads write (a final name, its `.part`, its sidecar),
//! or one would replace the other.

use crate::job::Job;
use crate::Args;
use cxg_core::io::{plan_output, Target};
use cxg_core::{At, Error, Result};
use std::path::{Path, PathBuf};

/// The regular file an output path replaces, symlinks followed and its
/// folder made absolute; None for a device, a FIFO, stdout or stderr
/// (written directly, nothing is replaced).
pub fn replaced_file(p: &Path) -> Result<Option<PathBuf>> {
    let Target::Replace(file) = plan_output(p)? else {
        return Ok(None);
    };
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let dir = std::fs::canonicalize(dir).at(format_args!("cannot resolve '{}'", dir.display()))?;
    Ok(Some(dir.join(file.file_name().unwrap_or_default())))
}

/// The outputs the options name, as (option, path given, file replaced).
fn outputs(args: &Args) -> Vec<(&'static str, &Path, PathBuf)> {
    let named = [
        ("-o", args.out.output.as_deref()),
        ("--failures", args.failures.as_deref()),
        ("--log-requests", args.net.log_requests.as_deref()),
    ];
    let mut v = Vec::new();
    for (opt, p) in named {
        let Some(p) = p.filter(|p| p.as_os_str() != "-") else {
            continue;
        };
        // one that cannot be written is named when it is opened
        if let Ok(Some(f)) = replaced_file(p) {
            v.push((opt, p, f));
        }
    }
    v
}

/// Refuse (exit 2) outputs that are one file, or a file the downloads of
/// `jobs` into `dir` write.
pub fn check(args: &Args, jobs: &[Job]) -> Result<()> {
    let outs = outputs(args);
    for (i, (a, pa, fa)) in outs.iter().enumerate() {
        if let Some((b, _, _)) = outs[..i].iter().find(|(_, _, fb)| fb == fa) {
            return Err(Error::input(format!(
                "{a} '{}' is also {b}: give them different files",
                pa.display()
            )));
        }
    }
    // a folder that does not exist yet holds no output (an output's folder exists)
    let Ok(dir) = std::fs::canonicalize(&args.dir) else {
        return Ok(());
    };
    for j in jobs {
        for name in [
            j.name.clone(),
            format!("{}.part", j.name),
            format!("{}.part.json", j.name),
        ] {
            let file = dir.join(&name);
            if let Some((opt, p, _)) = outs.iter().find(|(_, _, f)| *f == file) {
                return Err(Error::input(format!(
                    "{opt} '{}' is '{}', a file the download of {} writes: give another file",
                    p.display(),
                    file.display(),
                    j.url
                )));
            }
        }
    }
    Ok(())
}
