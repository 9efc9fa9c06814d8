//! cxg-subset: the subsets read in anndata exactly as
//! `read_h5ad(in)[mask].copy()` (scripts/check_subset.py in the pinned
//! venv of `make anndata-venv`); damaged inputs fail per file with
//! nothing left behind; the docs' examples run as written.
#![allow(clippy::unwrap_used)]

use cxg_subset::engine::{self, Limits, Stamp};
use cxg_tests::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture_file(name: &str) -> PathBuf {
    root().join("tests/fixtures/subset").join(name)
}

/// The pinned anndata venv's python, or None (the test is skipped).
fn anndata_python() -> Option<PathBuf> {
    let py = root().join(".venv-anndata/bin/python");
    py.exists().then_some(py)
}

/// Masks of every kind on every fixture, written by the engine and
/// compared by anndata element by element.
#[test]
fn anndata_reads_each_subset_as_its_own_subset() {
    let Some(py) = anndata_python() else {
        skip(".venv-anndata is missing: run make anndata-venv");
        return;
    };
    let t = TempDir::new();
    let stamp = Stamp {
        filter: "(test masks)".into(),
        tool: "cxg-subset test".into(),
        source_sha256: "0".repeat(64),
    };
    let mut checks = Vec::new();
    for name in ["csr.h5ad", "csc.h5ad", "dense.h5ad"] {
        let src = fixture_file(name);
        let n = engine::n_cells(&src).unwrap() as usize;
        let masks: [(&str, Vec<bool>); 5] = [
            ("all", vec![true; n]),
            ("every3", (0..n).map(|i| i % 3 == 1).collect()),
            ("one", (0..n).map(|i| i == n / 2).collect()),
            ("first_half", (0..n).map(|i| i < n / 2).collect()),
            ("sparse", (0..n).map(|i| i % 7 == 0 || i == n - 1).collect()),
        ];
        for (label, mask) in masks {
            // as it is, and through the streamed paths (windows of 7
            // values, dense arrays a few rows at a time; sparse chunks
            // read on threads, or in windows of values)
            let tiny = Limits {
                window_values: 7,
                block_bytes: 64,
                stream_chunks: true,
            };
            let windows = Limits {
                stream_chunks: false,
                ..tiny
            };
            let all = [
                ("whole", Limits::default()),
                ("streamed", tiny),
                ("windowed", windows),
            ];
            for (how, limits) in all {
                let out = t.join(&format!("{name}.{label}.{how}.h5ad"));
                engine::write_with(&src, &mask, &out, &stamp, limits)
                    .unwrap_or_else(|e| panic!("{name} {label} {how}: {e}"));
                let keep: Vec<String> =
                    (0..n).filter(|i| mask[*i]).map(|i| i.to_string()).collect();
                checks.push((src.clone(), out, keep.join(",")));
            }
        }
    }
    for (src, out, keep) in checks {
        let o = Command::new(&py)
            .arg(root().join("scripts/check_subset.py"))
            .args([&src, &out])
            .arg(&keep)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{}: {}",
            out.display(),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// Truncated, not HDF5, without X, absent: each its failed row and its
/// line on stderr, the good file beside them written, and nothing else
/// in the output folder.
#[test]
fn damaged_inputs_fail_alone_and_leave_nothing() {
    let t = TempDir::new();
    let out = t.join("out");
    let list = [
        "h5ad/truncated.h5ad",
        "h5ad/not_hdf5.h5ad",
        "subset/no_x.h5ad",
        "subset/absent.h5ad",
        "subset/csc.h5ad",
    ]
    .map(|p| root().join("tests/fixtures").join(p).display().to_string())
    .join("\n");
    let o = run(
        "cxg-subset",
        &["--out-dir", out.to_str().unwrap(), "-j", "2"],
        Some(list.as_bytes()),
    );
    o.code(1);
    let rows: Vec<String> = o
        .text()
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .take(1)
                .chain(l.split(',').skip(6).take(1))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(
        rows,
        [
            "truncated failed",
            "not_hdf5 failed",
            "no_x failed",
            "absent failed",
            "csc ok"
        ]
    );
    for name in [
        "truncated.h5ad",
        "not_hdf5.h5ad",
        "no_x.h5ad",
        "absent.h5ad",
    ] {
        assert!(o.stderr.contains(name), "{}", o.stderr);
    }
    let left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["csc.h5ad"]);
}

/// A file behind a user block is read, but one cut short is still
/// refused as truncated, by cxg-subset and cxg-obs alike: the end of file
/// its header records counts the user block in (h5py's, h5jam's), or, when
/// the header does not know of the block (512 bytes put in front with
/// `cat`), is moved by it, as libhdf5 moves it.
#[test]
fn a_truncated_file_behind_a_user_block_is_refused() {
    let t = TempDir::new();
    let h5py = std::fs::read(root().join("tests/fixtures/h5ad/user_block.h5ad")).unwrap();
    let plain = std::fs::read(root().join("tests/fixtures/h5ad/plain.h5ad")).unwrap();
    let cat = [vec![0u8; 512], plain].concat();
    let whole = t.join("cat.h5ad");
    std::fs::write(&whole, &cat).unwrap();
    run("cxg-obs", &[], Some(whole.display().to_string().as_bytes())).ok();
    for (name, cut) in [("h5py", 1), ("h5py", 100), ("h5py", 600), ("cat", 100)] {
        let whole = if name == "cat" { &cat } else { &h5py };
        let file = t.join(&format!("{name}{cut}.h5ad"));
        std::fs::write(&file, &whole[..whole.len() - cut]).unwrap();
        let input = file.display().to_string();
        let out = t.join(&format!("out-{name}{cut}"));
        let o = run(
            "cxg-subset",
            &["--out-dir", out.to_str().unwrap()],
            Some(input.as_bytes()),
        );
        o.code(1).stderr_has("truncated: the file has");
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
        let o = run("cxg-obs", &[], Some(input.as_bytes()));
        o.code(1).stderr_has("truncated: the file has");
    }
}

/// As cxg-obs does, cxg-subset says how many cells each filter value
/// matched, and warns of a value that matched none (every file then
/// `empty`, nothing written).
#[test]
fn a_value_that_matches_no_cell_is_named() {
    let t = TempDir::new();
    let out = t.join("out");
    let file = root().join("tests/fixtures/h5ad/plain.h5ad");
    let o = run(
        "cxg-subset",
        &["--out-dir", out.to_str().unwrap(), "--tissue", "nowhere"],
        Some(file.display().to_string().as_bytes()),
    );
    o.ok()
        .stderr_has("--tissue nowhere: 0 cells matched")
        .stderr_has("warning: --tissue nowhere matches no cell");
    assert!(
        o.text().lines().nth(1).unwrap().contains(",empty,"),
        "{}",
        o.text()
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
}

/// docs/subset.md's examples, as written, from a folder holding the
/// fixtures.
#[test]
fn the_docs_examples_run() {
    let t = TempDir::new();
    std::os::unix::fs::symlink(root().join("tests"), t.join("tests")).unwrap();
    for block in doc_sh("docs/subset.md", "## Examples") {
        sh(t.path(), &block).ok();
    }
    let manifest = std::fs::read_to_string(t.join("subset.csv")).unwrap();
    assert!(manifest
        .starts_with("dataset_version_id,path,n_cells,kept_cells,bytes,sha256,status,reason\n"));
    assert!(Path::new(&t.join("out/csr.h5ad")).exists());
}

/// The cell filter through the binary: anndata's subset by the same
/// condition, computed in pandas, equals each output.
#[test]
fn filtered_subsets_are_what_pandas_selects() {
    let Some(py) = anndata_python() else {
        skip(".venv-anndata is missing: run make anndata-venv");
        return;
    };
    let t = TempDir::new();
    let out = t.join("out");
    let names = [
        "plain",
        "anndata08",
        "ids_only",
        "lzf",
        "wide_codes",
        "missing_column",
        "user_block",
    ];
    let list: Vec<String> = names
        .iter()
        .map(|n| {
            root()
                .join(format!("tests/fixtures/h5ad/{n}.h5ad"))
                .display()
                .to_string()
        })
        .collect();
    let o = run(
        "cxg-subset",
        &[
            "--normal",
            "--primary",
            "-q",
            "--out-dir",
            out.to_str().unwrap(),
        ],
        Some(list.join("\n").as_bytes()),
    );
    o.ok();
    let expr = r#"expr:(disease_ontology_term_id == "PATO:0000461") & is_primary_data"#;
    for (n, src) in names.iter().zip(&list) {
        let got = out.join(format!("{n}.h5ad"));
        let o = Command::new(&py)
            .arg(root().join("scripts/check_subset.py"))
            .args([src.as_str(), got.to_str().unwrap(), expr])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{n}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// Every file of cxg-obs's fixtures, the hostile ones among them (a
/// header claiming 10^12 cells, Zstandard, a truncated download...): each
/// is written or fails alone with its reason, nothing is left half-written,
/// and the run ends.
#[test]
fn every_obs_fixture_is_written_or_fails_alone() {
    let t = TempDir::new();
    let out = t.join("out");
    let dir = root().join("tests/fixtures/h5ad");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "h5ad"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    let o = run(
        "cxg-subset",
        &["-q", "--out-dir", out.to_str().unwrap()],
        Some(files.join("\n").as_bytes()),
    );
    o.code(1);
    let mut rdr = csv::Reader::from_reader(o.stdout.as_slice());
    let mut failed = Vec::new();
    let mut written = Vec::new();
    for r in rdr.records() {
        let r = r.unwrap();
        match &r[6] {
            "ok" => written.push(format!("{}.h5ad", &r[0])),
            _ => failed.push(format!("{}: {}", &r[0], &r[7])),
        }
    }
    let reasons = [
        "anndata07_layout: obs/__categories: a column of encoding (none) is not supported",
        "huge_claims: obs/_index claims 1000000000000 cells, more than a file of 10913 bytes can hold",
        "not_anndata: no 'obs' group: not an AnnData file",
        "not_hdf5: not an HDF5 file (no HDF5 signature)",
        "truncated: truncated: the file has 107037 bytes, its HDF5 header says 267593",
        "x_unreadable: X/data: unsupported compression filter 32015 (Zstandard); only gzip, LZF, shuffle, fletcher32, nbit, scaleoffset and szip can be read",
        "zstd: obs/cell_type_ontology_term_id/codes: unsupported compression filter 32015 (Zstandard); only gzip, LZF, shuffle, fletcher32, nbit, scaleoffset and szip can be read",
    ];
    assert_eq!(failed, reasons);
    let mut left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, written);
    assert_eq!(written.len(), 10);
}

/// `make subset` from a download manifest: the cells of CELLS into
/// $(DATA)/subset/, listed in its manifest.
#[test]
fn make_subset_writes_the_kept_cells_of_the_downloads() {
    let t = TempDir::new();
    let data = t.join("data");
    std::fs::create_dir_all(data.join("h5ad")).unwrap();
    let plain = root().join("tests/fixtures/h5ad/plain.h5ad");
    std::fs::write(
        data.join("h5ad/manifest.csv"),
        format!(
            "dataset_id,dataset_version_id,url,path,bytes,sha256,status\nd1,v1,u,{},,,ok\n",
            plain.display()
        ),
    )
    .unwrap();
    let o = make(&[
        "subset".into(),
        format!("DATA={}", data.display()),
        "CELLS=--primary".into(),
    ]);
    o.ok();
    let manifest = std::fs::read_to_string(data.join("subset/manifest.csv")).unwrap();
    let row = manifest.lines().nth(1).unwrap();
    assert!(row.starts_with("v1,") && row.contains(",500,301,"), "{row}");
    assert!(data.join("subset/v1.h5ad").exists());
}

/// Ctrl-C in the middle of a run: exit 130, no temporary folder left,
/// no manifest (it is written atomically), and every subset that is in
/// the output folder is complete.
#[test]
fn ctrl_c_leaves_only_complete_files() {
    let t = TempDir::new();
    let src = fixture_file("csr.h5ad");
    let mut list = String::new();
    for i in 0..400 {
        let link = t.join(&format!("f{i}.h5ad"));
        std::os::unix::fs::symlink(&src, &link).unwrap();
        list.push_str(&format!("{}\n", link.display()));
    }
    std::fs::write(t.join("list.txt"), list).unwrap();
    let out = t.join("out");
    let mut child = Command::new(bin("cxg-subset"))
        .args(["--out-dir", "out", "-o", "m.csv", "-j", "1", "list.txt"])
        .current_dir(t.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let count = || std::fs::read_dir(&out).map(|d| d.count()).unwrap_or(0);
    while count() < 3 && started.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(130), "{st:?}");
    assert!(!t.join("m.csv").exists());
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.len() < 400, "the run ended before the signal");
    for n in &names {
        assert!(
            n.ends_with(".h5ad") && !n.starts_with('.'),
            "{n} left behind"
        );
        assert_eq!(engine::n_cells(&out.join(n)).unwrap(), 60, "{n}");
    }
}

/// CELLxGENE's own validator (the pinned cellxgene-schema of `make
/// cxgschema-venv`) accepts the subset of a file it accepts.
#[test]
fn the_cellxgene_validator_accepts_a_subset_of_a_valid_file() {
    let validator = root().join(".venv-cxgschema/bin/cellxgene-schema");
    if !validator.exists() {
        skip(".venv-cxgschema is missing: run make cxgschema-venv");
        return;
    }
    let t = TempDir::new();
    let src = fixture_file("cxg_valid.h5ad");
    let o = run(
        "cxg-subset",
        &[
            "-q",
            "--normal",
            "--primary",
            "--out-dir",
            t.join("out").to_str().unwrap(),
        ],
        Some(format!("{}\n", src.display()).as_bytes()),
    );
    o.ok();
    let row = o.text().lines().nth(1).unwrap().to_string();
    assert!(
        row.starts_with("cxg_valid,") && row.contains(",50,9,"),
        "{row}"
    );
    for f in [src, t.join("out/cxg_valid.h5ad")] {
        let v = Command::new(&validator)
            .args(["validate", f.to_str().unwrap()])
            .env("HOME", t.path())
            .output()
            .unwrap();
        let log =
            String::from_utf8_lossy(&v.stderr).into_owned() + &String::from_utf8_lossy(&v.stdout);
        assert!(
            v.status.success() && log.contains("is_valid=True"),
            "{}: {log}",
            f.display()
        );
    }
}

/// The source's SHA-256 in `uns` is the download manifest's when the file
/// has not changed since the manifest was written (cxg-download checked it
/// then), and computed when it has. (The hash is a scalar string, stored
/// as its bytes in the output.)
#[test]
fn the_manifests_sha256_is_used_for_an_unchanged_file() {
    let t = TempDir::new();
    let src = t.join("plain.h5ad");
    std::fs::copy(root().join("tests/fixtures/h5ad/plain.h5ad"), &src).unwrap();
    let bytes = std::fs::metadata(&src).unwrap().len();
    let real: String = {
        use sha2::Digest;
        sha2::Sha256::digest(read(&src))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let given = "ab".repeat(32);
    let manifest = t.join("manifest.csv");
    let write_manifest = || {
        // the manifest is written after the file (strictly later)
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(
            &manifest,
            format!(
                "dataset_id,dataset_version_id,url,path,bytes,sha256,status\nd1,v1,u,{},{bytes},{given},ok\n",
                src.display()
            ),
        )
        .unwrap();
    };
    let holds = |out: &Path, sha: &str| {
        read(&out.join("v1.h5ad"))
            .windows(64)
            .any(|w| w == sha.as_bytes())
    };
    let subset = |out: &Path, stdin: Option<&[u8]>, file: bool| {
        let mut args = vec!["-q", "--primary", "--out-dir", out.to_str().unwrap()];
        if file {
            args.push(manifest.to_str().unwrap());
        }
        run("cxg-subset", &args, stdin).ok();
    };
    write_manifest();
    let out = t.join("unchanged");
    subset(&out, None, true);
    assert!(holds(&out, &given) && !holds(&out, &real));
    // from stdin there is no time of writing: computed
    let out = t.join("stdin");
    subset(&out, Some(&read(&manifest)), false);
    assert!(holds(&out, &real) && !holds(&out, &given));
    // the file changed after the manifest (its inode change time is newer)
    std::thread::sleep(std::time::Duration::from_millis(20));
    {
        // the same bytes again, but written after the manifest
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&src).unwrap();
        f.write_all(b"x").unwrap();
        f.set_len(bytes).unwrap();
    }
    let out = t.join("changed");
    subset(&out, None, true);
    assert!(holds(&out, &real) && !holds(&out, &given));
}
