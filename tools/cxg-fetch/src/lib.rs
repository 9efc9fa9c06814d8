//! cxg-fetch: GET the curation API — all collections, the full datasets
//! index, or single full collections — and write the JSON only after it
//! was checked to be complete and of the expected shape.

mod ids;

use clap::{Parser, Subcommand};
use cxg_core::cli::{OutputArgs, PrettyArgs};
use cxg_core::{Ctx, Error, Result};
use cxg_http::{Client, HttpArgs};
use cxg_json::raw::{self, Form, Tape};
use cxg_json::value::check_shape;
use std::io::Write;

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
        #[arg(short = 'j', long, default_value_t = 4, value_name = "N", value_parser = cxg_core::cli::jobs())]
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

/// Write one checked response, then a newline: compact (the whitespace
/// between tokens removed, every string and number as served) or
/// indented as `jq .` prints it (numbers as served, as cxg-split writes
/// them).
fn write_json(ctx: &mut Ctx, body: &[u8], pretty: bool) -> Result<()> {
    let form = if pretty { Form::Pretty } else { Form::Verbatim };
    let mut buf = Vec::with_capacity(body.len() + body.len() / 4 + 1);
    raw::scan(body, form, &mut buf, None)
        .map_err(|f| Error::api(format!("cannot re-read the response: {f}")))?;
    buf.push(b'\n');
    ctx.out.write_all(&buf).map_err(|e| ctx.out.error(e))
}

/// The answer for `GET /collections/{id}` must be that collection: a JSON
/// object whose `collection_id` is `id`.
fn check_collection(url: &str, id: &str, body: &[u8]) -> std::result::Result<(), String> {
    check_shape(url, body, false).map_err(|e| e.msg)?;
    let mut tape = Tape::new(1);
    raw::scan(body, Form::Check, &mut Vec::new(), Some(&mut tape))
        .map_err(|f| format!("{url}: {f}"))?;
    match tape.root(body).get("collection_id") {
        Some(got) if got.as_str().is_some_and(|g| g.eq_ignore_ascii_case(id)) => Ok(()),
        Some(other) => Err(format!(
            "{url}: the answer is collection {}, not the collection asked for",
            String::from_utf8_lossy(other.json())
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
    let client = Client::new(&args.http, jobs, ctx.diag.clone())?;
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
                ids::from_stdin(ctx)?
            } else {
                ids::from_args(&ids)
            };
            let ids = ids::collection_ids(ids, &ctx.diag)?;
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
    /// indented, one per line; numbers as served either way.
    #[test]
    fn responses_are_written_as_served() {
        let cases = [
            (
                r#"[ {"b": 1.50, "a": "x y\u00e9"} ]"#,
                false,
                "[{\"b\":1.50,\"a\":\"x y\\u00e9\"}]\n",
            ),
            (
                "{\"a\":[1,2]}",
                true,
                "{\n  \"a\": [\n    1,\n    2\n  ]\n}\n",
            ),
            (
                "[{\"n\": 1.50, \"e\": 1E2, \"big\": 123456789012345678901234567890}]",
                true,
                "[\n  {\n    \"n\": 1.50,\n    \"e\": 1E2,\n    \"big\": 123456789012345678901234567890\n  }\n]\n",
            ),
        ];
        for (body, pretty, want) in cases {
            let mut ctx = Ctx::memory(b"");
            write_json(&mut ctx, body.as_bytes(), pretty).unwrap();
            assert_eq!(String::from_utf8(ctx.output()).unwrap(), want, "{body}");
        }
    }
}
