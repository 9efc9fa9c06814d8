//! cxg-fetch: GET the curation API — all collections, the full datasets
//! index, or single full collections — and write the JSON only after it
//! was checked to be complete and of the expected shape.

use clap::{Parser, Subcommand};
use cxg_core::cli::{warn, OutputArgs, PrettyArgs};
use cxg_core::http::{Client, HttpArgs};
use cxg_core::ids::{id_in, IdKind};
use cxg_core::io::{Input, Output};
use cxg_core::json::{check_shape, minify, write_pretty, JsonStream};
use cxg_core::{Error, Outcome, Result};
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
fn fetch_list(client: &Client, path: &str, out: &mut Output, pretty: bool) -> Result<usize> {
    let body = client.get(path).map_err(|e| e.into_error())?;
    let url = format!("GET {}{path}", client.base());
    let n = check_shape(&url, &body, true).map_err(|e| Error::api(e.msg))?;
    write_json(out, &body, pretty)?;
    Ok(n)
}

fn write_json(out: &mut Output, body: &[u8], pretty: bool) -> Result<()> {
    let name = out.name();
    if pretty {
        let v: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| Error::api(format!("cannot re-read the response: {e}")))?;
        write_pretty(out, &v).map_err(|e| Error::write(&name, e))?;
    } else {
        let mut buf = Vec::new();
        minify(body, &mut buf);
        out.write_all(&buf).map_err(|e| Error::write(&name, e))?;
    }
    out.write_all(b"\n").map_err(|e| Error::write(&name, e))
}

/// Collection ids from stdin: JSON objects with `collection_id`, or one
/// id per line.
fn ids_from_stdin() -> Result<Vec<(String, String)>> {
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(Error::input(
            "no collection ids: give them as arguments, or pipe ids or collections JSON on stdin",
        ));
    }
    let input = Input::open(None)?;
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
    let mut ids = Vec::with_capacity(given.len());
    let mut bad = Vec::new();
    for (text, at) in given {
        match id_in(&text) {
            Some((IdKind::Bare | IdKind::Collection, id)) => {
                ids.push((id.to_ascii_lowercase(), at))
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
    out: &mut Output,
    pretty: bool,
) -> Result<Outcome> {
    let mut failed = 0usize;
    cxg_core::par::ordered_map(
        &ids,
        jobs,
        |_, (id, _)| {
            let path = format!("/collections/{id}");
            let body = client.get(&path)?;
            let url = format!("GET {}{path}", client.base());
            Ok::<_, cxg_core::http::HttpError>(check_collection(&url, id, &body).map(|_| body))
        },
        |k, r| match r {
            Ok(Ok(body)) => write_json(out, &body, pretty),
            Ok(Err(msg)) => {
                failed += 1;
                warn(format_args!("collection {}: {msg}", ids[k].0));
                Ok(())
            }
            Err(e) if e.service => Err(e.into_error()),
            Err(e) => {
                failed += 1;
                warn(format_args!("collection {}: {e}", ids[k].0));
                Ok(())
            }
        },
    )?;
    Ok(if failed == 0 {
        Outcome::Complete
    } else {
        Outcome::Partial(failed)
    })
}

pub fn run(args: Args) -> Result<Outcome> {
    // The output is checked first: a bad -o fails before any request.
    let mut out = Output::open(args.out.output.as_deref())?;
    let pretty = args.json.pretty;
    let command = args.command.unwrap_or(Command::Collections {
        visibility: "PUBLIC".into(),
    });
    let jobs = match &command {
        Command::Collection { jobs, .. } => usize::from(*jobs),
        _ => 1,
    };
    let client = Client::new(&args.http, jobs)?;
    let ids = match &command {
        Command::Collection { ids, .. } if ids.is_empty() || ids == &["-"] => {
            Some(collection_ids(ids_from_stdin()?)?)
        }
        Command::Collection { ids, .. } => Some(collection_ids(
            ids.iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), format!("argument {}", i + 1)))
                .collect(),
        )?),
        _ => None,
    };
    let outcome = match command {
        Command::Collections { visibility } => {
            if !query_value(&visibility) {
                return Err(Error::input(format!(
                    "--visibility '{visibility}': expected PUBLIC or PRIVATE"
                )));
            }
            fetch_list(
                &client,
                &format!("/collections?visibility={visibility}"),
                &mut out,
                pretty,
            )?;
            Outcome::Complete
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
            fetch_list(&client, &path, &mut out, pretty)?;
            Outcome::Complete
        }
        Command::Collection { .. } => {
            fetch_collections(&client, ids.unwrap_or_default(), jobs, &mut out, pretty)?
        }
    };
    out.finish()?;
    Ok(outcome)
}
