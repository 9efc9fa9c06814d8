//! The shared harness of the integration tests: the built binaries, a
//! fresh temporary folder per test, commands run with stdin fed and
//! stdout/stderr/exit status captured, and `cxg-serve` started on
//! 127.0.0.1 and stopped when the test ends. Binaries come from the
//! workspace target folder (built on first use; `make test` builds them first).

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Every binary the workspace builds.
pub const TOOLS: [&str; 13] = [
    "cxg-fetch",
    "cxg-split",
    "cxg-datasets",
    "cxg-tocsv",
    "cxg-h5ad",
    "cxg-serve",
    "cxg-gen",
    "cxg-diff",
    "cxg-snapshot",
    "cxg-obs",
    "cxg-select",
    "cxg-download",
    "cxg-report",
];

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A committed fixture path.
pub fn fixture(p: &str) -> PathBuf {
    root().join("tests/fixtures").join(p)
}

/// A test cannot run because something it needs is absent: say so on
/// stderr and append `TEST: why` to the file named by `CXG_SKIP_LOG`
/// (scripts/test.sh counts these and prints them). With `CI` set a skip is
/// a failure: CI must run every test.
pub fn skip(why: &str) {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("cannot skip in CI (CI is set): {why}");
    }
    eprintln!("skipped: {why}");
    if let Some(log) = std::env::var_os("CXG_SKIP_LOG") {
        let test = std::thread::current()
            .name()
            .unwrap_or("a test")
            .to_string();
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(f, "{test}: {why}");
        }
    }
}

/// `../shared/realdata` beside the repository (or `$CXG_REALDATA`), when
/// present.
pub fn realdata() -> Option<PathBuf> {
    let p = match std::env::var_os("CXG_REALDATA") {
        Some(p) => PathBuf::from(p),
        None => root().parent()?.join("shared/realdata"),
    };
    if p.join("collections-2024-02.json").exists() {
        Some(p)
    } else {
        skip(&format!(
            "{} is absent (conformance tests need it; set CXG_REALDATA)",
            p.display()
        ));
        None
    }
}

/// True when jq is installed (CI installs it); a skip when it is not.
pub fn has_jq() -> bool {
    let ok = Command::new("jq")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        skip("jq is not installed");
    }
    ok
}

/// Folder holding the built binaries (next to the test executable's deps/).
/// The first call in a test process builds them there (`cargo build
/// --workspace --bins`, a no-op when they are fresh), so that a plain
/// `cargo test` on a fresh clone runs the binaries of the code it tests;
/// `make test` builds them once before and sets `CXG_BINS_BUILT`.
pub fn bin_dir() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_bins).clone()
}

fn build_bins() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .expect("deps")
        .parent()
        .expect("profile dir")
        .to_path_buf();
    if std::env::var_os("CXG_BINS_BUILT").is_none() {
        let target = dir.parent().expect("target dir");
        let mut cargo = Command::new(option_env!("CARGO").unwrap_or("cargo"));
        cargo
            .args(["build", "--quiet", "--locked", "--workspace", "--bins"])
            .arg("--target-dir")
            .arg(target)
            .current_dir(root());
        if dir.file_name().is_some_and(|n| n == "release") {
            cargo.arg("--release");
        }
        let status = cargo
            .status()
            .expect("cannot run cargo to build the binaries");
        assert!(status.success(), "cargo build --workspace --bins failed");
    }
    assert!(
        dir.join("cxg-fetch").exists(),
        "binaries not found in {}: run `cargo build --workspace --bins` first (make test does)",
        dir.display()
    );
    dir
}

