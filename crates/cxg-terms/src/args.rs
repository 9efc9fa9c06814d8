//! The facet options of a command line, generated from the catalogue's
//! facet table (`--<option>` and `--exclude-<option>` for each facet).

use clap::{Arg, ArgAction, ArgMatches, Command, FromArgMatches};
use cxg_catalog::facets::{Facet, Kind, FACETS};

/// The values given to one facet option.
#[derive(Debug, Clone)]
pub struct Request {
    /// The facet's index in [`FACETS`].
    pub facet: usize,
    /// `--exclude-<option>`.
    pub exclude: bool,
    pub values: Vec<String>,
}

/// The facet options: `--<option>` and `--exclude-<option>` for every
/// facet of [`FACETS`], built from the table (so that adding a facet is
/// one entry there). The options given, includes (in table order) then
/// excludes.
#[derive(Debug, Default, Clone)]
pub struct FacetArgs(pub Vec<Request>);

const SELECT: &str = "Select (repeat an option to OR its values)";
const EXCLUDE: &str = "Exclude (a record goes if any of its terms matches)";

/// The option's name: `tissue` or `exclude-tissue`.
pub fn option_name(f: &Facet, exclude: bool) -> String {
    if exclude {
        format!("exclude-{}", f.option)
    } else {
        f.option.to_string()
    }
}

fn facet_arg(f: &Facet, exclude: bool) -> Arg {
    let name = option_name(f, exclude);
    let (help, heading) = if exclude {
        (f.exclude_help, EXCLUDE)
    } else {
        (f.help, SELECT)
    };
    Arg::new(name.clone())
        .long(name)
        .value_name(match f.kind {
            Kind::Terms => "TERM",
            Kind::TissueType | Kind::Strings => "TYPE",
        })
        .help(help)
        .help_heading(heading)
        .action(ArgAction::Append)
        .value_parser(clap::value_parser!(String))
}

impl clap::Args for FacetArgs {
    fn augment_args(cmd: Command) -> Command {
        let args = [false, true]
            .into_iter()
            .flat_map(|exclude| FACETS.iter().map(move |f| facet_arg(f, exclude)));
        cmd.args(args)
    }
    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for FacetArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut given = FacetArgs::default();
        given.update_from_arg_matches(m)?;
        Ok(given)
    }
    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        let mut requests = Vec::new();
        for exclude in [false, true] {
            for (facet, f) in FACETS.iter().enumerate() {
                // defined above as strings (as derived arguments are read)
                let values: Vec<String> = m
                    .get_many::<String>(&option_name(f, exclude))
                    .map(|v| v.cloned().collect())
                    .unwrap_or_default();
                if !values.is_empty() {
                    requests.push(Request {
                        facet,
                        exclude,
                        values,
                    });
                }
            }
        }
        self.0 = requests;
        Ok(())
    }
}
