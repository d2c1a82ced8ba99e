//! all-MiniLM-L6-v2 as sentence-transformers runs it: its tokenizer, the encoder, mean pooling.

use std::ops::Range;
use std::path::Path;

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use tokenizers::Tokenizer;

use super::bert::{Config, Encoder};
use super::{DIMENSIONS, EmbedError, Embedder, MAX_TOKENS, WINDOW_OVERLAP, WINDOW_TOKENS};

/// all-MiniLM-L6-v2 with sentence-transformers' settings: truncation at 256 tokens, mean pooling
/// over real tokens, L2 normalisation. A text is tokenized whole and cut into windows here:
/// `[CLS]`, up to 254 of its tokens, `[SEP]` — so the first window is exactly what
/// sentence-transformers' truncation embeds — then windows of [`WINDOW_TOKENS`], each starting
/// [`WINDOW_OVERLAP`] tokens before the previous one ends. (The tokenizer's own overflow is no help: its template
/// post-processor keeps only one overflowing piece.)
pub struct MiniLm {
    model: Encoder,
    tokenizer: Tokenizer,
    cls: u32,
    sep: u32,
}

impl std::fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLm").finish_non_exhaustive()
    }
}

impl MiniLm {
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let fail = |message: String| EmbedError::Load { dir: dir.to_path_buf(), message };
        let device = Device::Cpu;
        let config_text = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| fail(format!("config.json: {e}")))?;
        let config: Config =
            serde_json::from_str(&config_text).map_err(|e| fail(format!("config.json: {e}")))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| fail(format!("tokenizer.json: {e}")))?;
        // tokenizer.json pins padding and truncation at 128; windows are cut here instead, and
        // the encoder packs texts end to end, so nothing is padded.
        tokenizer.with_padding(None);
        tokenizer.with_truncation(None).map_err(|e| fail(format!("tokenizer truncation: {e}")))?;
        let special = |token: &str| {
            tokenizer.token_to_id(token).ok_or_else(|| fail(format!("tokenizer.json: no {token}")))
        };
        let (cls, sep) = (special("[CLS]")?, special("[SEP]")?);
        let bytes = std::fs::read(dir.join("model.safetensors"))
            .map_err(|e| fail(format!("model.safetensors: {e}")))?;
        // A tensor at a time from the file's bytes, copied into the encoder and dropped: the
        // load holds the file and the encoder's weights, not a third copy of every weight.
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &device)
            .map_err(|e| fail(format!("model.safetensors: {e}")))?;
        let model = Encoder::load(vb, &config).map_err(|e| fail(format!("weights: {e}")))?;
        Ok(Self { model, tokenizer, cls, sep })
    }

    /// One vector per window, `windows` windows at most per text, a text's vectors end to end.
    fn forward(
        &self,
        texts: &[&str],
        windows: usize,
        pause: &dyn Fn(),
    ) -> Result<Vec<Vec<f32>>, String> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), false)
            .map_err(|e| format!("tokenizer: {e}"))?;
        let mut ids: Vec<Vec<u32>> = Vec::with_capacity(encodings.len());
        let mut counts = Vec::with_capacity(encodings.len());
        for (text, encoding) in texts.iter().zip(&encodings) {
            let tokens = encoding.get_ids();
            let starts = if windows > 1 {
                paragraph_starts(text, encoding.get_offsets())
            } else {
                Vec::new()
            };
            let ranges = window_ranges(tokens.len(), &starts, windows);
            counts.push(ranges.len());
            ids.extend(ranges.into_iter().map(|r| [&[self.cls], &tokens[r], &[self.sep]].concat()));
        }
        let refs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
        let states = self.model.forward(&refs, pause)?;
        let mut pooled = states.iter().map(|rows| mean_pool(rows));
        Ok(counts
            .into_iter()
            .map(|count| pooled.by_ref().take(count).flatten().collect())
            .collect())
    }
}

/// The tokens that start a paragraph: a blank line lies between them and the token before.
fn paragraph_starts(text: &str, offsets: &[(usize, usize)]) -> Vec<usize> {
    (1..offsets.len())
        .filter(|&i| {
            let gap = text.get(offsets[i - 1].1..offsets[i].0).unwrap_or("");
            gap.matches('\n').count() >= 2
        })
        .collect()
}

/// Paragraphs shorter than this (a heading, a one-line lead-in) share the next one's window.
const MIN_PARAGRAPH: usize = 24;

