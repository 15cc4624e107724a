//! JSON text to documents, event by event: serde_json's parser drives a
//! [`DocBuilder`] directly, so no intermediate tree is built.

use std::fmt;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

use crate::doc::DocBuilder;
use crate::error::{DocError, Result};

/// Parses each non-blank line of `text` as one JSON document into `b`.
pub(crate) fn feed_lines(b: &mut DocBuilder<'_>, text: &[u8]) -> Result<()> {
    for (n, line) in text.split(|&c| c == b'\n').enumerate() {
        if line.iter().all(|c| c.is_ascii_whitespace()) {
            continue;
        }
        let mut de = serde_json::Deserializer::from_slice(line);
        let parsed = Feed(b).deserialize(&mut de).and_then(|()| de.end());
        if let Err(e) = parsed {
            b.abandon_doc();
            return Err(DocError::Json {
                line: n + 1,
                column: e.column(),
                reason: strip_position(&e.to_string()),
            });
        }
        b.end_doc()?;
    }
    Ok(())
}

/// serde_json appends " at line L column C"; we report our own line numbers.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

struct Feed<'b, 'a>(&'b mut DocBuilder<'a>);

fn built<E: serde::de::Error>(r: Result<()>) -> std::result::Result<(), E> {
    r.map_err(E::custom)
}

impl<'de> DeserializeSeed<'de> for Feed<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Feed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<(), E> {
        built(self.0.none())
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> std::result::Result<(), E> {
        built(self.0.bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<(), E> {
        built(self.0.int(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<(), E> {
        match i64::try_from(v) {
            Ok(i) => built(self.0.int(i)),
            Err(_) => {
                let mut le = v.to_le_bytes().to_vec();
                le.push(0);
                built(self.0.big_int(&le))
            }
        }
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<(), E> {
        built(self.0.float(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<(), E> {
        built(self.0.str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        built::<A::Error>(self.0.begin_list())?;
        while seq.next_element_seed(Feed(&mut *self.0))?.is_some() {}
        built(self.0.end())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        built::<A::Error>(self.0.begin_map())?;
        while map.next_key_seed(Key(&mut *self.0))?.is_some() {
            map.next_value_seed(Feed(&mut *self.0))?;
        }
        built(self.0.end())
    }
}

struct Key<'b, 'a>(&'b mut DocBuilder<'a>);

impl<'de> DeserializeSeed<'de> for Key<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<(), E> {
        self.0.key(v).map_err(E::custom)
    }
}
