//! The ELF check a plugin library passes before the dynamic loader sees it (headers, segments, sections
//! and the dynamic table inside the file, the machine and type right).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = homeml_flavor::plugin::check_elf(data);
});
