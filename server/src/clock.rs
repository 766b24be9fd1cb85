//! The wall clock in the forms the gateway stores and sends: unix seconds (webhook
//! timestamps, expiries), unix milliseconds (outbox scheduling), RFC 3339 (`/ws`).

pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub fn unix_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// Now as SQLite's `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')` writes it (millisecond
/// precision), for rows stamped outside SQL, so stored times keep one sortable form.
pub fn sql_now() -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    time::OffsetDateTime::now_utc().format(FORMAT).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sql_now_has_sqlites_form() {
        let now = super::sql_now();
        assert_eq!(now.len(), "2026-11-24T10:20:00.123Z".len(), "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T' && now.as_bytes()[19] == b'.', "{now}");
    }
}
