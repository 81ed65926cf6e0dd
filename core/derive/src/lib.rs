//! Derives for Autodidact's hyperparameters, re-exported by `autodidact-core`.
//!
//! - `#[derive(Hyperparams)]` on a struct with named fields implements
//!   `autodidact_core::Hyperparams`: its documentation comes from each field's doc comment, type
//!   and `#[param(..)]` bounds, so `autodidact describe` cannot disagree with the code; its
//!   per-key parsing names the key, the value and what was expected; its validation checks
//!   the same bounds the documentation states.
//! - `#[derive(Choice)]` on an enum of unit variants lists its spellings (serde's kebab-case),
//!   so a choice is a type, not a string checked by hand.
//!
//! See `autodidact_core::config` for the attributes and an example.

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

mod choice;
mod hyperparams;

/// Implements `autodidact_core::Hyperparams` from the struct's fields, doc comments and
/// `#[param(min = .., max = .., gt = .., lt = .., min_len = .., max_len = ..)]` bounds;
/// `#[hyperparams(check = path)]` adds a cross-field check `fn(&Self) -> Result<()>`.
#[proc_macro_derive(Hyperparams, attributes(param, hyperparams))]
pub fn derive_hyperparams(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    hyperparams::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implements `autodidact_core::config::ParamType` (and `name`, `ALL`, `Display`) for an enum
/// of unit variants spelled in kebab-case, as `#[serde(rename_all = "kebab-case")]` spells them.
#[proc_macro_derive(Choice)]
pub fn derive_choice(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    choice::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
