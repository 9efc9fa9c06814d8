//! cxg-report: the numbers on the page equal counts computed with jq from
//! the same files (a test per section), on the sample snapshot harvested
//! with the tools (selection, downloads, obs, changes, provenance) and on a
//! generated world; absent parts say "not run yet"; and the page in a real
//! browser (Debian's chromium, headless, without network): no console
//! error, every chart with its numbers, the table's filter and sort work,
//! no http(s) resource.
#![allow(clippy::unwrap_used)]

use cxg_tests::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Harvest `snap` (served by cxg-serve) into `data` with make: stages,
/// snapshot, and with `files` the downloads and obs too.
fn harvest(snap: &Path, data: &Path, select: &str, files: bool) {
    let s = Server::start(snap, &["--local-assets"]);
    let vars = vec![
        format!("DATA={}", data.display()),
        format!("API_URL={}", s.url),
        format!("SELECT={select}"),
        "PRESET=full".to_string(),
        format!("ONTOLOGY={}", data.join("no-ontology").display()),
    ];
    let mut targets = vec!["stages".to_string(), "snapshot".to_string()];
    if files {
        targets.extend(["downloads".to_string(), "obs".to_string()]);
    }
    for t in targets {
        let mut a = vars.clone();
        a.push(t);
        make(&a).ok();
    }
}

fn report(data: &Path) -> String {
    let out = data.join("report.html");
    run(
        "cxg-report",
        &[data.to_str().unwrap(), "-o", out.to_str().unwrap()],
        None,
    )
    .ok();
    String::from_utf8(read(&out)).unwrap()
}

/// jq over a JSON Lines file, slurped; the result parsed.
fn jq(filter: &str, file: &Path) -> Value {
    let o = Command::new("jq")
        .args(["-s", "-c", filter])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "jq {filter}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn unescape(s: &str) -> String {
    s.replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The text between `start` (after `from`) and `end`.
fn between<'a>(html: &'a str, from: &str, start: &str, end: &str) -> Option<&'a str> {
    let at = html.find(from)?;
    let rest = &html[at..];
    let a = rest.find(start)? + start.len();
    let b = rest[a..].find(end)? + a;
    Some(&rest[a..b])
}

/// A chart's bars from its text alternative (`label: n; label: n`).
fn chart(html: &str, id: &str) -> BTreeMap<String, u64> {
    let from = format!("data-chart=\"{id}\"");
    let fig = between(html, &from, ">", "</figure>").unwrap_or_else(|| panic!("no chart {id}"));
    let Some(desc) = between(fig, "<desc", ">", "</desc>") else {
        assert!(fig.contains("no datasets"), "{id}: no <desc>");
        return BTreeMap::new();
    };
    unescape(desc)
        .split("; ")
        .map(|p| {
            let (l, n) = p.rsplit_once(": ").unwrap();
            (l.to_string(), n.parse().unwrap())
        })
        .collect()
}

fn total(html: &str, name: &str) -> u64 {
    let t = between(html, &format!("data-total=\"{name}\""), ">", "<").unwrap();
    t.replace(',', "").parse().unwrap()
}

/// `{label: n}` from jq's `[[label, n]...]`.
fn map_of(v: Value) -> BTreeMap<String, u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_u64().unwrap()))
        .collect()
}

/// Every bar shown equals jq's count, and the chart shows the top
/// min(20, terms) of them.
fn same_bars(html: &str, id: &str, want: BTreeMap<String, u64>, top: usize) {
    let got = chart(html, id);
    assert_eq!(got.len(), want.len().min(top), "{id}: {got:?} vs {want:?}");
    for (k, v) in &got {
        assert_eq!(want.get(k), Some(v), "{id}: {k}");
    }
    let least = got.values().min().copied().unwrap_or(0);
    let left_out = want.iter().filter(|(k, _)| !got.contains_key(*k));
    assert!(
        left_out.clone().all(|(_, v)| *v <= least),
        "{id}: a larger term left out"
    );
}

const FACETS: [(&str, &str); 6] = [
    ("organism", "organism"),
    ("tissue", "tissue"),
    ("disease", "disease"),
    ("assay", "assay"),
    ("stage", "development_stage"),
    ("sex", "sex"),
];

