//! Typed values beyond JSON that records commonly hold: dates and times, durations,
//! decimals, UUIDs and complex numbers.
//!
//! They are stored exactly, field by field, so that a host language can rebuild them
//! without running code chosen by whoever wrote the bytes (the alternative, a
//! host-serialized [`crate::variant::Value::Opaque`] blob, is pickle in Python and may
//! run arbitrary code when loaded). The layouts follow Python's `datetime`, `decimal`,
//! `uuid` and `complex` types, which are the richest of the usual hosts, but nothing
//! here depends on Python.
//!
//! # Format
//!
//! An extension value is the variant tag `0x11`, one kind byte, a byte length (varint)
//! and a payload of that length. Integers are little-endian. Every payload is checked
//! on decode, field by field (ranges, lengths, UTF-8, the character set of a zone key or
//! a decimal), and only the canonical form is accepted.
//!
//! | Kind | Type | Payload |
//! |------|------|---------|
//! | `1` | [`Ext::Date`] | year `u16` (1..=9999), month `u8`, day `u8` |
//! | `2` | [`Ext::Time`] | a [`Clock`] |
//! | `3` | [`Ext::DateTime`] | a date (4 bytes) then a [`Clock`] |
//! | `4` | [`Ext::Duration`] | days `i32` (within ±999,999,999), seconds `u32` (< 86,400), microseconds `u32` (< 1,000,000) |
//! | `5` | [`Ext::Decimal`] | the decimal's canonical text, ASCII |
//! | `6` | [`Ext::Uuid`] | 16 bytes, big-endian as in RFC 4122 |
//! | `7` | [`Ext::Complex`] | real then imaginary part, each `f64::to_bits` |
//!
//! A [`Clock`] is hour, minute, second (`u8` each), microsecond `u32`, fold `u8` (0 or
//! 1), then a zone: `0` (none, a naive time); `1` a fixed offset in microseconds `i64`
//! (strictly within ±24 h) followed by `0`, or by `1` and a name (varint length and
//! UTF-8); `2` a zone key (varint length, then `A-Za-z0-9_+-/` with no empty, `.` or
//! `..` component), such as `Europe/Berlin`.

use crate::variant::{DecodeError, Reader, put_varint};

/// The variant tag of an extension value.
pub(crate) const TAG: u8 = 0x11;

/// The longest decimal text or zone key accepted (bytes).
pub const MAX_TEXT: usize = 4096;

/// A calendar date in the proleptic Gregorian calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Date {
    /// 1..=9999.
    pub year: u16,
    /// 1..=12.
    pub month: u8,
    /// 1..=the month's length.
    pub day: u8,
}

/// The time zone of a [`Clock`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Zone {
    /// A naive time: no zone.
    Naive,
    /// A fixed offset from UTC, with the name the host gave it, if not its default.
    Fixed {
        /// Offset in microseconds, strictly within ±24 hours.
        offset_us: i64,
        /// A name that differs from the host's default for this offset.
        name: Option<String>,
    },
    /// A zone of the IANA database, by key (`Europe/Berlin`).
    Key(String),
}

/// A time of day with its zone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Clock {
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=59.
    pub second: u8,
    /// 0..=999,999.
    pub microsecond: u32,
    /// Which of two repeated wall times is meant (0 or 1), as Python's `fold`.
    pub fold: u8,
    /// The zone; [`Zone::Naive`] for none.
    pub zone: Zone,
}

/// An extension value.
#[derive(Debug, Clone, PartialEq)]
pub enum Ext {
    /// A date.
    Date(Date),
    /// A time of day.
    Time(Clock),
    /// A date and a time of day.
    DateTime(Date, Clock),
    /// A signed duration, normalized as Python's `timedelta`.
    Duration {
        /// Whole days, within ±999,999,999.
        days: i32,
        /// 0..86,400.
        seconds: u32,
        /// 0..1,000,000.
        microseconds: u32,
    },
    /// A decimal number by its exact text (`"1.50"`, `"-0"`, `"NaN"`, `"sNaN12"`, `"1E+3"`).
    Decimal(String),
    /// A UUID's 16 bytes.
    Uuid([u8; 16]),
    /// A complex number, each part bit-exact.
    Complex(f64, f64),
}

