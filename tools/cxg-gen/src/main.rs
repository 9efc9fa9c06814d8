cxg_core::main!(cxg_gen);
