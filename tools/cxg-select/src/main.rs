use clap::Parser;

fn main() {
    let args = cxg_select::Args::parse();
    let output = args.out.output.clone();
    cxg_core::cli::main_ctx("cxg-select", output, |ctx| cxg_select::run(args, ctx))
}
