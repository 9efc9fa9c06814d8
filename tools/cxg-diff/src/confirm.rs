//! `--confirm-removed`: ask the API what became of each removed dataset.

use crate::compare::Record;
use crate::Change;
use cxg_catalog::ids::is_uuid;
use cxg_core::ctx::Diag;
use cxg_core::Result;
use cxg_http::{Client, HttpArgs};

/// Ask the API about every removed dataset: 410 means it was tombstoned,
/// 404 that the id is unknown, 200 that it is still served (the index left
/// it out). One that cannot be checked is a failed record, named on `diag`.
pub(crate) fn removed(
    http: &HttpArgs,
    jobs: usize,
    recs: &mut [Record],
    diag: &Diag,
) -> Result<()> {
    let at: Vec<usize> = (0..recs.len())
        .filter(|&i| recs[i].change == Change::Removed)
        .collect();
    if at.is_empty() {
        return Ok(());
    }
    let client = Client::new(http, jobs, diag.clone())?;
    let items: Vec<(String, String)> = at
        .iter()
        .map(|&i| (recs[i].collection_id.to_string(), recs[i].id.to_string()))
        .collect();
    let mut answers: Vec<Option<&'static str>> = vec![None; items.len()];
    cxg_core::par::ordered_map(
        &items,
        jobs,
        |_, (cid, did)| {
            if !is_uuid(cid) {
                return Err(None);
            }
            client
                .get(&format!("/collections/{cid}/datasets/{did}"))
                .map(|_| ())
                .map_err(Some)
        },
        |k, r| {
            let (cid, did) = &items[k];
            answers[k] = match r {
                Ok(()) => Some("still_served"),
                Err(Some(e)) if e.service => return Err(e.into_error()),
                Err(Some(e)) if e.status == Some(410) => Some("gone"),
                Err(Some(e)) if e.status == Some(404) => Some("not_found"),
                Err(Some(e)) => {
                    diag.fail(format_args!(
                        "dataset {did}: cannot confirm the removal: {e}"
                    ));
                    None
                }
                Err(None) => {
                    diag.fail(format_args!(
                        "dataset {did}: collection_id '{cid}' is not a UUID; removal not checked"
                    ));
                    None
                }
            };
            Ok(())
        },
    )?;
    for (k, &i) in at.iter().enumerate() {
        recs[i].removed_check = answers[k];
    }
    Ok(())
}