impl Ext {
    /// The kind byte that precedes the payload.
    fn kind_byte(&self) -> u8 {
        match self {
            Ext::Date(_) => 1,
            Ext::Time(_) => 2,
            Ext::DateTime(..) => 3,
            Ext::Duration { .. } => 4,
            Ext::Decimal(_) => 5,
            Ext::Uuid(_) => 6,
            Ext::Complex(..) => 7,
        }
    }

    /// The type's name, for messages ("datetime", "Decimal", ...), as Python names it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Ext::Date(_) => "date",
            Ext::Time(_) => "time",
            Ext::DateTime(..) => "datetime",
            Ext::Duration { .. } => "timedelta",
            Ext::Decimal(_) => "Decimal",
            Ext::Uuid(_) => "UUID",
            Ext::Complex(..) => "complex",
        }
    }

    /// Bit-exact structural equality (complex parts compared by their bits).
    pub fn same(&self, other: &Ext) -> bool {
        match (self, other) {
            (Ext::Complex(a, b), Ext::Complex(c, d)) => {
                a.to_bits() == c.to_bits() && b.to_bits() == d.to_bits()
            }
            _ => self == other,
        }
    }

    /// Python's `==` where it can be decided from the stored fields alone.
    ///
    /// Dates, durations and UUIDs are equal exactly when their fields are. Other kinds
    /// answer only for identical fields without a NaN (aware times in different zones
    /// can be the same instant, decimals compare by value, NaN is unequal to itself):
    /// `None` then means "ask the host".
    pub fn python_eq(&self, other: &Ext) -> Option<bool> {
        match (self, other) {
            (Ext::Date(a), Ext::Date(b)) => Some(a == b),
            (Ext::Uuid(a), Ext::Uuid(b)) => Some(a == b),
            (Ext::Duration { .. }, Ext::Duration { .. }) => Some(self == other),
            (Ext::Time(a), Ext::Time(b)) if a == b => Some(true),
            (Ext::DateTime(a, x), Ext::DateTime(b, y)) if a == b && x == y => Some(true),
            (Ext::Decimal(a), Ext::Decimal(b)) if a == b && !a.contains(['N', 'n']) => Some(true),
            _ => None,
        }
    }

    /// Appends tag, kind, length and payload to `out`.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let mut p = Vec::with_capacity(24);
        match self {
            Ext::Date(d) => put_date(&mut p, d),
            Ext::Time(c) => put_clock(&mut p, c),
            Ext::DateTime(d, c) => {
                put_date(&mut p, d);
                put_clock(&mut p, c);
            }
            Ext::Duration {
                days,
                seconds,
                microseconds,
            } => {
                p.extend_from_slice(&days.to_le_bytes());
                p.extend_from_slice(&seconds.to_le_bytes());
                p.extend_from_slice(&microseconds.to_le_bytes());
            }
            Ext::Decimal(s) => p.extend_from_slice(s.as_bytes()),
            Ext::Uuid(b) => p.extend_from_slice(b),
            Ext::Complex(re, im) => {
                p.extend_from_slice(&re.to_bits().to_le_bytes());
                p.extend_from_slice(&im.to_bits().to_le_bytes());
            }
        }
        out.push(TAG);
        out.push(self.kind_byte());
        put_varint(out, p.len() as u64);
        out.extend_from_slice(&p);
    }

    /// Reads kind, length and payload after the tag; `at` is the tag's offset.
    ///
    /// # Errors
    /// [`DecodeError`] for a short input, an unknown kind or a payload that is out of
    /// range or not in canonical form.
    pub(crate) fn read(r: &mut Reader<'_>, at: usize) -> Result<Ext, DecodeError> {
        let kind = r.byte()?;
        let len = r.length()?;
        let payload = r.take(len)?;
        let bad = |reason: &'static str| DecodeError::Malformed { offset: at, reason };
        let mut p = Reader {
            bytes: payload,
            pos: 0,
        };
        let value = match kind {
            1 => Ext::Date(get_date(&mut p, at)?),
            2 => Ext::Time(get_clock(&mut p, at)?),
            3 => {
                let d = get_date(&mut p, at)?;
                Ext::DateTime(d, get_clock(&mut p, at)?)
            }
            4 => {
                let days = i32::from_le_bytes(p.take_array()?);
                let seconds = u32::from_le_bytes(p.take_array()?);
                let microseconds = u32::from_le_bytes(p.take_array()?);
                if !(-999_999_999..=999_999_999).contains(&days)
                    || seconds >= 86_400
                    || microseconds >= 1_000_000
                {
                    return Err(bad("duration field out of range"));
                }
                Ext::Duration {
                    days,
                    seconds,
                    microseconds,
                }
            }
            5 => {
                let text = p.take(payload.len())?;
                if text.len() > MAX_TEXT || !is_decimal_text(text) {
                    return Err(bad("decimal text is empty, too long or not a number"));
                }
                // All bytes are ASCII, so this cannot fail.
                Ext::Decimal(String::from_utf8_lossy(text).into_owned())
            }
            6 => Ext::Uuid(p.take_array()?),
            7 => {
                let re = f64::from_bits(u64::from_le_bytes(p.take_array()?));
                Ext::Complex(re, f64::from_bits(u64::from_le_bytes(p.take_array()?)))
            }
            _ => return Err(bad("unknown extension kind")),
        };
        if p.remaining() != 0 {
            return Err(bad("extension payload longer than its kind"));
        }
        Ok(value)
    }
}

