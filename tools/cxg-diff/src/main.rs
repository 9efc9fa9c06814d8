cxg_core::main!(cxg_diff);
