//! Python's `datetime`, `date`, `time`, `timedelta`, `Decimal`, `UUID` and `complex` to
//! the core's extension values (`memslim_arena::ext`) and back.
//!
//! These are the non-JSON types records commonly hold. Stored field by field, they read
//! back without unpickling, so a file or Arrow table from elsewhere cannot run code
//! through them. Only exact types qualify (a subclass, or an aware time whose `tzinfo` is
//! neither `datetime.timezone` nor a keyed `zoneinfo.ZoneInfo`, is pickled as before).

use memslim_records::variant::{Clock, Date, Ext, Zone};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyComplex, PyDict, PyType};

static DATETIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DATE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static TIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static TIMEDELTA: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static TIMEZONE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static ZONEINFO: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DECIMAL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static UUID: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static SAFE_UUID_UNKNOWN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `v` as an extension value, or `None` if it is not one of the supported exact types.
///
/// # Errors
/// Whatever reading the object's attributes raises.
pub(crate) fn to_ext(v: &Bound<'_, PyAny>) -> PyResult<Option<Ext>> {
    let py = v.py();
    let t = v.get_type();
    if let Ok(c) = v.cast_exact::<PyComplex>() {
        return Ok(Some(Ext::Complex(c.real(), c.imag())));
    }
    if t.is(DATETIME.import(py, "datetime", "datetime")?) {
        let Some(zone) = zone_of(v)? else {
            return Ok(None);
        };
        return Ok(Some(Ext::DateTime(date_of(v)?, clock_of(v, zone)?)));
    }
    if t.is(DATE.import(py, "datetime", "date")?) {
        return Ok(Some(Ext::Date(date_of(v)?)));
    }
    if t.is(TIME.import(py, "datetime", "time")?) {
        let Some(zone) = zone_of(v)? else {
            return Ok(None);
        };
        return Ok(Some(Ext::Time(clock_of(v, zone)?)));
    }
    if t.is(TIMEDELTA.import(py, "datetime", "timedelta")?) {
        return Ok(Some(Ext::Duration {
            days: v.getattr(intern!(py, "days"))?.extract()?,
            seconds: v.getattr(intern!(py, "seconds"))?.extract()?,
            microseconds: v.getattr(intern!(py, "microseconds"))?.extract()?,
        }));
    }
    // Decimal and UUID live in modules a program may never import: look only if it did.
    let module: String = t.module()?.extract()?;
    if module == "decimal" && t.is(DECIMAL.import(py, "decimal", "Decimal")?) {
        let text = v.str()?.to_string();
        if text.len() <= memslim_records::variant::EXT_MAX_TEXT {
            return Ok(Some(Ext::Decimal(text)));
        }
        return Ok(None);
    }
    if module == "uuid" && t.is(UUID.import(py, "uuid", "UUID")?) {
        // A UUID that knows whether it was made safely keeps that through pickle only.
        let unknown = SAFE_UUID_UNKNOWN.import(py, "uuid", "SafeUUID")?;
        let unknown = unknown.getattr(intern!(py, "unknown"))?;
        if !v.getattr(intern!(py, "is_safe"))?.is(&unknown) {
            return Ok(None);
        }
        let b = v.getattr(intern!(py, "bytes"))?;
        let b: [u8; 16] = b.cast::<PyBytes>()?.as_bytes().try_into().map_err(|_| {
            pyo3::exceptions::PyValueError::new_err("UUID.bytes is not 16 bytes long")
        })?;
        return Ok(Some(Ext::Uuid(b)));
    }
    Ok(None)
}

fn date_of(v: &Bound<'_, PyAny>) -> PyResult<Date> {
    let py = v.py();
    Ok(Date {
        year: v.getattr(intern!(py, "year"))?.extract()?,
        month: v.getattr(intern!(py, "month"))?.extract()?,
        day: v.getattr(intern!(py, "day"))?.extract()?,
    })
}

fn clock_of(v: &Bound<'_, PyAny>, zone: Zone) -> PyResult<Clock> {
    let py = v.py();
    Ok(Clock {
        hour: v.getattr(intern!(py, "hour"))?.extract()?,
        minute: v.getattr(intern!(py, "minute"))?.extract()?,
        second: v.getattr(intern!(py, "second"))?.extract()?,
        microsecond: v.getattr(intern!(py, "microsecond"))?.extract()?,
        fold: v.getattr(intern!(py, "fold"))?.extract()?,
        zone,
    })
}

