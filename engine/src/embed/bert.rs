//! The BERT encoder that all-MiniLM-L6-v2 is, written out rather than taken from
//! candle-transformers so that a long pass can pause between its steps. A bulk pass over 1,024
//! tokens computes for ~100 ms; a query arriving meanwhile would share the cores with it, op by
//! op, for all that time (p95 4× idle, measured). Here a pass runs in groups of at most
//! [`GROUP_TOKENS`] tokens and calls `pause` between steps of ~5 ms, where the service holds it
//! while an urgent pass runs (see `service`).
//!
//! Two things differ from a literal transcription, both exact up to float rounding: the query,
//! key and value projections are one matmul over their stacked weights, and the attention
//! scale 1/√d is folded into the query weights at load.

use candle_core::{D, DType, Module as _, Tensor};
use candle_nn::{Embedding, Linear, VarBuilder};

/// Tokens (sequences × their padded length) one group of a pass holds; a sequence longer than
/// this is a group of its own. Small enough that a step (one linear layer over the group) takes
/// a few milliseconds, large enough that the matmuls stay efficient.
pub(super) const GROUP_TOKENS: usize = 256;

/// The fields of the model's `config.json` the encoder needs.
#[derive(Debug, Clone, serde::Deserialize)]
pub(super) struct Config {
    hidden_size: usize,
    intermediate_size: usize,
    num_attention_heads: usize,
    num_hidden_layers: usize,
    vocab_size: usize,
    type_vocab_size: usize,
    max_position_embeddings: usize,
    layer_norm_eps: f64,
    hidden_act: String,
    #[serde(default = "absolute")]
    position_embedding_type: String,
}

fn absolute() -> String {
    "absolute".to_owned()
}

/// Layer normalisation with a bias (candle's fused kernel).
struct Norm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl Norm {
    fn load(vb: VarBuilder<'_>, size: usize, eps: f64) -> candle_core::Result<Self> {
        Ok(Self { weight: vb.get(size, "weight")?, bias: vb.get(size, "bias")?, eps: eps as f32 })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::layer_norm(&x.contiguous()?, &self.weight, &self.bias, self.eps)
    }
}

fn linear(vb: VarBuilder<'_>, inputs: usize, outputs: usize) -> candle_core::Result<Linear> {
    Ok(Linear::new(vb.get((outputs, inputs), "weight")?, Some(vb.get(outputs, "bias")?)))
}

struct Layer {
    /// Query (pre-scaled), key and value projections stacked: `[3 × hidden, hidden]`.
    qkv: Linear,
    attention_out: Linear,
    attention_norm: Norm,
    up: Linear,
    down: Linear,
    output_norm: Norm,
}

impl Layer {
    fn load(vb: VarBuilder<'_>, config: &Config) -> candle_core::Result<Self> {
        let (hidden, eps) = (config.hidden_size, config.layer_norm_eps);
        let attention = vb.pp("attention");
        let own = attention.pp("self");
        let scale = 1.0 / ((hidden / config.num_attention_heads) as f64).sqrt();
        let part = |name: &str| -> candle_core::Result<(Tensor, Tensor)> {
            let vb = own.pp(name);
            Ok((vb.get((hidden, hidden), "weight")?, vb.get(hidden, "bias")?))
        };
        let (query, query_bias) = part("query")?;
        let (key, key_bias) = part("key")?;
        let (value, value_bias) = part("value")?;
        let weight = Tensor::cat(&[&(query * scale)?, &key, &value], 0)?;
        let bias = Tensor::cat(&[&(query_bias * scale)?, &key_bias, &value_bias], 0)?;
        let output = attention.pp("output");
        Ok(Self {
            qkv: Linear::new(weight, Some(bias)),
            attention_out: linear(output.pp("dense"), hidden, hidden)?,
            attention_norm: Norm::load(output.pp("LayerNorm"), hidden, eps)?,
            up: linear(vb.pp("intermediate").pp("dense"), hidden, config.intermediate_size)?,
            down: linear(vb.pp("output").pp("dense"), config.intermediate_size, hidden)?,
            output_norm: Norm::load(vb.pp("output").pp("LayerNorm"), hidden, eps)?,
        })
    }

