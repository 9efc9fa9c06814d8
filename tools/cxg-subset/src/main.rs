cxg_core::main!(cxg_subset);
