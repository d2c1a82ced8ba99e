//! The BERT encoder that all-MiniLM-L6-v2 is, written out over plain slices (see `kernels`).
//!
//! What differs from candle-transformers' `BertModel`, each measured:
//! - **No padding.** Every layer but attention works token by token, so the texts of a pass are
//!   packed end to end and attention runs per text over its own tokens. A pass costs what its
//!   real tokens cost, whatever mix of lengths it holds (padded to the longest, a batch of
//!   texts of 256 and 20 tokens spent a third of its work on padding).
//! - **One thread a pass**, so two passes can run side by side (see `service`).
//! - **Pauses.** A pass runs in groups of at most [`GROUP_TOKENS`] tokens and calls `pause`
//!   after each step of a few milliseconds, where the service holds it while an urgent pass
//!   runs.
//! - Query, key and value are one product over their stacked weights, the attention scale
//!   1/√d is folded into the query weights at load, and weights are stored transposed
//!   (`[inputs, outputs]`), the layout the product reads fastest. All exact up to rounding.

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;

use super::kernels::{Mat, fill_rows, gelu, layer_norm, matmul, softmax_rows};

/// Tokens one group of a pass holds (a text is never split, and no text is longer than the
/// model's window). Small enough that a step (one dense layer over the group) takes a few
/// milliseconds, large enough that the products stay efficient.
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

fn values(tensor: &Tensor) -> candle_core::Result<Vec<f32>> {
    tensor.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()
}

struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f32,
}

impl Norm {
    fn load(vb: VarBuilder<'_>, size: usize, eps: f64) -> candle_core::Result<Self> {
        Ok(Self {
            weight: values(&vb.get(size, "weight")?)?,
            bias: values(&vb.get(size, "bias")?)?,
            eps: eps as f32,
        })
    }

    fn apply(&self, xs: &mut [f32]) {
        layer_norm(xs, &self.weight, &self.bias, self.eps);
    }
}

/// A dense layer: `weight` is `[inputs, outputs]` (transposed from the checkpoint's).
struct Dense {
    weight: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
}

impl Dense {
    fn new(weight: &Tensor, bias: &Tensor) -> candle_core::Result<Self> {
        let (_, inputs) = weight.dims2()?;
        Ok(Self { weight: values(&weight.t()?.contiguous()?)?, bias: values(bias)?, inputs })
    }

    fn load(vb: VarBuilder<'_>, inputs: usize, outputs: usize) -> candle_core::Result<Self> {
        Self::new(&vb.get((outputs, inputs), "weight")?, &vb.get(outputs, "bias")?)
    }

    fn outputs(&self) -> usize {
        self.bias.len()
    }

    /// `out = x · W + b`, plus `residual` when given; `x` holds `tokens` rows.
    fn apply(&self, x: &[f32], tokens: usize, out: &mut [f32], residual: Option<&[f32]>) {
        let outputs = self.outputs();
        let out = &mut out[..tokens * outputs];
        fill_rows(out, &self.bias, residual);
        matmul(
            out,
            Mat::rows(0, tokens, outputs, outputs),
            true,
            (x, Mat::rows(0, tokens, self.inputs, self.inputs)),
            (&self.weight, Mat::rows(0, self.inputs, outputs, outputs)),
        );
    }
}

struct Layer {
    /// Query (pre-scaled), key and value projections stacked: outputs `[q | k | v]`.
    qkv: Dense,
    attention_out: Dense,
    attention_norm: Norm,
    up: Dense,
    down: Dense,
    output_norm: Norm,
}

