use clap::Parser;

fn main() {
    let args = cxg_fetch::Args::parse();
    let output = args.out.output.clone();
    cxg_core::cli::main_ctx("cxg-fetch", output, |ctx| cxg_fetch::run(args, ctx))
}
