//! The fields of a dataset record that selection may read, left as JSON
//! text until an option needs one: a field is parsed (and its type
//! checked) only then, so that fields no option uses pass through whatever
//! they hold.

use cxg_catalog::facets::{Kind, FACETS};
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// One entry of a facet list: `{label, ontology_term_id, tissue_type}` or
/// a plain string (suspension_type).
#[derive(Default, Debug)]
pub(crate) struct Entry<'a> {
    pub id: Option<Cow<'a, str>>,
    pub label: Option<Cow<'a, str>>,
    pub tissue_type: Option<Cow<'a, str>>,
}

/// A string or null, borrowed from the input where it has no escapes.
struct OptStr<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for OptStr<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OptStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or null")
            }
            fn visit_borrowed_str<E: de::Error>(
                self,
                v: &'de str,
            ) -> std::result::Result<OptStr<'de>, E> {
                Ok(OptStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<OptStr<'de>, E> {
                Ok(OptStr(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<OptStr<'de>, E> {
                Ok(OptStr(None))
            }
            fn visit_none<E: de::Error>(self) -> std::result::Result<OptStr<'de>, E> {
                Ok(OptStr(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Entry<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entry<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an ontology term object or a string")
            }
            fn visit_borrowed_str<E: de::Error>(
                self,
                v: &'de str,
            ) -> std::result::Result<Entry<'de>, E> {
                Ok(Entry {
                    id: Some(Cow::Borrowed(v)),
                    ..Entry::default()
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Entry<'de>, E> {
                Ok(Entry {
                    id: Some(Cow::Owned(v.to_string())),
                    ..Entry::default()
                })
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<Entry<'de>, E> {
                Ok(Entry::default())
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<Entry<'de>, A::Error> {
                let mut e = Entry::default();
                while let Some(k) = m.next_key::<OptStr>()? {
                    match k.0.as_deref() {
                        Some("ontology_term_id") => e.id = m.next_value::<OptStr>()?.0,
                        Some("label") => e.label = m.next_value::<OptStr>()?.0,
                        Some("tissue_type") => e.tissue_type = m.next_value::<OptStr>()?.0,
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(e)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize, Default)]
struct PublisherMetadata {
    #[serde(default)]
    is_preprint: Option<bool>,
}

#[derive(Deserialize, Default)]
struct Collection {
    #[serde(default)]
    publisher_metadata: Option<PublisherMetadata>,
}

/// The facet whose record field a facet reads: the first of the table with
/// that field (`tissue` for `tissue-type`), so that a list read by two
/// facets is parsed once.
pub(crate) fn list_of(facet: usize) -> usize {
    let field = FACETS[facet].field;
    FACETS
        .iter()
        .position(|f| f.field == field)
        .unwrap_or(facet)
}

/// A record with the fields selection may read left as JSON text. See the
/// module documentation.
#[derive(Default)]
pub(crate) struct Rec<'a> {
    /// The facet lists, at [`list_of`] each facet.
    lists: [Option<&'a RawValue>; FACETS.len()],
    dataset_id: Option<&'a RawValue>,
    cell_count: Option<&'a RawValue>,
    collection: Option<&'a RawValue>,
    datasets: Option<&'a RawValue>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Rec<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Rec<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a dataset record (a JSON object)")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<Rec<'de>, A::Error> {
                let mut r = Rec::default();
                while let Some(k) = m.next_key::<OptStr>()? {
                    let Some(slot) = r.slot(k.0.as_deref().unwrap_or_default()) else {
                        m.next_value::<IgnoredAny>()?;
                        continue;
                    };
                    // the last of repeated keys counts, as in jq
                    *slot = Some(m.next_value::<&'de RawValue>()?);
                }
                Ok(r)
            }
        }
        d.deserialize_map(V)
    }
}

/// serde_json's message without its " at line L column C" suffix.
pub(crate) fn bare(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    msg.rsplit_once(" at line ")
        .map_or(msg.as_str(), |x| x.0)
        .to_string()
}

/// Field `raw` (`null` = absent) named `field`, parsed as `T`, or why it
/// is not one.
fn parse<'a, T: Deserialize<'a>>(
    raw: Option<&'a RawValue>,
    field: &str,
    what: &str,
) -> std::result::Result<Option<T>, String> {
    match raw {
        None => Ok(None),
        Some(r) => serde_json::from_str::<Option<T>>(r.get())
            .map_err(|e| format!("'{field}' is not {what}: {}", bare(&e))),
    }
}

impl<'a> Rec<'a> {
    /// Where the field named `key` is kept, if selection may read it.
    fn slot(&mut self, key: &str) -> Option<&mut Option<&'a RawValue>> {
        match key {
            "dataset_id" => Some(&mut self.dataset_id),
            "cell_count" => Some(&mut self.cell_count),
            "collection" => Some(&mut self.collection),
            "datasets" => Some(&mut self.datasets),
            _ => {
                let i = FACETS.iter().position(|f| f.field == key)?;
                Some(&mut self.lists[i])
            }
        }
    }

    /// The list facet `facet` reads.
    pub fn entries(&self, facet: usize) -> std::result::Result<Option<Vec<Entry<'a>>>, String> {
        let i = list_of(facet);
        let what = match FACETS[i].kind {
            Kind::Strings => "a list of strings",
            Kind::Terms | Kind::TissueType => "a list of ontology terms",
        };
        parse(self.lists[i], FACETS[i].field, what)
    }

    pub fn cell_count(&self) -> std::result::Result<Option<f64>, String> {
        parse(self.cell_count, "cell_count", "a number")
    }

    pub fn is_preprint(&self) -> std::result::Result<Option<bool>, String> {
        let c: Option<Collection> = parse(
            self.collection,
            "collection",
            "a collection with publisher_metadata.is_preprint true or false",
        )?;
        Ok(c.and_then(|c| c.publisher_metadata?.is_preprint))
    }

    /// The dataset_id, to name the record.
    pub fn id(&self) -> String {
        match self.dataset_id {
            None => "?".into(),
            Some(r) => match serde_json::from_str::<String>(r.get()) {
                Ok(s) => s,
                Err(_) => r.get().chars().take(60).collect(),
            },
        }
    }

    /// A collection (datasets and no dataset_id): input of the wrong stage.
    pub fn is_collection(&self) -> bool {
        self.datasets.is_some() && self.dataset_id.is_none()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn facet(option: &str) -> usize {
        FACETS.iter().position(|f| f.option == option).unwrap()
    }

    #[test]
    fn records_read_strings_objects_and_nulls() {
        let r: Rec = serde_json::from_str(
            r#"{"suspension_type":["cell",null],"tissue":[{"label":"lung","ontology_term_id":"UBERON:0002048","tissue_type":"tissue","x":[1]}],
                "cell_count":5.0e3,"collection":{"publisher_metadata":null},"other":{"deep":[1,2]}}"#,
        )
        .unwrap();
        let st = r.entries(facet("suspension-type")).unwrap().unwrap();
        assert_eq!(st[0].id.as_deref(), Some("cell"));
        let t = r.entries(facet("tissue")).unwrap().unwrap();
        assert_eq!(t[0].tissue_type.as_deref(), Some("tissue"));
        // tissue-type reads the tissue list
        let tt = r.entries(facet("tissue-type")).unwrap().unwrap();
        assert_eq!(tt[0].tissue_type.as_deref(), Some("tissue"));
        assert_eq!(r.cell_count(), Ok(Some(5000.0)));
        assert_eq!(r.is_preprint(), Ok(None));
        assert!(r.entries(facet("disease")).unwrap().is_none());
        // a field is type-checked only when read; the last of repeated keys counts
        let r: Rec =
            serde_json::from_str(r#"{"tissue":"lung","sex":3,"sex":[],"cell_count":1e400}"#)
                .unwrap();
        assert!(r
            .entries(facet("tissue"))
            .unwrap_err()
            .contains("'tissue' is not a list"));
        assert!(r.entries(facet("sex")).unwrap().unwrap().is_empty());
        assert!(r
            .cell_count()
            .unwrap_err()
            .contains("'cell_count' is not a number"));
        assert!(serde_json::from_str::<Rec>("[1]").is_err());
        assert_eq!(list_of(facet("tissue-type")), facet("tissue"));
    }
}