fn put_date(p: &mut Vec<u8>, d: &Date) {
    p.extend_from_slice(&d.year.to_le_bytes());
    p.push(d.month);
    p.push(d.day);
}

fn put_clock(p: &mut Vec<u8>, c: &Clock) {
    p.extend_from_slice(&[c.hour, c.minute, c.second]);
    p.extend_from_slice(&c.microsecond.to_le_bytes());
    p.push(c.fold);
    match &c.zone {
        Zone::Naive => p.push(0),
        Zone::Fixed { offset_us, name } => {
            p.push(1);
            p.extend_from_slice(&offset_us.to_le_bytes());
            match name {
                None => p.push(0),
                Some(n) => {
                    p.push(1);
                    put_varint(p, n.len() as u64);
                    p.extend_from_slice(n.as_bytes());
                }
            }
        }
        Zone::Key(k) => {
            p.push(2);
            put_varint(p, k.len() as u64);
            p.extend_from_slice(k.as_bytes());
        }
    }
}

/// Days in `month` of `year` (Gregorian).
fn month_len(year: u16, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

fn get_date(p: &mut Reader<'_>, at: usize) -> Result<Date, DecodeError> {
    let year = u16::from_le_bytes(p.take_array()?);
    let month = p.byte()?;
    let day = p.byte()?;
    if !(1..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day == 0
        || day > month_len(year, month)
    {
        return Err(DecodeError::Malformed {
            offset: at,
            reason: "date out of range",
        });
    }
    Ok(Date { year, month, day })
}

fn get_clock(p: &mut Reader<'_>, at: usize) -> Result<Clock, DecodeError> {
    let bad = |reason: &'static str| DecodeError::Malformed { offset: at, reason };
    let [hour, minute, second] = p.take_array()?;
    let microsecond = u32::from_le_bytes(p.take_array()?);
    let fold = p.byte()?;
    if hour > 23 || minute > 59 || second > 59 || microsecond > 999_999 || fold > 1 {
        return Err(bad("time of day out of range"));
    }
    let zone = match p.byte()? {
        0 => Zone::Naive,
        1 => {
            let offset_us = i64::from_le_bytes(p.take_array()?);
            if offset_us.unsigned_abs() >= 86_400_000_000 {
                return Err(bad("zone offset not within 24 hours"));
            }
            let name = match p.byte()? {
                0 => None,
                1 => Some(text(p, at)?.to_owned()),
                _ => return Err(bad("zone name flag is not 0 or 1")),
            };
            Zone::Fixed { offset_us, name }
        }
        2 => {
            let key = text(p, at)?;
            if !valid_zone_key(key) {
                return Err(bad("zone key is not an IANA-style name"));
            }
            Zone::Key(key.to_owned())
        }
        _ => return Err(bad("unknown zone form")),
    };
    Ok(Clock {
        hour,
        minute,
        second,
        microsecond,
        fold,
        zone,
    })
}

fn text<'b>(p: &mut Reader<'b>, at: usize) -> Result<&'b str, DecodeError> {
    let len = p.length()?;
    if len > MAX_TEXT {
        return Err(DecodeError::Malformed {
            offset: at,
            reason: "zone name or key too long",
        });
    }
    let start = p.pos;
    std::str::from_utf8(p.take(len)?).map_err(|e| DecodeError::InvalidUtf8 {
        offset: at + start + e.valid_up_to(),
    })
}

