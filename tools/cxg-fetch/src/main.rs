cxg_core::main!(cxg_fetch);
