//! Token estimates for what hooks inject. No tokenizer is at hand where this runs cheaply for
//! every client's model, so the estimate is deliberately high: WordPiece-style tokenizers (the
//! embedding model's) and BPE ones split text at spaces and punctuation, give each punctuation
//! mark and non-ASCII character a token, and cut a word into pieces of a few characters. We
//! count a token per started three characters of an ASCII word, one per other character; the
//! hooks test checks the estimate against the embedding model's real tokenizer.

/// Estimated tokens of `text`.
pub fn estimate(text: &str) -> u64 {
    let mut counter = Counter::default();
    text.chars().for_each(|c| counter.push(c));
    counter.finish()
}

/// The longest prefix of `text` whose estimate fits in `budget`, cut after a whole word where
/// there is one, and whether anything was cut.
pub fn truncate(text: &str, budget: u64) -> (&str, bool) {
    if estimate(text) <= budget {
        return (text, false);
    }
    let mut counter = Counter::default();
    let mut last_fit = 0;
    let mut last_word_end = None;
    for (at, c) in text.char_indices() {
        counter.push(c);
        if counter.peek() > budget {
            break;
        }
        last_fit = at + c.len_utf8();
        if c.is_whitespace() {
            last_word_end = Some(at);
        }
    }
    let cut = last_word_end.filter(|&end| end > 0).unwrap_or(last_fit);
    (text[..cut].trim_end(), true)
}

#[derive(Default)]
struct Counter {
    tokens: u64,
    /// Characters of the ASCII word being read.
    word: u64,
}

impl Counter {
    fn push(&mut self, c: char) {
        if c.is_ascii_alphanumeric() {
            self.word += 1;
            return;
        }
        self.tokens += word_tokens(self.word);
        self.word = 0;
        if !c.is_whitespace() {
            self.tokens += 1;
        }
    }

    /// The count so far, the word being read included.
    fn peek(&self) -> u64 {
        self.tokens + word_tokens(self.word)
    }

    fn finish(self) -> u64 {
        self.peek()
    }
}

fn word_tokens(chars: u64) -> u64 {
    chars.div_ceil(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_words_by_length_and_marks_one_each() {
        assert_eq!(estimate(""), 0);
        assert_eq!(estimate("the cat"), 2);
        assert_eq!(estimate("authentication"), 5);
        assert_eq!(estimate("a.b"), 3);
        assert_eq!(estimate("日本"), 2);
    }

    #[test]
    fn truncation_fits_the_budget_and_cuts_between_words() {
        let text = "alpha beta gamma delta epsilon";
        let (cut, truncated) = truncate(text, 6);
        assert!(truncated);
        assert_eq!(cut, "alpha beta gamma");
        assert!(estimate(cut) <= 6);
        assert_eq!(truncate(text, 100), (text, false));
        let (one_long_word, _) = truncate("abcdefghijklmnopqrstuvwxyz", 3);
        assert_eq!(one_long_word, "abcdefghi");
        assert!(truncate("日本語のテキスト", 3).0.chars().count() == 3);
    }
}
