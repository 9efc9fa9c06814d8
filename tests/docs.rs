//! The documentation stays true: every `sh` block of the README, BENCHMARKS.md
//! and docs/ is run by some test, every other block is visibly not a command,
//! the README is short and links every page, relative links resolve, and
//! the Rust version it asks for is the workspace's.
#![allow(clippy::unwrap_used)]

use cxg_tests::*;
use std::collections::BTreeSet;

/// Where a test claims blocks: the literal arguments of each `doc_sh` call in
/// tests/*.rs, with the file it was found in (support.rs, which defines it,
/// and this file, which names it in messages, aside).
fn claims() -> Vec<(String, String, String)> {
    let needle = "doc_sh(";
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for e in std::fs::read_dir(root().join("tests")).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".rs") || name == "support.rs" || name == "docs.rs" {
            continue;
        }
        let src = String::from_utf8(read(&path)).unwrap();
        for (i, _) in src.match_indices(needle) {
            let line = src[..i].lines().last().unwrap_or("");
            if line.trim_start().starts_with("//") {
                continue;
            }
            let mut rest = &src[i + needle.len()..];
            let mut lit = || -> Option<String> {
                rest = rest.trim_start();
                let body = rest.strip_prefix('"')?;
                let end = body.find('"')?;
                let s = body[..end].to_string();
                rest = body[end + 1..].trim_start();
                rest = rest.strip_prefix(',').unwrap_or(rest);
                Some(s)
            };
            match (lit(), lit()) {
                (Some(file), Some(section)) => out.push((file, section, name.clone())),
                _ => bad.push(format!("{name}: {}", &src[i..(i + 60).min(src.len())])),
            }
        }
    }
    assert!(
        bad.is_empty(),
        "calls of doc_sh without two string literals (tests/docs.rs cannot tell which blocks they run):\n{}",
        bad.join("\n")
    );
    out
}

/// True when some test runs every `make` command of the documentation
/// (tests/first_hour.rs), which is what runs the blocks of `make` commands.
fn make_commands_are_run() -> bool {
    let src = String::from_utf8(read(&root().join("tests/first_hour.rs"))).unwrap();
    src.contains("let cmds = doc_make_commands();")
}

