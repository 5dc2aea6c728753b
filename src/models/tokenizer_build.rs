//! Builds a Hugging Face `tokenizer.json` for Gemma 3 from a SentencePiece-style vocabulary
//! (pieces, scores, token types), as GGUF files store it.
//!
//! Gemma's tokenizer is a SentencePiece BPE with byte fallback and no dummy prefix: spaces
//! become `▁`, pieces merge pairwise by priority. The merges are derived from the vocabulary:
//! every split of a piece into two pieces of the vocabulary is a merge, ranked by the merged
//! piece's score (higher first), which is how SentencePiece itself picks merges.

use std::path::Path;

use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::normalizers::replace::Replace;
use tokenizers::{AddedToken, DecoderWrapper, NormalizerWrapper, Tokenizer};

/// GGUF / SentencePiece token types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PieceType {
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

impl PieceType {
    pub fn from_gguf(t: i32) -> PieceType {
        match t {
            2 => PieceType::Unknown,
            3 => PieceType::Control,
            4 => PieceType::UserDefined,
            5 => PieceType::Unused,
            6 => PieceType::Byte,
            _ => PieceType::Normal,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Piece {
    pub text: String,
    pub score: f32,
    pub kind: PieceType,
}

/// Assembles the tokenizer and writes it to `path`.
pub fn write_gemma_tokenizer(pieces: &[Piece], unk: &str, path: &Path) -> Result<(), String> {
    let vocab: Vocab = pieces.iter().enumerate().map(|(i, p)| (p.text.clone(), i as u32)).collect();
    // Merge candidates: only normal pieces are built by merging.
    let mut merges: Vec<(f32, u32, String, String)> = Vec::new();
    for (id, p) in pieces.iter().enumerate() {
        if p.kind != PieceType::Normal {
            continue;
        }
        let chars: Vec<(usize, char)> = p.text.char_indices().collect();
        for &(i, _) in chars.iter().skip(1) {
            let (l, r) = p.text.split_at(i);
            let (Some(li), Some(ri)) = (vocab.get(l), vocab.get(r)) else { continue };
            if pieces[*li as usize].kind == PieceType::Normal && pieces[*ri as usize].kind == PieceType::Normal {
                merges.push((p.score, id as u32, l.to_string(), r.to_string()));
            }
        }
    }
    merges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let merges: Vec<(String, String)> = merges.into_iter().map(|(_, _, l, r)| (l, r)).collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .unk_token(unk.to_string())
        .fuse_unk(true)
        .byte_fallback(true)
        .build()
        .map_err(|e| e.to_string())?;
    let mut tok = Tokenizer::new(bpe);
    let replace = Replace::new(" ", "▁").map_err(|e| e.to_string())?;
    tok.with_normalizer(Some(NormalizerWrapper::Replace(replace)));
    let decoders = vec![
        DecoderWrapper::Replace(Replace::new("▁", " ").map_err(|e| e.to_string())?),
        DecoderWrapper::ByteFallback(ByteFallback::new()),
        DecoderWrapper::Fuse(Fuse::new()),
    ];
    tok.with_decoder(Some(DecoderWrapper::Sequence(DecoderSequence::new(decoders))));
    let special: Vec<AddedToken> = pieces
        .iter()
        .filter(|p| matches!(p.kind, PieceType::Control | PieceType::Unknown))
        .map(|p| AddedToken::from(p.text.clone(), true))
        .collect();
    let user: Vec<AddedToken> = pieces
        .iter()
        .filter(|p| p.kind == PieceType::UserDefined)
        .map(|p| AddedToken::from(p.text.clone(), false).normalized(false))
        .collect();
    tok.add_special_tokens(&special);
    tok.add_tokens(&user);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    tok.save(path, false).map_err(|e| e.to_string())
}
