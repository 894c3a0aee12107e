//! Conversions of parsed JSON numbers (`serde_json::Number`) to typed elements: the one definition of
//! how a float or an integer element is read from a JSON number, shared by every reader.

use serde_json::Number;

/// A JSON number as a float element (integers widen with `as`, which rounds to nearest, ties to even).
#[inline]
pub fn number_to_f64(n: &Number) -> Option<f64> {
    n.as_f64()
}

/// A float read for an integer element: whole and within the `i64` range.
pub fn whole(x: f64) -> Result<i64, &'static str> {
    if x.fract() == 0.0 && x.is_finite() && x >= i64::MIN as f64 && x <= i64::MAX as f64 {
        Ok(x as i64)
    } else {
        Err("an integer (the value has a fraction or is out of range)")
    }
}

/// A JSON number as an integer element: exact integers, and floats without a fraction within the `i64`
/// range. The error says what the element should have been.
#[inline]
pub fn number_to_i64(n: &Number) -> Result<i64, &'static str> {
    match n.as_i64() {
        Some(i) => Ok(i),
        None => n.as_f64().map_or(Err("an integer"), whole),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(text: &str) -> Number {
        serde_json::from_str(text).expect("a number")
    }

    #[test]
    fn floats_and_integers_convert_as_documented() {
        assert_eq!(number_to_f64(&num("5.1")), Some(5.1));
        assert_eq!(number_to_f64(&num("7")), Some(7.0));
        assert!(number_to_f64(&num("-0")).is_some_and(|x| x == 0.0));
        assert_eq!(number_to_i64(&num("-12")), Ok(-12));
        assert_eq!(number_to_i64(&num("3.0")), Ok(3));
        assert_eq!(number_to_i64(&num("1e3")), Ok(1000));
        assert!(number_to_i64(&num("3.5")).is_err());
        assert!(number_to_i64(&num("1e30")).is_err());
        assert!(number_to_i64(&num("18446744073709551615")).is_err());
        assert_eq!(whole(-4.0), Ok(-4));
        assert!(whole(f64::NAN).is_err());
    }
}
