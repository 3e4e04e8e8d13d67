//! The texts dinhdanh sends to people, Vietnamese first and then English. One function per notice, so that
//! wording lives in one place and every channel sends the same words.

/// A message ready for a channel: the subject is used by e-mail, SMS sends the body alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub subject: String,
    pub body: String,
}

/// The activation code sent after registration and on each resend.
pub fn activation_code(code: &str, valid_minutes: i64) -> Notice {
    Notice {
        subject: "Mã kích hoạt tài khoản định danh điện tử / e-ID activation code".to_owned(),
        body: format!(
            "Mã kích hoạt tài khoản định danh điện tử của bạn là {code}. Mã có hiệu lực trong {valid_minutes} phút. \
             Không chia sẻ mã này với bất kỳ ai.\n\
             Your e-ID activation code is {code}. It is valid for {valid_minutes} minutes. Do not share it with anyone."
        ),
    }
}

/// The one-time code of a holder's sign-in, sent after the right password.
pub fn sign_in_code(code: &str, valid_minutes: i64) -> Notice {
    Notice {
        subject: "Mã đăng nhập tài khoản định danh điện tử / e-ID sign-in code".to_owned(),
        body: format!(
            "Mã đăng nhập tài khoản định danh điện tử của bạn là {code}. Mã có hiệu lực trong {valid_minutes} phút. \
             Không chia sẻ mã này với bất kỳ ai; nếu không phải bạn đăng nhập, hãy đổi mật khẩu hoặc khóa tài khoản.\n\
             Your e-ID sign-in code is {code}. It is valid for {valid_minutes} minutes. Do not share it with anyone; \
             if you are not signing in, change your password or lock the account."
        ),
    }
}

/// Sent once the account is active.
pub fn account_activated() -> Notice {
    Notice {
        subject: "Tài khoản định danh điện tử đã được kích hoạt / e-ID account activated".to_owned(),
        body: "Tài khoản định danh điện tử của bạn đã được kích hoạt (mức độ 1). Nếu không phải bạn thực hiện, \
               hãy khóa tài khoản ngay.\n\
               Your e-ID account is now active (Level 1). If this was not you, lock the account at once."
            .to_owned(),
    }
}

/// To the holder of an existing account, when someone registers their identity again: the caller was answered as
/// if the registration were new (so that the answer tells no one the identity has an account), and the holder is
/// told instead.
pub fn registration_attempt() -> Notice {
    Notice {
        subject: "Có người đăng ký lại danh tính của bạn / Someone registered your identity again".to_owned(),
        body: "Vừa có yêu cầu đăng ký tài khoản định danh điện tử mới bằng thông tin danh tính của bạn. Tài khoản                hiện có của bạn không bị thay đổi và không có tài khoản mới nào được tạo. Nếu không phải bạn, hãy                liên hệ cơ quan quản lý định danh; nếu lo ngại, bạn có thể khóa tài khoản.
               Someone just asked to register a new e-ID account with your identity details. Your account is                unchanged and no new account was created. If it was not you, contact the e-ID operator; if you are                worried, you can lock your account."
            .to_owned(),
    }
}

/// The code that confirms a lock filed without signing in (a lost phone), sent to the holder's other channel.
pub fn lock_confirmation_code(code: &str, valid_minutes: i64) -> Notice {
    Notice {
        subject: "Mã xác nhận khóa tài khoản định danh điện tử / e-ID lock confirmation code".to_owned(),
        body: format!(
            "Có yêu cầu khóa tài khoản định danh điện tử của bạn. Mã xác nhận là {code}, có hiệu lực trong {valid_minutes} \
             phút. Nếu không phải bạn yêu cầu, hãy bỏ qua tin này.\n\
             Someone asked to lock your e-ID account. The confirmation code is {code}, valid for {valid_minutes} minutes. \
             If this was not you, ignore this message."
        ),
    }
}

