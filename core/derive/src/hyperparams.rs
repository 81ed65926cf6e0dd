//! `#[derive(Hyperparams)]`: documentation, per-key parsing and bound checks from one struct.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Expr, Fields, Path};

use crate::choice::doc_line;

/// The bounds written in one field's `#[param(..)]`.
#[derive(Default)]
struct FieldBounds {
    min: Option<Expr>,
    max: Option<Expr>,
    gt: Option<Expr>,
    lt: Option<Expr>,
    min_len: Option<Expr>,
    max_len: Option<Expr>,
}

impl FieldBounds {
    fn parse(attrs: &[syn::Attribute]) -> syn::Result<FieldBounds> {
        let mut b = FieldBounds::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("param")) {
            attr.parse_nested_meta(|meta| {
                let slot = if meta.path.is_ident("min") {
                    &mut b.min
                } else if meta.path.is_ident("max") {
                    &mut b.max
                } else if meta.path.is_ident("gt") {
                    &mut b.gt
                } else if meta.path.is_ident("lt") {
                    &mut b.lt
                } else if meta.path.is_ident("min_len") {
                    &mut b.min_len
                } else if meta.path.is_ident("max_len") {
                    &mut b.max_len
                } else {
                    return Err(meta.error(
                        "unknown #[param] bound: expected min, max, gt, lt, min_len or max_len",
                    ));
                };
                *slot = Some(meta.value()?.parse()?);
                Ok(())
            })?;
        }
        Ok(b)
    }

    /// A `Bounds` value built at run time (so the bound expressions may be constants).
    fn tokens(&self) -> TokenStream {
        let num = |e: &Option<Expr>| match e {
            Some(e) => quote!(::core::option::Option::Some((#e) as f64)),
            None => quote!(::core::option::Option::None),
        };
        let len = |e: &Option<Expr>| match e {
            Some(e) => quote!(::core::option::Option::Some((#e) as usize)),
            None => quote!(::core::option::Option::None),
        };
        let (min, max, gt, lt) = (num(&self.min), num(&self.max), num(&self.gt), num(&self.lt));
        let (min_len, max_len) = (len(&self.min_len), len(&self.max_len));
        quote! {
            ::autodidact_core::config::Bounds {
                min: #min, max: #max, gt: #gt, lt: #lt, min_len: #min_len, max_len: #max_len,
            }
        }
    }
}

/// The struct's `#[hyperparams(check = path)]`, if any.
fn cross_check(attrs: &[syn::Attribute]) -> syn::Result<Option<Path>> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("hyperparams")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("check") {
                found = Some(meta.value()?.parse()?);
                Ok(())
            } else {
                Err(meta.error("unknown #[hyperparams] key: expected check = path"))
            }
        })?;
    }
    Ok(found)
}

pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "Hyperparams derives only on structs with named fields",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "Hyperparams derives only on structs with named fields",
        ));
    };
    let ident = &input.ident;
    let mut docs = Vec::new();
    let mut sets = Vec::new();
    let mut checks = Vec::new();
    let mut keys = Vec::new();
    for f in &fields.named {
        let Some(field) = &f.ident else { continue };
        let key = field.to_string().trim_start_matches("r#").to_string();
        // One line as `describe` prints it: "Learning rate (float, > 0)", no full stop.
        let doc = doc_line(&f.attrs).trim_end_matches('.').to_string();
        if doc.is_empty() {
            return Err(syn::Error::new_spanned(
                field,
                "every hyperparameter needs a doc comment: it is what `autodidact describe` shows",
            ));
        }
        let ty = &f.ty;
        let bounds = FieldBounds::parse(&f.attrs)?.tokens();
        docs.push(quote! {
            ::autodidact_core::config::ParamDoc::of::<#ty>(#key, #doc, &#bounds)
        });
        sets.push(quote! {
            #key => {
                self.#field = ::autodidact_core::config::parse_value::<#ty>(#key, value)?;
                ::core::result::Result::Ok(())
            }
        });
        checks.push(quote! {
            ::autodidact_core::config::check_bounds(#key, &self.#field, &#bounds)?;
        });
        keys.push(key);
    }
    let check = cross_check(&input.attrs)?.map(|p| quote!(#p(self)?;));
    let (impl_g, ty_g, where_g) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_g ::autodidact_core::config::Hyperparams for #ident #ty_g #where_g {
            fn docs() -> ::std::vec::Vec<::autodidact_core::config::ParamDoc> {
                ::std::vec![#(#docs),*]
            }

            fn set(
                &mut self,
                key: &str,
                value: &::autodidact_core::config::Value,
            ) -> ::autodidact_core::Result<()> {
                match key {
                    #(#sets)*
                    _ => ::core::result::Result::Err(
                        ::autodidact_core::config::unknown_key(key, &[#(#keys),*]),
                    ),
                }
            }

            fn validate(&self) -> ::autodidact_core::Result<()> {
                #(#checks)*
                #check
                ::core::result::Result::Ok(())
            }
        }
    })
}