#[test]
fn every_sh_block_is_run_by_a_test() {
    let claims = claims();
    let makes = make_commands_are_run();
    let all_makes = doc_make_commands();
    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    let mut sh_blocks = 0;
    for file in doc_files() {
        for f in doc_fences(&file) {
            let at = format!("{file}:{}", f.line);
            match f.info.as_str() {
                "sh" => {
                    sh_blocks += 1;
                    let mut claimed = false;
                    for (i, (cf, section, _)) in claims.iter().enumerate() {
                        if *cf == file
                            && (section.is_empty() || f.headings.iter().any(|h| h == section))
                        {
                            claimed = true;
                            used.insert(i);
                        }
                    }
                    if make_only(&f.body) {
                        // run by first_hour, whatever else claims the block
                        for c in commands(&f.body) {
                            let c = match c.find("  #") {
                                Some(i) => c[..i].trim().to_string(),
                                None => c,
                            };
                            if !all_makes.contains(&c) {
                                problems.push(format!("{at}: `{c}` is not seen by doc_make_commands"));
                            }
                        }
                        claimed |= makes;
                    }
                    if !claimed {
                        problems.push(format!(
                            "{at}: no test runs this sh block (under {:?}); run it with doc_sh(\"{file}\", \"<heading>\") in a test, or mark it text if it is not a command",
                            f.headings.last().map_or("", String::as_str)
                        ));
                    }
                }
                "text" => {
                    for l in f.body.lines() {
                        let l = l.trim_start();
                        if ["$ ", "make", "cxg-", "jq ", "cargo "]
                            .iter()
                            .any(|p| l.starts_with(p))
                        {
                            problems.push(format!(
                                "{at}: a text block holds the command `{l}`: mark it sh and run it in a test"
                            ));
                        }
                    }
                }
                other => problems.push(format!(
                    "{at}: a code block marked {other:?}: mark it sh (a command a test runs) or text"
                )),
            }
        }
    }
    for (i, (file, section, test)) in claims.iter().enumerate() {
        if !used.contains(&i) {
            problems.push(format!(
                "tests/{test}: doc_sh(\"{file}\", \"{section}\") finds no sh block"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // the README's example and a tour's worth of pages
    assert!(sh_blocks >= 15, "{sh_blocks} sh blocks");
}

/// GitHub's anchor for a heading line: lower case, spaces to `-`, other
/// punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim_start_matches('#')
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a documentation file's headings.
fn anchors(file: &str) -> BTreeSet<String> {
    let mut in_block = false;
    let mut out = BTreeSet::new();
    for line in doc_text(file).lines() {
        if is_fence(line) {
            in_block = !in_block;
        } else if !in_block && line.starts_with('#') {
            out.insert(anchor(line));
        }
    }
    out
}

/// The relative link targets of a file (`](target)`), without the web ones.
fn links(file: &str) -> Vec<String> {
    let text = doc_text(file);
    text.match_indices("](")
        .filter_map(|(i, _)| {
            let rest = &text[i + 2..];
            rest.find(')').map(|end| rest[..end].to_string())
        })
        .filter(|t| !t.starts_with("http://") && !t.starts_with("https://"))
        .collect()
}

#[test]
fn the_readme_is_short_and_every_link_resolves() {
    let readme = doc_text("README.md");
    let lines = readme.lines().count();
    assert!(
        lines <= 300,
        "README.md has {lines} lines; keep it at most 300 (guides go to docs/)"
    );
    let mut problems = Vec::new();
    for page in doc_files().iter().filter(|f| f.starts_with("docs/")) {
        if !readme.contains(&format!("]({page})")) {
            problems.push(format!("README.md does not link {page}"));
        }
    }
    if !readme.contains("](BENCHMARKS.md)") {
        problems.push("README.md does not link BENCHMARKS.md".into());
    }
    for file in doc_files() {
        let dir = std::path::Path::new(&file).parent().unwrap().to_path_buf();
        for target in links(&file) {
            let (path, frag) = match target.split_once('#') {
                Some((p, f)) => (p.to_string(), Some(f.to_string())),
                None => (target.clone(), None),
            };
            let resolved = if path.is_empty() {
                file.clone()
            } else {
                let joined = dir.join(&path);
                // docs/../X is X: the documentation files are named from the root
                let mut parts: Vec<String> = Vec::new();
                for c in joined.components() {
                    match c {
                        std::path::Component::ParentDir => {
                            parts.pop();
                        }
                        std::path::Component::Normal(s) => parts.push(s.to_string_lossy().into()),
                        _ => {}
                    }
                }
                parts.join("/")
            };
            if !root().join(&resolved).exists() {
                problems.push(format!("{file}: the link {target} names no file"));
                continue;
            }
            if let Some(frag) = frag {
                if !resolved.ends_with(".md") || !anchors(&resolved).contains(&frag) {
                    problems.push(format!("{file}: the link {target} names no heading"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_rust_version_asked_for_is_the_workspaces() {
    let cargo = String::from_utf8(read(&root().join("Cargo.toml"))).unwrap();
    let v = cargo
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap();
    let want = format!("Rust {v} or newer");
    for file in ["README.md", "docs/building.md"] {
        assert!(doc_text(file).contains(&want), "{file} does not say {want}");
    }
    // and no other version anywhere
    for file in doc_files() {
        for (i, _) in doc_text(&file).match_indices(" or newer") {
            let before = &doc_text(&file)[..i];
            let word = before.rsplit(' ').next().unwrap();
            if word.starts_with("1.") {
                assert_eq!(word, v, "{file} asks for Rust {word}");
            }
        }
    }
}