/// Sent at each step of a request (domain.md "Requests"): the tracking code, what the request is (its ground,
/// naming the kind of organization that asked), the step it reports, and what the holder can do next. It names
/// the step rather than the status, so that a forward, which leaves the request `verifying` as the claim did, says
/// that it was forwarded instead of repeating "being verified".
pub fn request_update(
    tracking_code: &str,
    kind: crate::request::RequestKind,
    ground: crate::lock::Ground,
    requester: &crate::lock::Party,
    step: crate::request::StepEvent,
    reasons: Option<&str>,
) -> Notice {
    use crate::request::{RequestKind, StepEvent};
    let (ground_vi, ground_en) = ground.description_for(requester);
    let (step_vi, step_en) = step.description();
    let (what_vi, what_en) = match kind {
        RequestKind::Lock => ("khóa tài khoản định danh điện tử", "lock your e-ID account"),
        RequestKind::Unlock => ("mở khóa tài khoản định danh điện tử", "unlock your e-ID account"),
    };
    let (next_vi, next_en) = match (kind, step) {
        (_, StepEvent::Forwarded) => (
            "Lãnh đạo sẽ quyết định trong thời hạn quy định; bạn có thể tra cứu tình trạng bằng mã này và số định danh \
             của mình.",
            "A supervisor decides within the prescribed time; you can follow it with this code and your \
             identification number.",
        ),
        (
            _,
            StepEvent::Received | StepEvent::Claimed | StepEvent::Released | StepEvent::Approved | StepEvent::Recorded,
        ) => (
            "Bạn có thể tra cứu tình trạng bằng mã này và số định danh của mình.",
            "You can follow it with this code and your identification number.",
        ),
        (RequestKind::Lock, StepEvent::Effective) => (
            "Tài khoản không thể đăng nhập cho đến khi khóa được gỡ. Nếu không phải bạn yêu cầu, hãy liên hệ cơ quan quản lý.",
            "The account cannot sign in until the lock is lifted. If you did not ask for this, contact the operator.",
        ),
        (RequestKind::Unlock, StepEvent::Effective) | (_, StepEvent::LiftedByOverride) => (
            "Khóa đã được gỡ; tài khoản dùng lại được khi không còn khóa nào khác.",
            "The lock is lifted; the account works again once no other lock remains.",
        ),
        (_, StepEvent::Rejected) => {
            ("Yêu cầu bị từ chối; lý do được nêu dưới đây.", "The request was refused; the reasons are given below.")
        }
        (_, StepEvent::Cancelled | StepEvent::Expired) => ("Không cần làm gì thêm.", "Nothing more to do."),
    };
    let mut body = format!(
        "Yêu cầu {what_vi} ({ground_vi}), mã {tracking_code}: {step_vi}. {next_vi}\n\
         Request to {what_en} ({ground_en}), code {tracking_code}: {step_en}. {next_en}"
    );
    if let Some(reasons) = reasons {
        body.push_str(&format!("\nLý do / Reasons: {reasons}"));
    }
    Notice { subject: format!("Yêu cầu {tracking_code}: {step_vi} / Request {tracking_code}: {step_en}"), body }
}

/// Sent to the organization whose lock the operator's supervisors lifted by override (four-eyes, with a legal
/// basis): which lock (by the tracking code of the request that placed it), when, and on what basis.
pub fn lock_lifted_by_override(
    lock_request_code: Option<&str>,
    lock: &crate::lock::Lock,
    lifted_at: chrono::DateTime<chrono::Utc>,
    basis: Option<&crate::lock::LegalBasis>,
) -> Notice {
    let (ground_vi, ground_en) = lock.description();
    let code = lock_request_code.unwrap_or("—");
    let when = lifted_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let basis = basis
        .map(|b| format!("{} {} ({}, {})", b.document_kind, b.number, b.issued_on, b.issuing_body))
        .unwrap_or_else(|| "—".to_owned());
    Notice {
        subject: format!("Khóa theo yêu cầu {code} đã được gỡ / The lock of request {code} was lifted"),
        body: format!(
            "Khóa tài khoản ({ground_vi}) theo yêu cầu {code} của quý cơ quan đã được cơ quan quản lý định danh gỡ lúc \
             {when} (hai lãnh đạo phê duyệt), căn cứ: {basis}.\n\
             The lock ({ground_en}) placed at your request {code} was lifted by the e-ID operator at {when} (approved \
             by two supervisors), on the basis of: {basis}."
        ),
    }
}

/// To the holder, when their account becomes Level 2: online (`in_person` false) or at an office.
pub fn level_raised(in_person: bool) -> Notice {
    let (vi, en) = if in_person {
        (
            "tại cơ quan, sau khi cán bộ kiểm tra giấy tờ và sinh trắc học của bạn",
            "at an office, after an officer checked your document and biometrics",
        )
    } else {
        (
            "trực tuyến, vì sinh trắc học của bạn khớp với Cơ sở dữ liệu",
            "online, because your biometrics matched the registry's",
        )
    };
    Notice {
        subject: "Tài khoản định danh điện tử đã lên mức độ 2 / e-ID account is now Level 2".to_owned(),
        body: format!(
            "Tài khoản định danh điện tử của bạn đã được nâng lên mức độ 2 {vi}. Nếu không phải bạn thực hiện, hãy khóa \
             tài khoản ngay.\n\
             Your e-ID account was raised to Level 2 {en}. If this was not you, lock the account at once."
        ),
    }
}

