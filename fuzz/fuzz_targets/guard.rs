//! The tenant guard on any statement, in every dialect, with the test suite's tenancy map.
#![no_main]
use deployclaw::sql::{Dialect, Guard, Tenancy};
use libfuzzer_sys::fuzz_target;

const TENANCY: &str = include_str!("../../tests/fixtures/guard/tenancy.toml");

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else { return };
    for dialect in [Dialect::Postgres, Dialect::Mysql, Dialect::Sqlite] {
        let Ok(tenancy) = Tenancy::from_toml(TENANCY, "tenancy.toml") else { return };
        let _ = Guard::new(tenancy, dialect, None).check(sql);
    }
});