pub fn bin(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// A temporary folder removed when dropped.
pub struct TempDir(pub PathBuf);

static N: AtomicUsize = AtomicUsize::new(0);

impl TempDir {
    pub fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "cxg-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
    /// Every file name in the folder (to check that nothing half-written is left).
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .map(|r| {
                r.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a command did.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Out {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    /// Assert the exit status, showing stderr when it differs.
    pub fn code(&self, want: i32) -> &Self {
        assert_eq!(
            self.code, want,
            "exit status {} (wanted {want}); stderr:\n{}",
            self.code, self.stderr
        );
        self
    }
    pub fn ok(&self) -> &Self {
        self.code(0)
    }
    pub fn stderr_has(&self, s: &str) -> &Self {
        assert!(
            self.stderr.contains(s),
            "stderr lacks {s:?}:\n{}",
            self.stderr
        );
        self
    }
    pub fn stderr_lacks(&self, s: &str) -> &Self {
        assert!(
            !self.stderr.contains(s),
            "stderr has {s:?}:\n{}",
            self.stderr
        );
        self
    }
}

/// Run a command with optional stdin; RUST_BACKTRACE is cleared so that
/// stderr holds only the tools' own messages.
pub fn run_cmd(mut cmd: Command, stdin: Option<&[u8]>) -> Out {
    cmd.env_remove("RUST_BACKTRACE")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let feeder = stdin.map(|data| {
        let data = data.to_vec();
        let mut w = child.stdin.take().expect("stdin");
        std::thread::spawn(move || {
            let _ = w.write_all(&data);
        })
    });
    let o = child.wait_with_output().expect("wait");
    if let Some(f) = feeder {
        let _ = f.join();
    }
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: o.stdout,
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Run `make ARGS` in the repository with the test binaries (no build).
pub fn make(args: &[String]) -> Out {
    let mut c = Command::new("make");
    c.current_dir(root()).arg("--no-print-directory");
    c.arg(format!("BIN={}", bin_dir().display()))
        .arg("CARGO_BUILD=true")
        // no user ontology folder (make's default): a test that wants one says ONTOLOGY=
        .env_remove("CXG_ONTOLOGY")
        .env("XDG_CACHE_HOME", root().join("target/no-cache"));
    c.args(args);
    run_cmd(c, None)
}

/// The harvester CSV of a snapshot folder (cxg-datasets | cxg-tocsv).
pub fn csv_of(snapshot: &Path) -> Vec<u8> {
    let ds = run(
        "cxg-datasets",
        &[snapshot
            .join("collections.json")
            .to_str()
            .expect("utf-8 path")],
        None,
    );
    ds.ok();
    let o = run("cxg-tocsv", &[], Some(&ds.stdout));
    o.ok();
    o.stdout
}

/// Run one of the tools.
pub fn run(tool: &str, args: &[&str], stdin: Option<&[u8]>) -> Out {
    let mut c = Command::new(bin(tool));
    c.args(args);
    run_cmd(c, stdin)
}

/// Run a shell command line (bash, pipefail) in `dir` with the binaries on PATH.
pub fn sh(dir: &Path, script: &str) -> Out {
    let mut c = Command::new("bash");
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    c.arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .current_dir(dir)
        .env("PATH", path);
    run_cmd(c, None)
}

/// Generate a snapshot with cxg-gen.
pub fn generate(dir: &Path, args: &[&str]) {
    let mut a: Vec<&str> = args.to_vec();
    let d = dir.to_string_lossy().into_owned();
    a.push(&d);
    run("cxg-gen", &a, None).ok();
}

/// Every per-dataset object of a snapshot (`collections/<cid>/datasets/<did>.json`).
pub fn snapshot_datasets(snapshot: &Path) -> Vec<Value> {
    let mut all = Vec::new();
    let dirs = std::fs::read_dir(snapshot.join("collections")).expect("collections/");
    for c in dirs
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
    {
        for d in std::fs::read_dir(c.join("datasets")).expect("datasets/") {
            all.push(json(&read(&d.expect("entry").path())));
        }
    }
    all
}

/// What a snapshot's per-dataset objects say: dataset_id -> (cell_count,
/// url of the H5AD asset), empty strings where the API has none.
pub fn snapshot_truth(snapshot: &Path) -> std::collections::HashMap<String, (String, String)> {
    snapshot_datasets(snapshot)
        .iter()
        .map(|v| {
            let count = v.get("cell_count").map_or(String::new(), |n| n.to_string());
            let url = v["assets"]
                .as_array()
                .and_then(|a| a.iter().find(|a| a["filetype"] == "H5AD"))
                .and_then(|a| a["url"].as_str())
                .unwrap_or_default()
                .to_string();
            let id = v["dataset_id"].as_str().expect("dataset_id").to_string();
            (id, (count, url))
        })
        .collect()
}

/// A running cxg-serve, stopped when dropped.
pub struct Server {
    pub url: String,
    pub log: PathBuf,
    child: Child,
    _logdir: TempDir,
}

impl Server {
    /// Serve `dir` on a free loopback port with extra cxg-serve options.
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        let logdir = TempDir::new();
        let log = logdir.join("requests.log");
        let mut child = Command::new(bin("cxg-serve"))
            .args(["--port", "0", "--lifetime", "600", "--log"])
            .arg(&log)
            .args(extra)
            .arg(dir)
            .env_remove("RUST_BACKTRACE")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start cxg-serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read url");
        let url = line.trim().to_string();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "cxg-serve printed {url:?}"
        );
        Server {
            url,
            log,
            child,
            _logdir: logdir,
        }
    }

    /// Requests served so far (lines of the request log).
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback URL on which nothing listens.
pub fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    format!("http://127.0.0.1:{port}/curation/v1")
}

/// Parse JSON text (one document).
pub fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

/// Parse JSON Lines.
pub fn jsonl(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| json(l.as_bytes()))
        .collect()
}

/// Equal as jq sees values: same keys in the same order, numbers equal by value.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && same(v1, v2))
        }
        _ => a == b,
    }
}

