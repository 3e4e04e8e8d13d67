//! The sign-in pages' words: one typed catalogue, every message a field of [`Texts`] with its Vietnamese and
//! English side by side, and which language a page speaks ([`Lang::pick`]). Placeholders are written `{name}` and
//! filled by [`fill`]; a message id is its field name, so issue 15 can move the catalogue to Fluent files
//! ([`Texts::messages`] lists them). Not the layout (the templates under `templates/oidc/`), nor the lock
//! grounds' wording (`LockNotice`, from the domain).

use dinhdanh_oidc::authorize::UiLocale;
use dinhdanh_oidc::scope::Claim;

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

    /// A page's language: the holder's own choice (the switch just used, else the one the cookie remembers),
    /// else the first supported language of the relying party's `ui_locales`, else Vietnamese. The holder's
    /// choice wins because `ui_locales` is only the relying party's hint (OIDC Core §3.1.2.1).
    pub fn pick(switched: Option<Lang>, remembered: Option<Lang>, requested: Option<UiLocale>) -> Self {
        switched.or(remembered).or(requested.map(Lang::from)).unwrap_or_default()
    }

    /// This language's catalogue.
    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Vi => &VI,
            Lang::En => &EN,
        }
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

/// Declares [`Texts`], its Vietnamese and English catalogues, and [`Texts::messages`], from one table of
/// `id: "Vietnamese", "English";` lines.
macro_rules! catalogue {
    ($($(#[doc = $doc:literal])* $id:ident: $vi:literal, $en:literal;)*) => {
        /// Every text of the sign-in pages in one language.
        #[derive(Debug)]
        pub struct Texts {
            $($(#[doc = $doc])* pub $id: &'static str,)*
        }

        /// Tiếng Việt.
        pub static VI: Texts = Texts { $($id: $vi,)* };
        /// English.
        pub static EN: Texts = Texts { $($id: $en,)* };

        impl Texts {
            /// Every message as (id, text), in the table's order: what a Fluent file would hold.
            pub fn messages(&self) -> Vec<(&'static str, &'static str)> {
                vec![$((stringify!($id), self.$id),)*]
            }
        }
    };
}

catalogue! {
    /// The `aria-label` of the language switch's navigation.
    language_nav: "Ngôn ngữ", "Language";
    /// The switch's text: the name of the *other* language, in that language.
    switch_label: "English", "Tiếng Việt";

    sign_in_title: "Đăng nhập", "Sign in";
    sign_in_heading: "Đăng nhập bằng tài khoản định danh điện tử", "Sign in with your e-ID account";
    reauthenticate: "Dịch vụ yêu cầu đăng nhập lại.", "The service asks you to sign in again.";
    step_up: "Dịch vụ yêu cầu mức bảo đảm cao hơn.", "The service asks for a higher level of assurance.";
    citizen_legend: "Công dân Việt Nam", "Vietnamese citizen";
    citizen_choice: "Đăng nhập bằng số định danh", "Sign in with the identification number";
    id_number_label: "Số định danh cá nhân", "Personal identification number";
    foreigner_legend: "Người nước ngoài", "Foreigner";
    foreigner_choice: "Đăng nhập bằng hộ chiếu", "Sign in with the passport";
    passport_label: "Số hộ chiếu", "Passport number";
    nationality_label: "Quốc tịch (mã ISO 3 chữ, ví dụ KOR)", "Nationality (ISO 3-letter code, e.g. KOR)";
    password_label: "Mật khẩu", "Password";
    continue_button: "Tiếp tục", "Continue";

    sign_in_failed: "Số định danh hoặc mật khẩu không đúng.", "The identification number or the password is wrong.";
    /// `{attempts}`: how many tries are left.
    wrong_code: "Mã xác thực không đúng, còn {attempts} lần thử.", "The code is wrong; {attempts} tries left.";
    malformed_code: "Mã xác thực gồm 6 chữ số.", "The code has 6 digits.";
    /// `{seconds}`: how long to wait.
    throttled: "Quá nhiều lần thử sai; hãy thử lại sau {seconds} giây.",
        "Too many failed tries; try again in {seconds} seconds.";
    code_expired: "Mã đã hết hạn; hãy đăng nhập lại.", "The code has expired; sign in again.";

    code_title: "Mã xác thực", "One-time code";
    code_heading: "Nhập mã xác thực", "Enter the one-time code";
    /// `{destination}`: where the code went (a masked phone number or address).
    code_sent: "Mã xác thực đã được gửi tới {destination}.", "A code was sent to {destination}.";
    code_label: "Mã 6 chữ số", "6-digit code";
    confirm_button: "Xác nhận", "Confirm";

    consent_title: "Đồng ý chia sẻ", "Consent";
    /// `{client}`: the relying party's name.
    consent_heading: "Chia sẻ thông tin với {client}", "Share your information with {client}";
    consent_claims: "Dịch vụ đề nghị nhận các thông tin sau; bỏ chọn những mục bạn không muốn chia sẻ.",
        "The service asks for the following; untick what you do not want to share.";
    consent_no_claims:
        "Dịch vụ chỉ nhận một mã định danh riêng cho dịch vụ và mức bảo đảm của lần đăng nhập này.",
        "The service receives only an identifier of its own for you and this sign-in's level of assurance.";
    offline_access: "Dịch vụ này sẽ tiếp tục truy cập khi bạn không trực tuyến, cho tới khi bạn thu hồi.",
        "This service will keep access while you are away, until you withdraw it.";
    allow_button: "Đồng ý", "Allow";
    deny_button: "Từ chối", "Decline";
    claim_name: "Họ và tên", "Full name";
    claim_birthdate: "Ngày sinh", "Date of birth";
    claim_gender: "Giới tính", "Gender";
    claim_phone_number: "Số điện thoại", "Phone number";
    claim_phone_number_verified: "Số điện thoại đã xác minh chưa", "Whether the phone number is verified";
    claim_email: "Thư điện tử", "E-mail address";
    claim_email_verified: "Thư điện tử đã xác minh chưa", "Whether the e-mail address is verified";
    claim_id_number: "Số định danh cá nhân", "Personal identification number";

    locked_title: "Tài khoản bị khoá", "Account locked";
    locked_heading: "Tài khoản đang bị khoá", "Your account is locked";
    locked_intro: "Không thể đăng nhập vào dịch vụ khi tài khoản đang bị khoá.",
        "You cannot sign in to services while your account is locked.";
    how_to_lift: "Cách mở khoá:", "How to lift it:";

    refused_title: "Lỗi", "Error";
    refused_heading: "Không thể tiếp tục đăng nhập", "The sign-in cannot go on";
    logout_refused_heading: "Không thể đăng xuất", "The sign-out cannot go on";
    refused_advice: "Hãy quay lại dịch vụ và thử lại.", "Go back to the service and try again.";
    /// Before the OAuth error code and its description, which are in English.
    technical_detail: "Chi tiết kỹ thuật (tiếng Anh):", "Technical detail:";

    logout_title: "Đăng xuất", "Sign out";
    logout_heading: "Đăng xuất khỏi tài khoản định danh điện tử?", "Sign out of your e-ID account?";
    /// `{client}`: the relying party's name.
    logout_asked_by: "Yêu cầu từ {client}.", "Asked by {client}.";
    logout_button: "Đăng xuất", "Sign out";
    signed_out_title: "Đã đăng xuất", "Signed out";
    signed_out_heading: "Bạn đã đăng xuất", "You are signed out";
}

impl Texts {
    /// A claim's line on the consent page.
    pub fn claim(&self, claim: Claim) -> &'static str {
        match claim {
            Claim::Name => self.claim_name,
            Claim::Birthdate => self.claim_birthdate,
            Claim::Gender => self.claim_gender,
            Claim::PhoneNumber => self.claim_phone_number,
            Claim::PhoneNumberVerified => self.claim_phone_number_verified,
            Claim::Email => self.claim_email,
            Claim::EmailVerified => self.claim_email_verified,
            Claim::IdNumber => self.claim_id_number,
        }
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(fill(VI.wrong_code, &[("attempts", "2")]), "Mã xác thực không đúng, còn 2 lần thử.");
        assert_eq!(fill("{client} {other}", &[("client", "{other}")]), "{other} {other}");
        assert_eq!(fill("a { b } {", &[]), "a { b } {");
    }

    fn placeholders(message: &str) -> BTreeSet<&str> {
        message.split('{').skip(1).filter_map(|p| p.split_once('}')).map(|(name, _)| name).collect()
    }

    #[test]
    fn every_message_exists_in_both_languages_with_the_same_placeholders() {
        let (vi, en) = (VI.messages(), EN.messages());
        assert_eq!(vi.len(), en.len());
        for ((id, vi), (_, en)) in vi.into_iter().zip(en) {
            assert!(!vi.trim().is_empty() && !en.trim().is_empty(), "{id}");
            assert_ne!(vi, en, "{id} is not translated");
            assert_eq!(placeholders(vi), placeholders(en), "{id}");
        }
    }
}
