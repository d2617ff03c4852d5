//! BERT WordPiece tokenizer reading a Hugging Face `tokenizer.json`.
//! Pure Rust without I/O, so it runs in the browser as well.

use std::collections::HashMap;

use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, Result};
use crate::tensor::{Data, Tensor};

/// A WordPiece tokenizer with BERT normalisation and pre-tokenisation.
#[derive(Clone, Debug)]
pub struct WordPiece {
    vocab: HashMap<String, i64>,
    unk: i64,
    cls: i64,
    sep: i64,
    pad: i64,
    prefix: String,
    max_chars: usize,
    lowercase: bool,
    strip_accents: bool,
    clean_text: bool,
    chinese_chars: bool,
    /// Longest encoding including [CLS]/[SEP] (from `truncation`).
    pub max_len: usize,
}

/// Token ids and attention mask of a batch, padded to the longest entry.
#[derive(Clone, Debug)]
pub struct Batch {
    /// `[batch, seq]` int64.
    pub input_ids: Tensor,
    /// `[batch, seq]` int64, 1 for real tokens.
    pub attention_mask: Tensor,
}

fn bad(msg: &str) -> Error {
    Error::Invalid(format!("tokenizer.json: {msg}"))
}

impl WordPiece {
    /// Parses a `tokenizer.json` whose model is WordPiece.
    pub fn from_json(text: &str) -> Result<Self> {
        let v: Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
        let model = &v["model"];
        if model["type"] != "WordPiece" {
            return Err(Error::Unsupported(format!(
                "tokenizer model {}",
                model["type"]
            )));
        }
        let vocab: HashMap<String, i64> = model["vocab"]
            .as_object()
            .ok_or_else(|| bad("model.vocab missing"))?
            .iter()
            .filter_map(|(k, id)| Some((k.clone(), id.as_i64()?)))
            .collect();
        let id = |tok: &str| {
            vocab
                .get(tok)
                .copied()
                .ok_or_else(|| bad(&format!("{tok} not in vocab")))
        };
        let unk_tok = model["unk_token"].as_str().unwrap_or("[UNK]");
        let norm = &v["normalizer"];
        let lowercase = norm["lowercase"].as_bool().unwrap_or(true);
        Ok(WordPiece {
            unk: id(unk_tok)?,
            cls: id("[CLS]")?,
            sep: id("[SEP]")?,
            pad: id("[PAD]").unwrap_or(0),
            prefix: model["continuing_subword_prefix"]
                .as_str()
                .unwrap_or("##")
                .to_string(),
            max_chars: model["max_input_chars_per_word"].as_u64().unwrap_or(100) as usize,
            lowercase,
            // BertNormalizer: strip_accents null means "same as lowercase".
            strip_accents: norm["strip_accents"].as_bool().unwrap_or(lowercase),
            clean_text: norm["clean_text"].as_bool().unwrap_or(true),
            chinese_chars: norm["handle_chinese_chars"].as_bool().unwrap_or(true),
            max_len: v["truncation"]["max_length"].as_u64().unwrap_or(512) as usize,
            vocab,
        })
    }

    fn normalize(&self, text: &str) -> String {
        let mut s = String::with_capacity(text.len());
        for c in text.chars() {
            if self.clean_text {
                if c == '\0' || c == '\u{fffd}' || (is_control(c)) {
                    continue;
                }
                if c.is_whitespace() {
                    s.push(' ');
                    continue;
                }
            }
            if self.chinese_chars && is_chinese(c) {
                s.push(' ');
                s.push(c);
                s.push(' ');
            } else {
                s.push(c);
            }
        }
        if self.strip_accents {
            s = s
                .nfd()
                .filter(|&c| !unicode_normalization::char::is_combining_mark(c))
                .collect();
        }
        if self.lowercase {
            s = s.to_lowercase();
        }
        s
    }

    fn wordpiece(&self, word: &str, out: &mut Vec<i64>) {
        let chars: Vec<char> = word.chars().collect();
        if chars.len() > self.max_chars {
            out.push(self.unk);
            return;
        }
        let mut pieces = Vec::new();
        let mut start = 0;
        while start < chars.len() {
            let mut end = chars.len();
            let mut found = None;
            while start < end {
                let mut sub: String = chars[start..end].iter().collect();
                if start > 0 {
                    sub.insert_str(0, &self.prefix);
                }
                if let Some(&id) = self.vocab.get(&sub) {
                    found = Some(id);
                    break;
                }
                end -= 1;
            }
            match found {
                Some(id) => pieces.push(id),
                None => {
                    out.push(self.unk);
                    return;
                }
            }
            start = end;
        }
        out.extend(pieces);
    }

    /// Token ids of `text` with [CLS]/[SEP], truncated to `max_len`.
    pub fn encode(&self, text: &str) -> Vec<i64> {
        let mut ids = self.encode_whole(text);
        if ids.len() > self.max_len.max(2) {
            ids.truncate(self.max_len.max(2) - 1);
            ids.push(self.sep);
        }
        ids
    }

    /// How many tokens `text` has before truncation, [CLS] and [SEP] included: whether
    /// `encode` would drop some of it.
    pub fn token_count(&self, text: &str) -> usize {
        self.encode_whole(text).len()
    }