/// The catalogue's (or the selection's) totals and charts against jq.
fn check_overview(html: &str, prefix: &str, file: &Path, totals: [&str; 3]) {
    let n = jq("length", file).as_u64().unwrap();
    let colls = jq("map(.collection_id) | unique | length", file);
    let cells = jq("map(.cell_count // 0) | add // 0", file);
    assert_eq!(
        total(html, totals[0]),
        colls.as_u64().unwrap(),
        "{prefix} collections"
    );
    assert_eq!(total(html, totals[1]), n, "{prefix} datasets");
    assert_eq!(
        total(html, totals[2]),
        cells.as_u64().unwrap(),
        "{prefix} cells"
    );
    for (id, field) in FACETS {
        let per = format!(
            "[.[] | {{t: ((.{field} // []) | map(.label) | unique), c: (.cell_count // 0)}}] \
             | [.[] | .c as $c | .t[] | {{t: ., c: $c}}] | group_by(.t)"
        );
        let datasets = jq(&format!("{per} | map([.[0].t, length])"), file);
        same_bars(html, &format!("{prefix}{id}"), map_of(datasets), 20);
        if id == "organism" {
            let cells = jq(&format!("{per} | map([.[0].t, (map(.c) | add)])"), file);
            same_bars(html, &format!("{prefix}organism-cells"), map_of(cells), 20);
        }
    }
    let month = "group_by(.published_at[:7]) | map([.[0].published_at[:7]";
    let by = jq(&format!("{month}, length])"), file);
    same_bars(html, &format!("{prefix}month"), map_of(by), usize::MAX);
    let by = jq(&format!("{month}, (map(.cell_count // 0) | add)])"), file);
    same_bars(
        html,
        &format!("{prefix}month-cells"),
        map_of(by),
        usize::MAX,
    );
}

/// The sample snapshot with its H5AD files, harvested with a selection,
/// downloaded and summarised; changes from the committed snapshot to it.
struct Sample {
    _t: TempDir,
    data: std::path::PathBuf,
    html: String,
}

fn sample() -> Sample {
    let t = TempDir::new();
    let data = t.join("data");
    harvest(
        &fixture("sample"),
        &data,
        "--no-ontology --organism 'Homo sapiens'",
        true,
    );
    let changes = data.join("changes.jsonl");
    run(
        "cxg-diff",
        &[
            fixture("snapshot").to_str().unwrap(),
            fixture("sample").to_str().unwrap(),
            "-q",
            "-o",
            changes.to_str().unwrap(),
        ],
        None,
    )
    .ok();
    let html = report(&data);
    Sample { _t: t, data, html }
}

#[test]
fn the_catalogue_section_counts_what_jq_counts() {
    if !has_jq() {
        return;
    }
    let s = sample();
    check_overview(
        &s.html,
        "catalogue-",
        &s.data.join("datasets.jsonl"),
        ["collections", "datasets", "cells"],
    );
}

#[test]
fn the_selection_section_counts_what_jq_counts() {
    if !has_jq() {
        return;
    }
    let s = sample();
    let sel = s.data.join("selected.jsonl");
    let n = jq("length", &sel).as_u64().unwrap();
    assert!(
        n > 0
            && n < jq("length", &s.data.join("datasets.jsonl"))
                .as_u64()
                .unwrap()
    );
    check_overview(
        &s.html,
        "selection-",
        &sel,
        [
            "selected-collections",
            "selected-datasets",
            "selected-cells",
        ],
    );
    assert!(
        s.html.contains("--organism &#39;Homo sapiens&#39;")
            || s.html.contains("--organism 'Homo sapiens'")
    );
    let log = std::fs::read_to_string(s.data.join("selection.log")).unwrap();
    let last = log.lines().last().unwrap();
    assert!(
        s.html.contains(&last.replace('\'', "&#39;")) || s.html.contains(last),
        "{last}"
    );
}

