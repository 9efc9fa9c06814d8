//! What the server answers: a request target routed to a file of the
//! snapshot or a problem status, with the injected faults applied to the
//! requests `--fail-first`/`--fail-every` pick, and a line in `--log`.

use crate::args::Fault;
use crate::assets;
use crate::http::{problem, respond, Request};
use crate::State;
use cxg_catalog::ids::is_uuid;
use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// What a request resolves to before faults are applied.
pub(crate) enum Route {
    File(PathBuf),
    Problem(u16, String),
}

const NOT_FOUND: &str = "The requested URL was not found on the server.";

pub(crate) fn route(st: &State, path: &str, query: &str) -> Route {
    let dir = &st.args.dir;
    let Some(rest) = path.strip_prefix("/curation/v1/") else {
        return Route::Problem(404, NOT_FOUND.into());
    };
    let segs: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let bad_id = |id: &str| Route::Problem(403, format!("Invalid collection or dataset id: {id}"));
    let gone = || Route::Problem(410, "Resource has been removed".into());
    match segs.as_slice() {
        ["collections"] => {
            if query
                .split('&')
                .any(|kv| kv.eq_ignore_ascii_case("visibility=PRIVATE"))
            {
                return Route::Problem(403, "PRIVATE collections need an access token".into());
            }
            Route::File(dir.join("collections.json"))
        }
        ["datasets"] => {
            // a harvest snapshot (cxg-snapshot) names the index as it was fetched
            let plain = dir.join("datasets.json");
            let saved = dir.join("datasets_index.json");
            Route::File(if !plain.exists() && saved.exists() {
                saved
            } else {
                plain
            })
        }
        ["collections", cid] => {
            if !is_uuid(cid) {
                bad_id(cid)
            } else if st.gone.contains(*cid) {
                gone()
            } else {
                Route::File(dir.join("collections").join(format!("{cid}.json")))
            }
        }
        ["collections", cid, "datasets", did] => {
            if let Some(id) = [cid, did].into_iter().find(|id| !is_uuid(id)) {
                bad_id(id)
            } else if st.gone.contains(*cid) || st.gone.contains(*did) {
                gone()
            } else {
                Route::File(
                    dir.join("collections")
                        .join(cid)
                        .join("datasets")
                        .join(format!("{did}.json")),
                )
            }
        }
        _ => Route::Problem(404, NOT_FOUND.into()),
    }
}

/// An answer before it is sent: status, body, content type, and headers
/// beyond those.
struct Answer {
    status: u16,
    body: Vec<u8>,
    ctype: &'static str,
    extra: Vec<(&'static str, String)>,
}

impl Answer {
    fn problem(status: u16, detail: &str) -> Answer {
        Answer {
            status,
            body: problem(status, detail),
            ctype: "application/problem+json",
            extra: Vec::new(),
        }
    }
}

/// Answer one request; returns whether the connection may be kept open.
pub(crate) fn handle(st: &State, req: &Request, w: &mut TcpStream) -> std::io::Result<bool> {
    let n = st.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    if st.args.latency_ms > 0 {
        std::thread::sleep(Duration::from_millis(st.args.latency_ms));
    }
    let a = &st.args;
    // requests --fail-match selects count for faults; this one may get one
    let counts = a.fail_match.as_deref().is_none_or(|m| path.contains(m));
    let fault = counts && {
        let k = st.matching.fetch_add(1, Ordering::SeqCst) + 1;
        k <= a.fail_first || (a.fail_every > 0 && k % a.fail_every == 0)
    };
    if req.method == "GET" && !(fault && a.fault == Fault::Status) {
        if let Some(name) = path.strip_prefix("/assets/") {
            let faults = assets::Faults {
                truncate: fault && a.fault == Fault::Truncate,
                no_range: counts && a.no_range,
                wrong_size: counts && a.wrong_size,
                rate: if counts { a.rate } else { 0 },
            };
            let log = |status, note: &str| log(st, n, &req.method, &req.target, status, note);
            return assets::serve(
                st,
                name,
                (req.range.as_deref(), req.if_range.as_deref()),
                faults,
                w,
                &log,
            );
        }
    }
    let answer = answer(st, req, (path, query), fault);
    // a fault other than a status applies to what would have been a 200
    let fault = (fault && answer.status == 200).then_some(a.fault);
    let note = match fault {
        Some(Fault::Status) | None => String::new(),
        Some(f) => format!(" fault={f:?}"),
    };
    log(st, n, &req.method, &req.target, answer.status, &note);
    send(st, w, answer, fault)
}

/// The answer to a request that is not for an asset: 405 for anything
/// but GET, the injected status fault, or what the route gives.
fn answer(st: &State, req: &Request, (path, query): (&str, &str), fault: bool) -> Answer {
    let a = &st.args;
    if req.method != "GET" {
        return Answer::problem(405, "Only GET is supported");
    }
    if fault && a.fault == Fault::Status {
        let mut answer = Answer::problem(a.fail_status, "injected fault");
        if let Some(s) = a.retry_after {
            let after = if a.retry_after_date {
                httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(s))
            } else {
                s.to_string()
            };
            answer.extra.push(("Retry-After", after));
        }
        return answer;
    }
    match route(st, path, query) {
        Route::Problem(s, d) => Answer::problem(s, &d),
        Route::File(p) => match std::fs::read(&p) {
            Ok(b) => Answer {
                status: 200,
                body: if a.local_assets {
                    assets::rewrite_urls(&b, &st.asset_base)
                } else {
                    b
                },
                ctype: "application/json",
                extra: Vec::new(),
            },
            Err(_) => Answer::problem(404, "Not found"),
        },
    }
}

