//! NumPy `.npy` headers: an array of Python objects (dtype `O`, alone or as a field of a
//! structured dtype) is stored as a pickle, and `numpy.load(..., allow_pickle=True)` runs it.
//!
//! The header is a Python dict literal after the magic `\x93NUMPY`, a version and a length.
//! Every quoted string in it is checked as it streams by, so memory stays constant whatever
//! length the header declares: a dtype string such as `'|O'`, `'O8'`, `'object'` or a
//! comma-separated format with such a part (`'i4,O'`) marks an object array. Field names are
//! quoted strings too; one spelled exactly like an object dtype is refused with them.
//!
//! NumPy reads the header with `ast.literal_eval`, so a string may spell its dtype with escapes
//! (`'|\x4f'`, `'\117'`, `'\u004f'`) or be joined from adjacent literals (`'ob' 'ject'`).
//! Rather than decode Python's string syntax, a header whose strings use any escape but `\'`,
//! `\"` and `\\`, or that puts two string literals next to each other (with only spaces,
//! comments, line continuations or string prefixes between), is refused as a possible object
//! array: NumPy itself writes neither.

use super::opcodes::Scan;

const MAGIC: &[u8] = b"\x93NUMPY";

/// The longest header NumPy reads unless told `allow_pickle=True` (its `max_header_size`),
/// which lifts the bound and allows pickles alike. Anything longer is loadable only that way,
/// and inside a zip it could run past the part of an entry that is checked.
const MAX_HEADER: u64 = 10_000;
const LONG: &str = "a NumPy array whose header is longer than NumPy reads without \
                    allow_pickle (10,000 bytes)";

#[derive(Debug, Clone, Copy)]
enum State {
    /// Matching the magic; how many bytes matched.
    Magic(usize),
    /// Reading the version (2 bytes) and the header length (2 or 4 bytes).
    Lengths {
        buf: [u8; 6],
        got: usize,
    },
    /// Inside the header dict, `left` bytes to go.
    Header {
        left: u64,
    },
    Done,
}

pub(crate) struct NpyScan {
    state: State,
    /// Inside a quoted string: its quote character.
    quote: Option<u8>,
    escaped: bool,
    /// Outside a string, right after one (only spaces, comments, prefixes since).
    after_string: bool,
    /// Inside a comment (outside strings).
    comment: bool,
    /// The current comma-separated part of the current string.
    part: [u8; 16],
    part_len: usize,
    /// The part has passed its prefix (byte order, shape) into the type name.
    in_name: bool,
    verdict: Scan,
}

impl NpyScan {
    pub(crate) fn new() -> Self {
        Self {
            state: State::Magic(0),
            quote: None,
            escaped: false,
            after_string: false,
            comment: false,
            part: [0; 16],
            part_len: 0,
            in_name: false,
            verdict: Scan::Running,
        }
    }

    #[cfg(test)]
    fn finish(&mut self) -> Scan {
        if self.verdict == Scan::Running {
            self.verdict = Scan::NotPickle;
        }
        self.verdict.clone()
    }

    pub(crate) fn feed(&mut self, mut bytes: &[u8]) -> &Scan {
        while self.verdict == Scan::Running && !bytes.is_empty() {
            match &mut self.state {
                State::Magic(n) => {
                    if bytes[0] != MAGIC[*n] {
                        self.verdict = Scan::NotPickle;
                        break;
                    }
                    *n += 1;
                    bytes = &bytes[1..];
                    if *n == MAGIC.len() {
                        self.state = State::Lengths {
                            buf: [0; 6],
                            got: 0,
                        };
                    }
                }
                State::Lengths { buf, got } => {
                    buf[*got] = bytes[0];
                    *got += 1;
                    bytes = &bytes[1..];
                    let major = buf[0];
                    let need = match major {
                        1 => 4,
                        2 | 3 => 6,
                        _ => {
                            self.verdict = Scan::NotPickle;
                            break;
                        }
                    };
                    if *got == need {
                        let left = if major == 1 {
                            u16::from_le_bytes([buf[2], buf[3]]) as u64
                        } else {
                            u32::from_le_bytes([buf[2], buf[3], buf[4], buf[5]]) as u64
                        };
                        if left > MAX_HEADER {
                            self.verdict = Scan::Pickle(LONG.to_owned());
                            break;
                        }
                        self.state = State::Header { left };
                    }
                }
                State::Header { left } => {
                    let take = (*left).min(bytes.len() as u64) as usize;
                    *left -= take as u64;
                    let done = *left == 0;
                    let (now, rest) = bytes.split_at(take);
                    bytes = rest;
                    for &b in now {
                        if let Some(what) = self.header_byte(b) {
                            self.verdict = Scan::Pickle(what.to_owned());
                            return &self.verdict;
                        }
                    }
                    if done {
                        self.state = State::Done;
                        self.verdict = Scan::NotPickle;
                    }
                }
                State::Done => break,
            }
        }
        &self.verdict
    }