#[test]
fn the_files_section_counts_the_manifest_and_obs() {
    if !has_jq() {
        return;
    }
    let s = sample();
    let (head, rows) = csv_rows(&read(&s.data.join("h5ad/manifest.csv")));
    let col = |n: &str| head.iter().position(|h| h == n).unwrap();
    for st in ["downloaded", "resumed", "present", "failed"] {
        let want = rows
            .iter()
            .filter(|r| r[col("status")] == st && !r[col("url")].is_empty())
            .count();
        let got = between(
            &s.html,
            &format!("data-status=\"{st}\""),
            "class=\"n\">",
            "<",
        )
        .unwrap();
        assert_eq!(got, want.to_string(), "{st}");
    }
    let bytes: u64 = rows
        .iter()
        .filter(|r| r[col("status")] != "failed")
        .map(|r| r[col("bytes")].parse::<u64>().unwrap())
        .sum();
    assert!(
        s.html.contains(&format!("data-bytes=\"{bytes}\"")),
        "{bytes}"
    );
    // obs.jsonl: one row per file with cxg-obs's counts
    let obs = jq(
        "map([.dataset_id, .n_cells, .normal_cell_count, .primary_cell_count, .donor_count])",
        &s.data.join("obs.jsonl"),
    );
    assert!(!obs.as_array().unwrap().is_empty());
    for r in obs.as_array().unwrap() {
        let row = between(
            &s.html,
            &format!("data-obs=\"{}\"", r[0].as_str().unwrap()),
            ">",
            "</tr>",
        )
        .unwrap();
        let cells: Vec<&str> = row
            .split("class=\"n\">")
            .skip(1)
            .map(|c| c.split('<').next().unwrap())
            .collect();
        let want: Vec<String> = (1..5).map(|i| r[i].to_string()).collect();
        assert_eq!(cells, want, "{row}");
    }
}

/// Files: what the last cell-level filter kept (obs.jsonl's
/// `filtered_cell_count`, `filtered_donor_count` and `filter`, as cxg-obs
/// writes them with a cell filter): per file, in total, and the filter;
/// without one the page says none was run and names the make command.
#[test]
fn the_files_section_shows_what_the_cell_filter_kept() {
    if !has_jq() {
        return;
    }
    let s = sample();
    assert!(s.html.contains("No cell-level filter run"));
    assert!(unescape(&s.html).contains("<code>make obs CELLS=\"--normal"));
    let obs = s.data.join("obs.jsonl");
    // cxg-obs with a cell filter
    run(
        "cxg-obs",
        &[
            "--normal",
            "--primary",
            s.data.join("h5ad/manifest.csv").to_str().unwrap(),
            "-o",
            obs.to_str().unwrap(),
        ],
        None,
    )
    .ok();
    let html = report(&s.data);
    assert!(!html.contains("No cell-level filter run"));
    let want = jq(
        "[(map(.filtered_cell_count // empty) | add), (map(select(.filtered_cell_count != null) | .n_cells) | add), (map(select(.filtered_cell_count != null)) | length)]",
        &obs,
    );
    let attr = |name: &str| {
        let key = format!("data-kept-{name}=\"");
        between(&html, &key, &key, "\"").unwrap().to_string()
    };
    assert_eq!(
        [attr("total"), attr("of"), attr("files")],
        [0, 1, 2].map(|i| want[i].to_string())
    );
    let filter = jq("map(.filter.options | map(if test(\" \") then \"'\" + . + \"'\" else . end) | join(\" \")) | unique", &obs);
    for f in filter.as_array().unwrap() {
        let code = format!("<code data-cell-filter>{}</code>", f.as_str().unwrap());
        assert!(unescape(&html).contains(&code), "{code}");
    }
    // per file: the kept cells and donors, after cxg-obs's four counts
    let rows = jq(
        "map([.dataset_id, .filtered_cell_count, .filtered_donor_count])",
        &obs,
    );
    for r in rows.as_array().unwrap() {
        let row = between(
            &html,
            &format!("data-obs=\"{}\"", r[0].as_str().unwrap()),
            ">",
            "</tr>",
        )
        .unwrap();
        let kept = between(row, "data-kept>", ">", "<").unwrap();
        let donors = between(row, "data-kept-donors>", ">", "<").unwrap();
        let text = |v: &Value| {
            if v.is_null() {
                "—".to_string()
            } else {
                v.to_string()
            }
        };
        assert_eq!(
            (kept, donors),
            (text(&r[1]).as_str(), text(&r[2]).as_str()),
            "{row}"
        );
    }
}

