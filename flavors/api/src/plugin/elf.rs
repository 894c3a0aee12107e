//! A check of a plugin file's ELF structure before it is handed to the dynamic loader.
//!
//! The dynamic loader maps a library's segments as the program headers describe them and trusts the
//! file to hold them: a library cut short (a partial copy, a full disk) is mapped past its end, and the
//! first touch of a missing page kills the process with SIGBUS before any error can be reported. This
//! module reads the headers with plain bounds-checked reads (no unsafe code, nothing mapped) and
//! refuses a file whose headers, segments, sections or dynamic table do not lie inside it, or which is
//! not a shared library for this machine. It does not make a library safe to run: a well-formed
//! library still runs its code when loaded.

/// Why a file is not a loadable ELF shared library.
pub(super) type Refusal = String;

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const SHT_NOBITS: u32 = 8;
const ET_DYN: u16 = 3;
const DT_NULL: u64 = 0;

/// The `e_machine` of the machine this was compiled for, when known.
fn host_machine() -> Option<u16> {
    match std::env::consts::ARCH {
        "x86" => Some(3),
        "x86_64" => Some(62),
        "arm" => Some(40),
        "aarch64" => Some(183),
        "powerpc" => Some(20),
        "powerpc64" => Some(21),
        "s390x" => Some(22),
        "riscv64" | "riscv32" => Some(243),
        "loongarch64" => Some(258),
        _ => None,
    }
}

/// Bounds-checked little- or big-endian reads of the file's bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    big_endian: bool,
    wide: bool,
}

