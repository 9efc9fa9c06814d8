//! cxg-fetch: GET the curation API — all collections, the full datasets
//! index, or single full collections — and write the JSON only after it
//! was checked to be complete and of the expected shape.

use clap::{Parser, Subcommand};
use cxg_catalog::ids::{id_in, IdKind};
use cxg_core::cli::{OutputArgs, PrettyArgs};
use cxg_core::Ctx;
use cxg_core::{Error, Result};
use cxg_http::{Client, HttpArgs};
use cxg_json::stream::{check_shape, minify, write_pretty, JsonStream};
use std::io::{BufRead, BufReader, Read, Write};

const EXAMPLES: &str = "\
  # every public collection (the default command)
  cxg-fetch -o collections.json

  # the full index of public datasets: title, cell_count, assets, collection
  cxg-fetch datasets -o datasets_index.json

  # full collections (datasets with assets) as JSON Lines, 8 at a time
  cxg-fetch collection ceb895f4-ff9f-403a-b7c3-187a9657ac2c
  jq -r '.[].collection_id' collections.json | cxg-fetch collection -j 8 > full.jsonl

  # offline, against the local server
  cxg-serve --port 0 tests/fixtures/snapshot   # prints http://127.0.0.1:PORT/curation/v1
  cxg-fetch --api-url http://127.0.0.1:PORT/curation/v1 collections --pretty";

/// GET the CZ CELLxGENE Discover curation API and write checked JSON.
#[derive(Parser, Debug)]
#[command(name = "cxg-fetch", version, after_help = cxg_core::cli::after_help(EXAMPLES))]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub json: PrettyArgs,
    #[command(flatten)]
    pub http: HttpArgs,
}

impl cxg_core::cli::ToolArgs for Args {
    fn output(&self) -> Option<&std::path::Path> {
        self.out.output.as_deref()
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// GET /collections: every collection, one JSON array (the default)
    Collections {
        /// PUBLIC (default) or PRIVATE (needs a token the tool does not send)
        #[arg(long, default_value = "PUBLIC")]
        visibility: String,
    },
    /// GET /datasets: the full index of public datasets, one JSON array
    Datasets {
        /// Only datasets of this schema version (X, X.Y or X.Y.Z)
        #[arg(long, value_name = "VERSION")]
        schema_version: Option<String>,
    },
    /// GET /collections/ID for each ID: full collections as JSON Lines
    Collection {
        /// Collection ids or collection URLs (as in the CSV's collection_url);
        /// none or `-` reads stdin: one per line, or JSON (an array or JSON
        /// Lines) of objects with `collection_id`
        ids: Vec<String>,
        /// Requests in flight at once
        #[arg(short = 'j', long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
        jobs: u16,
    },
}

fn query_value(v: &str) -> bool {
    !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
}

/// GET a list endpoint, check it is an array of objects, write it.
fn fetch_list(client: &Client, path: &str, ctx: &mut Ctx, pretty: bool) -> Result<usize> {
    let body = client.get(path).map_err(|e| e.into_error())?;
    let url = format!("GET {}{path}", client.base());
    let n = check_shape(&url, &body, true).map_err(|e| Error::api(e.msg))?;
    write_json(ctx, &body, pretty)?;
    Ok(n)
}

/// Write one checked response: compact (whitespace removed, every byte of
/// every value kept) or indented, then a newline.
fn write_json(ctx: &mut Ctx, body: &[u8], pretty: bool) -> Result<()> {
    let r = if pretty {
        let v: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| Error::api(format!("cannot re-read the response: {e}")))?;
        write_pretty(&mut ctx.out, &v)
    } else {
        let mut buf = Vec::with_capacity(body.len() + 1);
        minify(body, &mut buf);
        ctx.out.write_all(&buf)
    };
    r.and_then(|()| ctx.out.write_all(b"\n"))
        .map_err(|e| ctx.out.error(e))
}

/// Collection ids from stdin: JSON objects with `collection_id`, or one
/// id per line.
fn ids_from_stdin(ctx: &mut Ctx) -> Result<Vec<(String, String)>> {
    let input = ctx.input(None)?;
    let mut r = BufReader::new(input.reader);
    let first = loop {
        let buf = r
            .fill_buf()
            .map_err(|e| Error::input(format!("cannot read stdin: {e}")))?;
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => break Some(buf[i]),
            None if buf.is_empty() => break None,
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    };
    let mut ids = Vec::new();
    match first {
        None => {}
        Some(b'[') | Some(b'{') => {
            let mut s = JsonStream::new("stdin", r);
            while let Some((at, v)) = s.next_value()? {
                match v.get("collection_id").and_then(|c| c.as_str()) {
                    Some(id) => ids.push((id.to_string(), format!("stdin line {}", at.line))),
                    None => {
                        return Err(Error::input(format!(
                            "stdin: line {}: element {} has no string collection_id",
                            at.line, at.index
                        )))
                    }
                }
            }
        }
        Some(_) => {
            let mut text = String::new();
            r.read_to_string(&mut text)
                .map_err(|e| Error::input(format!("cannot read stdin: {e}")))?;
            for (i, line) in text.lines().enumerate() {
                let id = line.trim();
                if !id.is_empty() && !id.starts_with('#') {
                    ids.push((id.to_string(), format!("stdin line {}", i + 1)));
                }
            }
        }
    }
    Ok(ids)
}

