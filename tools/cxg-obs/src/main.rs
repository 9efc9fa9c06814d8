cxg_core::main!(cxg_obs);