    /// Token ids of all of `text` with [CLS]/[SEP].
    fn encode_whole(&self, text: &str) -> Vec<i64> {
        let norm = self.normalize(text);
        let mut ids = vec![self.cls];
        let mut word = String::new();
        let flush = |word: &mut String, ids: &mut Vec<i64>| {
            if !word.is_empty() {
                self.wordpiece(word, ids);
                word.clear();
            }
        };
        for c in norm.chars() {
            if c.is_whitespace() {
                flush(&mut word, &mut ids);
            } else if is_punctuation(c) {
                flush(&mut word, &mut ids);
                word.push(c);
                flush(&mut word, &mut ids);
            } else {
                word.push(c);
            }
        }
        flush(&mut word, &mut ids);
        ids.push(self.sep);
        ids
    }

    /// Encodes several texts, padding to the longest.
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Batch> {
        let encs: Vec<Vec<i64>> = texts.iter().map(|t| self.encode(t)).collect();
        let seq = encs.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(texts.len() * seq);
        let mut mask = Vec::with_capacity(texts.len() * seq);
        for e in &encs {
            ids.extend(
                e.iter()
                    .copied()
                    .chain(std::iter::repeat_n(self.pad, seq - e.len())),
            );
            mask.extend(
                std::iter::repeat_n(1i64, e.len()).chain(std::iter::repeat_n(0, seq - e.len())),
            );
        }
        Ok(Batch {
            input_ids: Tensor::new(vec![texts.len(), seq], Data::I64(ids))?,
            attention_mask: Tensor::new(vec![texts.len(), seq], Data::I64(mask))?,
        })
    }
}

fn is_control(c: char) -> bool {
    if matches!(c, '\t' | '\n' | '\r') {
        return false;
    }
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}')
}

fn is_chinese(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F | 0x2B820..=0x2CEAF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}

/// ASCII punctuation plus the Unicode punctuation blocks BERT text meets.
fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(c as u32,
            0x00A1 | 0x00A7 | 0x00AB | 0x00B6 | 0x00B7 | 0x00BB | 0x00BF | 0x037E | 0x0387
            | 0x055A..=0x055F | 0x0589 | 0x05BE | 0x05C0 | 0x05C3 | 0x05C6 | 0x05F3 | 0x05F4
            | 0x060C | 0x060D | 0x061B | 0x061F | 0x066A..=0x066D | 0x06D4 | 0x0964 | 0x0965
            | 0x0E4F | 0x0E5A | 0x0E5B | 0x2010..=0x2027 | 0x2030..=0x2043 | 0x2045..=0x2051
            | 0x2053..=0x205E | 0x207D | 0x207E | 0x208D | 0x208E | 0x2308..=0x230B | 0x2329 | 0x232A
            | 0x2768..=0x2775 | 0x27C5 | 0x27C6 | 0x27E6..=0x27EF | 0x2983..=0x2998 | 0x29D8..=0x29DB
            | 0x29FC | 0x29FD | 0x2CF9..=0x2CFC | 0x2CFE | 0x2CFF | 0x2E00..=0x2E2E | 0x2E30..=0x2E4F
            | 0x3001..=0x3003 | 0x3008..=0x3011 | 0x3014..=0x301F | 0x3030 | 0x303D | 0x30A0 | 0x30FB
            | 0xFE10..=0xFE19 | 0xFE30..=0xFE52 | 0xFE54..=0xFE61 | 0xFE63 | 0xFE68 | 0xFE6A | 0xFE6B
            | 0xFF01..=0xFF03 | 0xFF05..=0xFF0A | 0xFF0C..=0xFF0F | 0xFF1A | 0xFF1B | 0xFF1F | 0xFF20
            | 0xFF3B..=0xFF3D | 0xFF3F | 0xFF5B | 0xFF5D | 0xFF5F..=0xFF65)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BERT-shaped `tokenizer.json` with a handful of tokens and room for `max_length`.
    fn tiny(max_length: usize) -> WordPiece {
        let json = serde_json::json!({
            "truncation": { "max_length": max_length },
            "normalizer": { "type": "BertNormalizer", "lowercase": true },
            "model": {
                "type": "WordPiece",
                "unk_token": "[UNK]",
                "continuing_subword_prefix": "##",
                "max_input_chars_per_word": 100,
                "vocab": {
                    "[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3,
                    "a": 4, "cat": 5, "sat": 6, "##s": 7, ".": 8
                }
            }
        });
        WordPiece::from_json(&json.to_string()).unwrap()
    }

    #[test]
    fn encodes_words_pieces_and_punctuation() {
        assert_eq!(tiny(16).encode("A cats sat."), vec![2, 4, 5, 7, 6, 8, 3]);
        assert_eq!(tiny(16).encode("dog"), vec![2, 1, 3]);
    }

    #[test]
    fn truncates_to_max_length_keeping_sep_and_counts_the_whole_text() {
        let tokenizer = tiny(4);
        assert_eq!(tokenizer.encode("a cat sat a"), vec![2, 4, 5, 3]);
        assert_eq!(tokenizer.token_count("a cat sat a"), 6);
        // Short texts are not padded or cut.
        assert_eq!(tokenizer.encode("a"), vec![2, 4, 3]);
        assert_eq!(tokenizer.token_count("a"), 3);
    }
}
