//! Ages of development stages, in years, from the HsapDv and MmusDv guide
//! files: every stage term gets the range of ages it covers, `[lo, hi)`,
//! from its own words ("40-year-old stage", "over 40 and under 41 years
//! old", "8-week-old stage", "over 56 days and under 63 days old"), else
//! from its descendants (the smallest range holding theirs: "adult stage"
//! is 19 and over); a prenatal stage (the "prenatal stage" term and its
//! descendants: Carnegie and Theiler stages, weeks post-fertilization) is
//! before birth, `[-1, 0)`. A stage with no range (`unknown`, a stage of
//! another ontology) has none, and an age bound cannot tell for it.

use crate::folder::Ontologies;
use crate::ontology;
use cxg_core::{At, Error, Result};
use serde_json::Value;
use std::collections::HashMap;

/// The files ages come from, in the order they are read.
pub const AGE_ONTOLOGIES: [&str; 2] = ["HsapDv", "MmusDv"];

/// The ages a stage covers, in years: `lo <= age < hi` (`hi` may be
/// infinite). Before birth is `[-1, 0)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub lo: f64,
    pub hi: f64,
}

/// Before birth.
pub const PRENATAL: Span = Span { lo: -1.0, hi: 0.0 };

/// What an age bound says of a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every age of the stage is within the bounds.
    In,
    /// None is.
    Out,
    /// Some are, some are not, or the stage has no known age.
    Unknown,
}

/// `--min-age` / `--max-age`: ages `min <= age < max`, in years.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bounds {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Bounds {
    pub fn is_set(&self) -> bool {
        self.min.is_some() || self.max.is_some()
    }

    /// Whether a stage of ages `span` is within the bounds.
    pub fn judge(&self, span: Option<Span>) -> Verdict {
        let Some(s) = span else {
            return if self.is_set() {
                Verdict::Unknown
            } else {
                Verdict::In
            };
        };
        let mut v = Verdict::In;
        if let Some(min) = self.min {
            if s.hi <= min {
                return Verdict::Out;
            }
            if s.lo < min {
                v = Verdict::Unknown;
            }
        }
        if let Some(max) = self.max {
            if s.lo >= max {
                return Verdict::Out;
            }
            if s.hi > max {
                v = Verdict::Unknown;
            }
        }
        v
    }
}

/// The age range of every stage of the loaded HsapDv and MmusDv files.
#[derive(Debug, Default)]
pub struct Ages {
    spans: HashMap<String, Span>,
    /// The files read (`HsapDv v2025-01-23`), for the record.
    pub sources: Vec<String>,
}

impl Ages {
    /// Load HsapDv and MmusDv from the run's ontology folder; an error
    /// when it has neither (an age bound could then tell nothing).
    pub fn load(onts: &mut Ontologies) -> Result<Ages> {
        onts.load(&AGE_ONTOLOGIES)?;
        let mut ages = Ages::default();
        for o in onts.for_names(&AGE_ONTOLOGIES) {
            let json = ontology::read_json(&o.path)?;
            ages.add_json(&json)
                .at(format_args!("'{}': not an ontology file", o.path.display()))?;
            ages.sources.push(o.describe());
        }
        if ages.sources.is_empty() {
            return Err(Error::input(
                "--min-age and --max-age need the HsapDv and MmusDv files: make ontologies downloads them; --ontology DIR or CXG_ONTOLOGY names their folder",
            ));
        }
        Ok(ages)
    }

    /// The stages of one guide file's JSON text.
    pub fn add_json(&mut self, json: &[u8]) -> serde_json::Result<()> {
        let terms: HashMap<String, Value> = serde_json::from_slice(json)?;
        self.spans.extend(spans_of(&terms));
        Ok(())
    }

    /// The ages of the stage `id`; none when unknown.
    pub fn span(&self, id: &str) -> Option<Span> {
        self.spans.get(id).copied()
    }
}

fn text<'a>(t: &'a Value, key: &str) -> &'a str {
    t.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Every term's span: prenatal by ancestry, else its own words, else the