fn micros(td: &Bound<'_, PyAny>) -> PyResult<i64> {
    let py = td.py();
    let days: i64 = td.getattr(intern!(py, "days"))?.extract()?;
    let seconds: i64 = td.getattr(intern!(py, "seconds"))?.extract()?;
    let us: i64 = td.getattr(intern!(py, "microseconds"))?.extract()?;
    Ok((days * 86_400 + seconds) * 1_000_000 + us)
}

/// The zone of a datetime or time; `None` when its tzinfo is of a kind stored only by
/// pickling.
fn zone_of(v: &Bound<'_, PyAny>) -> PyResult<Option<Zone>> {
    let py = v.py();
    let tz = v.getattr(intern!(py, "tzinfo"))?;
    if tz.is_none() {
        return Ok(Some(Zone::Naive));
    }
    let tz_type = tz.get_type();
    let timezone = TIMEZONE.import(py, "datetime", "timezone")?;
    if tz_type.is(timezone) {
        let offset = tz.call_method1(intern!(py, "utcoffset"), (py.None(),))?;
        let name: String = tz
            .call_method1(intern!(py, "tzname"), (py.None(),))?
            .extract()?;
        let default: String = timezone
            .call1((&offset,))?
            .call_method1(intern!(py, "tzname"), (py.None(),))?
            .extract()?;
        return Ok(Some(Zone::Fixed {
            offset_us: micros(&offset)?,
            name: (name != default).then_some(name),
        }));
    }
    let module: String = tz_type.module()?.extract()?;
    if module == "zoneinfo" && tz_type.is(ZONEINFO.import(py, "zoneinfo", "ZoneInfo")?) {
        let key = tz.getattr(intern!(py, "key"))?;
        if let Ok(key) = key.extract::<String>() {
            if memslim_records::variant::valid_zone_key(&key) {
                return Ok(Some(Zone::Key(key)));
            }
        }
    }
    Ok(None)
}

fn tzinfo<'py>(py: Python<'py>, zone: &Zone) -> PyResult<Bound<'py, PyAny>> {
    Ok(match zone {
        Zone::Naive => py.None().into_bound(py),
        Zone::Fixed { offset_us, name } => {
            let kw = PyDict::new(py);
            kw.set_item(intern!(py, "microseconds"), *offset_us)?;
            let td = TIMEDELTA
                .import(py, "datetime", "timedelta")?
                .call((), Some(&kw))?;
            let timezone = TIMEZONE.import(py, "datetime", "timezone")?;
            match name {
                None => timezone.call1((td,))?,
                Some(n) => timezone.call1((td, n))?,
            }
        }
        Zone::Key(key) => ZONEINFO.import(py, "zoneinfo", "ZoneInfo")?.call1((key,))?,
    })
}

/// An extension value as the Python object it was made from.
///
/// # Errors
/// What the constructors raise, e.g. `ZoneInfoNotFoundError` for a zone key this
/// machine's time zone database lacks.
pub(crate) fn ext_to_py<'py>(py: Python<'py>, e: &Ext) -> PyResult<Bound<'py, PyAny>> {
    let fold = |c: &Clock| -> PyResult<Bound<'py, PyDict>> {
        let kw = PyDict::new(py);
        kw.set_item(intern!(py, "fold"), c.fold)?;
        Ok(kw)
    };
    Ok(match e {
        Ext::Date(d) => DATE
            .import(py, "datetime", "date")?
            .call1((d.year, d.month, d.day))?,
        Ext::Time(c) => TIME.import(py, "datetime", "time")?.call(
            (
                c.hour,
                c.minute,
                c.second,
                c.microsecond,
                tzinfo(py, &c.zone)?,
            ),
            Some(&fold(c)?),
        )?,
        Ext::DateTime(d, c) => DATETIME.import(py, "datetime", "datetime")?.call(
            (
                d.year,
                d.month,
                d.day,
                c.hour,
                c.minute,
                c.second,
                c.microsecond,
                tzinfo(py, &c.zone)?,
            ),
            Some(&fold(c)?),
        )?,
        Ext::Duration {
            days,
            seconds,
            microseconds,
        } => TIMEDELTA.import(py, "datetime", "timedelta")?.call1((
            *days,
            *seconds,
            *microseconds,
        ))?,
        Ext::Decimal(text) => DECIMAL.import(py, "decimal", "Decimal")?.call1((text,))?,
        Ext::Uuid(b) => {
            let kw = PyDict::new(py);
            kw.set_item(intern!(py, "bytes"), PyBytes::new(py, b))?;
            UUID.import(py, "uuid", "UUID")?.call((), Some(&kw))?
        }
        Ext::Complex(re, im) => PyComplex::from_doubles(py, *re, *im).into_any(),
    })
}