/// Assert two value lists are the same (order, keys, values), naming the first difference.
pub fn assert_same(a: &[Value], b: &[Value]) {
    assert_eq!(a.len(), b.len(), "different number of values");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(same(x, y), "value {i} differs:\n{x}\n{y}");
    }
}

/// Parse CSV into header + rows.
pub fn csv_rows(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let h = r
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let rows = r
        .records()
        .map(|x| x.expect("record").iter().map(String::from).collect())
        .collect();
    (h, rows)
}

/// Read a file.
pub fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// Every file below `dir`, by its path relative to `dir`, sorted.
pub fn files_below(dir: &Path) -> Vec<String> {
    fn walk(d: &Path, rel: &str, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).expect("a folder to list") {
            let e = e.expect("a folder entry");
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if e.file_type().expect("an entry's type").is_dir() {
                walk(&e.path(), &r, out);
            } else {
                out.push(r);
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, "", &mut v);
    v.sort();
    v
}

/// The documentation whose commands the tests run: README.md,
/// BENCHMARKS.md and docs/*.md, relative to the repository root.
pub fn doc_files() -> Vec<String> {
    let mut pages: Vec<String> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("an entry of docs/").file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    pages.sort();
    let mut files = vec!["README.md".to_string(), "BENCHMARKS.md".to_string()];
    files.extend(pages);
    files
}

/// A fenced code block of a documentation file.
pub struct Fence {
    /// Its line number (1-based) in the file.
    pub line: usize,
    /// What follows the opening backticks (`sh`, `text`).
    pub info: String,
    /// The heading lines it sits under, outermost first ("## A tour").
    pub headings: Vec<String>,
    /// Its lines, each with its newline.
    pub body: String,
}

/// The lines of a documentation file, read whole.
pub fn doc_text(file: &str) -> String {
    String::from_utf8(read(&root().join(file))).expect("UTF-8 documentation")
}

/// True for a line that opens or closes a fenced code block.
pub fn is_fence(line: &str) -> bool {
    line.trim_start().starts_with("```")
}

/// Every fenced code block of `file`, in order, with the headings above it.
pub fn doc_fences(file: &str) -> Vec<Fence> {
    let text = doc_text(file);
    let mut fences = Vec::new();
    let mut headings: Vec<(usize, String)> = Vec::new();
    let mut open: Option<Fence> = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(f) = open.as_mut() {
            if is_fence(line) {
                fences.extend(open.take());
            } else {
                f.body.push_str(line);
                f.body.push('\n');
            }
        } else if is_fence(line) {
            open = Some(Fence {
                line: i + 1,
                info: line.trim_start().trim_start_matches('`').trim().to_string(),
                headings: headings.iter().map(|(_, h)| h.clone()).collect(),
                body: String::new(),
            });
        } else if line.starts_with('#') {
            let level = line.chars().take_while(|c| *c == '#').count();
            if line[level..].starts_with(' ') {
                headings.retain(|(l, _)| *l < level);
                headings.push((level, line.trim_end().to_string()));
            }
        }
    }
    assert!(open.is_none(), "{file}: a code block is never closed");
    fences
}

