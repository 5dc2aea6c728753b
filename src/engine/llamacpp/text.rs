//! Token ids to text, with llama.cpp's vocabulary (prompts to ids: `prompt_tokens`).

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

pub(super) fn detokenize(model: &LlamaModel, ids: &[u32]) -> String {
    let vocab = model.vocab();
    let bytes: Vec<u8> = ids.iter().flat_map(|&i| vocab.token_to_piece(LlamaToken(i as i32), true, None)).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The longest valid UTF-8 prefix of `bytes`, removed from it (a token may end inside a
/// multi-byte character; the rest comes with the next token).
pub(super) fn take_utf8_prefix(bytes: &mut Vec<u8>) -> String {
    let valid = match std::str::from_utf8(bytes) {
        Ok(s) => s.len(),
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        // Invalid bytes that no continuation can repair: pass them on lossily.
        Err(_) => bytes.len(),
    };
    let head: Vec<u8> = bytes.drain(..valid).collect();
    String::from_utf8_lossy(&head).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_prefix_waits_for_the_rest_of_a_character() {
        let mut b = "a€".as_bytes()[..2].to_vec(); // 'a' + first byte of '€'
        assert_eq!(take_utf8_prefix(&mut b), "a");
        assert_eq!(b.len(), 1);
        b.extend(&"€".as_bytes()[1..]);
        assert_eq!(take_utf8_prefix(&mut b), "€");
        assert!(b.is_empty());
    }
}
