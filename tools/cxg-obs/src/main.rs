use clap::Parser;

fn main() {
    let args = cxg_obs::Args::parse();
    cxg_core::cli::main_with("cxg-obs", || cxg_obs::run(args))
}
