//! Recognising Python pickles, by name and by content. Pickles run arbitrary code when loaded,
//! so Bazaar refuses them whatever the file is called.

/// Extensions that name pickle-based formats (PyTorch checkpoints, Hugging Face
/// `pytorch_model.bin`, plain pickles, joblib dumps).
pub(crate) const PICKLE_EXTENSIONS: &[&str] =
    &["bin", "pt", "pth", "ckpt", "pkl", "pickle", "joblib"];

/// The longest prefix the content sniffer may look at: a zip local header (30 bytes) plus the
/// longest possible entry name.
pub(crate) const SNIFF_LIMIT: usize = 30 + u16::MAX as usize;

/// What the first bytes of a file say about pickles.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Sniff {
    /// More bytes are needed to tell.
    NeedMore,
    /// It is a pickle; the reason says how it was recognised.
    Pickle(String),
    NotPickle,
}

/// The pickle verdict on a prefix of the file; `complete` says the prefix is the whole file.
pub(crate) fn sniff(prefix: &[u8], complete: bool) -> Sniff {
    // Pickle protocols 2 to 5 open with the PROTO opcode (0x80) and the protocol number.
    match prefix {
        [0x80, proto @ 2..=5, ..] => {
            return Sniff::Pickle(format!("its content is a pickle (protocol {proto})"));
        }
        [0x80] if !complete => return Sniff::NeedMore,
        _ => {}
    }
    // PyTorch's zip format: the first entry is `<archive>/data.pkl`.
    const ZIP_LOCAL_HEADER: &[u8] = b"PK\x03\x04";
    let head = &prefix[..prefix.len().min(4)];
    if !ZIP_LOCAL_HEADER.starts_with(head) {
        return Sniff::NotPickle;
    }
    let enough = |n: usize| prefix.len() >= n;
    if !enough(30) {
        return if complete {
            Sniff::NotPickle
        } else {
            Sniff::NeedMore
        };
    }
    let name_len = u16::from_le_bytes([prefix[26], prefix[27]]) as usize;
    if !enough(30 + name_len) {
        return if complete {
            Sniff::NotPickle
        } else {
            Sniff::NeedMore
        };
    }
    let name = &prefix[30..30 + name_len];
    if name.ends_with(b".pkl") || name.ends_with(b".pickle") {
        let shown = String::from_utf8_lossy(name);
        let shown: String = shown
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        return Sniff::Pickle(format!(
            "its content is a zip archive holding the pickle `{shown}` (PyTorch's checkpoint format)"
        ));
    }
    Sniff::NotPickle
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_marker_is_a_pickle_only_for_protocols_two_to_five() {
        assert!(
            matches!(sniff(&[0x80, 4, 0x95], false), Sniff::Pickle(r) if r.contains("protocol 4"))
        );
        assert_eq!(sniff(&[0x80, 1, 0], false), Sniff::NotPickle);
        assert_eq!(sniff(&[0x80, 6, 0], false), Sniff::NotPickle);
        assert_eq!(sniff(&[0x80], false), Sniff::NeedMore);
        assert_eq!(sniff(&[0x80], true), Sniff::NotPickle);
        assert_eq!(sniff(b"# README", false), Sniff::NotPickle);
    }

    fn zip_with_first_entry(name: &str) -> Vec<u8> {
        let mut z = b"PK\x03\x04".to_vec();
        z.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // version, flags, method, time, date
        z.extend_from_slice(&[0; 12]); // crc, sizes
        z.extend_from_slice(&(name.len() as u16).to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        z.extend_from_slice(name.as_bytes());
        z.extend_from_slice(b"\x80\x02}q\x00.");
        z
    }

    #[test]
    fn zip_whose_first_entry_is_a_pickle_is_recognised_at_any_prefix() {
        let zip = zip_with_first_entry("archive/data.pkl");
        for cut in 0..46 {
            assert_eq!(sniff(&zip[..cut], false), Sniff::NeedMore, "prefix {cut}");
        }
        assert!(matches!(sniff(&zip, false), Sniff::Pickle(r) if r.contains("archive/data.pkl")));
        assert_eq!(sniff(&zip[..20], true), Sniff::NotPickle);
        assert_eq!(
            sniff(&zip_with_first_entry("weights.npy"), false),
            Sniff::NotPickle
        );
    }
}