/// The collection id each argument or line names: a UUID or a collection
/// URL. Anything else (a dataset URL, a typo) is refused before any request.
fn collection_ids(given: Vec<(String, String)>) -> Result<Vec<(String, String)>> {
    let mut ids: Vec<(String, String)> = Vec::with_capacity(given.len());
    let mut seen = std::collections::HashMap::new();
    let mut repeated = Vec::new();
    let mut bad = Vec::new();
    for (text, at) in given {
        // a byte-order mark (from an editor) is not part of an id
        let text = text.trim_start_matches('\u{feff}').to_string();
        match id_in(&text) {
            Some((IdKind::Bare | IdKind::Collection, id)) => {
                let id = id.to_ascii_lowercase();
                match seen.get(&id) {
                    Some(first) => {
                        if repeated.len() < 10 {
                            repeated.push(format!("{at} repeats {id} of {first}"));
                        }
                    }
                    None => {
                        seen.insert(id.clone(), at.clone());
                    }
                }
                ids.push((id, at));
            }
            Some((IdKind::Dataset, id)) => bad.push(format!(
                "{at}: '{text}' names dataset {id}, not a collection"
            )),
            None => bad.push(format!("{at}: '{text}'")),
        }
    }
    if !bad.is_empty() {
        return Err(Error::input(format!(
            "not a collection id (a UUID or a collection URL such as \
             https://cellxgene.cziscience.com/collections/<uuid>): {}",
            bad.join(", ")
        )));
    }
    if !repeated.is_empty() {
        cxg_core::cli::warn(format_args!(
            "{} collection id{} given more than once (each is fetched and written as often as given): {}",
            ids.len() - seen.len(),
            if ids.len() - seen.len() == 1 { "" } else { "s" },
            repeated.join(", ")
        ));
    }
    Ok(ids)
}

/// The answer for `GET /collections/{id}` must be that collection: a JSON
/// object whose `collection_id` is `id`.
fn check_collection(url: &str, id: &str, body: &[u8]) -> std::result::Result<(), String> {
    check_shape(url, body, false).map_err(|e| e.msg)?;
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("{url}: {e}"))?;
    match v.get("collection_id") {
        Some(serde_json::Value::String(got)) if got.eq_ignore_ascii_case(id) => Ok(()),
        Some(other) => Err(format!(
            "{url}: the answer is collection {other}, not the collection asked for"
        )),
        None => Err(format!(
            "{url}: the answer has no collection_id: it is not a collection"
        )),
    }
}

fn fetch_collections(
    client: &Client,
    ids: Vec<(String, String)>,
    jobs: usize,
    ctx: &mut Ctx,
    pretty: bool,
) -> Result<()> {
    cxg_core::par::ordered_map(
        &ids,
        jobs,
        |_, (id, _)| {
            let path = format!("/collections/{id}");
            let body = client.get(&path)?;
            let url = format!("GET {}{path}", client.base());
            let checked = check_collection(&url, id, &body);
            match &checked {
                Ok(()) => client.good_answer(),
                Err(why) => {
                    if let Some(down) = client.bad_answer(&format!("{}{path}", client.base()), why)
                    {
                        return Err(down);
                    }
                }
            }
            Ok::<_, cxg_http::HttpError>(checked.map(|_| body))
        },
        |k, r| match r {
            Ok(Ok(body)) => write_json(ctx, &body, pretty),
            Ok(Err(msg)) => {
                ctx.diag
                    .fail(format_args!("collection {}: {msg}", ids[k].0));
                Ok(())
            }
            Err(e) if e.service => Err(e.into_error()),
            Err(e) => {
                ctx.diag.fail(format_args!("collection {}: {e}", ids[k].0));
                Ok(())
            }
        },
    )
}