impl Reader<'_> {
    fn take<const N: usize>(&self, at: u64) -> Result<[u8; N], Refusal> {
        let start = usize::try_from(at).map_err(|_| format!("offset {at} is out of range"))?;
        start
            .checked_add(N)
            .and_then(|end| self.bytes.get(start..end))
            .and_then(|s| <[u8; N]>::try_from(s).ok())
            .ok_or_else(|| {
                format!(
                    "the file ends at byte {} but its headers need byte {}",
                    self.bytes.len(),
                    at.saturating_add(N as u64)
                )
            })
    }

    fn u16(&self, at: u64) -> Result<u16, Refusal> {
        let b = self.take::<2>(at)?;
        Ok(if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32(&self, at: u64) -> Result<u32, Refusal> {
        let b = self.take::<4>(at)?;
        Ok(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn u64(&self, at: u64) -> Result<u64, Refusal> {
        let b = self.take::<8>(at)?;
        Ok(if self.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }

    /// A word: 8 bytes in a 64-bit file, 4 in a 32-bit one.
    fn word(&self, at: u64) -> Result<u64, Refusal> {
        if self.wide {
            self.u64(at)
        } else {
            self.u32(at).map(u64::from)
        }
    }

    /// Whether `[offset, offset + len)` lies inside the file.
    fn contains(&self, offset: u64, len: u64) -> bool {
        offset
            .checked_add(len)
            .is_some_and(|end| end <= self.bytes.len() as u64)
    }
}

/// Checks that `bytes` (a whole file) is an ELF shared library for this machine whose program
/// headers, segments, dynamic table and section headers all lie inside the file.
pub(super) fn check_shared_library(bytes: &[u8]) -> Result<(), Refusal> {
    if bytes.len() < 16 || &bytes[..4] != b"\x7fELF" {
        return Err("not an ELF file (no ELF magic number)".into());
    }
    let wide = match bytes[4] {
        1 => false,
        2 => true,
        c => return Err(format!("unknown ELF class {c}")),
    };
    if wide != cfg!(target_pointer_width = "64") {
        return Err(format!(
            "a {}-bit library cannot be loaded by this {}-bit program",
            if wide { 64 } else { 32 },
            if wide { 32 } else { 64 }
        ));
    }
    let big_endian = match bytes[5] {
        1 => false,
        2 => true,
        d => return Err(format!("unknown ELF data encoding {d}")),
    };
    if big_endian != cfg!(target_endian = "big") {
        return Err("the library's byte order is not this machine's".into());
    }
    let r = Reader {
        bytes,
        big_endian,
        wide,
    };
    // ELF header field offsets: (32-bit, 64-bit).
    let at = |narrow: u64, wide64: u64| if wide { wide64 } else { narrow };
    let e_type = r.u16(16)?;
    if e_type != ET_DYN {
        return Err(format!(
            "not a shared library (ELF type {e_type}, a shared library has {ET_DYN})"
        ));
    }
    let machine = r.u16(18)?;
    if let Some(host) = host_machine() {
        if machine != host {
            return Err(format!(
                "built for another machine (ELF machine {machine}, this one is {host})"
            ));
        }
    }
    let phoff = r.word(at(28, 32))?;
    let shoff = r.word(at(32, 40))?;
    let phentsize = u64::from(r.u16(at(42, 54))?);
    let phnum = u64::from(r.u16(at(44, 56))?);
    let shentsize = u64::from(r.u16(at(46, 58))?);
    let mut shnum = u64::from(r.u16(at(48, 60))?);

    // Program headers: in the file, each segment's file bytes in the file.
    let ph_size = at(32, 56);
    if phnum == 0 || phentsize < ph_size {
        return Err(format!(
            "no usable program headers ({phnum} of {phentsize} bytes each)"
        ));
    }
    if !r.contains(phoff, phnum * phentsize) {
        return Err(format!(
            "the file ends at byte {} but its {phnum} program headers end at byte {}",
            bytes.len(),
            phoff.saturating_add(phnum * phentsize)
        ));
    }
    let mut loads = 0;
    let mut dynamic = None;
    for i in 0..phnum {
        let h = phoff + i * phentsize;
        let p_type = r.u32(h)?;
        let (offset, filesz, memsz) = if wide {
            (r.u64(h + 8)?, r.u64(h + 32)?, r.u64(h + 40)?)
        } else {
            (
                u64::from(r.u32(h + 4)?),
                u64::from(r.u32(h + 16)?),
                u64::from(r.u32(h + 20)?),
            )
        };
        if !r.contains(offset, filesz) {
            return Err(format!(
                "the file ends at byte {} but segment {i} (type {p_type:#x}) needs bytes up to {}: the file is truncated",
                bytes.len(),
                offset.saturating_add(filesz)
            ));
        }
        if p_type == PT_LOAD {
            if filesz > memsz {
                return Err(format!(
                    "segment {i} has more bytes in the file ({filesz}) than in memory ({memsz})"
                ));
            }
            loads += 1;
        }
        if p_type == PT_DYNAMIC {
            dynamic = Some((offset, filesz));
        }
    }
    if loads == 0 {
        return Err("no loadable segment".into());
    }
    let Some((dyn_offset, dyn_size)) = dynamic else {
        return Err("no dynamic section: not a shared library".into());
    };
    // The dynamic table: entries of two words, ending with DT_NULL inside the segment.
    let entry = at(8, 16);
    let mut terminated = false;
    for k in 0..dyn_size / entry {
        if r.word(dyn_offset + k * entry)? == DT_NULL {
            terminated = true;
            break;
        }
    }
    if !terminated {
        return Err("the dynamic table has no end (DT_NULL) inside its segment".into());
    }

    // Section headers (optional for loading, but present in any library a toolchain wrote; a file
    // whose section headers are cut off is truncated).
    if shoff != 0 {
        let sh_size = at(40, 64);
        if shentsize < sh_size {
            return Err(format!(
                "section headers of {shentsize} bytes (at least {sh_size} needed)"
            ));
        }
        if shnum == 0 {
            // Extended numbering: the count is in section 0's sh_size.
            shnum = r.word(shoff + at(20, 32))?;
        }
        if !r.contains(shoff, shnum.saturating_mul(shentsize)) {
            return Err(format!(
                "the file ends at byte {} but its {shnum} section headers end at byte {}: the file is truncated",
                bytes.len(),
                shoff.saturating_add(shnum.saturating_mul(shentsize))
            ));
        }
        for i in 0..shnum {
            let h = shoff + i * shentsize;
            let sh_type = r.u32(h + 4)?;
            let offset = r.word(h + at(16, 24))?;
            let size = r.word(h + at(20, 32))?;
            if sh_type != SHT_NOBITS && sh_type != 0 && !r.contains(offset, size) {
                return Err(format!(
                    "the file ends at byte {} but section {i} needs bytes up to {}: the file is truncated",
                    bytes.len(),
                    offset.saturating_add(size)
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This test binary itself: an ELF executable, but not a shared library.
    fn own_exe() -> Vec<u8> {
        std::fs::read(std::env::current_exe().unwrap()).unwrap()
    }

    #[test]
    fn refuses_garbage_and_short_files() {
        for bad in [
            &b""[..],
            b"\x7fEL",
            b"\x7fELF but not really",
            b"MZ\x90\x00 a windows file",
            &[0u8; 4096],
        ] {
            let err = check_shared_library(bad).unwrap_err();
            assert!(!err.is_empty());
        }
        let mut header = own_exe()[..64].to_vec();
        header[16] = ET_DYN as u8;
        header[17] = 0;
        let err = check_shared_library(&header).unwrap_err();
        assert!(err.contains("program headers"), "{err}");
    }

    #[test]
    fn refuses_truncations_of_a_real_elf_file() {
        // This test binary: a position-independent executable has the same layout as a library.
        let exe = own_exe();
        for cut in [100, 1_000, 5_000, exe.len() / 2, exe.len() - 1] {
            assert!(check_shared_library(&exe[..cut]).is_err(), "cut at {cut}");
        }
    }
}
