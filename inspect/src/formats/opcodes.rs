//! A streaming recogniser for pickle opcode streams, protocols 0 to 5.
//!
//! Protocols 0 and 1 have no header: a pickle is whatever Python's unpickler can run to a
//! `STOP`. This follows the stream opcode by opcode with the same stack discipline as
//! `pickle.Unpickler` (how many items each opcode pops and pushes, and the marks), checking
//! each argument the way the unpickler would refuse it, so text and other formats fail within a
//! few bytes while every stream Python accepts is followed to its `STOP`. It only ever accepts
//! more than Python does (it does not know the types on the stack, the memo, or which modules
//! exist): being stricter would let a crafted pickle through.
//!
//! A stream is a pickle when it reaches `STOP`, or when Python would already have called or
//! imported something when it breaks off (joblib writes raw array data after such calls). A
//! stream Python refuses before that ran nothing, whatever its first bytes: a safetensors
//! header length such as 640 reads `PROTO 2` and then a zero byte, which is no opcode. A
//! complete pickle shorter than [`SHORT`] bytes that calls and imports nothing (`\x88.`, the
//! header length 11912) is held back when the scan follows a whole file
//! ([`OpcodeScan::for_file`]): if more bytes follow, they are followed as the next pickle (as a
//! second `pickle.load` would read them, like PyTorch's legacy format), and the verdict is
//! theirs; if the file ends there, it is a pickle. A buffer that may run on past its stream (a
//! zip entry's window) gets no such leeway: there, a `STOP` is a pickle.
//!
//! Memory is constant: long arguments (strings, bytes, text lines) are checked as they stream
//! by and never kept. Work is bounded by [`MAX_OPCODES`] and [`MAX_MARKS`]: a stream that is
//! still a valid pickle after that many is taken for one.

/// Opcodes followed before a still-valid stream is taken for a pickle.
pub(crate) const MAX_OPCODES: u64 = 1 << 20;
/// Nested marks followed before a still-valid stream is taken for a pickle.
pub(crate) const MAX_MARKS: usize = 512;
/// A complete pickle this short that runs nothing is held back when more bytes follow.
pub(crate) const SHORT: u64 = 16;

/// Where the scan stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scan {
    /// Valid so far; more bytes are needed to tell.
    Running,
    /// A pickle: the reason says how it was recognised.
    Pickle(String),
    /// Python's unpickler would refuse this stream (or it ended before `STOP`).
    NotPickle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// `I`, `L`, `g`, `p`: an integer as `int()` reads it.
    Int,
    /// `F`: a float as `float()` reads it.
    Float,
    /// `S`: a quoted Python string literal.
    Quoted,
    /// `P`: an ASCII persistent id.
    Ascii,
    /// `V`: raw-unicode-escape text; anything goes.
    Any,
    /// `c`, `i`: a module or attribute name (no spaces or control characters).
    Name,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    /// The next byte is an opcode.
    Opcode,
    /// A fixed-size argument for `op`.
    Arg {
        op: u8,
        need: u8,
        got: u8,
        buf: [u8; 8],
    },
    /// Pass over this many payload bytes.
    Skip(u64),
    /// A newline-terminated argument for `op`; `second` for the second line of `c`/`i`.
    Line {
        op: u8,
        kind: Line,
        second: bool,
        len: u64,
        first: u8,
        last: u8,
        digit: bool,
    },
}

pub(crate) struct OpcodeScan {
    step: Step,
    /// Items above the innermost mark.
    stack: u64,
    /// Items above each enclosing mark, innermost last.
    marks: Vec<u64>,
    opcodes: u64,
    /// The protocol the stream declared with `PROTO`, or the lowest its opcodes need.
    protocol: u8,
    /// Bytes of the current pickle so far.
    len: u64,
    /// The current pickle opened with `PROTO` (binary from its first byte).
    headed: bool,
    /// Python would already have called something (or, after `PROTO`, imported a module).
    ran: bool,
    /// A short pickle that ran nothing reached `STOP`: what it is, if the stream ends here.
    stopped: Option<String>,
    /// Short pickles that ran nothing are held back (the scan follows a whole file).
    hold_short: bool,
    verdict: Scan,
}