/// The `sh` blocks of `file` under the heading line `section` (such as
/// "## A tour": up to the next heading of the same or a higher level; ""
/// for the whole file), in order, for a test to run. Panics when there is
/// none, so that a renamed heading fails the test that runs it.
///
/// tests/docs.rs reads the arguments of every call of this function in
/// tests/*.rs to check that every `sh` block is run by some test: pass them
/// as string literals.
pub fn doc_sh(file: &str, section: &str) -> Vec<String> {
    let blocks: Vec<String> = doc_fences(file)
        .into_iter()
        .filter(|f| f.info == "sh")
        .filter(|f| section.is_empty() || f.headings.iter().any(|h| h == section))
        .map(|f| f.body)
        .collect();
    assert!(
        !blocks.is_empty(),
        "{file} has no sh block under {section:?}"
    );
    blocks
}

/// The commands of a shell block: comments and blank lines left out,
/// lines continued with `\` joined.
pub fn commands(block: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in block.lines() {
        let l = line.trim();
        if cur.is_empty() && (l.is_empty() || l.starts_with('#')) {
            continue;
        }
        match l.strip_suffix('\\') {
            Some(part) => {
                cur.push_str(part);
                cur.push(' ');
            }
            None => {
                cur.push_str(l);
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    out
}

/// A `make` command line (`make` alone, or `make ...`).
pub fn is_make(command: &str) -> bool {
    command == "make" || command.starts_with("make ")
}

/// True when a `sh` block holds `make` commands only: tests/first_hour.rs
/// runs those (see [`doc_make_commands`]).
pub fn make_only(block: &str) -> bool {
    let cmds = commands(block);
    !cmds.is_empty() && cmds.iter().all(|c| is_make(c))
}

/// Every `make ...` command the documentation shows, in code blocks
/// (a trailing `  # comment` cut) or in inline code, each once.
pub fn doc_make_commands() -> Vec<String> {
    let mut cmds: Vec<String> = Vec::new();
    for file in doc_files() {
        let mut in_block = false;
        for line in doc_text(&file).lines() {
            if is_fence(line) {
                in_block = !in_block;
                continue;
            }
            if in_block {
                let l = line.trim();
                if is_make(l) {
                    let cmd = match l.find("  #") {
                        Some(i) => l[..i].trim(),
                        None => l,
                    };
                    cmds.push(cmd.to_string());
                }
                continue;
            }
            for span in line.split('`').skip(1).step_by(2) {
                if is_make(span) {
                    cmds.push(span.to_string());
                }
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    cmds.retain(|c| seen.insert(c.clone()));
    cmds
}

/// The folder `make ontologies` fills (the pinned release's files), when
/// it has run (CI runs it): `$CXG_ONTOLOGY`, else
/// `$XDG_CACHE_HOME/cxg/ontology`, else `~/.cache/cxg/ontology`; None (a
/// skip, which fails under CI=true) when none holds the pinned files.
pub fn real_ontology() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let cache = env("XDG_CACHE_HOME").or_else(|| env("HOME").map(|h| h.join(".cache")));
    let found = [env("CXG_ONTOLOGY"), cache.map(|c| c.join("cxg/ontology"))]
        .into_iter()
        .flatten()
        .find(|d| d.join("HsapDv-ontology-v2025-01-23.json.zst").exists());
    if found.is_none() {
        skip("the real ontology files are absent (run `make ontologies`)");
    }
    found
}
