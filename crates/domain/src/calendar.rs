//! Working-day deadlines (Decree 59/2022 Art. 19, Decree 69/2024 Art. 29–30): "within N working days" counts
//! days in Vietnam (UTC+7) that are neither a Saturday, a Sunday nor a public holiday, unless the Government made
//! that weekend day a make-up working day. dinhdanh reads it the way offices do: the day of receipt does not
//! count, and the deadline is the end of the N-th working day after it.
//!
//! Holidays are data, not code: the days Labour Code 2019 Art. 112 fixes ship in `data/public-holidays.csv` (lunar
//! dates already converted), the compensatory days of Art. 111.3 are derived from them here, and the Government's
//! yearly swaps (a bridge day off, a Saturday worked in exchange) come from the operator's configuration. This
//! module does not convert lunar dates itself, nor decide which swap a year gets.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};

/// Vietnam's time zone: UTC+7 all year round.
pub fn vietnam() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("valid offset")
}

/// One public holiday: a day off by law, named in Vietnamese and English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holiday {
    pub date: NaiveDate,
    pub name_vi: &'static str,
    pub name_en: &'static str,
    /// A day off given back for a holiday that fell on a Saturday or Sunday (Art. 111.3), not a holiday itself.
    pub compensatory: bool,
}

const PUBLIC_HOLIDAYS_CSV: &str = include_str!("../data/public-holidays.csv");

/// Parses `data/public-holidays.csv`: `#` comments, a header, then `date,name_vi,name_en` rows.
fn parse_holidays(text: &'static str) -> Result<Vec<Holiday>, String> {
    let mut rows = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
    if rows.next() != Some("date,name_vi,name_en") {
        return Err("the first row must be the header date,name_vi,name_en".to_owned());
    }
    let mut holidays = rows
        .map(|row| {
            let fields: Vec<&'static str> = row.split(',').map(str::trim).collect();
            let [date, name_vi, name_en] = fields[..] else {
                return Err(format!("{row:?}: expected 3 fields"));
            };
            let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|e| format!("{row:?}: {e}"))?;
            if name_vi.is_empty() || name_en.is_empty() {
                return Err(format!("{row:?}: the holiday needs its names"));
            }
            Ok(Holiday { date, name_vi, name_en, compensatory: false })
        })
        .collect::<Result<Vec<_>, _>>()?;
    holidays.sort_by_key(|h| h.date);
    Ok(holidays)
}

/// Art. 111.3: when a public holiday falls on the weekly day off (Saturday or Sunday for offices), the day off is
/// given on the next working day, one per holiday, in date order, skipping days that are holidays or already
/// compensatory. `holidays` must be sorted.
fn compensatory_days(holidays: &[Holiday]) -> Vec<Holiday> {
    let off: BTreeSet<NaiveDate> = holidays.iter().map(|h| h.date).collect();
    let mut taken = BTreeSet::new();
    let mut compensatory = Vec::new();
    for holiday in holidays.iter().filter(|h| is_weekend(h.date)) {
        let mut day = holiday.date;
        loop {
            day = day.checked_add_days(Days::new(1)).expect("date in range");
            if !is_weekend(day) && !off.contains(&day) && !taken.contains(&day) {
                break;
            }
        }
        taken.insert(day);
        compensatory.push(Holiday { date: day, compensatory: true, ..*holiday });
    }
    compensatory
}

static BUILT_IN: LazyLock<Vec<Holiday>> = LazyLock::new(|| {
    let holidays = parse_holidays(PUBLIC_HOLIDAYS_CSV).expect("data/public-holidays.csv is valid (tested)");
    let mut all = compensatory_days(&holidays);
    all.extend(holidays);
    all.sort_by_key(|h| (h.date, h.compensatory));
    all
});

/// The built-in days off: the Art. 112 holidays of `data/public-holidays.csv` and their compensatory days, by date.
pub fn public_holidays() -> &'static [Holiday] {
    &BUILT_IN
}

