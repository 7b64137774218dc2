//! Time as unix seconds (`i64`), with the civil-date conversion and the three formats S3 auth
//! uses: `YYYYMMDDTHHMMSSZ` (SigV4 `x-amz-date`), RFC 1123 (`Date`), ISO 8601 extended (XML).
//! The day arithmetic is Howard Hinnant's `days_from_civil` / `civil_from_days`
//! (<https://howardhinnant.github.io/date_algorithms.html>).

const SECS_PER_DAY: i64 = 86_400;
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// A calendar date and time of day in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year (proleptic Gregorian).
    pub year: i64,
    /// Month, 1..=12.
    pub month: u32,
    /// Day of month, 1..=31.
    pub day: u32,
    /// Hour, 0..=23.
    pub hour: u32,
    /// Minute, 0..=59.
    pub minute: u32,
    /// Second, 0..=59.
    pub second: u32,
}

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a count of days since 1970-01-01: `(year, month, day)`.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl Civil {
    /// The civil time of unix seconds.
    pub fn from_unix(secs: i64) -> Civil {
        let days = secs.div_euclid(SECS_PER_DAY);
        let rem = secs.rem_euclid(SECS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
        }
    }

    /// Unix seconds, or `None` when a field is out of range (month 13, 31 April, hour 24…).
    pub fn to_unix(self) -> Option<i64> {
        if !(1..=12).contains(&self.month)
            || self.day == 0
            || self.day > days_in_month(self.year, self.month)
            || self.hour > 23
            || self.minute > 59
            || self.second > 59
        {
            return None;
        }
        Some(
            days_from_civil(self.year, self.month, self.day) * SECS_PER_DAY
                + i64::from(self.hour) * 3600
                + i64::from(self.minute) * 60
                + i64::from(self.second),
        )
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The most digits [`digits`] reads: nine decimal digits always fit a `u32`, so the fold
/// below cannot overflow; every field of the formats here is shorter.
const MAX_DIGITS: usize = 9;

/// A run of 1..=[`MAX_DIGITS`] ASCII digits as a number.
fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > MAX_DIGITS || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
}

/// Parses `YYYYMMDDTHHMMSSZ` (SigV4's `x-amz-date`, ISO 8601 basic format).
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    Civil {
        year: i64::from(digits(&b[0..4])?),
        month: digits(&b[4..6])?,
        day: digits(&b[6..8])?,
        hour: digits(&b[9..11])?,
        minute: digits(&b[11..13])?,
        second: digits(&b[13..15])?,
    }
    .to_unix()
}

/// Parses an RFC 1123 date, `Fri, 24 May 2013 00:00:00 GMT` (also with `UTC` or `+0000`, and a
/// one-digit day, which Go and Java clients send).
pub fn parse_rfc1123(s: &str) -> Option<i64> {
    let s = s.trim();
    let rest = match s.split_once(',') {
        Some((weekday, rest)) if weekday.len() == 3 => rest,
        _ => return None,
    };
    let mut parts = rest.split_ascii_whitespace();
    let day_s = parts.next()?;
    if !(1..=2).contains(&day_s.len()) {
        return None;
    }
    let day = digits(day_s.as_bytes())?;
    let month_name = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month_name)? as u32 + 1;
    let year_s = parts.next()?;
    if year_s.len() != 4 {
        return None;
    }
    let year = i64::from(digits(year_s.as_bytes())?);
    let hms = parts.next()?.as_bytes();
    if hms.len() != 8 || hms[2] != b':' || hms[5] != b':' {
        return None;
    }
    match parts.next()? {
        "GMT" | "UTC" | "+0000" | "Z" => {}
        _ => return None,
    }
    if parts.next().is_some() {
        return None;
    }
    Civil {
        year,
        month,
        day,
        hour: digits(&hms[0..2])?,
        minute: digits(&hms[3..5])?,
        second: digits(&hms[6..8])?,
    }
    .to_unix()
}

/// `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(secs: i64) -> String {
    let c = Civil::from_unix(secs);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// `YYYYMMDD` (the credential scope date).
pub fn format_scope_date(secs: i64) -> String {
    let c = Civil::from_unix(secs);
    format!("{:04}{:02}{:02}", c.year, c.month, c.day)
}

