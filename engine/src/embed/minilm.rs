//! all-MiniLM-L6-v2 as sentence-transformers runs it: its tokenizer, the encoder, mean pooling.

use std::path::Path;

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use tokenizers::{Tokenizer, TruncationParams};

use super::bert::{Config, Encoder};
use super::{DIMENSIONS, EmbedError, Embedder, MAX_TOKENS};

/// all-MiniLM-L6-v2 with sentence-transformers' settings: truncation at 256 tokens, padding to
/// the longest text of a batch, mean pooling over real tokens, L2 normalisation.
pub struct MiniLm {
    model: Encoder,
    tokenizer: Tokenizer,
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
        // tokenizer.json pins padding and truncation at 128; sentence-transformers uses 256.
        // The encoder packs texts end to end, so nothing is padded.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| fail(format!("tokenizer truncation: {e}")))?;
        let bytes = std::fs::read(dir.join("model.safetensors"))
            .map_err(|e| fail(format!("model.safetensors: {e}")))?;
        // A tensor at a time from the file's bytes, copied into the encoder and dropped: the
        // load holds the file and the encoder's weights, not a third copy of every weight.
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &device)
            .map_err(|e| fail(format!("model.safetensors: {e}")))?;
        let model = Encoder::load(vb, &config).map_err(|e| fail(format!("weights: {e}")))?;
        Ok(Self { model, tokenizer })
    }

    fn forward(&self, texts: &[&str], pause: &dyn Fn()) -> Result<Vec<Vec<f32>>, String> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| format!("tokenizer: {e}"))?;
        let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        let states = self.model.forward(&ids, pause)?;
        // Mean over each text's tokens (none is padding), then unit length.
        Ok(states
            .iter()
            .map(|rows| {
                let mut mean = vec![0.0_f32; DIMENSIONS];
                for row in rows.chunks_exact(DIMENSIONS) {
                    mean.iter_mut().zip(row).for_each(|(m, x)| *m += x);
                }
                let count = (rows.len() / DIMENSIONS).max(1) as f32;
                mean.iter_mut().for_each(|m| *m /= count);
                let norm = mean.iter().map(|m| m * m).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
                mean.iter_mut().for_each(|m| *m /= norm);
                mean
            })
            .collect())
    }
}

impl Embedder for MiniLm {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embed_pausing(texts, &|| {})
    }

    fn embed_pausing(&self, texts: &[&str], pause: &dyn Fn()) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        self.forward(texts, pause).map_err(EmbedError::Inference)
    }
}
