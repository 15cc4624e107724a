//! [`Reopen`]s for inputs read twice (CSV type inference takes a first pass): a file is
//! opened again; a one-shot input is copied to an unnamed temporary file and read from
//! its start each time.

use std::io::{Seek, SeekFrom};
use std::path::Path;

use crate::csv::Reopen;
use crate::error::{Result, StreamError};
use crate::source::{Input, spool};

/// `first` (a file input already open) the first time, its path opened again after.
pub fn reopen_path(first: Input) -> Reopen {
    let name = first.name.clone();
    let mut first = Some(first);
    Box::new(move || match first.take() {
        Some(i) => Ok(i),
        None => Input::open(Path::new(&name)),
    })
}

/// `input` copied to an unnamed temporary file (disk, not memory), read from its start
/// each time.
///
/// # Errors
/// [`StreamError::Io`] naming the input, for a failure reading it or writing the copy.
///
/// # Memory
/// Copies the input to disk in blocks; keeps one file handle.
pub fn reopen_spooled(mut input: Input) -> Result<Reopen> {
    let name = input.name.clone();
    let file = spool(&mut input.reader).map_err(|error| StreamError::Io {
        input: name.clone(),
        error,
    })?;
    Ok(Box::new(move || {
        let io_err = |error| StreamError::Io {
            input: name.clone(),
            error,
        };
        let mut copy = file.try_clone().map_err(io_err)?;
        copy.seek(SeekFrom::Start(0)).map_err(io_err)?;
        Ok(Input::from_reader(name.clone(), Box::new(copy)))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{self, Read};

    fn read_all(reopen: &mut Reopen) -> String {
        let mut s = String::new();
        reopen().unwrap().reader.read_to_string(&mut s).unwrap();
        s
    }

    #[test]
    fn a_one_shot_input_reads_the_same_twice() {
        let input = Input::from_reader(
            "<iterable>",
            Box::new(io::Cursor::new(b"a,b\n1,2\n".to_vec())),
        );
        let mut reopen = reopen_spooled(input).unwrap();
        assert_eq!(read_all(&mut reopen), "a,b\n1,2\n");
        assert_eq!(read_all(&mut reopen), "a,b\n1,2\n");
    }

    #[test]
    fn a_path_is_opened_again() {
        let dir = std::env::temp_dir().join(format!("memslim-reopen-{}", std::process::id()));
        std::fs::write(&dir, "x\n1\n").unwrap();
        let mut reopen = reopen_path(Input::open(&dir).unwrap());
        assert_eq!(read_all(&mut reopen), "x\n1\n");
        assert_eq!(read_all(&mut reopen), "x\n1\n");
        std::fs::remove_file(&dir).unwrap();
    }

    #[test]
    fn a_failing_input_names_itself() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("gone"))
            }
        }
        let err = reopen_spooled(Input::from_reader("<file object>", Box::new(Broken)));
        assert!(matches!(err, Err(StreamError::Io { input, .. }) if input == "<file object>"));
    }
}
