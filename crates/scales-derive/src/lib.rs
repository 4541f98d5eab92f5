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
//! implement `scales::Declare`; errors point at the offending field or attribute, and every
//! error of a struct is reported at once. The compile-fail cases, with the messages they
//! give, are in `tests/ui/`.

use std::collections::HashMap;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{quote, quote_spanned};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{parse_macro_input, Data, DeriveInput, Expr, ExprLit, Fields, Lit, LitStr, Token};

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
/// - `#[stat(auto_delete)]`: declare with `StatOptions::auto_delete()` (only `IntDictStat`
///   and `HistogramAggregationStat` use it; on another scales stat type it is an error).
///
/// Two fields may not have the same stat name.
#[proc_macro_derive(Stats, attributes(stat))]
pub fn derive_stats(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Collects every error of one derive, so the user sees them all in one build.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// What a field's `#[stat(...)]` attributes and the struct's `rename_all` make of it.
struct FieldSpec {
    name: String,
    /// Where the name comes from: the `name = "..."` literal, or the field's identifier.
    name_span: proc_macro2::Span,
    /// Whether the name is the field's, changed by `rename_all`.
    renamed: bool,
    auto_delete: bool,
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let fields = named_fields(input)?;
    let mut errors = Errors::default();
    let rename = rename_rule(input, &mut errors);

    let mut declarations = Vec::new();
    let mut idents = Vec::new();
    let mut names = Vec::new();
    let mut seen: HashMap<String, &syn::Ident> = HashMap::new();
    for field in fields {
        let ident = field.ident.as_ref().expect("named fields have identifiers");
        let spec = field_spec(field, rename, &mut errors);
        if let Some(first) = seen.get(&spec.name) {
            let renamed = if spec.renamed {
                format!(" (`{ident}` becomes `{}` under `rename_all`)", spec.name)
            } else {
                String::new()
            };
            errors.push(syn::Error::new(
                spec.name_span,
                format!(
                    "duplicate stat name `{}`{renamed}: field `{first}` above is declared as `{}` \
                     already; give one of the two another `#[stat(name = \"...\")]`",
                    spec.name, spec.name
                ),
            ));
        } else {
            seen.insert(spec.name.clone(), ident);
        }
        let ty = &field.ty;
        let name = &spec.name;
        let options = if spec.auto_delete {
            quote!(::scales::StatOptions::auto_delete())
        } else {
            quote!(::core::default::Default::default())
        };
        idents.push(ident);
        names.push(name.clone());
        // Spanned at the field's type, so a type that is no stat is reported there.
        declarations.push(quote_spanned! {ty.span()=>
            #ident: <#ty as ::scales::Declare>::declare(scope, #name, #options)?
        });
    }
    errors.finish()?;

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

/// The struct's named fields, or why the item has none.
fn named_fields(
    input: &DeriveInput,
) -> syn::Result<&syn::punctuated::Punctuated<syn::Field, Token![,]>> {
    let ident = &input.ident;
    let (tokens, shape) = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => return Ok(&fields.named),
            Fields::Unnamed(fields) => (quote!(#fields), "a tuple struct"),
            Fields::Unit => (quote!(#ident), "a unit struct"),
        },
        Data::Enum(data) => {
            let keyword = &data.enum_token;
            (quote!(#keyword #ident), "an enum")
        }
        Data::Union(data) => {
            let keyword = &data.union_token;
            (quote!(#keyword #ident), "a union")
        }
    };
    Err(syn::Error::new_spanned(
        tokens,
        format!(
            "`#[derive(Stats)]` needs a struct with named fields, one per stat, and `{ident}` is \
             {shape}; write `struct {ident} {{ requests: scales::IntStat, ... }}`"
        ),
    ))
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

/// The cases `rename_all` takes, as written in the attribute.
const CASES: &[(&str, Rename)] = &[
    ("camelCase", Rename::Camel),
    ("PascalCase", Rename::Pascal),
    ("snake_case", Rename::Snake),
    ("kebab-case", Rename::Kebab),
    ("SCREAMING_SNAKE_CASE", Rename::ScreamingSnake),
];

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

    /// The rule a `rename_all` literal names, or an error that says which it may name.
    fn parse(case: &LitStr) -> syn::Result<Self> {
        let value = case.value();
        if let Some((_, rule)) = CASES.iter().find(|(name, _)| *name == value) {
            return Ok(*rule);
        }
        let squashed = |s: &str| s.replace(['_', '-'], "").to_lowercase();
        let message = match CASES
            .iter()
            .find(|(name, _)| squashed(name) == squashed(&value))
        {
            Some((name, _)) => {
                format!("unknown `rename_all` case {value:?}; did you mean \"{name}\"?")
            }
            None => format!(
                "unknown `rename_all` case {value:?}; expected one of {}",
                CASES
                    .iter()
                    .map(|(name, _)| format!("\"{name}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        Err(syn::Error::new_spanned(case, message))
    }
}

/// The `#[stat(...)]` attributes among `attrs`; a `#[stat]` or `#[stat = ...]` is an error
/// that says what `on` (a struct or a field) takes.
fn stat_attrs<'a>(
    attrs: &'a [syn::Attribute],
    on: On,
    errors: &mut Errors,
) -> Vec<&'a syn::Attribute> {
    let mut lists = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("stat")) {
        if let syn::Meta::List(_) = attr.meta {
            lists.push(attr);
        } else {
            errors.push(syn::Error::new_spanned(
                &attr.meta,
                format!(
                    "`stat` takes its arguments in parentheses: {}",
                    match on {
                        On::Struct => "`#[stat(rename_all = \"...\")]` on a struct",
                        On::Field =>
                            "`#[stat(name = \"...\")]` or `#[stat(auto_delete)]` on a field",
                    }
                ),
            ));
        }
    }
    lists
}

/// What a `#[stat(...)]` attribute is written on.
#[derive(Clone, Copy)]
enum On {
    Struct,
    Field,
}

/// An attribute key as written (`rename_all`, `auto_delete`, `a::b`).
fn key_of(path: &syn::Path) -> String {
    match path.get_ident() {
        Some(ident) => ident.to_string(),
        None => quote!(#path).to_string().replace(' ', ""),
    }
}

/// The string literal after `key =`; `example` is the attribute written right.
fn string_value(meta: &ParseNestedMeta<'_>, example: &str) -> syn::Result<LitStr> {
    let key = key_of(&meta.path);
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(format!("`{key}` needs a value: write `{example}`")));
    }
    match meta.value()?.parse::<Expr>()? {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit),
        other => Err(syn::Error::new_spanned(
            other,
            format!("`{key}` takes a string literal: write `{example}`"),
        )),
    }
}

/// The struct's `#[stat(rename_all = "...")]`, if any.
fn rename_rule(input: &DeriveInput, errors: &mut Errors) -> Rename {
    let mut rule = None;
    for attr in stat_attrs(&input.attrs, On::Struct, errors) {
        let parsed = attr.parse_nested_meta(|meta| match key_of(&meta.path).as_str() {
            "rename_all" => {
                let case = string_value(&meta, "rename_all = \"camelCase\"")?;
                let parsed = Rename::parse(&case)?;
                if rule.is_some() {
                    return Err(syn::Error::new_spanned(
                        &meta.path,
                        "`rename_all` is given twice; keep one",
                    ));
                }
                rule = Some(parsed);
                Ok(())
            }
            key @ ("name" | "auto_delete") => Err(meta.error(format!(
                "`{key}` is a field attribute: put `#[stat({key}{})]` on a field, not on the \
                 struct",
                if key == "name" { " = \"...\"" } else { "" }
            ))),
            key => Err(meta.error(format!(
                "unknown `stat` attribute `{key}` on a struct; the struct takes \
                 `rename_all = \"...\"`, and its fields `name = \"...\"` and `auto_delete`"
            ))),
        });
        if let Err(error) = parsed {
            errors.push(error);
        }
    }
    rule.unwrap_or(Rename::None)
}

/// The field's stat name and options, from its `#[stat(...)]` attributes and `rename`.
fn field_spec(field: &syn::Field, rename: Rename, errors: &mut Errors) -> FieldSpec {
    let ident = field.ident.as_ref().expect("named fields have identifiers");
    let mut name: Option<LitStr> = None;
    let mut auto_delete: Option<syn::Path> = None;
    for attr in stat_attrs(&field.attrs, On::Field, errors) {
        let parsed = attr.parse_nested_meta(|meta| match key_of(&meta.path).as_str() {
            "name" => {
                let lit = string_value(&meta, "name = \"requests\"")?;
                check_name(&lit)?;
                if name.is_some() {
                    return Err(syn::Error::new_spanned(
                        &meta.path,
                        "`name` is given twice for this field; keep one",
                    ));
                }
                name = Some(lit);
                Ok(())
            }
            "auto_delete" => {
                let mut rest = TokenStream2::new();
                while !meta.input.is_empty() && !meta.input.peek(Token![,]) {
                    rest.extend([meta.input.parse::<proc_macro2::TokenTree>()?]);
                }
                let path = &meta.path;
                if !rest.is_empty() {
                    return Err(syn::Error::new_spanned(
                        quote!(#path #rest),
                        "`auto_delete` takes no value: write `#[stat(auto_delete)]` to turn it \
                         on, or leave it out",
                    ));
                }
                if auto_delete.is_some() {
                    return Err(syn::Error::new_spanned(
                        path,
                        "`auto_delete` is given twice for this field; keep one",
                    ));
                }
                auto_delete = Some(path.clone());
                Ok(())
            }
            "rename_all" => Err(meta.error(
                "`rename_all` is a struct attribute: put it on the struct, or name this field \
                 alone with `name = \"...\"`",
            )),
            key => Err(meta.error(format!(
                "unknown `stat` attribute `{key}` on a field; a field takes `name = \"...\"` \
                 and `auto_delete`"
            ))),
        });
        if let Err(error) = parsed {
            errors.push(error);
        }
    }
    if let (Some(path), Some(ty)) = (&auto_delete, ignores_auto_delete(&field.ty)) {
        errors.push(syn::Error::new_spanned(
            path,
            format!(
                "`auto_delete` has no effect on `{ty}`: only `IntDictStat` and \
                 `HistogramAggregationStat` drop the entries that reach zero; remove it"
            ),
        ));
    }
    match name {
        Some(lit) => FieldSpec {
            name: lit.value(),
            name_span: lit.span(),
            renamed: false,
            auto_delete: auto_delete.is_some(),
        },
        None => {
            let own = ident.to_string();
            let own = own.trim_start_matches("r#");
            let name = rename.apply(own);
            FieldSpec {
                renamed: name != own,
                name,
                name_span: ident.span(),
                auto_delete: auto_delete.is_some(),
            }
        }
    }
}

/// The rules of `scales::validate_name`, checked at compile time.
fn check_name(lit: &LitStr) -> syn::Result<()> {
    let value = lit.value();
    let message = if value.is_empty() {
        "a stat name cannot be empty; give one, or leave `name` out to use the field's name"
            .to_owned()
    } else if value.contains('/') {
        format!(
            "stat name `{value}` contains `/`; a field's stat lives directly in the struct's \
             scope, so declare nested stats in a child stat set (`init_child`) instead"
        )
    } else if value.chars().any(char::is_control) {
        format!("stat name {value:?} contains a control character; use printable characters")
    } else {
        return Ok(());
    };
    Err(syn::Error::new_spanned(lit, message))
}

/// The name of `ty` when it is one of the scales stat types that ignore `auto_delete`
/// (written `IntStat`, `scales::IntStat` or `::scales::IntStat`). Other types, such as a
/// generic parameter or an alias, are not checked.
fn ignores_auto_delete(ty: &syn::Type) -> Option<String> {
    const IGNORING: &[&str] = &[
        "Stat",
        "IntStat",
        "CounterStat",
        "DoubleStat",
        "StringDictStat",
        "PmfStat",
        "NamedPmfDictStat",
        "MeterStat",
        "MeterDictStat",
        "StateTimeStat",
        "SumAggregationStat",
        "IntDictSumAggregationStat",
        "PmfAggregationStat",
    ];
    let syn::Type::Path(ty) = ty else {
        return None;
    };
    let segments = &ty.path.segments;
    let last = segments.last()?;
    let in_scales = match segments.len() {
        1 => true,
        2 => segments[0].ident == "scales",
        _ => false,
    };
    let name = last.ident.to_string();
    (ty.qself.is_none()
        && in_scales
        && last.arguments.is_none()
        && IGNORING.contains(&name.as_str()))
    .then_some(name)
}