/// The token ranges a text of `len` tokens is embedded in, `max` at most. The first is what
/// sentence-transformers embeds (its first 254 tokens). After it, each paragraph the first did
/// not finish gets windows of its own — a paragraph is what a question is usually about, and
/// mixed into a window with its neighbours its meaning fades — cut into [`WINDOW_TOKENS`]
/// pieces overlapping by [`WINDOW_OVERLAP`] when it is longer than one.
fn window_ranges(len: usize, starts: &[usize], max: usize) -> Vec<Range<usize>> {
    let first = MAX_TOKENS - 2;
    let mut ranges = Vec::with_capacity(max.max(1));
    ranges.push(0..len.min(first));
    if len <= first {
        return ranges;
    }
    let body = WINDOW_TOKENS - 2;
    let mut bounds: Vec<usize> = std::iter::once(0)
        .chain(starts.iter().copied().filter(|&s| 0 < s && s < len))
        .chain([len])
        .collect();
    bounds.dedup();
    let mut pending = None;
    for paragraph in bounds.windows(2).map(|b| b[0]..b[1]).filter(|p| p.end > first) {
        // The paragraph the first window cut goes whole into the next when it fits one;
        // otherwise only its part after the first window (with the overlap) is windowed again.
        let fits = paragraph.len() <= body;
        let own = if fits { paragraph.start } else { paragraph.start.max(first - WINDOW_OVERLAP) };
        let start = pending.take().unwrap_or(own);
        if paragraph.end - start < MIN_PARAGRAPH && paragraph.end < len {
            pending = Some(start);
            continue;
        }
        let mut at = start;
        loop {
            if ranges.len() == max.max(1) {
                return ranges;
            }
            let end = (at + body).min(paragraph.end);
            ranges.push(at..end);
            if end == paragraph.end {
                break;
            }
            at = end - WINDOW_OVERLAP;
        }
    }
    ranges
}

/// Mean over a window's tokens (none is padding), then unit length.
fn mean_pool(rows: &[f32]) -> Vec<f32> {
    let mut mean = vec![0.0_f32; DIMENSIONS];
    for row in rows.chunks_exact(DIMENSIONS) {
        mean.iter_mut().zip(row).for_each(|(m, x)| *m += x);
    }
    let count = (rows.len() / DIMENSIONS).max(1) as f32;
    mean.iter_mut().for_each(|m| *m /= count);
    let norm = mean.iter().map(|m| m * m).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
    mean.iter_mut().for_each(|m| *m /= norm);
    mean
}

impl Embedder for MiniLm {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embed_pausing(texts, &|| {})
    }

    fn embed_pausing(&self, texts: &[&str], pause: &dyn Fn()) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embed_windows(texts, 1, pause)
    }

    fn embed_windows(
        &self,
        texts: &[&str],
        max_windows: usize,
        pause: &dyn Fn(),
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        self.forward(texts, max_windows, pause).map_err(EmbedError::Inference)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_follow_paragraphs_after_the_first() {
        // Within one window: one range, the whole text.
        assert_eq!(window_ranges(100, &[40], 16), vec![0..100]);
        assert_eq!(window_ranges(0, &[], 16), vec![0..0]);
        // Paragraphs the first window finished get none; the one it cut is whole in the next;
        // a short one (a heading) joins the paragraph after it.
        let starts = [100, 240, 300, 310, 400];
        assert_eq!(window_ranges(460, &starts, 16), [0..254, 240..300, 300..400, 400..460]);
        // One cut that does not fit a window: its part after the first, with the overlap.
        assert_eq!(window_ranges(460, &[100, 400], 16), [0..254, 222..348, 316..400, 400..460]);
        // A paragraph longer than a window is cut with overlap; the cap holds.
        assert_eq!(window_ranges(600, &[], 16), [0..254, 222..348, 316..442, 410..536, 504..600]);
        assert_eq!(window_ranges(600, &[], 3), [0..254, 222..348, 316..442]);
        assert_eq!(window_ranges(600, &[], 1), vec![0..254]);
    }

    #[test]
    fn a_blank_line_starts_a_paragraph() {
        let text = "one two\n\nthree\nfour\n  \nfive";
        let offsets = [(0, 3), (4, 7), (9, 14), (15, 19), (23, 27)];
        assert_eq!(paragraph_starts(text, &offsets), [2, 4]);
    }
}
