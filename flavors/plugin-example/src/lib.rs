//! An example flavor plugin loaded through homeml's C ABI
