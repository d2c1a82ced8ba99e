//! all-MiniLM-L6-v2 as sentence-transformers runs it: its tokenizer, the encoder, mean pooling.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::bert::{Config, Encoder};
use super::{EmbedError, Embedder, MAX_TOKENS};

/// all-MiniLM-L6-v2 with sentence-transformers' settings: truncation at 256 tokens, padding to
/// the longest text of a batch, mean pooling over real tokens, L2 normalisation.
pub struct MiniLm {
    model: Encoder,
    tokenizer: Tokenizer,
    device: Device,
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
        let mut padding = tokenizer.get_padding().cloned().unwrap_or_else(PaddingParams::default);
        padding.strategy = PaddingStrategy::BatchLongest;
        tokenizer.with_padding(Some(padding));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| fail(format!("tokenizer truncation: {e}")))?;
        let weights = candle_core::safetensors::load(dir.join("model.safetensors"), &device)
            .map_err(|e| fail(format!("model.safetensors: {e}")))?;
        let vb = VarBuilder::from_tensors(weights, DType::F32, &device);
        let model = Encoder::load(vb, &config).map_err(|e| fail(format!("weights: {e}")))?;
        Ok(Self { model, tokenizer, device })
    }

    fn forward(&self, texts: &[&str], pause: &dyn Fn()) -> candle_core::Result<Vec<Vec<f32>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| candle_core::Error::Msg(format!("tokenizer: {e}")))?;
        let rows = encodings.len();
        let width = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(rows * width);
        let mut mask = Vec::with_capacity(rows * width);
        for encoding in &encodings {
            ids.extend_from_slice(encoding.get_ids());
            mask.extend_from_slice(encoding.get_attention_mask());
        }
        let ids = Tensor::from_vec(ids, (rows, width), &self.device)?;
        let mask = Tensor::from_vec(mask, (rows, width), &self.device)?;
        let hidden = self.model.forward(&ids, &mask, pause)?;
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
        mean.broadcast_div(&norms)?.to_vec2::<f32>()
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
        self.forward(texts, pause).map_err(|e| EmbedError::Inference(e.to_string()))
    }
}