/// hull of its descendants'; a deprecated term takes its replacement's.
fn spans_of(terms: &HashMap<String, Value>) -> HashMap<String, Span> {
    let prenatal: Vec<&str> = terms
        .iter()
        .filter(|(_, t)| text(t, "label") == "prenatal stage")
        .map(|(id, _)| id.as_str())
        .collect();
    let ancestors = |t: &Value| -> Vec<String> {
        t.get("ancestors")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let mut own: HashMap<String, Span> = HashMap::new();
    for (id, t) in terms {
        let anc = ancestors(t);
        let span = if prenatal.contains(&id.as_str())
            || anc.iter().any(|a| prenatal.contains(&a.as_str()))
        {
            Some(PRENATAL)
        } else {
            parse(text(t, "label"), text(t, "description"))
        };
        if let Some(s) = span {
            own.insert(id.clone(), s);
        }
    }
    let mut all = own.clone();
    for (id, t) in terms {
        for a in ancestors(t) {
            let Some(s) = own.get(id) else { continue };
            if own.contains_key(&a) {
                continue;
            }
            let e = all.entry(a).or_insert(*s);
            e.lo = e.lo.min(s.lo);
            e.hi = e.hi.max(s.hi);
        }
    }
    for (id, t) in terms {
        let replaced = t.get("replaced_by").and_then(Value::as_str);
        if let Some(s) = replaced.and_then(|r| all.get(r).copied()) {
            if t.get("deprecated").and_then(Value::as_bool) == Some(true) {
                all.insert(id.clone(), s);
            }
        }
    }
    all
}

/// A unit of age, in years.
fn unit(w: &str) -> Option<f64> {
    match w {
        "year" | "years" | "yo" => Some(1.0),
        "month" | "months" => Some(1.0 / 12.0),
        "week" | "weeks" => Some(7.0 / 365.25),
        "day" | "days" => Some(1.0 / 365.25),
        _ => None,
    }
}

fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn num(w: &str) -> Option<f64> {
    w.parse::<u32>().ok().map(f64::from)
}

/// The ages a stage's label and description state; none when they state
/// none. In order: "over A [unit] and [is] under B unit" (description),
/// "within the first N unit", "(from) birth ... until N unit", the
/// label's "N-unit-old" ("and over": no upper end), "over N unit" (or
/// "over N" ending the text: years).
pub fn parse(label: &str, description: &str) -> Option<Span> {
    let d = words(description);
    over_under(&d)
        .or_else(|| first(&d))
        .or_else(|| until(&d))
        .or_else(|| n_old(&words(label)))
        .or_else(|| over(&d))
}

fn over_under(w: &[String]) -> Option<Span> {
    for i in 0..w.len() {
        if w[i] != "over" {
            continue;
        }
        let a = num(w.get(i + 1)?)?;
        let mut j = i + 2;
        let ua = w.get(j).and_then(|x| unit(x));
        if ua.is_some() {
            j += 1;
        }
        if w.get(j).map(String::as_str) != Some("and") {
            return None;
        }
        j += 1;
        if w.get(j).map(String::as_str) == Some("is") {
            j += 1;
        }
        if w.get(j).map(String::as_str) != Some("under") {
            return None;
        }
        let b = num(w.get(j + 1)?)?;
        let ub = unit(w.get(j + 2)?)?;
        return Some(Span {
            lo: a * ua.unwrap_or(ub),
            hi: b * ub,
        });
    }
    None
}

fn first(w: &[String]) -> Option<Span> {
    let i = w
        .windows(2)
        .position(|p| p[0] == "the" && p[1] == "first")?;
    let n = num(w.get(i + 2)?)?;
    let u = unit(w.get(i + 3)?)?;
    Some(Span { lo: 0.0, hi: n * u })
}

fn until(w: &[String]) -> Option<Span> {
    let b = w.iter().position(|x| x == "birth")?;
    let i = b + w[b..].iter().position(|x| x == "until")?;
    let n = num(w.get(i + 1)?)?;
    let u = unit(w.get(i + 2)?)?;
    Some(Span { lo: 0.0, hi: n * u })
}

fn n_old(w: &[String]) -> Option<Span> {
    let i = w.iter().position(|x| x == "old")?;
    if i < 2 {
        return None;
    }
    let u = unit(&w[i - 1])?;
    let n = num(&w[i - 2])?;
    // "3-6 month-old": a range, stated by the description, not here
    if i >= 3 && num(&w[i - 3]).is_some() {
        return None;
    }
    let over = w[i + 1..]
        .windows(2)
        .any(|p| p[0] == "and" && p[1] == "over");
    Some(Span {
        lo: n * u,
        hi: if over { f64::INFINITY } else { (n + 1.0) * u },
    })
}

fn over(w: &[String]) -> Option<Span> {
    let i = w.iter().position(|x| x == "over")?;
    let n = num(w.get(i + 1)?)?;
    // HsapDv ends a sentence in years without the word: "who is over 19."
    let u = match w.get(i + 2) {
        None => 1.0,
        Some(u) => unit(u)?,
    };
    Some(Span {
        lo: n * u,
        hi: f64::INFINITY,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const Y: f64 = 1.0;
    const D: f64 = 1.0 / 365.25;
    const M: f64 = 1.0 / 12.0;

    fn span(lo: f64, hi: f64) -> Option<Span> {
        Some(Span { lo, hi })
    }

    /// Real labels and descriptions of HsapDv and MmusDv (v2025-01-23).
    #[test]
    fn stage_words() {
        let inf = f64::INFINITY;
        #[rustfmt::skip]
        let cases: [(&str, &str, Option<Span>); 12] = [
            ("40-year-old stage", "Adult stage that refers to an adult who is over 40 and under 41 years old.", span(40.0, 41.0)),
            ("40-year-old stage", "", span(40.0 * Y, 41.0 * Y)),
            ("80 year-old and over stage", "Aged stage that refers to an adult who is over 80 years old.", span(80.0, inf)),
            ("90 year-old and over stage", "Human stage that refers to an adult who is over 90.", span(90.0, inf)),
            ("8-week-old stage", "Mouse stage that refers to a mouse which is over 56 days and under 63 days old.", span(56.0 * D, 63.0 * D)),
            ("8-week-old stage", "", span(56.0 * D, 63.0 * D)),
            ("20-month-old stage and over", "Mouse stage that refers to a mouse which is over 20 months old.", span(20.0 * M, inf)),
            ("infant stage", "Immature stage that refers to an infant who is over 28 days and is under 12 months old.", span(28.0 * D, 12.0 * M)),
            ("newborn stage (0-28 days)", "Immature stage that refers to a human newborn within the first 28 days of life.", span(0.0, 28.0 * D)),
            ("immature stage", "Mouse developmental stage that covers the period from birth until 5 weeks old.", span(0.0, 35.0 * D)),
            ("3-6 month-old mature stage", "Mature stage that refers to a mouse which is over 3 and under 7 months old.", span(3.0 * M, 7.0 * M)),
            ("adult stage", "Human developmental stage that refers to a sexually mature human.", None),
        ];
        for (label, desc, want) in cases {
            let got = parse(label, desc);
            match (got, want) {
                (Some(g), Some(w)) => assert!(
                    (g.lo - w.lo).abs() < 1e-9 && (g.hi == w.hi || (g.hi - w.hi).abs() < 1e-9),
                    "{label}: {g:?} != {w:?}"
                ),
                _ => assert_eq!(got, want, "{label}"),
            }
        }
    }

    #[test]
    fn bounds() {
        let b = |min, max| Bounds { min, max };
        let s = |lo, hi| Some(Span { lo, hi });
        #[rustfmt::skip]
        let cases = [
            (b(Some(18.0), None), s(18.0, 19.0), Verdict::In),
            (b(Some(18.0), None), s(17.0, 18.0), Verdict::Out),
            (b(Some(18.0), None), s(15.0, 20.0), Verdict::Unknown),
            (b(Some(18.0), None), None, Verdict::Unknown),
            (b(None, Some(65.0)), s(64.0, 65.0), Verdict::In),
            (b(None, Some(65.0)), s(65.0, 66.0), Verdict::Out),
            (b(None, Some(65.0)), s(60.0, 70.0), Verdict::Unknown),
            (b(Some(0.0), None), Some(PRENATAL), Verdict::Out),
            (b(None, None), None, Verdict::In),
        ];
        for (bounds, span, want) in cases {
            assert_eq!(bounds.judge(span), want, "{bounds:?} {span:?}");
        }
    }

    /// Descendants give a stage its range; prenatal by ancestry; a
    /// deprecated stage takes its replacement's.
    #[test]
    fn ranges_from_descendants() {
        let json = br#"{
          "X:0": {"label": "life cycle", "ancestors": {}},
          "X:1": {"label": "prenatal stage", "ancestors": {"X:0": 1}},
          "X:2": {"label": "Carnegie stage 01", "ancestors": {"X:1": 1, "X:0": 2}},
          "X:3": {"label": "adult stage", "description": "a sexually mature human", "ancestors": {"X:0": 1}},
          "X:4": {"label": "19-year-old stage", "ancestors": {"X:3": 1, "X:0": 2}},
          "X:5": {"label": "80 year-old and over stage", "ancestors": {"X:3": 1, "X:0": 2}},
          "X:6": {"label": "obsolete adult", "deprecated": true, "replaced_by": "X:3", "ancestors": {}}
        }"#;
        let mut ages = Ages::default();
        ages.add_json(json).unwrap();
        assert_eq!(ages.span("X:2"), Some(PRENATAL));
        assert_eq!(ages.span("X:3"), span(19.0, f64::INFINITY));
        assert_eq!(ages.span("X:0"), span(-1.0, f64::INFINITY));
        assert_eq!(ages.span("X:6"), span(19.0, f64::INFINITY));
        assert_eq!(ages.span("unknown"), None);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod real_files {
    use super::*;

    /// The folder `make ontologies` fills; None (a skip, a failure under
    /// CI=true) when it lacks HsapDv or MmusDv.
    fn ages() -> Option<Ages> {
        let dir = std::path::PathBuf::from(std::env::var_os("HOME")?).join(".cache/cxg/ontology");
        let mut ages = Ages::default();
        for name in AGE_ONTOLOGIES {
            let file = std::fs::read_dir(&dir).ok().and_then(|d| {
                d.flatten().map(|e| e.path()).find(|p| {
                    p.file_name().is_some_and(|f| {
                        f.to_string_lossy()
                            .starts_with(&format!("{name}-ontology-"))
                    })
                })
            });
            let Some(file) = file else {
                assert!(
                    std::env::var_os("CI").is_none_or(|v| v.is_empty()),
                    "cannot skip in CI (CI is set): no {name} file in {} (make ontologies)",
                    dir.display()
                );
                eprintln!(
                    "skipped: no {name} file in {} (make ontologies)",
                    dir.display()
                );
                return None;
            };
            ages.add_json(&ontology::read_json(&file).unwrap()).unwrap();
        }
        Some(ages)
    }

    /// The ranges of real stages, from the real files.
    #[test]
    fn real_stages() {
        let Some(a) = ages() else { return };
        let inf = f64::INFINITY;
        let (d, m) = (1.0 / 365.25, 1.0 / 12.0);
        #[rustfmt::skip]
        let cases: [(&str, f64, f64); 10] = [
            ("HsapDv:0000134", 40.0, 41.0),        // 40-year-old stage
            ("HsapDv:0000095", 80.0, inf),         // 80 year-old and over stage
            ("HsapDv:0000087", 19.0, inf),         // adult stage (deprecated): "over 19."
            ("HsapDv:0000258", 15.0, inf),         // adult stage: its descendants'
            ("HsapDv:0000015", -1.0, 0.0),         // organogenesis stage: prenatal
            ("HsapDv:0000262", 0.0, 28.0 * d),     // newborn stage (0-28 days)
            ("MmusDv:0000154", 56.0 * d, 63.0 * d),// 8-week-old stage
            ("MmusDv:0000027", -1.0, 0.0),         // Theiler stage 20
            ("MmusDv:0000091", 20.0 * m, inf),     // 20-month-old stage and over
            ("MmusDv:0000110", 42.0 * d, inf),     // mature stage: over 6 weeks
        ];
        for (id, lo, hi) in cases {
            let s = a.span(id).unwrap_or_else(|| panic!("{id}: no span"));
            assert!(
                (s.lo - lo).abs() < 1e-9 && (s.hi == hi || (s.hi - hi).abs() < 1e-9),
                "{id}: {s:?}"
            );
        }
        assert_eq!(a.span("unknown"), None);
    }
}