/// `Fri, 24 May 2013 00:00:00 GMT`.
pub fn format_rfc1123(secs: i64) -> String {
    let c = Civil::from_unix(secs);
    let weekday = WEEKDAYS[secs.div_euclid(SECS_PER_DAY).rem_euclid(7) as usize];
    format!(
        "{weekday}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        c.day,
        MONTHS[c.month as usize - 1],
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

/// `2013-05-24T00:00:00Z` (what S3 puts in `ServerTime` of an XML error).
pub fn format_iso8601(secs: i64) -> String {
    let c = Civil::from_unix(secs);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(parse_amz_date("20130524T000000Z"), Some(1_369_353_600));
        assert_eq!(
            parse_rfc1123("Fri, 24 May 2013 00:00:00 GMT"),
            Some(1_369_353_600)
        );
        assert_eq!(parse_amz_date("20240229T235959Z"), Some(1_709_251_199));
        assert_eq!(format_amz_date(1_369_353_600), "20130524T000000Z");
        assert_eq!(format_scope_date(1_369_353_600), "20130524");
        assert_eq!(
            format_rfc1123(1_369_353_600),
            "Fri, 24 May 2013 00:00:00 GMT"
        );
        assert_eq!(format_iso8601(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(format_rfc1123(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn rejects_invalid() {
        for bad in [
            "20130524T000000",
            "20130524 000000Z",
            "20131324T000000Z",
            "20130230T000000Z",
            "20230229T000000Z",
            "20130524T240000Z",
            "2013052AT000000Z",
            "+0130524T000000Z",
            "",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
        for bad in [
            "24 May 2013 00:00:00 GMT",
            "Fri, 24 Mai 2013 00:00:00 GMT",
            "Fri, 24 May 2013 00:00:00 PST",
            "Fri, 24 May 13 00:00:00 GMT",
            "Fri, 24 May 2013 00:00 GMT",
            "Fri, 24 May 2013 00:00:00 GMT extra",
        ] {
            assert_eq!(parse_rfc1123(bad), None, "{bad}");
        }
        assert_eq!(
            parse_rfc1123("Mon, 2 Jan 2006 15:04:05 GMT"),
            Some(1_136_214_245)
        );
    }

    #[test]
    fn rfc1123_day_has_one_or_two_digits() {
        assert_eq!(
            parse_rfc1123("Mon, 02 Jan 2006 15:04:05 GMT"),
            Some(1_136_214_245)
        );
        assert_eq!(
            parse_rfc1123("Mon, 2 Jan 2006 15:04:05 GMT"),
            Some(1_136_214_245)
        );
        // 4294967320 = 2^32 + 24: a wrapping fold would read it as the 24th.
        assert_eq!(parse_rfc1123("Fri, 4294967320 May 2013 00:00:00 GMT"), None);
        assert_eq!(parse_rfc1123("Fri, 024 May 2013 00:00:00 GMT"), None);
        assert_eq!(parse_rfc1123("Fri, 0000000024 May 2013 00:00:00 GMT"), None);
    }

    #[test]
    fn digits_never_overflow() {
        assert_eq!(digits(b"999999999"), Some(999_999_999));
        assert_eq!(digits(b"4294967295"), None);
        assert_eq!(digits(b"4294967320"), None);
        assert_eq!(digits(&[b'9'; 40]), None);
        assert_eq!(digits(b""), None);
        assert_eq!(digits(b"1a"), None);
    }

    #[test]
    fn round_trips_over_a_wide_range() {
        // Every day from 1600 to 2400, and some seconds within.
        let start = days_from_civil(1600, 1, 1);
        let end = days_from_civil(2400, 12, 31);
        let mut prev = None;
        for d in start..=end {
            let (y, m, day) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, day), d);
            if let Some((py, pm, pd)) = prev {
                assert!((y, m, day) > (py, pm, pd));
            }
            prev = Some((y, m, day));
        }
        for secs in (-10_000_000_000i64..10_000_000_000).step_by(7_777_777) {
            let c = Civil::from_unix(secs);
            assert_eq!(c.to_unix(), Some(secs));
            if (1000..10000).contains(&c.year) {
                assert_eq!(parse_amz_date(&format_amz_date(secs)), Some(secs));
                assert_eq!(parse_rfc1123(&format_rfc1123(secs)), Some(secs));
            }
        }
    }
}