#[test]
fn the_changes_section_counts_what_jq_counts() {
    if !has_jq() {
        return;
    }
    let s = sample();
    let f = s.data.join("changes.jsonl");
    for k in ["added", "removed", "revised", "metadata"] {
        let want = jq(&format!("map(select(.change == \"{k}\")) | length"), &f);
        let got = between(
            &s.html,
            &format!("data-change=\"{k}\""),
            "class=\"n\">",
            "<",
        )
        .unwrap();
        assert_eq!(got, want.to_string(), "{k}");
    }
    assert!(
        jq("length", &f).as_u64().unwrap() > 0,
        "the sample differs from the snapshot"
    );
    let deltas = jq("map(.fields.cell_count.delta // empty)", &f);
    let shown = s.html.matches("data-delta>").count() as u64;
    assert_eq!(shown, jq("length", &f).as_u64().unwrap());
    for d in deltas.as_array().unwrap() {
        let d = d.as_i64().unwrap();
        let text = if d > 0 {
            format!("+{d}")
        } else {
            d.to_string()
        };
        assert!(s.html.contains(&format!("data-delta>{text}<")), "{text}");
    }
}

/// The table's embedded rows: one per dataset, with its id and cell count.
fn table_rows(html: &str) -> Value {
    let json = between(html, "id=\"rows\"", ">", "</script>").unwrap();
    serde_json::from_str(json).unwrap()
}

fn check_table(html: &str, datasets: &Path) {
    let t = table_rows(html);
    let got: BTreeMap<String, u64> = t["r"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[9].as_str().unwrap().to_string(), r[6].as_u64().unwrap()))
        .collect();
    let want = map_of(jq("map([.dataset_id, (.cell_count // 0)])", datasets));
    assert_eq!(got, want);
}

#[test]
fn the_table_and_provenance_sections_hold_what_jq_reads() {
    if !has_jq() {
        return;
    }
    let s = sample();
    check_table(&s.html, &s.data.join("datasets.jsonl"));
    let p = s.data.join("provenance.json");
    let reqs = jq(".[0].requests | length", &p);
    let got = between(&s.html, "data-prov=\"requests\"", ">", " ").unwrap();
    assert_eq!(got, reqs.to_string());
    let api = jq(".[0].api_url", &p);
    assert!(s
        .html
        .contains(&format!("data-prov=\"api_url\">{}<", api.as_str().unwrap())));
    for tool in jq(".[0].tools | keys", &p).as_array().unwrap() {
        assert!(s.html.contains(tool.as_str().unwrap()));
    }
}

/// A generated world (more terms than a chart shows), harvested without
/// downloads or history: the catalogue and table equal jq's counts, and
/// the parts not run say so with their make target.
#[test]
fn a_generated_world_counts_what_jq_counts_and_names_what_is_not_run() {
    if !has_jq() {
        return;
    }
    let t = TempDir::new();
    let snap = t.join("snap");
    generate(
        &snap,
        &["--seed", "25", "--collections", "60", "--datasets", "400"],
    );
    let data = t.join("data");
    harvest(&snap, &data, "", false);
    let html = report(&data);
    check_overview(
        &html,
        "catalogue-",
        &data.join("datasets.jsonl"),
        ["collections", "datasets", "cells"],
    );
    check_table(&html, &data.join("datasets.jsonl"));
    for target in ["make download", "make obs", "make refresh"] {
        assert!(
            html.contains(&format!("<code>{target}</code> fills this section")),
            "{target}"
        );
    }
    assert!(html.contains("Not run yet"));
}