/// To the holder, when an officer lowers their account to Level 1 (its biometrics no longer match the registry's).
pub fn level_lowered() -> Notice {
    Notice {
        subject: "Tài khoản định danh điện tử đã về mức độ 1 / e-ID account is now Level 1".to_owned(),
        body: "Tài khoản định danh điện tử của bạn đã được chuyển về mức độ 1 vì dữ liệu sinh trắc học trong Cơ sở dữ \
               liệu đã thay đổi. Các phiên đăng nhập mức độ 2 đã kết thúc. Để lên lại mức độ 2, hãy xác thực sinh trắc \
               học trực tuyến hoặc đến cơ quan Công an.\n\
               Your e-ID account was lowered to Level 1 because the biometric data in the registry changed. Your Level \
               2 sessions have ended. To become Level 2 again, verify your biometrics online or at a police office."
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_notice_names_the_code_in_both_languages() {
        let n = activation_code("123456", 5);
        assert_eq!(n.body.matches("123456").count(), 2);
        assert!(n.body.starts_with("Mã kích hoạt"));
        assert!(n.body.contains("5 minutes"));
    }

    fn court() -> crate::lock::Party {
        crate::lock::Party::Organization {
            organization_id: "court".into(),
            kind: crate::actor::OrganizationKind::ProsecutingAgency,
        }
    }

    fn unlock_notice(step: crate::request::StepEvent) -> Notice {
        use crate::lock::Ground;
        use crate::request::RequestKind;
        request_update("ABCD-EFGH-JK", RequestKind::Unlock, Ground::AuthorityRequest, &court(), step, None)
    }

    #[test]
    fn request_notices_name_the_code_step_and_reasons() {
        use crate::lock::Ground;
        use crate::request::{RequestKind, StepEvent};
        let n = request_update(
            "ABCD-EFGH-JK",
            RequestKind::Lock,
            Ground::AuthorityRequest,
            &court(),
            StepEvent::Rejected,
            Some("thiếu căn cứ"),
        );
        assert!(n.subject.contains("ABCD-EFGH-JK"));
        assert!(n.body.contains("bị từ chối") && n.body.contains("refused") && n.body.contains("thiếu căn cứ"));
    }

    #[test]
    fn the_forward_notice_names_forwarding_instead_of_repeating_being_verified() {
        use crate::request::StepEvent;
        let claimed = unlock_notice(StepEvent::Claimed);
        let forwarded = unlock_notice(StepEvent::Forwarded);
        assert_ne!(claimed, forwarded);
        assert!(claimed.body.contains("đang xác minh") && claimed.body.contains("being verified"));
        for text in [&forwarded.subject, &forwarded.body] {
            assert!(text.contains("chuyển lãnh đạo phê duyệt"), "Vietnamese: {text}");
            assert!(text.contains("forwarded to the supervisors"), "English: {text}");
            assert!(!text.contains("đang xác minh") && !text.contains("being verified"), "{text}");
        }
    }

    #[test]
    fn every_step_has_its_own_words() {
        use crate::request::StepEvent;
        let texts: std::collections::BTreeSet<_> = StepEvent::ALL.iter().map(|s| unlock_notice(*s).subject).collect();
        assert_eq!(texts.len(), StepEvent::ALL.len());
    }

    #[test]
    fn request_notices_name_the_kind_of_organization_that_asked() {
        use crate::request::StepEvent;
        let n = unlock_notice(StepEvent::Effective);
        assert!(n.body.contains("cơ quan tiến hành tố tụng") && n.body.contains("a prosecuting agency"), "{}", n.body);
    }

    #[test]
    fn sign_in_notice_names_the_code_in_both_languages() {
        let n = sign_in_code("654321", 5);
        assert_eq!(n.body.matches("654321").count(), 2);
        assert!(n.body.starts_with("Mã đăng nhập"));
        assert!(n.body.contains("5 minutes"));
        assert!(n.subject.contains("sign-in code"));
    }
}
