//! The report on stderr: each value's resolution and its matches, the
//! values that matched nothing, the fields records lacked, what
//! --no-preprints and --min-cells removed, records in and out; and, when a
//! value was found neither in an ontology nor in the data, the error that
//! ends the run, with the closest known labels.

use crate::select::{Selection, Tally};
use cxg_catalog::facets::FACETS;
use cxg_core::ctx::Diag;
use cxg_core::Error;
use cxg_terms::folder::Ontologies;
pub(crate) use cxg_terms::report::{plural, quote};
use cxg_terms::resolve::{find_id, in_branch, names_of, Sel};
use cxg_terms::suggest;

/// The report of a run that selected.
pub(crate) fn summary(sel: &Selection, tally: &Tally, onts: &Ontologies, diag: &Diag) {
    for s in &sel.sels {
        diag.warn(format_args!(
            "{} {}: {}: {}",
            s.option(),
            quote(&s.given),
            s.desc,
            plural(s.matched, "record", "records")
        ));
    }
    for s in sel.sels.iter().filter(|s| s.matched == 0) {
        match where_the_data_is(s, tally, onts) {
            Some(there) => diag.warn(format_args!(
                "warning: {} {}: {there}",
                s.option(),
                quote(&s.given)
            )),
            None => diag.warn(format_args!(
                "warning: {} {} matches no record",
                s.option(),
                quote(&s.given)
            )),
        }
    }
    missing(tally, diag);
    removed(sel, tally, diag);
    diag.warn(format_args!(
        "{} records in, {} out",
        tally.n_in, tally.n_out
    ));
}

/// When an included value resolved to a term no record has, where the
/// data is: the terms of the data, not its descendants, whose label or
/// synonym holds the value's word (`'zone of skin' (UBERON:0000014): 0
/// datasets; 'skin of body' (UBERON:0002097) has 14`), most records first.
fn where_the_data_is(s: &Sel, tally: &Tally, onts: &Ontologies) -> Option<String> {
    let (id, label) = s.term.as_ref().filter(|_| !s.exclude)?;
    let given = s.given.trim().to_lowercase();
    // an id given: the words of its label
    let word = if given.contains(':') || given.contains('_') {
        label.to_lowercase()
    } else {
        given
    };
    let fonts = onts.for_names(s.of().ontologies);
    let holds = |tid: &str, tlabel: &str| {
        tlabel.to_lowercase().contains(&word)
            || find_id(&fonts, tid).is_some_and(|h| {
                h.o.synonyms_of(&h.t)
                    .iter()
                    .any(|y| y.to_lowercase().contains(&word))
            })
    };
    let mut there: Vec<(&String, &String, usize)> = tally.terms[s.facet]
        .iter()
        .filter(|(tid, (tl, n))| *n > 0 && *tid != id && holds(tid, tl))
        .map(|(tid, (tl, n))| (tid, tl, *n))
        .collect();
    if there.is_empty() {
        return None;
    }
    there.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
    let named: Vec<String> = there
        .iter()
        .take(3)
        .map(|(tid, tl, n)| format!("'{tl}' ({tid}) has {n}"))
        .collect();
    Some(format!(
        "'{label}' ({id}): 0 datasets; {} (not its descendant{}: name it to select it)",
        named.join("; "),
        if named.len() > 1 { "s" } else { "" }
    ))
}

/// Values of facets whose ontology files are absent: an error naming
/// each with what is missing, unless --no-ontology said it is intended.
pub(crate) fn cannot_expand(sels: &[Sel], onts: &Ontologies) -> cxg_core::Result<()> {
    let named: Vec<String> = sels
        .iter()
        .filter(|s| s.unexpanded)
        .map(|s| {
            let why = match &onts.dir {
                None => "no ontology folder".to_string(),
                Some(d) => format!(
                    "no {} file in '{}'",
                    s.of().ontologies.join(" or "),
                    d.display()
                ),
            };
            format!("{} {} ({why})", s.option(), quote(&s.given))
        })
        .collect();
    if named.is_empty() {
        return Ok(());
    }
    Err(Error::input(format!(
        "{}: without the ontology file, such a value matches only the records that name that very term, \
         none of its descendants (a tissue's parts, a disease's subtypes); make ontologies fetches the files \
         (--ontology DIR or CXG_ONTOLOGY names the folder), or give --no-ontology to select so on purpose",
        named.join(", ")
    )))
}

/// The records that lacked the field of a facet given a value.
fn missing(tally: &Tally, diag: &Diag) {
    for &(f, n) in tally.missing.iter().filter(|m| m.1 > 0) {
        let fname = FACETS[f].field;
        let hint = if matches!(
            fname,
            "cell_type" | "development_stage" | "sex" | "self_reported_ethnicity"
        ) {
            " (dataset previews from GET /collections lack it; the GET /datasets index has it)"
        } else {
            ""
        };
        diag.warn(format_args!(
            "warning: {} without '{fname}' cannot match --{}{hint}",
            plural(n, "record", "records"),
            FACETS[f].option
        ));
    }
}

