//! NumPy's `.npy` format, read as data: one-dimensional arrays of integers, floats, booleans and
//! fixed-width unicode strings (the class labels skops stores). Object arrays (pickles) are refused.

/// A one-dimensional array read from a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyArray {
    /// Any signed or unsigned integer dtype, widened.
    I64(Vec<i64>),
    /// `f4` or `f8`, widened.
    F64(Vec<f64>),
    /// `b1`.
    Bool(Vec<bool>),
    /// `U<n>` (UTF-32), trailing NULs removed.
    Str(Vec<String>),
}

impl NpyArray {
    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            NpyArray::I64(v) => v.len(),
            NpyArray::F64(v) => v.len(),
            NpyArray::Bool(v) => v.len(),
            NpyArray::Str(v) => v.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Parses a `.npy` file holding a one-dimensional array.
pub fn parse(bytes: &[u8]) -> Result<NpyArray, String> {
    let rest = bytes
        .strip_prefix(b"\x93NUMPY")
        .ok_or("not a .npy file (no magic)")?;
    let (major, rest) = rest.split_at_checked(2).ok_or("truncated .npy header")?;
    let (header_len, rest) = match major[0] {
        1 => {
            let (l, r) = rest.split_at_checked(2).ok_or("truncated .npy header")?;
            (u16::from_le_bytes([l[0], l[1]]) as usize, r)
        }
        2 | 3 => {
            let (l, r) = rest.split_at_checked(4).ok_or("truncated .npy header")?;
            (u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize, r)
        }
        v => {
            return Err(format!(
                ".npy format version {v} is not one homeml reads (1 to 3)"
            ))
        }
    };
    let (header, data) = rest
        .split_at_checked(header_len)
        .ok_or("truncated .npy header")?;
    let header = std::str::from_utf8(header).map_err(|_| ".npy header is not text")?;
    let descr = quoted_after(header, "'descr':").ok_or("the .npy header has no descr")?;
    if header.contains("'fortran_order': True") {
        return Err("fortran-ordered .npy arrays are not read".into());
    }
    let shape = header
        .split_once("'shape':")
        .and_then(|(_, s)| s.split_once('('))
        .and_then(|(_, s)| s.split_once(')'))
        .map(|(s, _)| s)
        .ok_or("the .npy header has no shape")?;
    let dims: Vec<usize> = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad .npy shape ({shape})"))
        })
        .collect::<Result<_, _>>()?;
    let [n] = dims[..] else {
        return Err(format!(
            "a .npy array of shape ({shape}), expected one dimension"
        ));
    };
    if descr.get(1..2) == Some("O") {
        return Err(
            "an object array (.npy dtype |O) is a Python pickle, which homeml never loads".into(),
        );
    }
    let (order, kind, size) = split_descr(descr)?;
    let need = n.checked_mul(size).ok_or("the .npy array is too large")?;
    let data = data
        .get(..need)
        .ok_or_else(|| format!("the .npy data is truncated: {} bytes of {need}", data.len()))?;
    if order == '>' && size > 1 {
        return Err(format!("big-endian .npy arrays ({descr}) are not read"));
    }
    let chunks = data.chunks_exact(size.max(1));
    Ok(match (kind, size) {
        ('i', 1 | 2 | 4 | 8) => NpyArray::I64(chunks.map(|c| le_int(c, true)).collect()),
        ('u', 1 | 2 | 4) => NpyArray::I64(chunks.map(|c| le_int(c, false)).collect()),
        ('f', 4) => NpyArray::F64(
            chunks
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
                .collect(),
        ),
        ('f', 8) => NpyArray::F64(
            chunks
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
        ),
        ('b', 1) => NpyArray::Bool(chunks.map(|c| c[0] != 0).collect()),
        ('U', _) => {
            let mut out = Vec::with_capacity(n);
            for c in chunks {
                let mut s = String::new();
                for u in c.chunks_exact(4) {
                    let code = u32::from_le_bytes([u[0], u[1], u[2], u[3]]);
                    if code == 0 {
                        break;
                    }
                    s.push(char::from_u32(code).ok_or("a .npy string holds a bad character")?);
                }
                out.push(s);
            }
            NpyArray::Str(out)
        }
        _ => return Err(format!(".npy dtype {descr:?} is not one homeml reads")),
    })
}

/// The text between quotes after `key`.
fn quoted_after<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let (_, rest) = header.split_once(key)?;
    let rest = rest.trim_start().strip_prefix('\'')?;
    rest.split_once('\'').map(|(s, _)| s)
}

/// `<i8` -> ('<', 'i', 8); `<U5` -> ('<', 'U', 20) (bytes per element).
fn split_descr(descr: &str) -> Result<(char, char, usize), String> {
    let mut chars = descr.chars();
    let order = chars.next().ok_or("empty .npy descr")?;
    let kind = chars.next().ok_or("short .npy descr")?;
    let n: usize = chars
        .as_str()
        .parse()
        .map_err(|_| format!(".npy dtype {descr:?} is not one homeml reads"))?;
    let size = if kind == 'U' {
        n.checked_mul(4).ok_or("bad .npy string width")?
    } else {
        n
    };
    if size == 0 || size > 1 << 16 {
        return Err(format!(".npy dtype {descr:?} is not one homeml reads"));
    }
    Ok((order, kind, size))
}

fn le_int(c: &[u8], signed: bool) -> i64 {
    let mut buf = [0u8; 8];
    buf[..c.len()].copy_from_slice(c);
    if signed && c.last().is_some_and(|b| b & 0x80 != 0) {
        buf[c.len()..].fill(0xFF);
    }
    i64::from_le_bytes(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, n: usize, data: &[u8]) -> Vec<u8> {
        let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({n},), }}\n");
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn reads_labels_of_each_kind() {
        let ints: Vec<u8> = [0i64, -2, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(
            parse(&npy("<i8", 3, &ints)).unwrap(),
            NpyArray::I64(vec![0, -2, 7])
        );
        let i4: Vec<u8> = [-1i32, 5].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(
            parse(&npy("<i4", 2, &i4)).unwrap(),
            NpyArray::I64(vec![-1, 5])
        );
        let f: Vec<u8> = [0.5f64, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(
            parse(&npy("<f8", 2, &f)).unwrap(),
            NpyArray::F64(vec![0.5, 2.0])
        );
        assert_eq!(
            parse(&npy("|b1", 2, &[0, 1])).unwrap(),
            NpyArray::Bool(vec![false, true])
        );
        let s: Vec<u8> = "ab\0c\0\0"
            .chars()
            .flat_map(|c| (c as u32).to_le_bytes())
            .collect();
        assert_eq!(
            parse(&npy("<U3", 2, &s)).unwrap(),
            NpyArray::Str(vec!["ab".into(), "c".into()])
        );
    }

    #[test]
    fn refuses_pickles_and_damage() {
        let err = parse(&npy("|O", 1, &[0; 8])).unwrap_err();
        assert!(err.contains("pickle"), "{err}");
        assert!(parse(&npy("<i8", 3, &[0; 16]))
            .unwrap_err()
            .contains("truncated"));
        assert!(parse(b"\x93NUMPY\x01\x00\xff\xff{").is_err());
        assert!(parse(b"PK\x03\x04").is_err());
        let two_d = b"\x93NUMPY\x01\x00\x40\x00{'descr': '<i8', 'fortran_order': False, 'shape': (1, 1), }    \n";
        assert!(parse(two_d).unwrap_err().contains("one dimension"));
    }
}
