//! What the last cell-level filter kept: `cxg-obs` with a cell filter
//! (`make obs CELLS="..."`) adds to each obs.jsonl record the options it
//! was given and how they resolved (`filter`), and the cells and donors of
//! the file it kept (`filtered_cell_count`, `filtered_donor_count`; null
//! for a file that could not be read).

use crate::chart::group;
use serde_json::Value;

/// The make command that runs a cell filter (issue 23's example).
pub const MAKE_CELLS: &str = "make obs CELLS=\"--normal --primary --min-age 18 --tissue lung\"";

#[derive(Debug, Clone)]
pub struct Kept {
    /// The filters the records name (one, unless records of several runs
    /// were put together), each as a command line.
    pub filters: Vec<String>,
    /// How each option resolved, as cxg-obs said.
    pub resolved: Vec<String>,
    /// Cells kept, in all the files a filter counted.
    pub cells: u64,
    pub cells_text: String,
    /// Cells in those files.
    pub of_cells: u64,
    pub of_text: String,
    /// Files a filter counted.
    pub files: usize,
}

/// A word of a command line, quoted for a shell when it needs to be.
fn shell_word(w: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.,:/=+@%".contains(c);
    if !w.is_empty() && w.chars().all(plain) {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// A record's filter as a command line, or None without one.
fn filter_of(r: &Value) -> Option<String> {
    let words = r.get("filter")?.get("options")?.as_array()?;
    let words: Vec<String> = words
        .iter()
        .filter_map(Value::as_str)
        .map(shell_word)
        .collect();
    Some(words.join(" "))
}

/// The kept cells of obs.jsonl's records, or None when no record was
/// made with a cell filter.
pub fn kept(rows: &[Value]) -> Option<Kept> {
    let (mut filters, mut resolved) = (Vec::<String>::new(), Vec::<String>::new());
    for r in rows {
        let Some(f) = filter_of(r) else { continue };
        if !filters.contains(&f) {
            filters.push(f);
            let how = r["filter"]["resolved"].as_array().into_iter().flatten();
            resolved.extend(how.filter_map(Value::as_str).map(str::to_string));
        }
    }
    if filters.is_empty() && !rows.iter().any(|r| r.get("filtered_cell_count").is_some()) {
        return None;
    }
    let counted: Vec<(u64, u64)> = rows
        .iter()
        .filter_map(|r| {
            let kept = r.get("filtered_cell_count")?.as_u64()?;
            Some((kept, r.get("n_cells").and_then(Value::as_u64).unwrap_or(0)))
        })
        .collect();
    let cells = counted.iter().map(|c| c.0).fold(0u64, u64::saturating_add);
    let of_cells = counted.iter().map(|c| c.1).fold(0u64, u64::saturating_add);
    Some(Kept {
        filters,
        resolved,
        cells,
        cells_text: group(cells),
        of_cells,
        of_text: group(of_cells),
        files: counted.len(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kept_cells_are_summed_over_the_files_a_filter_read() {
        let f = json!({"options": ["--organism", "Homo sapiens", "--normal"], "resolved": ["--organism 'Homo sapiens': NCBITaxon:9606"]});
        let rows = vec![
            json!({"n_cells": 10, "filter": f, "filtered_cell_count": 4, "filtered_donor_count": 1}),
            json!({"n_cells": null, "filter": f, "filtered_cell_count": null, "filtered_donor_count": null}),
            json!({"n_cells": 2000, "filter": f, "filtered_cell_count": 1500, "filtered_donor_count": 3}),
        ];
        let k = kept(&rows).unwrap();
        assert_eq!(k.filters, ["--organism 'Homo sapiens' --normal"]);
        assert_eq!(k.resolved.len(), 1);
        assert_eq!((k.cells, k.of_cells, k.files), (1504, 2010, 2));
        assert_eq!(k.cells_text, "1,504");
        assert!(kept(&[json!({"n_cells": 3})]).is_none());
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }
}
