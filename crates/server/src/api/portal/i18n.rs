//! The holder portal's words: one typed catalogue ([`crate::api::i18n::catalogue!`]), Vietnamese and English side
//! by side. The lock grounds' wording and how each lock is lifted come from the domain (`LockNotice`), in both
//! languages; dates are formatted in [`vietnam_time`].

use chrono::{DateTime, FixedOffset, Utc};

use crate::api::i18n::catalogue;

/// Vietnam time (UTC+7, no daylight saving), as Vietnamese readers write it: `07/12/2026 18:30`.
pub fn vietnam_time(at: DateTime<Utc>) -> String {
    let offset = FixedOffset::east_opt(7 * 3600).expect("UTC+7 is a valid offset");
    at.with_timezone(&offset).format("%d/%m/%Y %H:%M").to_string()
}

catalogue! {
    /// Every text of the portal's pages in one language.
    PortalTexts, VI, EN;

    /// The `aria-label` of the language switch's navigation.
    language_nav: "Ngôn ngữ", "Language";
    /// The switch's text: the name of the *other* language, in that language.
    switch_label: "English", "Tiếng Việt";
    portal_name: "Cổng tài khoản định danh điện tử", "e-ID account portal";
    /// After every time on the pages.
    time_zone_note: "Giờ Việt Nam (UTC+7)", "Vietnam time (UTC+7)";

    welcome_title: "Tài khoản định danh điện tử", "Your e-ID account";
    welcome_intro: "Đăng nhập để xem tài khoản, các khoá đang áp dụng, lịch sử và các dịch vụ bạn đã đăng nhập.",
        "Sign in to see your account, the locks on it, its history and the services you signed in to.";
    sign_in_button: "Đăng nhập", "Sign in";

    account_title: "Tài khoản của bạn", "Your account";
    status_label: "Trạng thái", "Status";
    status_active: "Đang hoạt động", "Active";
    status_locked: "Đang bị khoá", "Locked";
    level_label: "Mức độ tài khoản", "Account level";
    /// `{level}`: 1 or 2.
    level_value: "Mức độ {level}", "Level {level}";
    session_label: "Lần đăng nhập này", "This sign-in";
    phone_label: "Số điện thoại", "Phone";
    email_label: "Thư điện tử", "E-mail";
    none: "Không có", "None";

    locks_heading: "Các khoá đang áp dụng", "Locks in force";
    no_locks: "Tài khoản không bị khoá.", "Your account is not locked.";
    ground_label: "Lý do khoá", "Ground";
    placed_by_label: "Bên yêu cầu khoá", "Placed by";
    since_label: "Từ", "Since";
    until_label: "Đến", "Until";
    how_to_lift_label: "Cách mở khoá", "How to lift it";

    lock_heading: "Khoá tài khoản của tôi", "Lock my account";
    lock_intro: "Nếu bạn mất điện thoại hoặc nghi ngờ người khác dùng tài khoản, hãy khoá ngay. Khoá có hiệu lực tức thì: mọi phiên đăng nhập và mọi dịch vụ đang dùng tài khoản đều bị ngắt.",
        "If you lost your phone or suspect someone else is using your account, lock it now. The lock takes effect at once: every sign-in and every service using the account is cut off.";
    lock_button: "Khoá tài khoản", "Lock my account";
    lock_confirm_title: "Xác nhận khoá tài khoản", "Confirm the lock";
    lock_confirm_question: "Bạn có chắc muốn khoá tài khoản? Bạn sẽ bị đăng xuất khỏi mọi dịch vụ.",
        "Do you want to lock your account? You will be signed out of every service.";
    lock_reason_label: "Lý do (không bắt buộc)", "Reason (optional)";
    lock_confirm_button: "Xác nhận khoá", "Yes, lock it";
    cancel_link: "Quay lại, không khoá", "Go back without locking";
    locked_done_title: "Tài khoản đã bị khoá", "Your account is locked";
    locked_done_intro: "Tài khoản đã bị khoá. Mọi phiên đăng nhập đã kết thúc.",
        "Your account is locked. Every sign-in has ended.";
    /// `{code}`: the request's tracking code.
    tracking_code_line: "Mã theo dõi yêu cầu: {code}", "Tracking code of the request: {code}";
    locked_done_lift: "Để mở khoá, hãy gửi yêu cầu mở khoá kèm lý do; khoá do chính bạn đặt được mở khi bạn đăng nhập ở mức độ 2, hoặc tại cơ quan Công an.",
        "To lift it, file an unlock request with a reason; a lock you placed yourself is lifted after a Level 2 sign-in, or at a police identity office.";

    history_heading: "Lịch sử khoá và mở khoá", "History of locks and lifts";
    no_history: "Chưa có khoá nào.", "No lock yet.";
    locked_event: "Khoá", "Locked";
    lifted_event: "Mở khoá", "Lifted";
    in_force: "đang áp dụng", "in force";
    ended_by_itself: "hết hạn", "ended";

    sign_ins_heading: "Các dịch vụ bạn đã đăng nhập", "Services you signed in to";
    no_sign_ins: "Bạn chưa đăng nhập vào dịch vụ nào.", "You have not signed in to any service.";
    service_label: "Dịch vụ", "Service";
    organization_label: "Đơn vị", "Organization";
    when_label: "Thời điểm", "When";
    level_reached_label: "Mức đăng nhập", "Sign-in level";

    consents_heading: "Thông tin bạn đồng ý chia sẻ", "What you agreed to share";
    no_consents: "Bạn chưa đồng ý chia sẻ với dịch vụ nào.", "You have not agreed to share with any service.";
    shared_label: "Thông tin", "Information";
    only_identifier: "chỉ mã định danh riêng cho dịch vụ", "only an identifier of its own";
    withdraw_button: "Thu hồi", "Withdraw";
    withdrawn_notice: "Đã thu hồi sự đồng ý; dịch vụ đó không còn truy cập được.",
        "Consent withdrawn; that service has lost its access.";

    sign_out_button: "Đăng xuất", "Sign out";
    signed_out_notice: "Bạn đã đăng xuất.", "You are signed out.";
    unlocked_notice: "Tài khoản không còn bị khoá; hãy đăng nhập.", "Your account is no longer locked; sign in.";

    register_link: "Chưa có tài khoản? Đăng ký", "No account yet? Register";
    register_title: "Đăng ký tài khoản định danh điện tử", "Register an e-ID account";
    register_intro: "Khai báo đúng như trên giấy tờ: thông tin được đối chiếu với Cơ sở dữ liệu quốc gia. Mã kích hoạt được gửi tới số điện thoại hoặc thư điện tử bạn nhập.",
        "Give your details exactly as on your identity document: they are checked against the national registry. An activation code is sent to the phone or e-mail you give.";
    citizen_legend: "Công dân Việt Nam", "Vietnamese citizen";
    citizen_choice: "Tôi là công dân Việt Nam", "I am a Vietnamese citizen";
    id_number_label: "Số định danh cá nhân (12 chữ số)", "Personal identification number (12 digits)";
    foreigner_legend: "Người nước ngoài", "Foreigner";
    foreigner_choice: "Tôi là người nước ngoài", "I am a foreigner";
    passport_label: "Số hộ chiếu", "Passport number";
    nationality_label: "Quốc tịch (mã ISO 3 chữ, ví dụ KOR)", "Nationality (ISO 3-letter code, e.g. KOR)";
    full_name_label: "Họ và tên", "Full name";
    date_of_birth_label: "Ngày sinh", "Date of birth";
    gender_label: "Giới tính", "Gender";
    gender_male: "Nam", "Male";
    gender_female: "Nữ", "Female";
    new_password_label: "Mật khẩu (ít nhất 12 ký tự)", "Password (at least 12 characters)";
    register_button: "Đăng ký", "Register";
    /// Next to a field the server refused; the technical reason follows, in English.
    field_invalid: "Chưa hợp lệ:", "Not valid:";
    activate_title: "Kích hoạt tài khoản", "Activate your account";
    /// `{destinations}`: the masked phone and e-mail.
    activation_sent: "Mã kích hoạt đã được gửi tới {destinations}.", "An activation code was sent to {destinations}.";
    activation_code_label: "Mã kích hoạt (6 chữ số)", "Activation code (6 digits)";
    activate_button: "Kích hoạt", "Activate";
    resend_button: "Gửi lại mã", "Send a new code";
    /// `{attempts}`: how many tries are left.
    wrong_activation_code: "Mã không đúng, còn {attempts} lần thử.", "The code is wrong; {attempts} tries left.";
    activation_code_malformed: "Mã kích hoạt gồm 6 chữ số.", "The activation code has 6 digits.";
    activated_title: "Tài khoản đã được kích hoạt", "Your account is active";
    activated_intro: "Bạn có thể đăng nhập ngay.", "You can sign in now.";
    locked_link: "Tài khoản bị khoá? Đăng nhập để gửi yêu cầu mở khoá", "Account locked? Sign in to ask for the lock to be lifted";
    track_link: "Theo dõi yêu cầu bằng mã theo dõi", "Follow a request with its tracking code";
    restore_title: "Đăng nhập để mở khoá", "Sign in to lift a lock";
    restore_intro: "Khi tài khoản đang bị khoá, bạn vẫn có thể đăng nhập tại đây để xem các khoá và gửi yêu cầu mở khoá. Phiên này chỉ dùng cho việc đó.",
        "While your account is locked you can still sign in here to see the locks and ask for them to be lifted. This session serves nothing else.";
    password_label: "Mật khẩu", "Password";
    continue_button: "Tiếp tục", "Continue";
    sign_in_failed: "Số định danh hoặc mật khẩu không đúng.", "The identification number or the password is wrong.";
    code_title: "Mã xác thực", "One-time code";
    /// `{destination}`: where the code went (masked).
    code_sent: "Mã xác thực đã được gửi tới {destination}.", "A code was sent to {destination}.";
    code_label: "Mã 6 chữ số", "6-digit code";
    confirm_button: "Xác nhận", "Confirm";
    /// `{attempts}`: how many tries are left.
    wrong_code: "Mã xác thực không đúng, còn {attempts} lần thử.", "The code is wrong; {attempts} tries left.";
    restore_session_note: "Bạn đang đăng nhập để mở khoá: chỉ xem được các khoá và yêu cầu của mình.",
        "You are signed in to lift a lock: only your locks and requests are shown.";
    unlock_reason_label: "Lý do đề nghị mở khoá", "Why the lock should be lifted";
    unlock_button: "Gửi yêu cầu mở khoá", "Ask to lift this lock";
    unlock_filed_title: "Đã gửi yêu cầu mở khoá", "Unlock request filed";
    unlock_effective: "Khoá đã được gỡ.", "The lock is lifted.";
    /// `{deadline}`: the date by which an officer decides.
    unlock_waits_in_person: "Yêu cầu chờ cán bộ xác minh: hãy mang căn cước (hoặc hộ chiếu) đến cơ quan Công an để được kiểm tra danh tính trực tiếp, trước {deadline}.",
        "The request waits for an officer: bring your identity card (or passport) to a police identity office for an in-person check, before {deadline}.";
    /// `{deadline}`: the date by which an officer decides.
    unlock_waits: "Yêu cầu đang chờ xử lý; hạn xử lý: {deadline}.", "The request is being handled; deadline: {deadline}.";
    requests_heading: "Các yêu cầu của bạn", "Your requests";
    no_requests: "Chưa có yêu cầu nào.", "No request yet.";
    kind_label: "Loại", "Kind";
    kind_lock: "Khoá", "Lock";
    kind_unlock: "Mở khoá", "Unlock";
    deadline_label: "Hạn xử lý", "Deadline";
    track_title: "Theo dõi yêu cầu", "Follow a request";
    track_intro: "Nhập mã theo dõi và số định danh (hoặc số hộ chiếu và quốc tịch) của tài khoản mà yêu cầu liên quan.",
        "Give the tracking code and the identification number (or the passport number and nationality) of the account the request concerns.";
    tracking_code_label: "Mã theo dõi (ví dụ ABCD-EFGH-J2)", "Tracking code (e.g. ABCD-EFGH-J2)";
    tracking_code_short: "Mã theo dõi", "Tracking code";
    track_button: "Xem", "Show";
    track_not_found: "Không tìm thấy yêu cầu với mã theo dõi và danh tính này.", "No request with this tracking code concerns this identity.";
    track_malformed: "Mã theo dõi hoặc danh tính chưa đúng định dạng.", "The tracking code or the identity is not well formed.";
    status_label_request: "Tình trạng", "Status";
    steps_heading: "Các bước xử lý", "Steps";
    received_label: "Tiếp nhận", "Received";
    lost_phone_link: "Mất điện thoại? Khoá tài khoản không cần đăng nhập", "Lost your phone? Lock your account without signing in";
    lost_phone_title: "Khoá tài khoản khi mất điện thoại", "Lock your account after losing your phone";
    lost_phone_intro: "Khai báo danh tính đúng như trên giấy tờ. Mã xác nhận sẽ được gửi tới kênh bạn vẫn dùng được; nếu không có kênh nào khác, yêu cầu được chuyển cho cán bộ xác minh.",
        "Give your identity details exactly as on your document. A confirmation code goes to the channel you still have; with no other channel, the request goes to an officer to verify.";
    lost_channel_legend: "Bạn bị mất", "What you lost";
    lost_sms: "Điện thoại (mã sẽ gửi qua thư điện tử)", "My phone (the code goes by e-mail)";
    lost_email: "Thư điện tử (mã sẽ gửi qua tin nhắn)", "My e-mail (the code goes by text message)";
    lost_phone_button: "Gửi mã xác nhận", "Send the confirmation code";
    lost_phone_code_sent: "Nếu thông tin khớp, mã xác nhận đã được gửi tới kênh còn lại của bạn.",
        "If the details match, a confirmation code went to your other channel.";
    confirm_lock_button: "Xác nhận khoá", "Confirm the lock";
    lost_phone_queued: "Không có kênh nào khác để gửi mã: yêu cầu khoá đã được chuyển cho cán bộ xác minh.",
        "There is no other channel for a code: the lock request went to an officer to verify.";
    error_title: "Không thể tiếp tục", "Something went wrong";
    sign_in_refused: "Không đăng nhập được. Hãy thử lại.", "The sign-in did not complete. Try again.";
    sign_in_declined: "Bạn đã từ chối đăng nhập.", "You declined the sign-in.";
    form_expired: "Biểu mẫu đã hết hạn; hãy tải lại trang và thử lại.", "The form has expired; reload the page and try again.";
    session_ended: "Phiên đăng nhập đã kết thúc; hãy đăng nhập lại.", "Your session has ended; sign in again.";
    back_to_portal: "Về trang tài khoản", "Back to your account";
    /// Before the provider's error code, which is in English.
    technical_detail: "Chi tiết kỹ thuật (tiếng Anh):", "Technical detail:";
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn every_message_exists_in_both_languages_with_the_same_placeholders() {
        crate::api::i18n::tests::check_catalogue(VI.messages(), EN.messages());
    }

    #[test]
    fn times_are_shown_in_vietnam_time() {
        let late_evening_utc = Utc.with_ymd_and_hms(2026, 12, 31, 20, 5, 0).unwrap();
        assert_eq!(vietnam_time(late_evening_utc), "01/01/2027 03:05", "the next day in Hanoi");
    }
}