    /// One header byte; what the array is when it completes an object dtype or hides one.
    fn header_byte(&mut self, b: u8) -> Option<&'static str> {
        const OBJECT: &str = "a NumPy array of Python objects, which NumPy stores as a pickle";
        const HIDDEN: &str = "a NumPy array whose header spells a dtype with escapes or joined \
                              strings, as it could the object dtype that NumPy stores as a pickle";
        let found = |object: bool| object.then_some(OBJECT);
        let Some(q) = self.quote else {
            if self.comment {
                self.comment = b != b'\n' && b != b'\r';
                return None;
            }
            match b {
                b'\'' | b'"' => {
                    if self.after_string {
                        return Some(HIDDEN);
                    }
                    self.quote = Some(b);
                    self.start_part();
                }
                b'#' => self.comment = true,
                // Spaces, line continuations and string prefixes keep two literals adjacent.
                b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'\\' => {}
                b'u' | b'U' | b'r' | b'R' | b'b' | b'B' | b'f' | b'F' => {}
                _ => self.after_string = false,
            }
            return None;
        };
        if self.escaped {
            self.escaped = false;
            if !matches!(b, b'\'' | b'"' | b'\\') {
                return Some(HIDDEN);
            }
            return found(self.part_byte(b));
        }
        if b == b'\\' {
            self.escaped = true;
            return None;
        }
        if b == q {
            self.quote = None;
            self.after_string = true;
            return found(self.end_part());
        }
        if b == b',' {
            let object = self.end_part();
            self.start_part();
            return found(object);
        }
        found(self.part_byte(b))
    }

    fn start_part(&mut self) {
        self.part_len = 0;
        self.in_name = false;
    }

    fn part_byte(&mut self, b: u8) -> bool {
        // Before the type name: spaces, a byte order, a repeat count or a `(2,3)` shape.
        if !self.in_name {
            if b" <>|=0123456789()".contains(&b) {
                return false;
            }
            self.in_name = true;
        }
        if self.part_len < self.part.len() {
            self.part[self.part_len] = b;
        }
        self.part_len += 1;
        false
    }

    /// True when the part just ended names the object dtype.
    fn end_part(&mut self) -> bool {
        if self.part_len > self.part.len() {
            return false;
        }
        let name = &self.part[..self.part_len];
        let name = name.strip_suffix(b" ").unwrap_or(name);
        let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
        match name {
            [b'O', rest @ ..] => digits(rest),
            [b'o', b'b', b'j', b'e', b'c', b't', rest @ ..] => {
                let rest = rest.strip_suffix(b"_").unwrap_or(rest);
                digits(rest)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[1, 0]);
        v.extend_from_slice(&(header.len() as u16).to_le_bytes());
        v.extend_from_slice(header.as_bytes());
        v.extend_from_slice(b"\x80\x03...");
        v
    }

    fn verdict(bytes: &[u8]) -> Scan {
        let mut s = NpyScan::new();
        for b in bytes {
            s.feed(std::slice::from_ref(b));
        }
        s.finish()
    }

    #[test]
    fn object_dtypes_are_found() {
        for descr in [
            "'|O'",
            "'O'",
            "'O8'",
            "'object'",
            "'i4,O'",
            "[('a', '<f4'), ('b', '|O')]",
            "[('a', [('b', '(2,)O')])]",
            "[(\"it's\", 'O')]",
            r"'|\x4f'",
            r"'\117'",
            "'ob' 'ject'",
            "'ob' # comment\n 'ject'",
        ] {
            let h = format!("{{'descr': {descr}, 'fortran_order': False, 'shape': (3,), }}");
            assert!(
                matches!(verdict(&npy(&h)), Scan::Pickle(_)),
                "{descr} not found"
            );
        }
    }

    #[test]
    fn plain_dtypes_pass() {
        for descr in [
            "'<f4'",
            "'|u1'",
            "'<U10'",
            "[('Output', '<f4'), ('objects', '<i8')]",
            "'|V8'",
        ] {
            let h = format!("{{'descr': {descr}, 'fortran_order': False, 'shape': (3,), }}");
            assert_eq!(verdict(&npy(&h)), Scan::NotPickle, "{descr}");
        }
        assert_eq!(verdict(b"\x93NUMPx"), Scan::NotPickle);
    }

    /// A header padded past what NumPy reads without allow_pickle hides its dtype from a
    /// bounded look (inside a zip entry); one within it still passes.
    #[test]
    fn headers_longer_than_numpy_reads_safely_are_refused() {
        let header = |len: usize| {
            let mut h = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }".to_owned();
            h.push_str(&" ".repeat(len - h.len() - 1));
            h.push('\n');
            h
        };
        assert_eq!(verdict(&npy(&header(9_984))), Scan::NotPickle);
        assert!(matches!(verdict(&npy(&header(10_048))), Scan::Pickle(r) if r.contains("10,000")));
        assert_eq!(verdict(b"# text"), Scan::NotPickle);
    }
}
