cxg_core::main!(cxg_split);