/// Send `answer`, or the 200 fault that replaces it; returns whether the
/// connection may be kept open.
fn send(
    st: &State,
    w: &mut TcpStream,
    answer: Answer,
    fault: Option<Fault>,
) -> std::io::Result<bool> {
    let Answer {
        status,
        body,
        ctype,
        extra,
    } = answer;
    match fault {
        Some(Fault::WrongShape) => {
            let body = br#"{"error":"injected fault: this is not the record asked for"}"#;
            respond(w, 200, "application/json", body, &extra)?;
            Ok(true)
        }
        Some(Fault::WrongId) => {
            respond(w, 200, "application/json", &wrong_id(&body), &extra)?;
            Ok(true)
        }
        Some(f @ (Fault::Truncate | Fault::Endless | Fault::GzipBomb)) => {
            let _ = respond_fault(st, w, f, &body);
            Ok(false)
        }
        Some(Fault::Status) | None => {
            respond(w, status, ctype, &body, &extra)?;
            Ok(true)
        }
    }
}

/// Send what a 200 fault sends; the connection is closed afterwards.
fn respond_fault(st: &State, w: &mut TcpStream, fault: Fault, body: &[u8]) -> std::io::Result<()> {
    match fault {
        Fault::Truncate => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            w.write_all(head.as_bytes())?;
            w.write_all(&body[..body.len() / 2])?;
        }
        Fault::Endless => {
            w.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n[",
            )?;
            let chunk = b"{\"endless\":true},".repeat(4096);
            // Until the client goes away (a write fails), or an hour passed.
            let until = Instant::now() + Duration::from_secs(3600);
            while Instant::now() < until {
                w.write_all(&chunk)?;
            }
        }
        Fault::GzipBomb => {
            let bomb = st.bomb.as_deref().unwrap_or_default();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                bomb.len()
            );
            w.write_all(head.as_bytes())?;
            w.write_all(bomb)?;
        }
        Fault::Status | Fault::WrongShape | Fault::WrongId => {}
    }
    w.flush()?;
    w.shutdown(std::net::Shutdown::Both)
}

/// The record (or each record of an array) with its `collection_id` and
/// `dataset_id` replaced by another id.
fn wrong_id(body: &[u8]) -> Vec<u8> {
    const OTHER: &str = "00000000-0000-4000-8000-000000000000";
    fn swap(v: &mut serde_json::Value) {
        if let Some(o) = v.as_object_mut() {
            for k in ["collection_id", "dataset_id"] {
                if o.contains_key(k) {
                    o.insert(k.into(), OTHER.into());
                }
            }
        }
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut v) => {
            match &mut v {
                serde_json::Value::Array(items) => items.iter_mut().for_each(swap),
                other => swap(other),
            }
            v.to_string().into_bytes()
        }
        Err(_) => body.to_vec(),
    }
}

/// One line of `--log`: `N METHOD TARGET STATUS[NOTE]`.
pub(crate) fn log(st: &State, n: u64, method: &str, target: &str, status: u16, note: &str) {
    if let Some(log) = &st.log {
        if let Ok(mut f) = log.lock() {
            let _ = writeln!(f, "{n} {method} {target} {status}{note}");
        }
    }
}