/// Whether `text` is a decimal number as Python's `decimal.Decimal(text)` reads it
/// exactly: `[sign] digits [. digits] [E [sign] digits]` (a digit on at least one side
/// of the point), `Infinity`/`Inf`, or `NaN`/`sNaN` with optional payload digits (the
/// words in any case), with the exponent in the range the exact reading accepts.
pub fn is_decimal_text(text: &[u8]) -> bool {
    /// The largest adjusted exponent (and the least, negated) and the tiniest exponent
    /// Python's exact reading accepts (`decimal.MAX_EMAX`, `MIN_EMIN`, and
    /// `MIN_EMIN - MAX_PREC + 1`).
    const MAX_EMAX: i128 = 999_999_999_999_999_999;
    const ETINY: i128 = -MAX_EMAX - MAX_EMAX + 1;
    let body = match text.first() {
        Some(b'+' | b'-') => &text[1..],
        _ => text,
    };
    let word = |w: &[u8]| body.eq_ignore_ascii_case(w);
    if word(b"infinity") || word(b"inf") {
        return true;
    }
    for nan in [&b"nan"[..], b"snan"] {
        if body.len() >= nan.len()
            && body[..nan.len()].eq_ignore_ascii_case(nan)
            && body[nan.len()..].iter().all(u8::is_ascii_digit)
        {
            return true;
        }
    }
    let (mantissa, exponent) = match body.iter().position(|b| matches!(b, b'e' | b'E')) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (whole, frac) = match mantissa.iter().position(|&b| b == b'.') {
        Some(at) => (&mantissa[..at], &mantissa[at + 1..]),
        None => (mantissa, &b""[..]),
    };
    let digits = |d: &[u8]| d.iter().all(u8::is_ascii_digit);
    if whole.len() + frac.len() == 0 || !digits(whole) || !digits(frac) {
        return false;
    }
    let exp = match exponent {
        None => 0,
        Some(e) => {
            let (neg, e) = match e.first() {
                Some(b'-') => (true, &e[1..]),
                Some(b'+') => (false, &e[1..]),
                _ => (false, e),
            };
            if e.is_empty() || !digits(e) {
                return false;
            }
            // Saturated well past the limits below (an exponent must also fit in i64).
            let v = e.iter().fold(0i128, |v, &d| {
                (v * 10 + i128::from(d - b'0')).min(i128::from(i64::MAX) + 1)
            });
            if v > i128::from(i64::MAX) {
                return false;
            }
            if neg { -v } else { v }
        }
    };
    // The coefficient's digits, leading zeros left out (a zero has one).
    let significant = whole
        .iter()
        .chain(frac)
        .skip_while(|&&d| d == b'0')
        .count()
        .max(1);
    let exp = exp - frac.len() as i128;
    let adjusted = exp + significant as i128 - 1;
    adjusted <= MAX_EMAX && exp >= ETINY
}

