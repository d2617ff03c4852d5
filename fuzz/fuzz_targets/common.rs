// Shared by the format targets: the input's first 8 bytes pick how the rest is cut into chunks,
// so every target also runs the streaming parsers across arbitrary chunk boundaries.
use inspect::formats::{FileMetadata, FormatError, Inspector, MAX_RETAINED_BYTES};

/// Inspects `data` as `name` at once and in the chunks `seed` picks; both must agree, and the
/// inspector must stay within its documented memory bound after every chunk.
pub fn check(name: &str, input: &[u8]) {
    let (seed, data) = match input.split_first_chunk::<8>() {
        Some((seed, data)) => (u64::from_le_bytes(*seed), data),
        None => (0, input),
    };
    let whole = run(name, data, None);
    let chunked = run(name, data, Some(seed));
    assert_eq!(
        whole.is_ok(),
        chunked.is_ok(),
        "{name}: whole {whole:?}, chunked {chunked:?}"
    );
    if let (Ok(a), Ok(b)) = (&whole, &chunked) {
        assert_eq!(a, b, "{name}: metadata differs with chunking");
    }
}

fn run(name: &str, data: &[u8], seed: Option<u64>) -> Result<FileMetadata, FormatError> {
    let mut inspector = Inspector::for_file(name)?;
    let Some(mut state) = seed else {
        inspector.feed(data)?;
        assert!(inspector.retained_bytes() <= MAX_RETAINED_BYTES);
        return inspector.finish();
    };
    // Chunk sizes up to 2^k for a k the seed picks: mostly tiny, sometimes large.
    let max = 1usize << (state % 17);
    let mut rest = data;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = (state as usize % max) + 1;
        let (now, later) = rest.split_at(n.min(rest.len()));
        inspector.feed(now)?;
        assert!(inspector.retained_bytes() <= MAX_RETAINED_BYTES);
        rest = later;
    }
    inspector.finish()
}
