use clap::Parser;

fn main() {
    let args = cxg_diff::Args::parse();
    let output = args.out.output.clone();
    cxg_core::cli::main_ctx("cxg-diff", output, |ctx| cxg_diff::run(args, ctx))
}