/// An IANA-style zone key: `/`-separated components of `A-Za-z0-9_+-`, none empty and
/// none `.` or `..`, so a host that maps keys to files cannot be sent outside its zone
/// database.
pub fn valid_zone_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_TEXT
        && key.split('/').all(|c| {
            !c.is_empty()
                && c != "."
                && c != ".."
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variant::{Value, decode, encode};

    fn round_trip(e: Ext) {
        let v = Value::Ext(e.clone());
        let mut buf = Vec::new();
        encode(&v, &mut buf);
        match decode(&buf) {
            Ok(Value::Ext(back)) => assert!(back.same(&e), "{back:?} != {e:?}"),
            other => panic!("{e:?} decoded as {other:?}"),
        }
    }

    fn clock(zone: Zone) -> Clock {
        Clock {
            hour: 23,
            minute: 59,
            second: 58,
            microsecond: 999_999,
            fold: 1,
            zone,
        }
    }

    fn leap_day() -> Date {
        Date {
            year: 2024,
            month: 2,
            day: 29,
        }
    }

    #[test]
    fn every_kind_round_trips() {
        round_trip(Ext::Date(leap_day()));
        round_trip(Ext::Time(clock(Zone::Naive)));
        round_trip(Ext::DateTime(
            leap_day(),
            clock(Zone::Fixed {
                offset_us: -(5 * 3600 + 30 * 60) * 1_000_000 - 7,
                name: Some("Zürich-ish".into()),
            }),
        ));
        round_trip(Ext::DateTime(
            leap_day(),
            clock(Zone::Key("America/Argentina/Buenos_Aires".into())),
        ));
        round_trip(Ext::Duration {
            days: -999_999_999,
            seconds: 86_399,
            microseconds: 999_999,
        });
        for d in ["1.50", "-0", "NaN", "-sNaN12", "1E+3", "Infinity"] {
            round_trip(Ext::Decimal(d.into()));
        }
        round_trip(Ext::Uuid([7; 16]));
        round_trip(Ext::Complex(-0.0, f64::from_bits(0x7ff8_0000_0000_0001)));
    }

    #[test]
    fn out_of_range_fields_are_refused() {
        let bad_dates = [
            (2023, 2, 29),
            (0, 1, 1),
            (10000, 1, 1),
            (2024, 13, 1),
            (2024, 4, 31),
        ];
        for (year, month, day) in bad_dates {
            let mut buf = Vec::new();
            Ext::Date(Date { year, month, day }).write(&mut buf);
            assert!(decode(&buf).is_err(), "{year}-{month}-{day}");
        }
        let mut c = clock(Zone::Naive);
        c.fold = 2;
        let mut buf = Vec::new();
        Ext::Time(c).write(&mut buf);
        assert!(decode(&buf).is_err());
        for key in [
            "",
            "../etc/passwd",
            "/abs",
            "a//b",
            "Europe/./x",
            "a b",
            "Ä",
        ] {
            let mut buf = Vec::new();
            Ext::Time(clock(Zone::Key(key.into()))).write(&mut buf);
            assert!(decode(&buf).is_err(), "{key:?}");
        }
        let mut buf = Vec::new();
        Ext::Time(clock(Zone::Fixed {
            offset_us: 86_400_000_000,
            name: None,
        }))
        .write(&mut buf);
        assert!(decode(&buf).is_err());
        for text in ["", "1;2", "1 2"] {
            let mut buf = Vec::new();
            Ext::Decimal(text.into()).write(&mut buf);
            assert!(decode(&buf).is_err(), "{text:?}");
        }
    }

    #[test]
    fn every_truncation_and_extension_is_refused() {
        let mut buf = Vec::new();
        Ext::DateTime(
            leap_day(),
            clock(Zone::Fixed {
                offset_us: 3_600_000_000,
                name: Some("CET".into()),
            }),
        )
        .write(&mut buf);
        for cut in 0..buf.len() {
            assert!(decode(&buf[..cut]).is_err(), "cut at {cut}");
        }
        // A payload one byte longer than its kind needs.
        let mut long = Vec::new();
        Ext::Uuid([1; 16]).write(&mut long);
        long[2] += 1;
        long.push(0);
        assert!(decode(&long).is_err());
        // Unknown kinds.
        assert!(decode(&[TAG, 0, 0]).is_err());
        assert!(decode(&[TAG, 8, 0]).is_err());
    }

    #[test]
    fn python_equality_is_decided_only_where_fields_tell() {
        let d = Ext::Date(leap_day());
        assert_eq!(d.python_eq(&d.clone()), Some(true));
        let other = Ext::Date(Date {
            year: 2024,
            month: 3,
            day: 1,
        });
        assert_eq!(d.python_eq(&other), Some(false));
        let nan = Ext::Decimal("NaN".into());
        assert_eq!(nan.python_eq(&nan.clone()), None);
        let a = Ext::Time(clock(Zone::Fixed {
            offset_us: 0,
            name: None,
        }));
        let b = Ext::Time(clock(Zone::Fixed {
            offset_us: 3_600_000_000,
            name: None,
        }));
        assert_eq!(a.python_eq(&b), None);
        assert_eq!(
            Ext::Decimal("1.0".into()).python_eq(&Ext::Decimal("1".into())),
            None
        );
    }
}