    /// `x` is `[rows × seq, hidden]`; `bias` is `[rows, 1, 1, seq]` (0 for real tokens, the
    /// lowest float for padding).
    fn forward(
        &self,
        x: &Tensor,
        bias: &Tensor,
        (rows, seq): (usize, usize),
        heads: usize,
        pause: &dyn Fn(),
    ) -> candle_core::Result<Tensor> {
        let hidden = x.dim(D::Minus1)?;
        let qkv = self.qkv.forward(x)?;
        pause();
        // [rows, seq, 3, heads, head] → [3, rows, heads, seq, head]
        let qkv = qkv.reshape((rows, seq, 3, heads, hidden / heads))?.permute((2, 0, 3, 1, 4))?;
        let (query, key, value) =
            (qkv.get(0)?.contiguous()?, qkv.get(1)?.contiguous()?, qkv.get(2)?.contiguous()?);
        let scores = query.matmul(&key.t()?)?.broadcast_add(bias)?;
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let context = weights.matmul(&value)?.transpose(1, 2)?.reshape((rows * seq, hidden))?;
        pause();
        let attended =
            self.attention_norm.forward(&(self.attention_out.forward(&context)? + x)?)?;
        pause();
        let inner = self.up.forward(&attended)?.gelu_erf()?;
        pause();
        let out = self.output_norm.forward(&(self.down.forward(&inner)? + &attended)?)?;
        pause();
        Ok(out)
    }
}

pub(super) struct Encoder {
    words: Embedding,
    /// Position embeddings with the (single) token type's embedding added: `[positions, hidden]`.
    positions: Tensor,
    norm: Norm,
    layers: Vec<Layer>,
    heads: usize,
}

impl Encoder {
    /// The encoder of a BERT checkpoint with absolute positions and erf GELU; other variants are
    /// refused rather than run wrong.
    pub(super) fn load(vb: VarBuilder<'_>, config: &Config) -> Result<Self, String> {
        if config.hidden_act != "gelu" {
            return Err(format!(
                "unsupported hidden_act {:?} (expected \"gelu\")",
                config.hidden_act
            ));
        }
        if config.position_embedding_type != "absolute" {
            return Err(format!(
                "unsupported position_embedding_type {:?} (expected \"absolute\")",
                config.position_embedding_type
            ));
        }
        if config.num_attention_heads == 0
            || !config.hidden_size.is_multiple_of(config.num_attention_heads)
        {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                config.hidden_size, config.num_attention_heads
            ));
        }
        Self::load_weights(vb, config).map_err(|e| e.to_string())
    }

    fn load_weights(vb: VarBuilder<'_>, config: &Config) -> candle_core::Result<Self> {
        let hidden = config.hidden_size;
        let embeddings = vb.pp("embeddings");
        let words = embeddings.get((config.vocab_size, hidden), "word_embeddings.weight")?;
        let positions = embeddings
            .get((config.max_position_embeddings, hidden), "position_embeddings.weight")?;
        let types =
            embeddings.get((config.type_vocab_size, hidden), "token_type_embeddings.weight")?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| Layer::load(vb.pp(format!("encoder.layer.{i}")), config))
            .collect::<candle_core::Result<_>>()?;
        Ok(Self {
            words: Embedding::new(words, hidden),
            positions: positions.broadcast_add(&types.get(0)?)?,
            norm: Norm::load(embeddings.pp("LayerNorm"), hidden, config.layer_norm_eps)?,
            layers,
            heads: config.num_attention_heads,
        })
    }

    /// Hidden states `[texts, seq, hidden]` of token `ids` `[texts, seq]` under `mask` (1 for
    /// real tokens, 0 for padding), calling `pause` between steps.
    pub(super) fn forward(
        &self,
        ids: &Tensor,
        mask: &Tensor,
        pause: &dyn Fn(),
    ) -> candle_core::Result<Tensor> {
        let (texts, seq) = ids.dims2()?;
        // 0 where mask is 1 and the lowest float where it is 0: -MIN is MAX, so 1·MAX + MIN is 0.
        let bias = mask
            .to_dtype(DType::F32)?
            .affine(-f64::from(f32::MIN), f64::from(f32::MIN))?
            .reshape((texts, 1, 1, seq))?;
        let per_group = (GROUP_TOKENS / seq.max(1)).max(1);
        let mut groups = Vec::with_capacity(texts.div_ceil(per_group));
        for start in (0..texts).step_by(per_group) {
            let rows = per_group.min(texts - start);
            let ids = ids.narrow(0, start, rows)?;
            let embedded =
                self.words.forward(&ids)?.broadcast_add(&self.positions.narrow(0, 0, seq)?)?;
            let mut x = self.norm.forward(&embedded.reshape((rows * seq, ()))?)?;
            let bias = bias.narrow(0, start, rows)?;
            for layer in &self.layers {
                x = layer.forward(&x, &bias, (rows, seq), self.heads, pause)?;
            }
            groups.push(x.reshape((rows, seq, ()))?);
        }
        Tensor::cat(&groups, 0)
    }
}
