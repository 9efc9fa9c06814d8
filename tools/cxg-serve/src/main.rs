cxg_core::main!(cxg_serve);