/// What --no-preprints and --min-cells removed and kept.
fn removed(sel: &Selection, tally: &Tally, diag: &Diag) {
    if sel.no_preprints {
        diag.warn(format_args!(
            "--no-preprints: {} removed; {} of unknown preprint status kept",
            plural(tally.preprints, "preprint", "preprints"),
            plural(tally.preprint_unknown, "record", "records")
        ));
    }
    if let Some(min) = sel.min_cells {
        diag.warn(format_args!(
            "--min-cells {min}: {} with fewer cells removed; {} without cell_count kept{}",
            plural(tally.few_cells, "record", "records"),
            plural(tally.no_count, "record", "records"),
            if tally.no_count > 0 {
                " (dataset previews have none; the GET /datasets index has it)"
            } else {
                ""
            }
        ));
    }
}

/// The error of a run in which values were found neither in an ontology
/// nor in the data: each named, with the closest known labels and, when it
/// is a term another facet uses, that facet. Nothing was written: the held
/// records go with the temporary file.
pub(crate) fn unconfirmed(sel: &Selection, tally: &Tally, onts: &Ontologies) -> Error {
    let msgs: Vec<String> = sel
        .sels
        .iter()
        .filter(|s| s.needs_data && s.matched == 0)
        .map(|s| no_such_value(s, &tally.seen[s.facet], onts))
        .collect();
    Error::input(msgs.join("; "))
}

fn no_such_value(s: &Sel, seen: &std::collections::BTreeSet<String>, onts: &Ontologies) -> String {
    let f = s.of();
    let fonts = onts.for_names(f.ontologies);
    // (text compared, label suggested): labels, then synonyms
    let mut cands: Vec<(&str, &str)> = f.vocabulary.iter().map(|v| (*v, *v)).collect();
    for o in &fonts {
        cands.extend(o.current().map(|(l, _)| (l, l)));
    }
    cands.extend(seen.iter().map(|v| (v.as_str(), v.as_str())));
    for o in &fonts {
        for (l, syns) in o.current() {
            cands.extend(syns.into_iter().map(|y| (y, l)));
        }
    }
    let sugg = suggest::closest(&s.given, &cands, 3);
    let known = if fonts.is_empty() {
        "in the data".to_string()
    } else {
        format!("in {} nor in the data", names_of(&fonts))
    };
    let dym = if sugg.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = sugg.iter().map(|x| format!("'{x}'")).collect();
        format!(" (did you mean {}?)", list.join(", "))
    };
    format!(
        "{} {}: no such value {known}{dym}{}",
        s.option(),
        quote(&s.given),
        elsewhere(onts, s.facet, &s.given)
    )
}

/// A value that is a term of an ontology other facets use: `; it is
/// UBERON:0002048 'lung' of UBERON v…, a value for --tissue or
/// --development-stage`.
fn elsewhere(onts: &Ontologies, facet: usize, given: &str) -> String {
    let own = FACETS[facet].ontologies;
    let v = given.trim();
    let lc = v.to_lowercase();
    let mut found: Vec<String> = Vec::new();
    for o in onts
        .loaded
        .iter()
        .filter(|o| !own.contains(&o.name.as_str()))
    {
        let hit = find_id(&[o], v)
            .map(|h| h.t)
            .or_else(|| o.by_label(&lc).into_iter().chain(o.by_synonym(&lc)).next());
        let Some(t) = hit else { continue };
        let opts: Vec<String> = FACETS
            .iter()
            .enumerate()
            .filter(|(i, f)| {
                *i != facet
                    && f.ontologies.contains(&o.name.as_str())
                    && in_branch(o, &t, f.roots, &onts.diag).unwrap_or(true)
            })
            .map(|(_, f)| format!("--{}", f.option))
            .collect();
        if opts.is_empty() {
            continue;
        }
        found.push(format!(
            "{} '{}' of {}, a value for {}",
            t.id,
            t.label,
            o.describe(),
            opts.join(" or ")
        ));
        if found.len() == 3 {
            break;
        }
    }
    if found.is_empty() {
        String::new()
    } else {
        format!("; it is {}", found.join("; and "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_plurals() {
        assert_eq!(quote("UBERON:0002048"), "UBERON:0002048");
        assert_eq!(quote("lung parenchyma"), "'lung parenchyma'");
        assert_eq!(quote(""), "''");
        assert_eq!(plural(1, "record", "records"), "1 record");
        assert_eq!(plural(0, "record", "records"), "0 records");
    }
}
