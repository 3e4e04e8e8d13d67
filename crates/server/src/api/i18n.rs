//! The pages' languages: which one a page speaks ([`Lang::pick`]: the holder's switch, the `dd_lang` cookie that
//! remembers it, the relying party's `ui_locales`, else Vietnamese), placeholders ([`fill`]), and
//! [`catalogue!`], which declares a typed catalogue of messages with the Vietnamese and English side by side.
//! The catalogues themselves are their pages' own: the provider's in `api/oidc/i18n.rs`, the portal's in
//! `api/portal/i18n.rs`.

use dinhdanh_oidc::authorize::UiLocale;

/// The cookie that remembers the language the holder chose with the switch on a page.
pub const LANG_COOKIE: &str = "dd_lang";
/// How long the choice is remembered.
pub const LANG_COOKIE_MAX_AGE_SECONDS: i64 = 365 * 24 * 60 * 60;

/// The languages of the pages: Vietnamese first, English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    /// The BCP 47 tag, for `<html lang>`, the switch's `lang` parameter and the cookie.
    pub const fn tag(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// The language the switch leads to.
    pub const fn other(self) -> Self {
        match self {
            Lang::Vi => Lang::En,
            Lang::En => Lang::Vi,
        }
    }

    /// The switch's `lang` parameter or the cookie's value: exactly a tag of [`Lang::tag`].
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Of a Vietnamese and English pair (the domain's texts, a problem type's), the one in this language.
    pub fn choose<T>(self, (vi, en): (T, T)) -> T {
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }

    /// A page's language: the holder's own choice (the switch just used, else the one the cookie remembers),
    /// else the first supported language of the relying party's `ui_locales`, else Vietnamese. The holder's
    /// choice wins because `ui_locales` is only the relying party's hint (OIDC Core §3.1.2.1).
    pub fn pick(switched: Option<Lang>, remembered: Option<Lang>, requested: Option<UiLocale>) -> Self {
        switched.or(remembered).or(requested.map(Lang::from)).unwrap_or_default()
    }
}

impl From<UiLocale> for Lang {
    fn from(locale: UiLocale) -> Self {
        match locale {
            UiLocale::Vi => Lang::Vi,
            UiLocale::En => Lang::En,
        }
    }
}

/// `message` with each `{name}` replaced by its value in `args`, in one pass (a value is never read for
/// placeholders); an unknown `{name}` stays as it is.
pub fn fill(message: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').and_then(|close| args.iter().find(|(n, _)| *n == &after[..close]).map(|a| (close, a))) {
            Some((close, (_, value))) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Declares a catalogue: a struct with one field per message, its Vietnamese and English statics, `of(Lang)`
/// and `messages()`, from one table of `id: "Vietnamese", "English";` lines (a message id is its field name).
macro_rules! catalogue {
    ($(#[doc = $sdoc:literal])* $name:ident, $vi_name:ident, $en_name:ident;
     $($(#[doc = $doc:literal])* $id:ident: $vi:literal, $en:literal;)*) => {
        $(#[doc = $sdoc])*
        #[derive(Debug)]
        pub struct $name {
            $($(#[doc = $doc])* pub $id: &'static str,)*
        }

        /// Tiếng Việt.
        pub static $vi_name: $name = $name { $($id: $vi,)* };
        /// English.
        pub static $en_name: $name = $name { $($id: $en,)* };

        impl $name {
            /// The catalogue of this language.
            pub fn of(lang: $crate::api::i18n::Lang) -> &'static Self {
                match lang {
                    $crate::api::i18n::Lang::Vi => &$vi_name,
                    $crate::api::i18n::Lang::En => &$en_name,
                }
            }

            /// Every message as (id, text), in the table's order.
            pub fn messages(&self) -> Vec<(&'static str, &'static str)> {
                vec![$((stringify!($id), self.$id),)*]
            }
        }
    };
}

pub(crate) use catalogue;

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeSet;

    use dinhdanh_oidc::authorize::parse_ui_locales;

    use super::*;

    fn from_ui_locales(value: &str) -> Lang {
        Lang::pick(None, None, parse_ui_locales(Some(value)))
    }

    #[test]
    fn ui_locales_pick_the_first_language_the_pages_speak() {
        assert_eq!(from_ui_locales("fr en"), Lang::En);
        assert_eq!(from_ui_locales("en-GB vi"), Lang::En);
        assert_eq!(from_ui_locales("vi-VN en"), Lang::Vi);
        assert_eq!(from_ui_locales("de"), Lang::Vi, "none spoken: Vietnamese");
        assert_eq!(Lang::pick(None, None, None), Lang::Vi, "no ui_locales: Vietnamese");
    }

    #[test]
    fn the_holders_choice_beats_the_relying_partys_ui_locales() {
        let asked_en = Some(UiLocale::En);
        assert_eq!(Lang::pick(None, Some(Lang::Vi), asked_en), Lang::Vi, "the cookie");
        assert_eq!(Lang::pick(Some(Lang::En), Some(Lang::Vi), Some(UiLocale::Vi)), Lang::En, "the switch");
    }

    #[test]
    fn the_switch_and_the_cookie_take_only_the_two_tags() {
        assert_eq!(Lang::parse("en"), Some(Lang::En));
        assert_eq!(Lang::parse("vi"), Some(Lang::Vi));
        for other in ["", "EN", "en-GB", "fr", "vi;"] {
            assert_eq!(Lang::parse(other), None, "{other}");
        }
        assert_eq!((Lang::Vi.other(), Lang::En.other()), (Lang::En, Lang::Vi));
    }

    #[test]
    fn placeholders_are_filled_once_and_unknown_ones_kept() {
        assert_eq!(fill("còn {attempts} lần thử", &[("attempts", "2")]), "còn 2 lần thử");
        assert_eq!(fill("{client} {other}", &[("client", "{other}")]), "{other} {other}");
        assert_eq!(fill("a { b } {", &[]), "a { b } {");
    }

    /// The placeholders of a message: each catalogue's test checks both languages have the same ones.
    pub(crate) fn placeholders(message: &str) -> BTreeSet<&str> {
        message.split('{').skip(1).filter_map(|p| p.split_once('}')).map(|(name, _)| name).collect()
    }

    /// Every message of a catalogue in both languages, translated, with the same placeholders.
    pub(crate) fn check_catalogue(vi: Vec<(&str, &str)>, en: Vec<(&str, &str)>) {
        assert_eq!(vi.len(), en.len());
        for ((id, vi), (_, en)) in vi.into_iter().zip(en) {
            assert!(!vi.trim().is_empty() && !en.trim().is_empty(), "{id}");
            assert_ne!(vi, en, "{id} is not translated");
            assert_eq!(placeholders(vi), placeholders(en), "{id}");
        }
    }
}