impl Default for OpcodeScan {
    fn default() -> Self {
        Self::new()
    }
}

impl OpcodeScan {
    pub(crate) fn new() -> Self {
        Self {
            step: Step::Opcode,
            stack: 0,
            marks: Vec::new(),
            opcodes: 0,
            protocol: 0,
            len: 0,
            headed: false,
            ran: false,
            stopped: None,
            hold_short: false,
            verdict: Scan::Running,
        }
    }

    /// A scan of a whole file, which holds back short pickles that run nothing.
    pub(crate) fn for_file() -> Self {
        Self {
            hold_short: true,
            ..Self::new()
        }
    }

    /// The next pickle starts after a short one that ran nothing.
    fn restart(&mut self) {
        let opcodes = self.opcodes;
        *self = Self::for_file();
        self.opcodes = opcodes;
    }

    pub(crate) fn verdict(&self) -> &Scan {
        &self.verdict
    }

    /// Bytes kept between calls (the marks).
    pub(crate) fn retained_bytes(&self) -> usize {
        self.marks.capacity() * std::mem::size_of::<u64>()
    }

    /// The end of the stream: a pickle must have reached `STOP` by now, or have run something.
    pub(crate) fn finish(&mut self) -> Scan {
        if self.verdict == Scan::Running {
            self.verdict = match self.stopped.take() {
                Some(what) => Scan::Pickle(what),
                None if self.ran => Scan::Pickle(self.what()),
                None => Scan::NotPickle,
            };
        }
        self.verdict.clone()
    }

    fn what(&self) -> String {
        let protocol = match self.protocol {
            p @ 2.. => format!("protocol {p}"),
            1 => "protocol 1, which has no header".to_owned(),
            _ => "protocol 0, which has no header".to_owned(),
        };
        format!("a pickle ({protocol})")
    }