/// Working memory of a pass, sized for its largest group and reused by every layer.
#[derive(Default)]
struct Scratch {
    qkv: Vec<f32>,
    context: Vec<f32>,
    attended: Vec<f32>,
    inner: Vec<f32>,
    scores: Vec<f32>,
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
            qkv: Dense::new(&weight, &bias)?,
            attention_out: Dense::load(output.pp("dense"), hidden, hidden)?,
            attention_norm: Norm::load(output.pp("LayerNorm"), hidden, eps)?,
            up: Dense::load(vb.pp("intermediate").pp("dense"), hidden, config.intermediate_size)?,
            down: Dense::load(vb.pp("output").pp("dense"), config.intermediate_size, hidden)?,
            output_norm: Norm::load(vb.pp("output").pp("LayerNorm"), hidden, eps)?,
        })
    }

    /// One layer over `x` (`[tokens, hidden]`, the texts of `spans` end to end), in place.
    fn forward(
        &self,
        x: &mut [f32],
        spans: &[(usize, usize)],
        heads: usize,
        scratch: &mut Scratch,
        pause: &dyn Fn(),
    ) {
        let hidden = self.attention_out.outputs();
        let tokens = x.len() / hidden;
        let (width, head) = (3 * hidden, hidden / heads);
        self.qkv.apply(x, tokens, &mut scratch.qkv, None);
        pause();
        for &(start, len) in spans {
            let scores = &mut scratch.scores[..len * len];
            for h in 0..heads {
                let row = start * width + h * head;
                let query = Mat::rows(row, len, head, width);
                let key = Mat::rows(row + hidden, len, head, width);
                let value = Mat::rows(row + 2 * hidden, len, head, width);
                let qkv = scratch.qkv.as_slice();
                matmul(scores, Mat::rows(0, len, len, len), false, (qkv, query), (qkv, key.t()));
                softmax_rows(scores, len);
                let into = Mat::rows(start * hidden + h * head, len, head, hidden);
                let weights = (&*scores, Mat::rows(0, len, len, len));
                matmul(&mut scratch.context, into, false, weights, (qkv, value));
            }
        }
        pause();
        let attended = &mut scratch.attended[..tokens * hidden];
        self.attention_out.apply(&scratch.context, tokens, attended, Some(&*x));
        self.attention_norm.apply(attended);
        pause();
        let inner = &mut scratch.inner[..tokens * self.up.outputs()];
        self.up.apply(attended, tokens, inner, None);
        gelu(inner);
        pause();
        self.down.apply(inner, tokens, x, Some(&*attended));
        self.output_norm.apply(x);
        pause();
    }
}

pub(super) struct Encoder {
    /// `[vocab, hidden]`.
    words: Vec<f32>,
    /// Position embeddings with the (single) token type's embedding added: `[positions, hidden]`.
    positions: Vec<f32>,
    norm: Norm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    intermediate: usize,
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
            words: values(&words)?,
            positions: values(&positions.broadcast_add(&types.get(0)?)?)?,
            norm: Norm::load(embeddings.pp("LayerNorm"), hidden, config.layer_norm_eps)?,
            layers,
            hidden,
            heads: config.num_attention_heads,
            intermediate: config.intermediate_size,
        })
    }

    /// The hidden states of each text's tokens (`[tokens, hidden]`, row after row), calling
    /// `pause` between steps. A text with no tokens, more than the model has positions for, or
    /// a token the vocabulary lacks is refused.
    pub(super) fn forward(
        &self,
        texts: &[&[u32]],
        pause: &dyn Fn(),
    ) -> Result<Vec<Vec<f32>>, String> {
        let hidden = self.hidden;
        let positions = self.positions.len() / hidden;
        let vocab = self.words.len() / hidden;
        for (i, ids) in texts.iter().enumerate() {
            if ids.is_empty() || ids.len() > positions {
                return Err(format!("text {i} has {} tokens (1 to {positions} fit)", ids.len()));
            }
            if let Some(id) = ids.iter().find(|&&id| id as usize >= vocab) {
                return Err(format!("token id {id} is outside the vocabulary of {vocab}"));
            }
        }
        let mut scratch = Scratch::default();
        let mut out = Vec::with_capacity(texts.len());
        let mut rest = texts;
        while !rest.is_empty() {
            let mut tokens = rest[0].len();
            let mut count = 1;
            while count < rest.len() && tokens + rest[count].len() <= GROUP_TOKENS {
                tokens += rest[count].len();
                count += 1;
            }
            let (group, after) = rest.split_at(count);
            rest = after;
            let x = self.group(group, tokens, &mut scratch, pause);
            let mut at = 0;
            for ids in group {
                out.push(x[at * hidden..(at + ids.len()) * hidden].to_vec());
                at += ids.len();
            }
        }
        Ok(out)
    }

    /// The hidden states of one group of texts, `tokens` in all, end to end.
    fn group(
        &self,
        group: &[&[u32]],
        tokens: usize,
        scratch: &mut Scratch,
        pause: &dyn Fn(),
    ) -> Vec<f32> {
        let hidden = self.hidden;
        let longest = group.iter().map(|ids| ids.len()).max().unwrap_or(0);
        scratch.qkv.resize(tokens * 3 * hidden, 0.0);
        scratch.context.resize(tokens * hidden, 0.0);
        scratch.attended.resize(tokens * hidden, 0.0);
        scratch.inner.resize(tokens * self.intermediate, 0.0);
        scratch.scores.resize(longest * longest, 0.0);
        let mut x = Vec::with_capacity(tokens * hidden);
        let mut spans = Vec::with_capacity(group.len());
        for ids in group {
            spans.push((x.len() / hidden, ids.len()));
            for (position, &id) in ids.iter().enumerate() {
                let word = &self.words[id as usize * hidden..][..hidden];
                let place = &self.positions[position * hidden..][..hidden];
                x.extend(word.iter().zip(place).map(|(w, p)| w + p));
            }
        }
        self.norm.apply(&mut x);
        for layer in &self.layers {
            layer.forward(&mut x, &spans, self.heads, scratch, pause);
        }
        x
    }
}
