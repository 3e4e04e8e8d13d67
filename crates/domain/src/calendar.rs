//! Working-day deadlines (Decree 59/2022 Art. 19, Decree 69/2024 Art. 29–30): "within N working days" counts
//! days in Vietnam (UTC+7) that are neither a Saturday, a Sunday nor a configured public holiday. dinhdanh reads
//! it the way offices do: the day of receipt does not count, and the deadline is the end of the N-th working day
//! after it. Holidays are data (they move with the lunar calendar and by government decision), not code.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};

/// Vietnam's time zone: UTC+7 all year round.
pub fn vietnam() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("valid offset")
}

#[derive(Debug, Clone, Default)]
pub struct WorkingCalendar {
    holidays: BTreeSet<NaiveDate>,
}

impl WorkingCalendar {
    pub fn new(holidays: impl IntoIterator<Item = NaiveDate>) -> Self {
        Self { holidays: holidays.into_iter().collect() }
    }

    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&day)
    }

    /// The N-th working day after `day` (N ≥ 1); `day` itself never counts.
    pub fn nth_working_day_after(&self, day: NaiveDate, n: u32) -> NaiveDate {
        let mut current = day;
        let mut counted = 0;
        while counted < n {
            current = current.checked_add_days(Days::new(1)).expect("date in range");
            if self.is_working_day(current) {
                counted += 1;
            }
        }
        current
    }

    /// The deadline for something received at `received` that must be done within `n` working days: the last
    /// instant of the N-th working day after the day of receipt, Vietnam time.
    pub fn deadline(&self, received: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        let local_day = received.with_timezone(&vietnam()).date_naive();
        let last_day = self.nth_working_day_after(local_day, n);
        let next_midnight = last_day.checked_add_days(Days::new(1)).expect("date in range").and_time(NaiveTime::MIN);
        let end = vietnam().from_local_datetime(&next_midnight).single().expect("fixed offset is unambiguous");
        end.with_timezone(&Utc) - chrono::Duration::milliseconds(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// 2026-04-30 (Reunification Day) and 2026-05-01 (Labour Day) fall on a Thursday and a Friday.
    fn calendar() -> WorkingCalendar {
        WorkingCalendar::new([d(2026, 4, 30), d(2026, 5, 1), d(2026, 9, 2)])
    }

    #[test]
    fn weekends_and_holidays_do_not_count() {
        let c = calendar();
        assert!(c.is_working_day(d(2026, 4, 29)));
        assert!(!c.is_working_day(d(2026, 4, 30)));
        assert!(!c.is_working_day(d(2026, 5, 2)));
        // Wednesday 29 April + 1 working day skips the two holidays and the weekend: Monday 4 May.
        assert_eq!(c.nth_working_day_after(d(2026, 4, 29), 1), d(2026, 5, 4));
        assert_eq!(c.nth_working_day_after(d(2026, 4, 29), 2), d(2026, 5, 5));
    }

    #[test]
    fn friday_plus_two_working_days_is_tuesday_night_in_vietnam() {
        let c = WorkingCalendar::default();
        // Friday 6 March 2026, 10:00 in Hà Nội = 03:00 UTC.
        let received = Utc.with_ymd_and_hms(2026, 3, 6, 3, 0, 0).unwrap();
        let deadline = c.deadline(received, 2);
        // Tuesday 10 March, 23:59:59.999 in Hà Nội = 16:59:59.999 UTC.
        assert_eq!(
            deadline,
            Utc.with_ymd_and_hms(2026, 3, 10, 16, 59, 59).unwrap() + chrono::Duration::milliseconds(999)
        );
    }

    #[test]
    fn the_local_day_decides_not_the_utc_day() {
        let c = WorkingCalendar::default();
        // Sunday 8 March 2026 at 20:00 UTC is already Monday 9 March 03:00 in Hà Nội: Monday is the day of receipt.
        let received = Utc.with_ymd_and_hms(2026, 3, 8, 20, 0, 0).unwrap();
        assert_eq!(c.deadline(received, 1).with_timezone(&vietnam()).date_naive(), d(2026, 3, 10));
    }

    #[test]
    fn received_on_a_holiday_counts_from_the_next_working_day() {
        let c = calendar();
        let received = Utc.with_ymd_and_hms(2026, 9, 2, 2, 0, 0).unwrap(); // National Day, a Wednesday
        assert_eq!(c.deadline(received, 1).with_timezone(&vietnam()).date_naive(), d(2026, 9, 3));
    }
}