/// GET what the command asks for and write it to the context's output
/// (checked before this is called: a bad -o fails before any request).
pub fn run(args: Args, ctx: &mut Ctx) -> Result<()> {
    let pretty = args.json.pretty;
    let command = args.command.unwrap_or(Command::Collections {
        visibility: "PUBLIC".into(),
    });
    let jobs = match &command {
        Command::Collection { jobs, .. } => usize::from(*jobs),
        _ => 1,
    };
    let client = Client::new(&args.http, jobs)?.with_notify(ctx.diag.clone());
    match command {
        Command::Collections { visibility } => {
            if !query_value(&visibility) {
                return Err(Error::input(format!(
                    "--visibility '{visibility}': expected PUBLIC or PRIVATE"
                )));
            }
            let path = format!("/collections?visibility={visibility}");
            fetch_list(&client, &path, ctx, pretty)?;
        }
        Command::Datasets { schema_version } => {
            let path = match schema_version {
                Some(v) if !query_value(&v) => {
                    return Err(Error::input(format!(
                        "--schema-version '{v}': expected X, X.Y or X.Y.Z"
                    )))
                }
                Some(v) => format!("/datasets?schema_version={v}"),
                None => "/datasets".to_string(),
            };
            fetch_list(&client, &path, ctx, pretty)?;
        }
        Command::Collection { ids, .. } => {
            let ids = if ids.is_empty() || ids == ["-"] {
                if ctx.stdin_is_terminal() {
                    // waiting for ids typed on a terminal would look like a hang
                    return Err(Error::input(
                        "no collection ids: give them as arguments, or pipe ids or collections JSON on stdin",
                    ));
                }
                collection_ids(ids_from_stdin(ctx)?)?
            } else {
                collection_ids(
                    ids.iter()
                        .enumerate()
                        .map(|(i, id)| (id.clone(), format!("argument {}", i + 1)))
                        .collect(),
                )?
            };
            fetch_collections(&client, ids, jobs, ctx, pretty)?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const C: &str = "6e2974ee-853a-4444-b781-01a428af919f";
    const D: &str = "781bd1e1-bddd-4d9c-aa52-e77450c51ed9";

    /// Ids read from literal stdin, then checked: (stdin, ids or error).
    #[test]
    fn ids_from_stdin_and_urls() {
        let url = format!("https://cellxgene.cziscience.com/collections/{C}");
        let cases: Vec<(String, std::result::Result<Vec<&str>, &str>)> = vec![
            (
                format!("\u{feff}{C}\r\n# a comment\n\n  {C}  \n"),
                Ok(vec![C, C]),
            ),
            (format!("{url}\n"), Ok(vec![C])),
            (format!("{}\n", C.to_uppercase()), Ok(vec![C])),
            (
                format!("[{{\"collection_id\":\"{C}\",\"x\":1}}]"),
                Ok(vec![C]),
            ),
            (
                format!("{{\"collection_id\":\"{C}\"}}\n{{\"collection_id\":\"{C}\"}}\n"),
                Ok(vec![C, C]),
            ),
            (String::new(), Ok(vec![])),
            ("not-an-id\n".into(), Err("stdin line 1: 'not-an-id'")),
            (
                format!("https://cellxgene.cziscience.com/e/{D}.cxg/\n"),
                Err("names dataset 781bd1e1"),
            ),
            (
                "[{\"name\":1}]".into(),
                Err("element 0 has no string collection_id"),
            ),
        ];
        for (stdin, want) in cases {
            let mut ctx = Ctx::memory(stdin.as_bytes());
            let got = ids_from_stdin(&mut ctx).and_then(collection_ids);
            match (got, want) {
                (Ok(ids), Ok(want)) => {
                    let ids: Vec<&str> = ids.iter().map(|(i, _)| i.as_str()).collect();
                    assert_eq!(ids, want, "{stdin:?}");
                }
                (Err(e), Err(want)) => assert!(e.msg.contains(want), "{stdin:?}: {}", e.msg),
                (got, want) => panic!(
                    "{stdin:?}: got {:?}, wanted {want:?}",
                    got.map_err(|e| e.msg)
                ),
            }
        }
    }

    /// What a GET /collections/{id} answer must be: (body, error or not).
    #[test]
    fn answers_must_be_the_collection_asked_for() {
        let other = "00000000-0000-4000-8000-000000000000";
        let cases = [
            (
                format!("{{\"collection_id\":\"{C}\",\"datasets\":[]}}"),
                None,
            ),
            (
                format!("{{\"collection_id\":\"{}\"}}", C.to_uppercase()),
                None,
            ),
            (
                format!("{{\"collection_id\":\"{other}\"}}"),
                Some("not the collection asked for"),
            ),
            (
                "{\"error\":\"x\"}".to_string(),
                Some("has no collection_id"),
            ),
            ("{\"collection_id\":7}".to_string(), Some("collection 7")),
            ("[]".to_string(), Some("expected a JSON object")),
            ("{\"collection_id\":".to_string(), Some("truncated")),
            (String::new(), Some("empty response body")),
        ];
        for (body, want) in cases {
            let got = check_collection("GET u", C, body.as_bytes());
            match (got, want) {
                (Ok(()), None) => {}
                (Err(e), Some(w)) => assert!(e.contains(w), "{body}: {e}"),
                (got, want) => panic!("{body}: got {got:?}, wanted {want:?}"),
            }
        }
    }

    /// Responses are written compact (as served, whitespace dropped) or
    /// indented, one per line.
    #[test]
    fn responses_are_written_as_served() {
        let cases = [
            (
                r#"[ {"b": 1.50, "a": "x y"} ]"#,
                false,
                "[{\"b\":1.50,\"a\":\"x y\"}]\n",
            ),
            (
                "{\"a\":[1,2]}",
                true,
                "{\n  \"a\": [\n    1,\n    2\n  ]\n}\n",
            ),
        ];
        for (body, pretty, want) in cases {
            let mut ctx = Ctx::memory(b"");
            write_json(&mut ctx, body.as_bytes(), pretty).unwrap();
            assert_eq!(String::from_utf8(ctx.output()).unwrap(), want, "{body}");
        }
    }
}
