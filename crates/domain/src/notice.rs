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
}
