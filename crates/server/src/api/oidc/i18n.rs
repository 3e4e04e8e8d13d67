//! The provider's sign-in pages' words: one typed catalogue ([`crate::api::i18n::catalogue!`]), every message a
//! field of [`Texts`] with its Vietnamese and English side by side. Not the layout (the templates under
//! `templates/oidc/`), nor the lock grounds' wording (`LockNotice`, from the domain).

use dinhdanh_oidc::scope::Claim;

use crate::api::i18n::catalogue;
pub use crate::api::i18n::{LANG_COOKIE, LANG_COOKIE_MAX_AGE_SECONDS, Lang, fill};

catalogue! {
    /// Every text of the sign-in pages in one language.
    Texts, VI, EN;

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

    biometric_title: "Xác thực sinh trắc học", "Biometric check";
    biometric_heading: "Xác thực mức độ 2", "Level 2 check";
    biometric_intro:
        "Dịch vụ yêu cầu mức độ 2: thêm vân tay hoặc ảnh chân dung, so khớp với dữ liệu trong Cơ sở dữ liệu quốc gia.",
        "The service asks for Level 2: add a fingerprint or a portrait, compared with the national registry's.";
    biometric_capture_hint:
        "Ứng dụng thu nhận hoặc máy quét tạo mẫu sinh trắc học (vân tay theo ISO/IEC 19794-2, hoặc mẫu khuôn mặt), dạng base64.",
        "The capture app or the scanner makes the template (a fingerprint as ISO/IEC 19794-2, or a face template), in base64.";
    modality_legend: "Loại sinh trắc học", "What was captured";
    modality_finger: "Vân tay (một ngón)", "Fingerprint (one finger)";
    modality_face: "Ảnh chân dung", "Portrait";
    template_label: "Mẫu sinh trắc học (base64)", "Template (base64)";
    /// `{attempts}`: how many misses are left today.
    biometric_mismatch: "Không khớp với dữ liệu trong Cơ sở dữ liệu; hôm nay còn {attempts} lần thử.",
        "It does not match the registry's; {attempts} tries left today.";
    biometric_mismatch_in_person: "Không khớp với dữ liệu trong Cơ sở dữ liệu.", "It does not match the registry's.";
    biometric_no_reference:
        "Cơ sở dữ liệu không có mẫu cho ngón tay hoặc ảnh này; hãy dùng ngón tay khác hoặc ảnh chân dung. Lần này không bị tính.",
        "The registry has no reference for this finger or portrait; use another finger or the portrait. This try was not counted.";
    /// `{hours}`: about how many hours until the next day in Vietnam.
    biometric_exhausted: "Bạn đã dùng hết số lần thử hôm nay; hãy thử lại sau khoảng {hours} giờ.",
        "You have used today's tries; try again in about {hours} hours.";
    biometric_unreadable: "Không đọc được mẫu sinh trắc học; hãy thu nhận lại.",
        "The template cannot be read; capture it again.";

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
    use super::*;

    #[test]
    fn every_message_exists_in_both_languages_with_the_same_placeholders() {
        crate::api::i18n::tests::check_catalogue(VI.messages(), EN.messages());
        assert_eq!(fill(VI.wrong_code, &[("attempts", "2")]), "Mã xác thực không đúng, còn 2 lần thử.");
    }
}
