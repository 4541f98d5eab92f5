//! `#[derive(Stats)]`: declares a struct of scales stats in one call.
//!
//! ```text
//! #[derive(scales::Stats)]
//! #[stat(rename_all = "camelCase")]
//! struct HandlerStats {
//!     requests: scales::IntStat,
//!     latency: scales::PmfStat,
//!     by_path: scales::IntDictStat,   // declared as `byPath`
//!     #[stat(name = "hits_total")]
//!     hits: scales::MeterStat,
//!     #[stat(auto_delete)]
//!     active: scales::IntDictStat,
//! }
//! ```
//!
//! expands to an `impl scales::Stats for HandlerStats` whose `declare_in(scope)` declares
//! each field with `scales::Declare::declare(scope, name, options)`. Field types only need to
//! implement `scales::Declare`; errors point at the offending field or attribute.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::{parse_macro_input, spanned::Spanned, Data, DeriveInput, Fields, LitStr};

/// Derives `scales::Stats` for a struct with named fields of stat types.
///
/// Struct attribute:
/// - `#[stat(rename_all = "camelCase")]`: names every field's stat in that case
///   (`"camelCase"`, `"PascalCase"`, `"snake_case"`, `"kebab-case"`,
///   `"SCREAMING_SNAKE_CASE"`), so `by_path` is declared as `byPath`, as the original's
///   Python names were.
///
/// Field attributes:
/// - `#[stat(name = "...")]`: the stat's name in the tree (default: the field name, after
///   `rename_all`);
/// - `#[stat(auto_delete)]`: declare with `StatOptions::auto_delete()`.
#[proc_macro_derive(Stats, attributes(stat))]
pub fn derive_stats(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

struct FieldSpec {
    name: String,
    auto_delete: bool,
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => &fields.named,
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    "`#[derive(Stats)]` needs named fields, one per stat",
                ))
            }
        },
        _ => {
            return Err(syn::Error::new_spanned(
                &input.ident,
                "`#[derive(Stats)]` works on structs whose fields are scales stats",
            ))
        }
    };

    let rename = rename_rule(input)?;
    let mut declarations = Vec::new();
    let mut idents = Vec::new();
    let mut names = Vec::new();
    for field in fields {
        let ident = field.ident.as_ref().expect("named fields have identifiers");
        let spec = field_spec(field, rename)?;
        let ty = &field.ty;
        let name = &spec.name;
        let options = if spec.auto_delete {
            quote!(::scales::StatOptions::auto_delete())
        } else {
            quote!(::core::default::Default::default())
        };
        idents.push(ident);
        names.push(name.clone());
        declarations.push(quote! {
            #ident: <#ty as ::scales::Declare>::declare(scope, #name, #options)?
        });
    }

    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics ::scales::Stats for #ident #ty_generics #where_clause {
            fn declare_in(
                scope: &::scales::Scope,
            ) -> ::core::result::Result<Self, ::scales::Error> {
                ::core::result::Result::Ok(Self { #(#declarations,)* })
            }

            fn stat_names(&self) -> ::std::vec::Vec<&'static str> {
                // Reading every field here also tells the compiler that stats declared only
                // to be aggregated into (never recorded into directly) are in use.
                let Self { #(#idents,)* } = self;
                let _ = (#(#idents,)*);
                ::std::vec![#(#names,)*]
            }
        }
    })
}

/// How `rename_all` turns a field name into a stat name.
#[derive(Clone, Copy)]
enum Rename {
    None,
    Camel,
    Pascal,
    Snake,
    Kebab,
    ScreamingSnake,
}

impl Rename {
    fn apply(self, field: &str) -> String {
        use heck::{
            ToKebabCase, ToLowerCamelCase, ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase,
        };
        match self {
            Self::None => field.to_owned(),
            Self::Camel => field.to_lower_camel_case(),
            Self::Pascal => field.to_upper_camel_case(),
            Self::Snake => field.to_snake_case(),
            Self::Kebab => field.to_kebab_case(),
            Self::ScreamingSnake => field.to_shouty_snake_case(),
        }
    }
}

/// The struct's `#[stat(rename_all = "...")]`, if any.
fn rename_rule(input: &DeriveInput) -> syn::Result<Rename> {
    let mut rule = Rename::None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("stat")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename_all") {
                let case: LitStr = meta.value()?.parse()?;
                rule = match case.value().as_str() {
                    "camelCase" => Rename::Camel,
                    "PascalCase" => Rename::Pascal,
                    "snake_case" => Rename::Snake,
                    "kebab-case" => Rename::Kebab,
                    "SCREAMING_SNAKE_CASE" => Rename::ScreamingSnake,
                    _ => {
                        return Err(syn::Error::new_spanned(
                            &case,
                            "unknown case; expected \"camelCase\", \"PascalCase\", \"snake_case\", \"kebab-case\" or \"SCREAMING_SNAKE_CASE\"",
                        ))
                    }
                };
                Ok(())
            } else {
                Err(meta.error(
                    "unknown `stat` attribute on a struct; expected `rename_all = \"...\"`",
                ))
            }
        })?;
    }
    Ok(rule)
}

fn field_spec(field: &syn::Field, rename: Rename) -> syn::Result<FieldSpec> {
    let ident = field.ident.as_ref().expect("named fields have identifiers");
    let mut spec = FieldSpec {
        name: rename.apply(ident.to_string().trim_start_matches("r#")),
        auto_delete: false,
    };
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("stat")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                let name: LitStr = meta.value()?.parse()?;
                let value = name.value();
                if value.is_empty() || value.contains('/') || value.chars().any(char::is_control) {
                    return Err(syn::Error::new_spanned(
                        &name,
                        "a stat name must be non-empty, without `/` or control characters",
                    ));
                }
                spec.name = value;
                Ok(())
            } else if meta.path.is_ident("auto_delete") {
                spec.auto_delete = true;
                Ok(())
            } else {
                Err(meta
                    .error("unknown `stat` attribute; expected `name = \"...\"` or `auto_delete`"))
            }
        })?;
    }
    Ok(spec)
}