/// An empty folder: every part says it is not run yet; a missing folder is
/// an error (exit 2) that writes nothing.
#[test]
fn an_empty_folder_says_not_run_yet_and_a_missing_one_is_an_error() {
    let t = TempDir::new();
    let html = report(t.path());
    assert_eq!(html.matches("Not run yet").count(), 7, "{html}");
    let out = t.join("r.html");
    run(
        "cxg-report",
        &[
            t.join("nope").to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        None,
    )
    .code(2)
    .stderr_has("not a folder");
    assert!(!out.exists());
}

/// Debian's chromium, or a skip (CI installs it: .ci/run).
fn chromium() -> Option<&'static str> {
    let ok = Command::new("chromium")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        skip("chromium is not installed (apt-get install chromium)");
    }
    ok.then_some("chromium")
}

/// Run headless chromium on `page` with `extra` options, without network
/// where a network namespace can be made (`unshare -n`, as root).
fn browse(page: &Path, extra: &[String]) -> (String, String) {
    let profile = TempDir::new();
    let isolated = Command::new("unshare")
        .args(["-n", "true"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    let mut c = if isolated {
        let mut c = Command::new("unshare");
        c.args(["-n", "chromium"]);
        c
    } else {
        Command::new("chromium")
    };
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(extra)
    .arg(page);
    let o = run_cmd(c, None);
    assert_eq!(o.code, 0, "chromium: {}", o.stderr);
    (o.text(), o.stderr)
}

/// Installed first in <head>: every error, console error and refused load.
const CATCH: &str = r#"<script>window.__errs = [];
window.addEventListener("error", function (e) { __errs.push("error: " + e.message); });
document.addEventListener("securitypolicyviolation", function (e) { __errs.push("refused: " + e.blockedURI); });
(function () { var ce = console.error; console.error = function () { __errs.push("console: " + [].join.call(arguments, " ")); ce.apply(console, arguments); }; })();
</script>"#;

/// Run last: checks the charts, drives the table's filter and sort like a
/// user, lists resource loads, and writes the results into the DOM.
const DRIVE: &str = r##"<script>(function () {
  var R = { errors: window.__errs }, WORD = "__WORD__";
  var figs = document.querySelectorAll("figure[data-chart]");
  R.charts = [].map.call(figs, function (f) {
    var bars = f.querySelectorAll("g.bar"), desc = f.querySelector("desc");
    var numbers = [].every.call(bars, function (g) {
      var t = g.querySelector("text.num"), r = g.querySelector("rect").getBBox();
      return t && t.textContent.replace(/,/g, "") === g.dataset.value && r.height > 0 &&
        desc.textContent.indexOf(g.dataset.label + ": " + g.dataset.value) >= 0;
    });
    return { id: f.dataset.chart, bars: bars.length, ok: bars.length > 0 && numbers || !!f.querySelector(".none") };
  });
  var tb = document.querySelector("#tbl tbody"), f = document.getElementById("filter");
  function texts() { return [].map.call(tb.rows, function (r) { return r.textContent.toLowerCase(); }); }
  function cells() { return [].map.call(tb.rows, function (r) { return +r.cells[6].textContent.replace(/,/g, ""); }); }
  R.rows = tb.rows.length;
  f.value = WORD; f.dispatchEvent(new Event("input"));
  R.filtered = tb.rows.length;
  R.filteredMatch = texts().every(function (t) { return t.indexOf(WORD.toLowerCase()) >= 0; });
  R.shown = document.getElementById("shown").textContent;
  f.value = ""; f.dispatchEvent(new Event("input"));
  R.cleared = tb.rows.length;
  var th = document.querySelector('#tbl th[data-k="6"]');
  th.click(); var up = cells(); th.click(); var down = cells();
  R.ascending = up.every(function (v, i) { return i === 0 || up[i - 1] <= v; });
  R.descending = down.every(function (v, i) { return i === 0 || down[i - 1] >= v; }) && down[0] > down[down.length - 1];
  R.sortLabel = th.getAttribute("aria-sort");
  R.resources = performance.getEntriesByType("resource").map(function (e) { return e.name; });
  R.remote = [].map.call(document.querySelectorAll("[src], link[href], image, use"), function (e) {
    return e.getAttribute("src") || e.getAttribute("href") || ""; }).filter(function (u) { return /^\s*(https?:)?\/\//i.test(u); });
  R.cssUrls = [].filter.call(document.querySelectorAll("style"), function (s) { return /url\(|@import/.test(s.textContent); }).length;
  var pre = document.createElement("pre"); pre.id = "test-result"; pre.textContent = JSON.stringify(R);
  document.body.appendChild(pre);
})();</script>"##;

/// The sample's page in headless chromium without network: no error, every
/// chart drawn with its numbers, the filter and the sort work, nothing
/// loaded; and a screenshot at 1280 px.
#[test]
fn the_page_works_in_a_real_browser_without_network() {
    let Some(_) = chromium() else { return };
    let s = sample();
    // a word of one dataset's tissue, and the rows whose text holds it
    let t = table_rows(&s.html);
    let word = "blood";
    let terms = t["t"].as_array().unwrap();
    let want = t["r"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            let mut text = r[0].as_str().unwrap().to_string();
            text += t["c"][r[1].as_u64().unwrap() as usize][0].as_str().unwrap();
            for k in 2..6 {
                for i in r[k].as_array().unwrap() {
                    text += terms[i.as_u64().unwrap() as usize].as_str().unwrap();
                }
            }
            text += r[8].as_str().unwrap();
            text.to_lowercase().contains(word)
        })
        .count();
    assert!(want > 0 && want < t["r"].as_array().unwrap().len());
    let page = s.data.join("test-page.html");
    let html = s
        .html
        .replacen("<head>", &format!("<head>{CATCH}"), 1)
        .replacen(
            "</body>",
            &format!("{}</body>", DRIVE.replace("__WORD__", word)),
            1,
        );
    std::fs::write(&page, html).unwrap();
    let (dom, log) = browse(&page, &["--dump-dom".to_string()]);
    let json = between(&dom, "id=\"test-result\"", ">", "</pre>")
        .unwrap_or_else(|| panic!("{dom}\n{log}"));
    let r: Value = serde_json::from_str(&unescape(json)).unwrap();
    assert_eq!(r["errors"], serde_json::json!([]), "{r}");
    for bad in [
        "Uncaught",
        "Refused to",
        "violates the following Content Security",
    ] {
        assert!(!log.contains(bad), "{bad}: {log}");
    }
    let charts = r["charts"].as_array().unwrap();
    assert_eq!(charts.len(), 9 * 3, "{r}");
    for c in charts {
        assert_eq!(c["ok"], true, "{c}");
    }
    let n = t["r"].as_array().unwrap().len() as u64;
    assert_eq!(r["rows"], n, "{r}");
    assert_eq!(r["filtered"], want as u64, "{r}");
    assert_eq!(r["filteredMatch"], true, "{r}");
    assert_eq!(r["shown"], format!("{want} of {n} datasets"), "{r}");
    assert_eq!(r["cleared"], n, "{r}");
    assert_eq!(r["ascending"], true, "{r}");
    assert_eq!(r["descending"], true, "{r}");
    assert_eq!(r["sortLabel"], "descending", "{r}");
    assert_eq!(r["resources"], serde_json::json!([]), "{r}");
    assert_eq!(r["remote"], serde_json::json!([]), "{r}");
    assert_eq!(r["cssUrls"], 0, "{r}");
    // the report itself, as a user opens it: a picture at 1280 px
    let png = s.data.join("report.png");
    browse(
        &s.data.join("report.html"),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,2000".to_string(),
        ],
    );
    let bytes = read(&png);
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "{}",
        bytes.len()
    );
}

/// docs/report.md's commands, on the sample harvest.
#[test]
fn the_docs_commands_run() {
    let s = sample();
    let dir = s.data.parent().unwrap();
    let cmds = commands(&doc_sh("docs/report.md", "## By hand").concat());
    assert_eq!(cmds.len(), 2, "{cmds:?}");
    sh(dir, &cmds.join("\n")).ok();
    let html = String::from_utf8(read(&dir.join("lung-report.html"))).unwrap();
    assert!(html.contains("<title>Human lung, December</title>"));
    assert!(read(&s.data.join("report.html")).starts_with(b"<!DOCTYPE html>"));
}
