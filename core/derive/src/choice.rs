//! `#[derive(Choice)]`: the spellings of an enum of unit variants.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Expr, Fields, Lit, Meta};

/// serde's `rename_all = "kebab-case"` spelling of a variant name.
fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.char_indices() {
        if c.is_uppercase() && i > 0 {
            out.push('-');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// A variant's own `#[serde(rename = "…")]`, if any.
fn serde_rename(attrs: &[syn::Attribute]) -> syn::Result<Option<String>> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let s: syn::LitStr = meta.value()?.parse()?;
                found = Some(s.value());
            } else if meta.input.peek(syn::Token![=]) {
                let _: Expr = meta.value()?.parse()?;
            }
            Ok(())
        })?;
    }
    Ok(found)
}

/// The first paragraph of the doc comments, on one line.
pub(crate) fn doc_line(attrs: &[syn::Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if let Meta::NameValue(nv) = &attr.meta {
            if nv.path.is_ident("doc") {
                if let Expr::Lit(e) = &nv.value {
                    if let Lit::Str(s) = &e.lit {
                        let line = s.value().trim().to_string();
                        if line.is_empty() && !lines.is_empty() {
                            break;
                        }
                        if !line.is_empty() {
                            lines.push(line);
                        }
                    }
                }
            }
        }
    }
    lines.join(" ")
}

pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "Choice derives only on enums of unit variants",
        ));
    };
    let ident = &input.ident;
    let mut variants = Vec::new();
    let mut names = Vec::new();
    let mut docs = Vec::new();
    for v in &data.variants {
        if !matches!(v.fields, Fields::Unit) {
            return Err(syn::Error::new_spanned(
                v,
                "Choice variants carry no data (a choice is one of a few spellings)",
            ));
        }
        let name = serde_rename(&v.attrs)?.unwrap_or_else(|| kebab(&v.ident.to_string()));
        variants.push(&v.ident);
        names.push(name);
        docs.push(doc_line(&v.attrs));
    }
    let (impl_g, ty_g, where_g) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_g #ident #ty_g #where_g {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[#(Self::#variants),*];

            /// The spelling in configuration files (kebab-case).
            pub fn name(&self) -> &'static str {
                match self {
                    #(Self::#variants => #names,)*
                }
            }
        }

        impl #impl_g ::core::fmt::Display for #ident #ty_g #where_g {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl #impl_g ::autodidact_core::config::ParamType for #ident #ty_g #where_g {
            fn type_name() -> ::std::string::String {
                ::std::string::String::from("string")
            }
            fn choices() -> ::std::vec::Vec<(&'static str, &'static str)> {
                ::std::vec![#((#names, #docs)),*]
            }
        }
    })
}