fn is_weekend(day: NaiveDate) -> bool {
    matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Which days count as working days. [`WorkingCalendar::default`] is the built-in one; the operator adds the
/// Government's yearly swaps with [`WorkingCalendar::with_holidays`] and
/// [`WorkingCalendar::with_make_up_working_days`].
#[derive(Debug, Clone)]
pub struct WorkingCalendar {
    days_off: BTreeSet<NaiveDate>,
    make_up_working_days: BTreeSet<NaiveDate>,
}

impl Default for WorkingCalendar {
    /// The built-in public holidays and their compensatory days.
    fn default() -> Self {
        Self::builtin()
    }
}

impl WorkingCalendar {
    /// The built-in public holidays ([`public_holidays`]) and their compensatory days.
    pub fn builtin() -> Self {
        Self::weekends_only().with_holidays(public_holidays().iter().map(|h| h.date))
    }

    /// Only Saturdays and Sundays are off: for tests that want no holiday in the way.
    pub fn weekends_only() -> Self {
        Self { days_off: BTreeSet::new(), make_up_working_days: BTreeSet::new() }
    }

    /// Adds days off, taken as they are (a bridge day the Government gave, a holiday not shipped): no
    /// compensatory day is derived from them.
    pub fn with_holidays(mut self, holidays: impl IntoIterator<Item = NaiveDate>) -> Self {
        self.days_off.extend(holidays);
        self
    }

    /// Adds make-up working days: days that count as working days whatever else says — typically a Saturday
    /// worked in exchange for a bridge day, or a shipped holiday that the Government's decision moved.
    pub fn with_make_up_working_days(mut self, days: impl IntoIterator<Item = NaiveDate>) -> Self {
        self.make_up_working_days.extend(days);
        self
    }

    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        self.make_up_working_days.contains(&day) || (!is_weekend(day) && !self.days_off.contains(&day))
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

/// The built-in days off as a Markdown table, for docs/lock-authority.md (checked by `tests/docs_in_sync.rs`).
pub fn render_markdown() -> String {
    let mut out = String::from("| date | day | holiday | ngày lễ |\n|---|---|---|---|\n");
    for h in public_holidays() {
        let (en, vi) = if h.compensatory {
            (format!("compensatory day for {} (Art. 111.3)", h.name_en), format!("nghỉ bù {}", h.name_vi))
        } else {
            (h.name_en.to_owned(), h.name_vi.to_owned())
        };
        out.push_str(&format!("| {} | {} | {en} | {vi} |\n", h.date, h.date.format("%a")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// The end of the N-th working day after a day received at 10:00 in Hà Nội, as a local date.
    fn due(c: &WorkingCalendar, received: NaiveDate, n: u32) -> NaiveDate {
        let at = vietnam().from_local_datetime(&received.and_hms_opt(10, 0, 0).unwrap()).unwrap();
        c.deadline(at.with_timezone(&Utc), n).with_timezone(&vietnam()).date_naive()
    }

    #[test]
    fn every_shipped_row_parses_and_is_a_real_date_of_2026_or_2027() {
        let rows = parse_holidays(PUBLIC_HOLIDAYS_CSV).unwrap();
        let data_rows = PUBLIC_HOLIDAYS_CSV.lines().filter(|l| l.starts_with("20")).count();
        assert_eq!(rows.len(), data_rows, "every data row is read");
        for year in [2026, 2027] {
            // Art. 112.1: 1 + 5 + 1 + 1 + 2 + 1 = 11 days a year.
            assert_eq!(rows.iter().filter(|h| h.date.year() == year).count(), 11, "{year}");
        }
        assert!(rows.iter().all(|h| (2026..=2027).contains(&h.date.year())));
        let dates: BTreeSet<_> = rows.iter().map(|h| h.date).collect();
        assert_eq!(dates.len(), rows.len(), "no date twice");
        assert!(parse_holidays("date,name_vi,name_en\n2026-02-30,x,y\n").is_err(), "30 February is no date");
        assert!(parse_holidays("date,name_vi,name_en\n2026-02-17,Tết\n").is_err());
        assert!(parse_holidays("2026-02-17,Tết,Tet\n").is_err(), "the header comes first");
    }

    #[test]
    fn each_row_names_its_holiday_and_the_lunar_ones_fall_where_the_conversion_says() {
        let name = |date| public_holidays().iter().find(|h| h.date == date && !h.compensatory).map(|h| h.name_en);
        // Lunar 1/1 Bính Ngọ and Đinh Mùi; lunar 10/3 of both years (UTC+7).
        assert_eq!(name(d(2026, 2, 17)), Some("Lunar New Year (Tết)"));
        assert_eq!(name(d(2027, 2, 6)), Some("Lunar New Year (Tết)"));
        assert_eq!(name(d(2026, 4, 26)), Some("Hùng Kings' Commemoration Day"));
        assert_eq!(name(d(2027, 4, 16)), Some("Hùng Kings' Commemoration Day"));
        assert_eq!(name(d(2026, 9, 2)), Some("National Day"));
        assert!(public_holidays().iter().all(|h| !h.name_vi.is_empty() && !h.name_en.is_empty()));
    }

    #[test]
    fn a_holiday_on_a_weekend_is_made_up_on_the_next_working_day() {
        let compensatory: Vec<_> = public_holidays().iter().filter(|h| h.compensatory).map(|h| h.date).collect();
        assert_eq!(
            compensatory,
            vec![
                d(2026, 4, 27), // Hùng Kings on Sunday 26 April 2026
                d(2027, 2, 9),  // Tết: Saturday 6 Feb 2027; Monday 8 is itself Tết
                d(2027, 2, 10), // Tết: Sunday 7 Feb 2027, the day after the first compensatory day
                d(2027, 5, 3),  // Labour Day on Saturday 1 May 2027
            ]
        );
        let c = WorkingCalendar::default();
        assert!(!c.is_working_day(d(2026, 4, 27)), "the compensatory Monday does not count");
        // Thursday 23 April + 2 working days: Friday 24, then Tuesday 28 (Sunday's holiday moved to Monday).
        assert_eq!(due(&c, d(2026, 4, 23), 2), d(2026, 4, 28));
    }

    #[test]
    fn compensation_skips_holidays_and_weekends_in_a_row() {
        let h = |date| Holiday { date, name_vi: "x", name_en: "x", compensatory: false };
        // Saturday and Sunday holidays followed by a Monday holiday: compensated on Tuesday and Wednesday.
        let days: Vec<_> = compensatory_days(&[h(d(2027, 2, 6)), h(d(2027, 2, 7)), h(d(2027, 2, 8))])
            .into_iter()
            .map(|h| h.date)
            .collect();
        assert_eq!(days, vec![d(2027, 2, 9), d(2027, 2, 10)]);
        // A weekday holiday gives nothing back.
        assert!(compensatory_days(&[h(d(2026, 9, 2))]).is_empty());
    }

    #[test]
    fn a_make_up_saturday_counts_as_a_working_day() {
        // 2026: Monday 31 August off for National Day, Saturday 22 August worked in exchange (Notice 9441/TB-BNV).
        let c = WorkingCalendar::default().with_holidays([d(2026, 8, 31)]).with_make_up_working_days([d(2026, 8, 22)]);
        assert!(c.is_working_day(d(2026, 8, 22)));
        assert!(!c.is_working_day(d(2026, 8, 23)), "the Sunday stays off");
        // Friday 21 August + 1 working day is that Saturday.
        assert_eq!(due(&c, d(2026, 8, 21), 1), d(2026, 8, 22));
        // Friday 28 August + 1: Monday 31 (bridge), Tuesday 1 and Wednesday 2 September are off: Thursday 3.
        assert_eq!(due(&c, d(2026, 8, 28), 1), d(2026, 9, 3));
        // Without the configuration, only the built-in 1–2 September are off.
        assert_eq!(due(&WorkingCalendar::default(), d(2026, 8, 28), 1), d(2026, 8, 31));
    }

    #[test]
    fn a_make_up_day_overrides_a_shipped_holiday_that_the_decision_moved() {
        // Should the 2027 decision give 1 September instead of 3: the operator works the 3rd and rests the 1st.
        let c = WorkingCalendar::default().with_holidays([d(2027, 9, 1)]).with_make_up_working_days([d(2027, 9, 3)]);
        assert!(c.is_working_day(d(2027, 9, 3)));
        assert!(!c.is_working_day(d(2027, 9, 1)));
    }

    #[test]
    fn deadlines_skip_tet_2026() {
        let c = WorkingCalendar::default();
        // Friday 13 Feb 2026 + 1 working day: Tết is Monday 16 to Friday 20 February; Monday 23.
        assert_eq!(due(&c, d(2026, 2, 13), 1), d(2026, 2, 23));
        // Received on mùng 1 Tết: counts from after Tết.
        assert_eq!(due(&c, d(2026, 2, 17), 2), d(2026, 2, 24));
    }

    #[test]
    fn deadlines_skip_national_day_2027() {
        let c = WorkingCalendar::default();
        // Wednesday 1 Sep 2027 + 1: Thursday 2 and Friday 3 are National Day, then the weekend: Monday 6.
        assert_eq!(due(&c, d(2027, 9, 1), 1), d(2027, 9, 6));
        // Tuesday 31 August + 2: Wednesday 1, then Monday 6.
        assert_eq!(due(&c, d(2027, 8, 31), 2), d(2027, 9, 6));
    }

    #[test]
    fn deadlines_skip_tet_2027_and_its_compensatory_days() {
        let c = WorkingCalendar::default();
        // Wednesday 3 Feb 2027 + 1: Thursday 4 to Wednesday 10 are off (Tết 4–8, compensation 9–10): Thursday 11.
        assert_eq!(due(&c, d(2027, 2, 3), 1), d(2027, 2, 11));
    }

    #[test]
    fn weekends_and_configured_holidays_do_not_count() {
        let c = WorkingCalendar::weekends_only().with_holidays([d(2026, 4, 30), d(2026, 5, 1)]);
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
        let c = WorkingCalendar::default();
        let received = Utc.with_ymd_and_hms(2026, 9, 2, 2, 0, 0).unwrap(); // National Day, a Wednesday
        assert_eq!(c.deadline(received, 1).with_timezone(&vietnam()).date_naive(), d(2026, 9, 3));
    }
}
