//! The officer console's words: one typed catalogue ([`crate::api::i18n::catalogue!`]), Vietnamese and English
//! side by side. Grounds, statuses and step events are named by the domain in both languages
//! (`Ground::description`, `RequestStatus::description`, `StepEvent::description`); a refusal's reason is the
//! service's own (`ApiError`'s texts).

use crate::api::i18n::catalogue;

catalogue! {
    /// Every text of the console's pages in one language.
    ConsoleTexts, VI, EN;

    /// The `aria-label` of the language switch's navigation.
    language_nav: "Ngôn ngữ", "Language";
    /// The switch's text: the name of the *other* language, in that language.
    switch_label: "English", "Tiếng Việt";
    console_name: "Bàn làm việc của cán bộ định danh điện tử", "e-ID officers' console";
    /// The `aria-label` of the console's main navigation.
    main_nav: "Chức năng", "Sections";
    /// After every time on the pages.
    time_zone_note: "Giờ Việt Nam (UTC+7)", "Vietnam time (UTC+7)";
    sign_out_button: "Đăng xuất", "Sign out";
    /// `{roles}`: the officer's roles.
    signed_in_as: "Vai trò: {roles}", "Roles: {roles}";
    role_reviewer: "cán bộ xác minh", "reviewer";
    role_supervisor: "lãnh đạo phê duyệt", "supervisor";
    role_administrator: "quản trị viên", "administrator";

    sign_in_title: "Đăng nhập cán bộ", "Officer sign-in";
    sign_in_intro: "Đăng nhập bằng tên đăng nhập, mật khẩu và mã 6 chữ số từ ứng dụng xác thực.",
        "Sign in with your username, password and the 6-digit code from your authenticator app.";
    username_label: "Tên đăng nhập", "Username";
    password_label: "Mật khẩu", "Password";
    code_label: "Mã xác thực (6 chữ số)", "Authenticator code (6 digits)";
    sign_in_button: "Đăng nhập", "Sign in";
    field_required: "Vui lòng nhập trường này.", "Fill in this field.";
    sign_in_failed: "Tên đăng nhập, mật khẩu hoặc mã xác thực không đúng.", "The username, password or code is wrong.";
    /// `{minutes}`: how long until the officer may try again.
    sign_in_locked: "Đăng nhập sai quá nhiều lần; hãy thử lại sau {minutes} phút.",
        "Too many failed sign-ins; try again in {minutes} minutes.";
    signed_out_notice: "Bạn đã đăng xuất.", "You are signed out.";
    session_ended: "Phiên làm việc đã kết thúc; hãy đăng nhập lại.", "Your session has ended; sign in again.";
    organization_suspended: "Đơn vị của bạn đang bị tạm dừng; không thể làm việc trên bàn làm việc.",
        "Your organization is suspended; the console is closed to you.";

    queue_title: "Hàng chờ yêu cầu", "Request queue";
    filter_heading: "Lọc và sắp xếp", "Filter and sort";
    kind_label: "Loại yêu cầu", "Kind";
    kind_any: "Tất cả", "Any";
    kind_lock: "Khoá", "Lock";
    kind_unlock: "Mở khoá", "Unlock";
    status_label: "Trạng thái", "Status";
    status_open: "Tất cả yêu cầu đang mở", "Every open request";
    status_received: "Đã tiếp nhận", "Received";
    status_verifying: "Đang xác minh", "Being verified";
    status_approved: "Đã phê duyệt", "Approved";
    overdue_only_label: "Chỉ yêu cầu quá hạn", "Overdue only";
    sort_label: "Sắp xếp theo thời hạn", "Sort by deadline";
    sort_soonest: "Gần hạn nhất trước", "Soonest first";
    sort_latest: "Xa hạn nhất trước", "Latest first";
    filter_button: "Áp dụng", "Apply";
    queue_empty: "Không có yêu cầu nào phù hợp.", "No request matches.";
    /// `{count}`: how many requests the table lists.
    queue_count: "{count} yêu cầu", "{count} requests";
    tracking_code_label: "Mã theo dõi", "Tracking code";
    ground_label: "Căn cứ", "Ground";
    received_label: "Tiếp nhận", "Received";
    deadline_label: "Thời hạn", "Deadline";
    no_deadline: "Không có", "None";
    overdue: "Quá hạn", "Overdue";
    next_step_label: "Bước tiếp theo do", "Next step by";
    claimed_label: "Người nhận xử lý", "Claimed by";
    claimed_by_you: "bạn", "you";
    claimed_by_other: "cán bộ khác", "another officer";
    not_claimed: "chưa ai nhận", "nobody";

    request_title: "Yêu cầu", "Request";
    details_heading: "Thông tin yêu cầu", "Details";
    account_label: "Tài khoản", "Account";
    reason_label: "Lý do", "Reason";
    reference_label: "Số hồ sơ", "Reference";
    legal_basis_label: "Căn cứ pháp lý", "Legal basis";
    override_label: "Gỡ khoá đặc biệt (hai lãnh đạo phê duyệt)", "Override (two supervisors approve)";
    lock_ends_label: "Khoá đến", "Lock until";
    decision_reason_label: "Lý do quyết định", "Reasons of the decision";
    steps_heading: "Các bước xử lý", "Steps";
    when_label: "Thời điểm", "When";
    step_label: "Bước", "Step";
    note_label: "Ghi chú", "Note";
    actions_heading: "Xử lý", "Act on it";
    no_actions: "Bạn không có thao tác nào với yêu cầu này lúc này.", "There is nothing for you to do on this request now.";
    claim_button: "Nhận xử lý", "Claim";
    release_button: "Trả lại hàng chờ", "Give back to the queue";
    forward_note_label: "Nội dung đã xác minh (không bắt buộc)", "What you verified (optional)";
    forward_button: "Xác minh và chuyển lãnh đạo", "Verified: forward to the supervisors";
    approve_note_label: "Ghi chú phê duyệt (không bắt buộc)", "Note of the approval (optional)";
    approve_button: "Phê duyệt", "Approve";
    in_person_legend: "Kiểm tra trực tiếp (bắt buộc)", "In-person check (required)";
    in_person_intro: "Chủ tài khoản gửi yêu cầu này khi đăng nhập ở mức độ 1: chỉ phê duyệt sau khi đã gặp trực tiếp và kiểm tra giấy tờ của họ.",
        "The holder filed this with a Level 1 sign-in: approve it only after seeing them in person and checking their document.";
    document_kind_label: "Loại giấy tờ", "Document";
    document_cccd: "Căn cước công dân", "Citizen identity card";
    document_passport: "Hộ chiếu", "Passport";
    document_number_label: "Số giấy tờ", "Document number";
    office_label: "Nơi kiểm tra", "Office";
    reject_reason_label: "Lý do từ chối (bắt buộc, gửi cho bên yêu cầu)", "Reasons of the refusal (required, sent to the requester)";
    reject_button: "Từ chối", "Reject";
    step_done: "Đã ghi nhận.", "Done.";
    /// Before the service's reason for a refusal.
    refused_heading: "Không thực hiện được:", "Not done:";
    back_to_queue: "Về hàng chờ", "Back to the queue";

    accounts_title: "Tra cứu tài khoản", "Account lookup";
    lookup_intro: "Nhập số định danh cá nhân, hoặc số hộ chiếu và quốc tịch. Mỗi lần tra cứu đều được ghi nhật ký.",
        "Give the personal identification number, or the passport number and nationality. Every lookup is recorded in the audit log.";
    id_number_label: "Số định danh cá nhân (12 chữ số)", "Personal identification number (12 digits)";
    passport_label: "Số hộ chiếu", "Passport number";
    nationality_label: "Quốc tịch (mã 3 chữ cái, ví dụ KOR)", "Nationality (3-letter code, e.g. KOR)";
    lookup_button: "Tra cứu", "Look up";
    lookup_invalid: "Hãy nhập số định danh 12 chữ số, hoặc số hộ chiếu cùng quốc tịch.",
        "Give a 12-digit identification number, or a passport number with a nationality.";
    not_found: "Không có tài khoản định danh điện tử nào với thông tin này.", "No e-ID account has this identity.";
    full_name_label: "Họ và tên", "Full name";
    holder_kind_label: "Đối tượng", "Holder";
    citizen: "Công dân Việt Nam", "Vietnamese citizen";
    foreigner: "Người nước ngoài", "Foreigner";
    level_label: "Mức độ", "Level";
    /// `{level}`: 1 or 2.
    level_value: "Mức độ {level}", "Level {level}";
    account_status_label: "Trạng thái tài khoản", "Account status";
    usable: "Sử dụng được", "Usable";
    not_usable: "Không sử dụng được", "Not usable";
    locks_heading: "Các khoá", "Locks";
    no_locks: "Tài khoản chưa từng bị khoá.", "The account has never been locked.";
    placed_by_label: "Bên yêu cầu khoá", "Placed by";
    since_label: "Hiệu lực từ", "Since";
    lock_state_label: "Tình trạng", "State";
    in_force: "Đang áp dụng", "In force";
    lifted: "Đã mở", "Lifted";
    ended: "Đã hết hạn", "Ended";
    requests_heading: "Các yêu cầu", "Requests";
    no_requests: "Không có yêu cầu nào.", "No request.";
    history_heading: "Lịch sử khoá và mở khoá", "History of locks and lifts";
    locked_event: "Khoá", "Locked";
    lifted_event: "Mở khoá", "Lifted";
    by_label: "Bởi", "By";

    dashboard_title: "Tổng quan", "Dashboard";
    open_requests_heading: "Yêu cầu đang mở theo loại", "Open requests by kind";
    open_requests_desc: "Biểu đồ cột: số yêu cầu đang mở của từng loại.", "Bar chart: the number of open requests of each kind.";
    count_label: "Số lượng", "Count";
    overdue_heading: "Yêu cầu quá hạn", "Overdue requests";
    /// `{count}`: how many open requests are past their deadline.
    overdue_count: "{count} yêu cầu đang mở đã quá hạn.", "{count} open requests are past their deadline.";
    /// `{days}`: how many days the charts cover.
    placed_heading: "Số khoá được đặt mỗi ngày theo căn cứ ({days} ngày gần nhất)",
        "Locks placed per day by ground (last {days} days)";
    /// `{days}`: how many days the charts cover.
    lifted_heading: "Số khoá được mở mỗi ngày theo căn cứ ({days} ngày gần nhất)",
        "Locks lifted per day by ground (last {days} days)";
    per_day_desc: "Biểu đồ cột chồng: mỗi cột là một ngày, mỗi phần là một căn cứ; bảng bên dưới có số liệu đầy đủ.",
        "Stacked bar chart: one bar per day, one part per ground; the table below has every number.";
    day_label: "Ngày", "Day";
    total_label: "Tổng", "Total";

    dead_letters_title: "Sự kiện không gửi được", "Dead letters";
    dead_letters_intro: "Các sự kiện bảo mật mà bên tin cậy từ chối nhận, hoặc chưa nhận sau 30 lần gửi. Gửi lại sẽ đưa sự kiện về đầu hàng đợi của luồng.",
        "Security events a relying party refused, or never took after 30 tries. Sending one again puts it back at the head of its stream's queue.";
    dead_letters_empty: "Không có sự kiện nào không gửi được.", "There are no dead letters.";
    stream_label: "Luồng", "Stream";
    relying_party_label: "Bên tin cậy", "Relying party";
    event_type_label: "Loại sự kiện", "Event type";
    attempts_label: "Số lần gửi", "Tries";
    last_error_label: "Lỗi gần nhất", "Last error";
    dead_at_label: "Dừng gửi lúc", "Given up at";
    replay_button: "Gửi lại", "Send again";
    replayed_notice: "Sự kiện đã được đưa lại vào hàng đợi; sẽ được gửi ở lượt tới.", "The event is queued again; it goes at the next round.";

    error_title: "Không thể tiếp tục", "Something went wrong";
    form_expired: "Biểu mẫu đã hết hạn; hãy tải lại trang và thử lại.", "The form has expired; reload the page and try again.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_exists_in_both_languages_with_the_same_placeholders() {
        crate::api::i18n::tests::check_catalogue(VI.messages(), EN.messages());
    }
}
