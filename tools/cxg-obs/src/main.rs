use clap::Parser;

fn main() {
    let args = cxg_obs::Args::parse();
    let output = args.out.output.clone();
    cxg_core::cli::main_ctx("cxg-obs", output, |ctx| cxg_obs::run(args, ctx))
}
