//! The column definitions: `name = jq expression` lines, from a preset, a
//! `--columns` file and `--column` options, picked with `--select`.

use crate::{Args, Preset};
use cxg_core::{At, Error, Result};
use std::path::Path;

/// The 21 columns of the old harvester (the default).
pub(crate) const SEED: &str = include_str!("../columns/seed.columns");
/// The seed columns plus titles, counts, ontology ids, links and sizes.
pub(crate) const FULL_EXTRA: &str = include_str!("../columns/full.columns");

/// One column: its name and jq expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Column {
    pub name: String,
    pub expr: String,
}

/// Parse `name = expr` lines; `source` names the text in messages.
pub(crate) fn parse_columns(text: &str, source: &str) -> Result<Vec<Column>> {
    let mut cols: Vec<Column> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let c = parse_column(t).at(format_args!("{source}: line {}", i + 1))?;
        if cols.iter().any(|x| x.name == c.name) {
            return Err(Error::input(format!(
                "{source}: line {}: column '{}' is defined twice",
                i + 1,
                c.name
            )));
        }
        cols.push(c);
    }
    if cols.is_empty() {
        return Err(Error::input(format!("{source}: no columns defined")));
    }
    Ok(cols)
}

/// Parse one `name = expr` (or `name=expr`).
pub(crate) fn parse_column(s: &str) -> Result<Column> {
    let (name, expr) = s
        .split_once('=')
        .ok_or_else(|| Error::input(format!("'{s}': expected NAME = EXPR")))?;
    let (name, expr) = (name.trim(), expr.trim());
    if name.is_empty() || expr.is_empty() {
        return Err(Error::input(format!(
            "'{s}': expected NAME = EXPR with both parts"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::input(format!(
            "'{s}': a column name cannot contain control characters"
        )));
    }
    Ok(Column {
        name: name.into(),
        expr: expr.into(),
    })
}

/// The columns of a preset.
fn preset(p: Preset) -> Result<Vec<Column>> {
    let mut c = parse_columns(SEED, "preset seed")?;
    if p == Preset::Full {
        c.extend(parse_columns(FULL_EXTRA, "preset full")?);
    }
    Ok(c)
}

/// A `--columns` file.
fn read_file(p: &Path) -> Result<Vec<Column>> {
    let text = std::fs::read_to_string(p).map_err(|e| {
        let ps = p.to_string_lossy();
        let hint = if !p.exists() && (ps.contains(',') || !ps.contains(['.', '/'])) {
            format!(
                " (--columns takes a file of `name = expr` lines; to pick columns by name use --select {ps})"
            )
        } else {
            String::new()
        };
        Error::input(format!("cannot read '{}': {e}{hint}", p.display()))
    })?;
    // a UTF-8 byte-order mark (as some editors write) is not part of a name
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    parse_columns(text, &format!("'{}'", p.display()))
}

/// The column set the arguments ask for.
pub(crate) fn columns_for(args: &Args) -> Result<Vec<Column>> {
    let mut cols = match &args.columns {
        Some(p) => read_file(p)?,
        None => preset(args.preset)?,
    };
    for s in &args.column {
        let c = parse_column(s).at("--column")?;
        match cols.iter_mut().find(|x| x.name == c.name) {
            Some(x) => *x = c,
            None => cols.push(c),
        }
    }
    if args.select.is_empty() {
        return Ok(cols);
    }
    select(&cols, &args.select)
}

/// `--select`: the columns named, in that order, from those in use or the
/// `full` preset.
fn select(cols: &[Column], names: &[String]) -> Result<Vec<Column>> {
    let full = preset(Preset::Full)?;
    let mut picked: Vec<Column> = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let c = cols
            .iter()
            .chain(full.iter())
            .find(|c| c.name == name)
            .ok_or_else(|| {
                let mut known: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
                for c in &full {
                    if !known.contains(&c.name.as_str()) {
                        known.push(&c.name);
                    }
                }
                Error::input(format!(
                    "--select: no column named '{name}'; columns: {}",
                    known.join(",")
                ))
            })?;
        if picked.iter().any(|p| p.name == name) {
            return Err(Error::input(format!("--select: '{name}' is named twice")));
        }
        picked.push(c.clone());
    }
    if picked.is_empty() {
        return Err(Error::input("--select: no column names given"));
    }
    Ok(picked)
}

/// The definitions as a --columns file.
pub(crate) fn list_columns(cols: &[Column]) -> String {
    let mut s = String::from("# cxg-tocsv columns: name = jq expression (one per line)\n");
    for c in cols {
        s.push_str(&format!("{} = {}\n", c.name, c.expr));
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cxg_catalog::facets::{Kind, FACETS};

    #[test]
    fn builtin_sets_parse_and_compile() {
        let seed = parse_columns(SEED, "seed").unwrap();
        assert_eq!(seed.len(), 21);
        let names: Vec<_> = seed.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names.join(","),
            "collection_url,collection_id,collection_version_id,dataset_id,dataset_version_id,first_author,journal,is_preprint,year,tissue,disease,author_cell_type,embedding,revised_at,visibility,organism,filter_normal,metric,save_scores,save_cluster_summary,save_annotation"
        );
        for c in seed
            .iter()
            .chain(parse_columns(FULL_EXTRA, "full").unwrap().iter())
        {
            cxg_json::jq::Program::compile(&c.expr, &c.name).unwrap();
        }
    }

    /// The `full` preset lists the facets in its own order (the old
    /// harvester's and the API's, not the catalogue table's), so it is
    /// written out rather than generated: this holds it to the table.
    /// Every facet of `cxg_catalog::facets::FACETS` has its columns, read
    /// from the record field the table names.
    #[test]
    fn the_full_preset_has_every_facet_of_the_catalogue() {
        let full = preset(Preset::Full).unwrap();
        let expr = |name: &str| {
            full.iter()
                .find(|c| c.name == name)
                .map(|c| c.expr.as_str())
                .unwrap_or_else(|| panic!("no column {name}"))
        };
        for f in &FACETS {
            match f.kind {
                Kind::Terms => {
                    assert_eq!(expr(f.field), format!("[.{}[]?.label]", f.field));
                    let ids = format!("{}_ontology_term_id", f.field);
                    assert_eq!(expr(&ids), format!("[.{}[]?.ontology_term_id]", f.field));
                }
                Kind::TissueType => {
                    assert_eq!(expr(f.obs_column), format!("[.{}[]?.tissue_type]", f.field))
                }
                Kind::Strings => assert_eq!(expr(f.field), format!(".{}", f.field)),
            }
        }
    }

    #[test]
    fn column_definitions() {
        assert_eq!(
            parse_column("a = .x == 1").unwrap(),
            Column {
                name: "a".into(),
                expr: ".x == 1".into()
            }
        );
        assert!(parse_column("noequals").is_err());
        assert!(parse_column("=.x").is_err());
        assert!(parse_columns("# only comments\n", "f").is_err());
        assert!(parse_columns("a=.x\na=.y\n", "f")
            .unwrap_err()
            .msg
            .contains("line 2"));
    }
}
