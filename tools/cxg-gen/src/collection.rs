//! One collection record, as the API serves it in full (without its
//! datasets): with the awkward cases of the real API (null or empty
//! publisher_metadata, consortium authors, quotes, newlines and unicode in
//! names, missing optional keys, unknown extra fields). Every value is
//! drawn in a fixed order: the same seed gives the same bytes.

use crate::rng::Rng;
use crate::vocab::{CONSORTIA, FAMILIES, GIVENS, JOURNALS, TOPICS};
use cxg_core::time::civil_date;
use serde_json::{json, Map, Value};

/// 2019-01-01, the earliest creation time.
pub(crate) const T0: i64 = 1_546_300_800;

/// An ISO-8601 timestamp with microseconds, as the 2024 API wrote them.
pub(crate) fn timestamp(secs: i64, micros: u64) -> String {
    let (y, m, d) = civil_date(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}+00:00",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

/// Collection number `i`: its record, and when it was published (its
/// datasets are published after).
pub(crate) fn collection(rng: &mut Rng, i: usize) -> (Map<String, Value>, i64) {
    let cid = rng.uuid();
    let cvid = rng.uuid();
    let topic = *rng.pick(TOPICS);
    let created = T0 + rng.below(5 * 365 * 86_400) as i64;
    let published = created + rng.below(30 * 86_400) as i64;
    let year = civil_date(published.div_euclid(86_400)).0;
    let mut c = Map::new();
    c.insert("collection_id".into(), json!(cid));
    c.insert(
        "collection_url".into(),
        json!(format!(
            "https://cellxgene.cziscience.com/collections/{cid}"
        )),
    );
    c.insert("collection_version_id".into(), json!(cvid));
    c.insert(
        "consortia".into(),
        if i % 3 == 0 {
            json!([])
        } else {
            json!([rng.pick(CONSORTIA)])
        },
    );
    c.insert("contact_email".into(), json!(format!("lab{i}@example.org")));
    c.insert(
        "contact_name".into(),
        json!(format!("{} {}", rng.pick(GIVENS), rng.pick(FAMILIES))),
    );
    c.insert(
        "created_at".into(),
        json!(timestamp(created, rng.below(1_000_000))),
    );
    if i % 9 != 4 {
        c.insert("curator_name".into(), json!(rng.pick(GIVENS)));
    }
    c.insert(
        "description".into(),
        json!(format!(
            "Profiles of the {topic}, with commas, \"quotes\"\nand newlines."
        )),
    );
    let doi = format!("10.{}/gen.{year}.{i:05}", 1000 + rng.below(9000));
    let pm = publisher_metadata(rng, i, published);
    c.insert(
        "doi".into(),
        if pm.is_null() {
            Value::Null
        } else {
            json!(doi)
        },
    );
    c.insert(
        "links".into(),
        json!([{"link_name": "", "link_type": "RAW_DATA", "link_url": format!("https://www.ncbi.nlm.nih.gov/geo/query/acc.cgi?acc=GSE{}", 100_000 + i)}]),
    );
    c.insert("name".into(), json!(name(topic, i)));
    c.insert(
        "published_at".into(),
        json!(timestamp(published, rng.below(1_000_000))),
    );
    c.insert("publisher_metadata".into(), pm);
    revisions(rng, i, published, &mut c);
    if i % 4 == 0 {
        c.insert(
            "x_unknown_future_field".into(),
            json!({"nested": [1, "two", null]}),
        );
    }
    (c, published)
}

/// The name of collection `i`: every sixth with quotes, a comma, an
/// ampersand and a newline; others in French and Chinese.
fn name(topic: &str, i: usize) -> String {
    match i % 6 {
        0 => format!("Atlas of \"human\" {topic}, airway & nose\nsecond line ({i})"),
        3 => format!("Étude unicellulaire du {topic} — 细胞图谱 {i}"),
        _ => format!("A single-cell atlas of the {topic} {i}"),
    }
}

/// The publication of collection `i`: null for some, `{}` for others,
/// else authors (a consortium first in some), journal and date.
fn publisher_metadata(rng: &mut Rng, i: usize, published: i64) -> Value {
    match (i % 7, i % 11) {
        (1, _) => Value::Null,
        (_, 2) => json!({}),
        _ => {
            let mut authors = Vec::new();
            if i % 5 == 3 {
                authors.push(json!({"name": rng.pick(CONSORTIA)}));
            }
            for _ in 0..1 + rng.below(4) {
                authors.push(json!({"family": rng.pick(FAMILIES), "given": rng.pick(GIVENS)}));
            }
            let journal = *rng.pick(JOURNALS);
            let (y, m, d) = civil_date(published.div_euclid(86_400));
            json!({
                "authors": authors,
                "is_preprint": journal == "bioRxiv",
                "journal": journal,
                "published_at": (published - published.rem_euclid(86_400)) as f64,
                "published_day": d,
                "published_month": m,
                "published_year": y
            })
        }
    }
}

/// `revised_at` (a time for some, null for others; missing, with
/// `curator_name`, for every ninth), the revision links (always null) and
/// the visibility.
fn revisions(rng: &mut Rng, i: usize, published: i64, c: &mut Map<String, Value>) {
    if i % 9 != 4 {
        let revised = if i % 2 == 0 {
            json!(timestamp(
                published + rng.below(200 * 86_400) as i64,
                rng.below(1_000_000)
            ))
        } else {
            Value::Null
        };
        c.insert("revised_at".into(), revised);
    }
    c.insert("revising_in".into(), Value::Null);
    c.insert("revision_of".into(), Value::Null);
    c.insert("visibility".into(), json!("PUBLIC"));
}