    /// Follows the stream through `bytes`; returns the verdict so far.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) -> &Scan {
        while self.verdict == Scan::Running && !bytes.is_empty() {
            if self.stopped.is_some() {
                self.restart();
            }
            let before = bytes.len();
            self.feed_step(&mut bytes);
            self.len += (before - bytes.len()) as u64;
        }
        &self.verdict
    }

    /// One step of the scan (an opcode, an argument, a payload, a text line) through `bytes`.
    fn feed_step(&mut self, bytes: &mut &[u8]) {
        match &mut self.step {
            Step::Opcode => {
                let op = bytes[0];
                *bytes = &bytes[1..];
                self.opcode(op);
            }
            Step::Arg { op, need, got, buf } => {
                let take = ((*need - *got) as usize).min(bytes.len());
                buf[*got as usize..*got as usize + take].copy_from_slice(&bytes[..take]);
                *got += take as u8;
                *bytes = &bytes[take..];
                if got == need {
                    let (op, arg) = (*op, *buf);
                    let n = *need as usize;
                    self.step = Step::Opcode;
                    self.argument(op, &arg[..n]);
                }
            }
            Step::Skip(n) => {
                let take = (*n).min(bytes.len() as u64);
                *n -= take;
                *bytes = &bytes[take as usize..];
                if *n == 0 {
                    self.step = Step::Opcode;
                }
            }
            Step::Line { .. } => {
                let end = memchr::memchr(b'\n', bytes);
                let (part, rest) = match end {
                    Some(i) => (&bytes[..i], &bytes[i + 1..]),
                    None => (*bytes, &[][..]),
                };
                *bytes = rest;
                if !self.line_bytes(part) {
                    self.fail();
                } else if end.is_some() {
                    self.line_end();
                }
            }
        }
    }

    /// Python's unpickler refuses the stream here: a pickle only if it already ran something.
    fn fail(&mut self) {
        self.verdict = if self.ran {
            Scan::Pickle(self.what())
        } else {
            Scan::NotPickle
        };
    }

    /// Python calls something when `op` runs; after `PROTO` also a module import or a
    /// persistent id (text such as `cat\ndog\n` or `Pretrained\n` reads as those).
    fn runs(&mut self, op: u8) {
        if self.verdict == Scan::Running
            && (matches!(op, b'R' | b'b' | b'o' | b'i' | 0x81 | 0x92)
                || self.headed && matches!(op, b'c' | 0x93 | b'P' | b'Q'))
        {
            self.ran = true;
        }
    }

    fn need_protocol(&mut self, p: u8) {
        self.protocol = self.protocol.max(p);
    }

    fn arg(&mut self, op: u8, need: u8) {
        self.step = Step::Arg {
            op,
            need,
            got: 0,
            buf: [0; 8],
        };
    }

    fn line(&mut self, op: u8, kind: Line) {
        self.step = Step::Line {
            op,
            kind,
            second: false,
            len: 0,
            first: 0,
            last: 0,
            digit: false,
        };
    }

    /// Pops `pop` items (all above the innermost mark) and pushes `push`.
    fn effect(&mut self, pop: u64, push: u64) {
        if self.stack < pop {
            return self.fail();
        }
        self.stack = self.stack - pop + push;
    }

    /// Pops the innermost mark (the items above it go into the new object); returns how many
    /// items it held, or `None` (after failing) when there is no mark.
    fn pop_mark(&mut self) -> Option<u64> {
        match self.marks.pop() {
            Some(outer) => {
                let inner = std::mem::replace(&mut self.stack, outer);
                Some(inner)
            }
            None => {
                self.fail();
                None
            }
        }
    }

    fn opcode(&mut self, op: u8) {
        if self.len == 0 && op == 0x80 {
            self.headed = true;
        }
        self.opcodes += 1;
        if self.opcodes > MAX_OPCODES {
            self.verdict = Scan::Pickle(format!(
                "a stream that parses as a pickle for more than {MAX_OPCODES} opcodes"
            ));
            return;
        }
        match op {
            // MARK
            b'(' => {
                if self.marks.len() >= MAX_MARKS {
                    self.verdict = Scan::Pickle(format!(
                        "a stream that parses as a pickle nesting more than {MAX_MARKS} marks"
                    ));
                    return;
                }
                let outer = std::mem::replace(&mut self.stack, 0);
                self.marks.push(outer);
            }
            // STOP
            b'.' => {
                if self.stack == 0 {
                    return self.fail();
                }
                // `self.len` does not count this byte yet.
                if self.hold_short && self.len + 1 < SHORT && !self.ran {
                    self.stopped = Some(self.what());
                } else {
                    self.verdict = Scan::Pickle(self.what());
                }
            }
            // POP: the top item, or the innermost mark when nothing is above it.
            b'0' => {
                if self.stack > 0 {
                    self.stack -= 1;
                } else {
                    self.pop_mark();
                }
            }
            // POP_MARK
            b'1' => {
                self.pop_mark();
            }
            // DUP
            b'2' => self.effect(1, 2),
            // Text-line arguments.
            b'I' | b'L' | b'g' => self.line(op, Line::Int),
            b'p' => {
                if self.stack == 0 {
                    return self.fail();
                }
                self.line(op, Line::Int)
            }
            b'F' => self.line(op, Line::Float),
            b'S' => self.line(op, Line::Quoted),
            b'P' => self.line(op, Line::Ascii),
            b'V' => self.line(op, Line::Any),
            b'c' => self.line(op, Line::Name),
            b'i' => {
                if self.marks.is_empty() {
                    return self.fail();
                }
                self.line(op, Line::Name)
            }
            // Fixed-size arguments.
            b'J' | b'j' => {
                self.need_protocol(1);
                self.arg(op, 4)
            }
            b'K' | b'h' => {
                self.need_protocol(1);
                self.arg(op, 1)
            }
            b'M' => {
                self.need_protocol(1);
                self.arg(op, 2)
            }
            b'G' => {
                self.need_protocol(1);
                self.arg(op, 8)
            }
            b'q' | b'r' => {
                self.need_protocol(1);
                if self.stack == 0 {
                    return self.fail();
                }
                self.arg(op, if op == b'q' { 1 } else { 4 })
            }
            0x82 => self.arg(op, 1),
            0x83 => self.arg(op, 2),
            0x84 => self.arg(op, 4),
            // PROTO
            0x80 => self.arg(op, 1),
            // Length-prefixed payloads.
            b'T' | b'X' => {
                self.need_protocol(1);
                self.arg(op, 4)
            }
            b'U' => {
                self.need_protocol(1);
                self.arg(op, 1)
            }
            b'B' => {
                self.need_protocol(3);
                self.arg(op, 4)
            }
            b'C' => {
                self.need_protocol(3);
                self.arg(op, 1)
            }
            0x8a | 0x8c => self.arg(op, 1),
            0x8b => self.arg(op, 4),
            0x8d | 0x8e | 0x96 | 0x95 => self.arg(op, 8),
            // Pushes with no argument: NONE, EMPTY_DICT/LIST/TUPLE, NEWTRUE/FALSE, EMPTY_SET,
            // NEXT_BUFFER.
            b'N' => self.effect(0, 1),
            b'}' | b']' | b')' => {
                self.need_protocol(1);
                self.effect(0, 1)
            }
            0x88 | 0x89 | 0x8f | 0x97 => self.effect(0, 1),
            // BINPERSID, TUPLE1, READONLY_BUFFER, MEMOIZE: need a top item, keep the depth.
            b'Q' => {
                self.need_protocol(1);
                self.effect(1, 1);
                self.runs(op);
            }
            0x85 | 0x98 | 0x94 => self.effect(1, 1),
            // REDUCE, NEWOBJ, STACK_GLOBAL, TUPLE2: two items become one.
            b'R' | 0x81 | 0x93 | 0x86 => {
                self.effect(2, 1);
                self.runs(op);
            }
            // APPEND, BUILD: the top item goes into the one below.
            b'a' | b'b' => {
                self.effect(2, 1);
                self.runs(op);
            }
            // SETITEM: key and value go into the dict below.
            b's' => self.effect(3, 1),
            // NEWOBJ_EX, TUPLE3: three items become one.
            0x92 | 0x87 => {
                self.effect(3, 1);
                self.runs(op);
            }
            // DICT, LIST, TUPLE, FROZENSET: the items above the mark become one object.
            b'd' | b'l' | b't' | 0x91 => {
                if let Some(items) = self.pop_mark() {
                    if op == b'd' && items % 2 != 0 {
                        return self.fail();
                    }
                    self.stack += 1;
                }
            }
            // OBJ: the first item above the mark is the class.
            b'o' => {
                self.need_protocol(1);
                if let Some(items) = self.pop_mark() {
                    if items == 0 {
                        return self.fail();
                    }
                    self.stack += 1;
                    self.runs(op);
                }
            }
            // APPENDS, SETITEMS, ADDITEMS: the items above the mark go into the object below.
            b'e' | b'u' | 0x90 => {
                if op != 0x90 {
                    self.need_protocol(1);
                }
                if let Some(items) = self.pop_mark() {
                    if self.stack == 0 || (op == b'u' && items % 2 != 0) {
                        self.fail();
                    }
                }
            }
            _ => self.fail(),
        }
    }

    /// A fixed-size argument arrived.
    fn argument(&mut self, op: u8, arg: &[u8]) {
        let le = |a: &[u8]| {
            let mut b = [0u8; 8];
            b[..a.len()].copy_from_slice(a);
            u64::from_le_bytes(b)
        };
        let n = le(arg);
        match op {
            0x80 => {
                if n > 5 {
                    return self.fail();
                }
                self.protocol = self.protocol.max(n as u8);
            }
            // Integers, floats, memo gets, extension codes: push one item.
            b'J' | b'K' | b'M' | b'G' | b'h' | b'j' | 0x82 | 0x83 | 0x84 => self.effect(0, 1),
            // Memo puts: keep the top item.
            b'q' | b'r' => {}
            // Signed 4-byte lengths: negative is refused.
            b'T' | 0x8b => {
                if arg[3] & 0x80 != 0 {
                    return self.fail();
                }
                self.payload(n)
            }
            b'X' | b'B' | b'U' | b'C' | 0x8a | 0x8c => self.payload(n),
            0x8d | 0x8e | 0x96 => {
                if n > i64::MAX as u64 {
                    return self.fail();
                }
                self.payload(n)
            }
            // FRAME: the frame's contents are ordinary opcodes.
            0x95 => {
                if n > i64::MAX as u64 {
                    self.fail();
                }
            }
            _ => unreachable!("no fixed argument for opcode {op:#x}"),
        }
    }

    /// A pushed string, bytes or long integer of `n` bytes follows.
    fn payload(&mut self, n: u64) {
        self.effect(0, 1);
        if n > 0 && self.verdict == Scan::Running {
            self.step = Step::Skip(n);
        }
    }

    /// Part of a text-line argument (without the newline); false when the unpickler would
    /// refuse the line.
    fn line_bytes(&mut self, part: &[u8]) -> bool {
        let Step::Line {
            kind,
            len,
            first,
            last,
            digit,
            ..
        } = &mut self.step
        else {
            unreachable!()
        };
        if part.is_empty() {
            return true;
        }
        if *len == 0 {
            *first = part[0];
        }
        *len += part.len() as u64;
        *last = part[part.len() - 1];
        match kind {
            Line::Any | Line::Quoted => true,
            Line::Ascii => part.is_ascii(),
            Line::Name => part.iter().all(|&b| b > b' ' && b != 0x7f),
            Line::Int => part.iter().all(|&b| {
                *digit |= b.is_ascii_digit();
                b.is_ascii_hexdigit() || b"xXoObBL_+- \t\r\x0b\x0c".contains(&b)
            }),
            Line::Float => part.iter().all(|&b| {
                *digit |= b.is_ascii_digit() || b"iInN".contains(&b);
                b.is_ascii_digit() || b".eE_+- \t\r\x0b\x0cinfatyINFATY".contains(&b)
            }),
        }
    }

    /// A text line ended (its newline arrived).
    fn line_end(&mut self) {
        let Step::Line {
            op,
            kind,
            second,
            len,
            first,
            last,
            digit,
        } = self.step
        else {
            unreachable!()
        };
        let ok = match kind {
            Line::Int | Line::Float => digit,
            Line::Quoted => len >= 2 && (first == b'\'' || first == b'"') && last == first,
            Line::Name => len > 0,
            Line::Ascii | Line::Any => true,
        };
        if !ok {
            return self.fail();
        }
        if kind == Line::Name && !second {
            self.step = Step::Line {
                op,
                kind,
                second: true,
                len: 0,
                first: 0,
                last: 0,
                digit: false,
            };
            return;
        }
        self.step = Step::Opcode;
        match op {
            // INST: the items above the mark are the arguments.
            b'i' => {
                if self.pop_mark().is_some() {
                    self.stack += 1;
                }
            }
            // PUT keeps the top item.
            b'p' => {}
            _ => self.effect(0, 1),
        }
        // GLOBAL imports, INST imports and calls, PERSID calls `persistent_load`.
        self.runs(op);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(bytes: &[u8]) -> Scan {
        let mut s = OpcodeScan::new();
        s.feed(bytes);
        s.finish()
    }

    fn scan_bytewise(bytes: &[u8]) -> Scan {
        let mut s = OpcodeScan::new();
        for b in bytes {
            s.feed(std::slice::from_ref(b));
        }
        s.finish()
    }

    #[test]
    fn hand_written_protocol_zero_pickles_are_recognised() {
        for p in [
            &b"N."[..],
            b"(lp0\nI1\naI2\na.",
            b"cos\nsystem\n(S'echo hi'\ntR.",
            b"(dp0\nS'a'\np1\nF1.5\nsV\xff\xfe\np2\nL12L\ns.",
            b"(i__main__\nThing\n(dp0\nb.",
        ] {
            for s in [scan(p), scan_bytewise(p)] {
                assert!(
                    matches!(&s, Scan::Pickle(r) if r.contains("protocol 0")),
                    "{:?}: {s:?}",
                    String::from_utf8_lossy(p)
                );
            }
        }
    }

    #[test]
    fn binary_protocol_one_is_named() {
        let p = b"]q\x00(K\x01K\x02e.";
        assert!(matches!(scan(p), Scan::Pickle(r) if r.contains("protocol 1")));
        let p = b"\x80\x02]q\x00.";
        assert!(matches!(scan(p), Scan::Pickle(r) if r.contains("protocol 2")));
    }

    #[test]
    fn text_is_not_a_pickle() {
        for t in [
            &b"# Model card\n"[..],
            b"{\"a\": 1}",
            b"id,name\n1,x\n",
            b"hello world.",
            b"cat\ndog\n",
            b"N",
            b"",
            b"S'unterminated\n.",
            b"Ifoo\n.",
            b"cos system\nx\n.",
            b"0.",
            b"(.",
        ] {
            assert_eq!(scan(t), Scan::NotPickle, "{:?}", String::from_utf8_lossy(t));
        }
    }

    #[test]
    fn long_payloads_are_skipped_not_kept() {
        let mut p = b"X".to_vec();
        p.extend_from_slice(&(3_000_000u32).to_le_bytes());
        p.extend(std::iter::repeat_n(b'z', 3_000_000));
        p.extend_from_slice(b"0cos\nsystem\n.");
        let mut s = OpcodeScan::new();
        for c in p.chunks(4096) {
            s.feed(c);
        }
        assert!(matches!(s.finish(), Scan::Pickle(_)));
        assert_eq!(s.retained_bytes(), 0);
    }

    #[test]
    fn proto_then_no_opcode_is_no_pickle() {
        // Safetensors header lengths 640 to 1408 and 65536 + 640: `PROTO n`, then 0 or 1.
        for p in 2..=5u8 {
            assert_eq!(scan(&[0x80, p, 0, 0, 0, 0, 0, 0, b'{']), Scan::NotPickle);
            assert_eq!(scan(&[0x80, p, 1, 0, 0, 0, 0, 0, b'{']), Scan::NotPickle);
        }
        assert_eq!(scan(b"\x80\x02N\x00"), Scan::NotPickle);
    }

    #[test]
    fn a_stream_that_breaks_off_after_running_something_is_a_pickle() {
        for p in [
            &b"cos\nabort\n)R\x00"[..],
            b"\x80\x02cos\nsystem\n\x00",
            b"\x80\x04\x8c\x02os\x8c\x06system\x93\xff",
        ] {
            for s in [scan(p), scan_bytewise(p)] {
                assert!(matches!(s, Scan::Pickle(_)), "{p:?}: {s:?}");
            }
        }
        // Text reads as an import (`cat\ndog\n`) or a persistent id without a header.
        assert_eq!(scan(b"cat\ndog\nbird\n"), Scan::NotPickle);
        assert_eq!(scan(b"Pretrained weights\n(see card)"), Scan::NotPickle);
    }

    #[test]
    fn a_short_pickle_that_runs_nothing_is_held_back_in_a_whole_file() {
        let file = |bytes: &[u8]| {
            let mut s = OpcodeScan::for_file();
            for b in bytes {
                s.feed(std::slice::from_ref(b));
            }
            s.finish()
        };
        // NEWTRUE STOP, then a safetensors header length's zero bytes.
        assert_eq!(file(b"\x88.\x00\x00\x00\x00\x00\x00{"), Scan::NotPickle);
        assert!(matches!(file(b"\x88."), Scan::Pickle(_)));
        assert!(matches!(file(b"N.\x80\x02cos\nsystem\n."), Scan::Pickle(_)));
        // In a buffer that may run on past its stream, `STOP` decides.
        assert!(matches!(scan(b"\x88.\x00"), Scan::Pickle(_)));
    }

    #[test]
    fn bounds_turn_into_a_verdict() {
        let many = b"N0".repeat(MAX_OPCODES as usize);
        assert!(matches!(scan(&many), Scan::Pickle(r) if r.contains("opcodes")));
        let deep = b"(".repeat(MAX_MARKS + 1);
        assert!(matches!(scan(&deep), Scan::Pickle(r) if r.contains("marks")));
    }
}
